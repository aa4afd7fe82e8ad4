"""Alarms: schedules (weekly, with exceptions and manual arming), rules that turn events and camera health into
alarms, and the desk where people acknowledge and close them. Parts load on first use."""

from typing import TYPE_CHECKING

from clearwatch.lazy import lazy_exports

if TYPE_CHECKING:
    from clearwatch.alarms.engine import AlarmEngine, matches
    from clearwatch.alarms.schedules import Override, Schedule, Schedules

__getattr__, __dir__ = lazy_exports(__name__, {
    "AlarmEngine": ".engine",
    "Override": ".schedules",
    "Schedule": ".schedules",
    "Schedules": ".schedules",
    "matches": ".engine",
})

__all__ = ["AlarmEngine", "Override", "Schedule", "Schedules", "matches"]
