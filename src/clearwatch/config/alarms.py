"""Config sections for schedules and alarm rules. Rules are checked against the cameras, zones, lines, machines and
schedules they name in ``Config`` (so an error names the rule's key)."""

from __future__ import annotations

import datetime as dt
import re
from itertools import pairwise
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from clearwatch.config.base import Name, Section
from clearwatch.config.federation import SiteLinkConfig
from clearwatch.config.units import Duration

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_SPEC = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)(?:-(mon|tue|wed|thu|fri|sat|sun))?$|^daily$")
RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
AlarmKind = Literal["intrusion", "loitering", "left", "removed", "tamper", "offline", "machine", "face", "plate"]
TamperCause = Literal["covered", "moved", "defocused", "frozen"]
TAMPER_CAUSES: tuple[TamperCause, ...] = ("covered", "moved", "defocused", "frozen")


def check_timezone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {v!r}: use an IANA name such as Europe/Berlin or UTC") from None
    return v


def days_of(spec: str) -> list[int]:
    """'mon-fri' → [0..4]; 'fri-mon' wraps over the weekend; 'daily' is every day."""
    m = DAY_SPEC.match(spec)
    if m is None:
        raise ValueError(f"{spec!r} is not a day or range of days (mon, tue, … sun, mon-fri, daily)")
    if spec == "daily":
        return list(range(7))
    a = DAYS.index(m.group(1))
    b = DAYS.index(m.group(2)) if m.group(2) else a
    return [(a + i) % 7 for i in range((b - a) % 7 + 1)]


def minutes_of(text: str) -> tuple[int, int]:
    """'18:00-07:00' → (1080, 420) minutes after midnight; an end before the start runs past midnight."""
    m = RANGE.match(text.strip())
    if m is None:
        raise ValueError(f"{text!r} is not a time range HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(x) for x in m.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2 != 0):
        raise ValueError(f"{text!r}: no such time of day (hours 00-23, or 24:00 as an end; minutes 00-59)")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end:
        raise ValueError(f"{text!r} is empty: start and end are the same")
    return start, end


def week_minutes(days: list[int], start: int, end: int) -> list[tuple[int, int]]:
    """Intervals in minutes from Monday 00:00 (a range past midnight continues into the next day, Sunday into
    Monday)."""
    week = 7 * 1440
    out = []
    for d in days:
        a = d * 1440 + start
        b = d * 1440 + (end if end > start else end + 1440)
        if b > week:
            out += [(a, week), (0, b - week)]
        else:
            out.append((a, b))
    return out


class ScheduleConfig(Section):
    """A weekly schedule: ``mon-fri: ["18:00-07:00"]``, ``sat-sun: ["00:00-24:00"]``; ``except:`` dates on which
    the weekly ranges do not apply (holidays), ``holidays:`` the ranges that apply on them instead."""

    timezone: str | None = Field(default=None, description="Default: the site's time zone.")
    days: dict[str, list[str]] = Field(default_factory=dict, description="Day or day range → time ranges.")
    except_: list[dt.date] = Field(default_factory=list, alias="except")
    holidays: list[str] = Field(default_factory=list, description="Ranges on the 'except' dates (default: none).")

    @model_validator(mode="before")
    @classmethod
    def _days_inline(cls, data: object) -> object:
        """Day keys sit beside ``except`` in the file (``{mon-fri: [...], except: [...]}``)."""
        if not isinstance(data, dict) or "days" in data:
            return data
        known = {"timezone", "except", "holidays"}
        return {**{k: v for k, v in data.items() if k in known},
                "days": {k: v for k, v in data.items() if k not in known}}

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return check_timezone(v) if v is not None else v

    @field_validator("holidays")
    @classmethod
    def _holiday_ranges(cls, v: list[str]) -> list[str]:
        _no_overlap("the holidays", [minutes_of(r) for r in v])
        return v

    @model_validator(mode="after")
    def _week(self) -> ScheduleConfig:
        """A day in two day ranges, or two ranges of one day that overlap, is a mistake. A range past midnight
        running into the next day's (``mon-fri: 18:00-07:00`` beside ``sat-sun: 00:00-24:00``) is not."""
        owner: dict[int, str] = {}
        for spec, ranges in self.days.items():
            spans = [minutes_of(r) for r in ranges]
            for d in days_of(spec):
                if d in owner:
                    raise ValueError(f"{DAYS[d]} is in both {owner[d]!r} and {spec!r}")
                owner[d] = spec
            _no_overlap(repr(spec), spans)
            week = sorted(w for a, b in spans for w in week_minutes(days_of(spec), a, b))
            for (_a1, b1), (a2, _b2) in pairwise(week):
                if a2 < b1:
                    raise ValueError(f"time ranges of {spec!r} overlap past midnight, on {DAYS[a2 // 1440]} at "
                                     f"{a2 % 1440 // 60:02d}:{a2 % 60:02d}")
        return self


def _no_overlap(where: str, spans: list[tuple[int, int]]) -> None:
    flat = sorted((a, b if b > a else b + 1440) for a, b in spans)
    for (_a1, b1), (a2, _b2) in pairwise(flat):
        if a2 < b1:
            raise ValueError(f"time ranges of {where} overlap at {a2 // 60:02d}:{a2 % 60:02d}")


class SiteConfig(Section):
    name: str = Field(default="site", description="This site's name (events and alarms carry it).")
    timezone: str = Field(default="UTC", description="IANA time zone the schedules are read in.")
    nats: SiteLinkConfig | None = Field(default=None, description=(
        "Makes this installation a site of a central node: its NATS (leaf) server and credentials."))

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return check_timezone(v)


class EscalationConfig(Section):
    after: Duration = Field(default=300.0, ge=10, description="Not acknowledged this long: escalate.")
    notify: list[Name] = Field(default_factory=list, description="Webhooks told of the escalation.")


class AlarmRuleConfig(Section):
    """What raises an alarm. ``cameras`` empty: every camera the rule makes sense on (that has the zone, line
    or machine named)."""

    kind: AlarmKind
    cameras: list[str] = Field(default_factory=list)
    zone: Name | None = Field(default=None, description="intrusion, loitering, left, removed.")
    line: Name | None = Field(default=None, description="intrusion: crossing this line.")
    direction: Literal["in", "out", "any"] = "any"
    objects: list[str] = Field(default_factory=lambda: ["person"], description="intrusion: labels that count.")
    causes: list[TamperCause] = Field(default_factory=lambda: list(TAMPER_CAUSES))
    after: Duration = Field(default=30.0, ge=1, description="offline: how long a camera is down before the alarm.")
    machine: Name | None = Field(default=None, description="machine: which one.")
    state: Literal["running", "idle", "stopped"] = "stopped"
    watchlists: list[str] = Field(default_factory=list, description="face: hits on these (empty: any watchlist).")
    lists: list[str] = Field(default_factory=list, description="plate: hits on these plate lists (empty: any).")
    schedule: Name | None = Field(default=None, description="Armed while this schedule is on.")
    unless: Name | None = Field(default=None, description="Armed while this schedule is off.")
    priority: int = Field(default=3, ge=1, le=5, description="1 is the most urgent.")
    notify: list[Name] = Field(default_factory=list, description="Webhooks this rule's alarms go to.")
    escalate: EscalationConfig | None = None

    @model_validator(mode="after")
    def _fields_for_kind(self) -> AlarmRuleConfig:
        k = self.kind
        if k == "intrusion" and (self.zone is None) == (self.line is None):
            raise ValueError("an intrusion rule names a zone or a line (one of them)")
        if k in ("loitering", "left", "removed") and self.zone is None:
            raise ValueError(f"a {k} rule names its zone")
        if k == "machine" and self.machine is None:
            raise ValueError("a machine rule names its machine")
        if self.schedule is not None and self.unless is not None:
            raise ValueError("use schedule or unless, not both")
        return self


class AlarmsConfig(Section):
    group_window: Duration = Field(default=120.0, ge=1,
                                   description="A repeat this soon after the last joins the open alarm.")
    escalate: EscalationConfig = Field(default_factory=EscalationConfig)
    rules: dict[Name, AlarmRuleConfig] = Field(default_factory=dict)
