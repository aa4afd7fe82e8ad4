"""The alarm desk's records and the manual arming of schedules."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import delete, select

from clearwatch.errors import ClearwatchError
from clearwatch.storage.database import Database, rowcount
from clearwatch.storage.models import Alarm, Arming

OPEN = ("new", "acknowledged")
StateFilter = Literal["open", "new", "acknowledged", "closed", "all"]
MAX_EVENTS = 50  # event ids kept on one alarm (the count keeps counting)


class AlarmError(ClearwatchError):
    pass


@dataclass(frozen=True)
class Raised:
    """What a rule saw: the alarm to open, or to join when one of the same rule and camera is open."""

    rule: str
    kind: str
    camera: str | None
    priority: int
    title: str
    at: datetime
    event_id: str | None = None
    snapshot: str | None = None
    clip_start: datetime | None = None
    clip_end: datetime | None = None
    data: dict[str, Any] | None = None


def alarm_dict(a: Alarm) -> dict[str, Any]:
    return {c.name: getattr(a, c.name) for c in Alarm.__table__.columns}


class AlarmStore:
    def __init__(self, db: Database):
        self.db = db

    def raise_(self, r: Raised, group_window: float) -> tuple[Literal["new", "repeat", "same"], Alarm]:
        """Open an alarm, or join the open one of the same rule and camera whose last sighting is within
        ``group_window`` seconds (one alarm per intrusion, not one per frame or per person)."""
        with self.db.session() as s:
            q = (select(Alarm).where(Alarm.rule == r.rule, Alarm.state.in_(OPEN))
                 .where(Alarm.camera.is_(None) if r.camera is None else Alarm.camera == r.camera)
                 .order_by(Alarm.last_at.desc()).limit(1))
            open_ = s.scalar(q)
            if open_ is not None and (r.at - open_.last_at).total_seconds() <= group_window:
                seen = r.event_id is None or r.event_id in open_.events
                if r.event_id is not None and not seen:
                    open_.count += 1
                    open_.events = [*open_.events, r.event_id][-MAX_EVENTS:]
                if r.at > open_.last_at:
                    open_.last_at = r.at
                if r.clip_end is not None and (open_.clip_end is None or r.clip_end > open_.clip_end):
                    open_.clip_end = r.clip_end
                if open_.snapshot is None and r.snapshot:
                    open_.snapshot = r.snapshot
                return ("same" if seen else "repeat"), open_
            alarm = Alarm(id=uuid.uuid4().hex, rule=r.rule, kind=r.kind, camera=r.camera, priority=r.priority,
                          title=r.title[:200], state="new", first_at=r.at, last_at=r.at, count=1,
                          event_id=r.event_id, events=[r.event_id] if r.event_id else [], snapshot=r.snapshot,
                          clip_start=r.clip_start, clip_end=r.clip_end, data=r.data or {})
            s.add(alarm)
            return "new", alarm

    def get(self, alarm_id: str) -> Alarm | None:
        with self.db.session() as s:
            return s.get(Alarm, alarm_id)

    def queue(self, state: StateFilter = "open", cameras: Sequence[str] | None = None, limit: int = 200,
             before: datetime | None = None) -> list[Alarm]:
        """Most urgent first (priority, then newest); ``cameras``: only alarms of these (None: all)."""
        q = select(Alarm)
        if state == "open":
            q = q.where(Alarm.state.in_(OPEN))
        elif state != "all":
            q = q.where(Alarm.state == state)
        if cameras is not None:
            q = q.where(Alarm.camera.in_(list(cameras)))
        if before is not None:
            q = q.where(Alarm.first_at < before)
        q = q.order_by(Alarm.priority, Alarm.last_at.desc()).limit(limit)
        with self.db.session() as s:
            return list(s.scalars(q))

    def on_camera(self, camera: str, start: datetime, end: datetime, limit: int = 500) -> list[Alarm]:
        """A camera's alarms that were open at some time in [start, end), oldest first (its playback timeline)."""
        q = (select(Alarm).where(Alarm.camera == camera, Alarm.first_at < end, Alarm.last_at >= start)
             .order_by(Alarm.first_at).limit(limit))
        with self.db.session() as s:
            return list(s.scalars(q))

    def acknowledge(self, alarm_id: str, by: str, note: str) -> Alarm:
        with self.db.session() as s:
            a = s.get(Alarm, alarm_id)
            if a is None:
                raise AlarmError(f"no alarm {alarm_id!r}")
            if a.state != "new":
                raise AlarmError(f"alarm {alarm_id} is {a.state} already" +
                                 (f" (by {a.acked_by})" if a.acked_by else ""))
            a.state, a.acked_by, a.acked_at, a.ack_note = "acknowledged", by, datetime.now(UTC), note
            return a

    def close(self, alarm_id: str, by: str, note: str) -> Alarm:
        """Close an alarm (acknowledging it on the way if nobody had)."""
        with self.db.session() as s:
            a = s.get(Alarm, alarm_id)
            if a is None:
                raise AlarmError(f"no alarm {alarm_id!r}")
            if a.state == "closed":
                raise AlarmError(f"alarm {alarm_id} is closed already (by {a.closed_by})")
            now = datetime.now(UTC)
            if a.state == "new":
                a.acked_by, a.acked_at, a.ack_note = by, now, note
            a.state, a.closed_by, a.closed_at, a.close_note = "closed", by, now, note
            return a

    def unacknowledged(self, older_than: datetime) -> list[Alarm]:
        """New alarms raised before ``older_than`` and not escalated yet."""
        with self.db.session() as s:
            return list(s.scalars(select(Alarm).where(Alarm.state == "new", Alarm.escalated_at.is_(None),
                                                      Alarm.first_at < older_than)))

    def escalate(self, alarm_id: str, now: datetime) -> Alarm | None:
        """Mark a still-new alarm escalated and raise its priority by one; None when someone acted first."""
        with self.db.session() as s:
            a = s.get(Alarm, alarm_id)
            if a is None or a.state != "new" or a.escalated_at is not None:
                return None
            a.escalated_at, a.priority = now, max(1, a.priority - 1)
            return a


class ArmingStore:
    def __init__(self, db: Database):
        self.db = db

    def set(self, schedule: str, mode: Literal["armed", "disarmed"], by: str, reason: str,
            until: datetime | None = None) -> Arming:
        with self.db.session() as s:
            row = s.get(Arming, schedule)
            if row is None:
                row = Arming(schedule=schedule)
                s.add(row)
            row.mode, row.until, row.set_by, row.reason, row.set_at = mode, until, by, reason, datetime.now(UTC)
            return row

    def clear(self, schedule: str) -> bool:
        with self.db.session() as s:
            return bool(rowcount(s.execute(delete(Arming).where(Arming.schedule == schedule))))

    def all(self) -> dict[str, Arming]:
        with self.db.session() as s:
            return {row.schedule: row for row in s.scalars(select(Arming))}
