"""Roles and what each may do. Plain Python: the CLI and the API check permissions without loading the
database or the password hasher."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"
    AUDITOR = "auditor"


class Perm(StrEnum):
    LIVE = "live"
    PLAYBACK = "playback"
    EXPORT = "export"
    EVENTS = "events"
    PEOPLE = "people"  # see and change the registry
    FACE_SEARCH = "face_search"
    FINGER_SEARCH = "finger_search"  # verify and identify fingerprints against the registry
    PLATES = "plates"  # see plate reads and manage plate lists
    PLATE_SEARCH = "plate_search"
    MACHINES = "machines"
    ALARMS = "alarms"  # see the alarm desk
    ALARM_HANDLE = "alarm_handle"  # acknowledge and close alarms
    ARM = "arm"  # arm and disarm schedules by hand
    UNMASK = "unmask"  # see what a camera's privacy masks cover
    SYSTEM = "system"
    AUDIT = "audit"
    USERS = "users"


ROLE_PERMS: dict[Role, frozenset[Perm]] = {
    Role.ADMIN: frozenset(Perm),
    Role.OPERATOR: frozenset({Perm.LIVE, Perm.PLAYBACK, Perm.EXPORT, Perm.EVENTS, Perm.PEOPLE, Perm.FACE_SEARCH,
                              Perm.FINGER_SEARCH,
                              Perm.PLATES, Perm.PLATE_SEARCH, Perm.MACHINES, Perm.SYSTEM, Perm.ALARMS,
                              Perm.ALARM_HANDLE, Perm.ARM}),
    Role.VIEWER: frozenset({Perm.LIVE, Perm.PLAYBACK, Perm.EVENTS, Perm.MACHINES, Perm.ALARMS}),
    Role.AUDITOR: frozenset({Perm.AUDIT, Perm.SYSTEM}),
}


def can(role: str, perm: Perm) -> bool:
    return perm in ROLE_PERMS.get(Role(role), frozenset())
