"""Whether a schedule is on at a moment: its weekly ranges in its time zone, its exception dates, and a manual
arm or disarm, which wins until its end time or until set back to automatic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from clearwatch.config.alarms import ScheduleConfig, days_of, minutes_of


@dataclass(frozen=True)
class Override:
    mode: str  # armed | disarmed
    until: datetime | None
    by: str
    reason: str

    def holds(self, t: float) -> bool:
        return self.until is None or t < self.until.timestamp()


class Schedule:
    def __init__(self, name: str, cfg: ScheduleConfig, site_timezone: str):
        self.name = name
        self.tz = ZoneInfo(cfg.timezone or site_timezone)
        self.weekday: dict[int, list[tuple[int, int]]] = {d: [] for d in range(7)}
        for spec, ranges in cfg.days.items():
            for d in days_of(spec):
                self.weekday[d] += [minutes_of(r) for r in ranges]
        self.exceptions = set(cfg.except_)
        self.holiday = [minutes_of(r) for r in cfg.holidays]

    def _ranges(self, day: date) -> list[tuple[int, int]]:
        return self.holiday if day in self.exceptions else self.weekday[day.weekday()]

    def on(self, t: float) -> bool:
        """By the weekly ranges alone. A range belongs to the day it starts on: Friday's 18:00-07:00 runs into
        Saturday morning even when Saturday is an exception."""
        local = datetime.fromtimestamp(t, self.tz).replace(tzinfo=None)  # wall-clock time there (DST-proof)
        for back in (0, 1):
            day = local.date() - timedelta(days=back)
            minute = (local - datetime.combine(day, datetime.min.time())).total_seconds() / 60
            for a, b in self._ranges(day):
                if a <= minute < (b if b > a else b + 1440):
                    return True
        return False


class Schedules:
    """The site's schedules, with manual overrides supplied by ``overrides`` (read from the database)."""

    def __init__(self, configs: dict[str, ScheduleConfig], site_timezone: str):
        self.items = {n: Schedule(n, c, site_timezone) for n, c in configs.items()}

    def on(self, name: str, t: float, overrides: dict[str, Override]) -> bool:
        o = overrides.get(name)
        if o is not None and o.holds(t):
            return o.mode == "armed"
        return self.items[name].on(t)

    def state(self, name: str, overrides: dict[str, Override], t: float | None = None) -> dict[str, object]:
        """For displays: on or off now, and why."""
        t = datetime.now(UTC).timestamp() if t is None else t
        o = overrides.get(name)
        manual = o is not None and o.holds(t)
        return {"name": name, "on": self.on(name, t, overrides), "weekly": self.items[name].on(t),
                "manual": o.mode if manual and o else None, "until": o.until if manual and o else None,
                "by": o.by if manual and o else None, "reason": o.reason if manual and o else None,
                "timezone": str(self.items[name].tz)}
