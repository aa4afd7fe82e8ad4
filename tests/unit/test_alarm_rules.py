"""Alarm rules on made-up inputs: schedules (overnight, exceptions, time zones, manual arming), which events a rule
takes, and the config errors that name the key at fault."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clearwatch.alarms.engine import matches
from clearwatch.alarms.schedules import Override, Schedule, Schedules
from clearwatch.config.alarms import AlarmRuleConfig, ScheduleConfig
from clearwatch.config.loader import parse_config
from clearwatch.errors import ConfigError
from clearwatch.events.model import Event, EventUpdate

AFTER_HOURS = {"mon-fri": ["18:00-07:00"], "sat-sun": ["00:00-24:00"], "except": ["2026-12-25"]}


def ts(text: str, tz: str = "UTC") -> float:
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp()


@pytest.mark.parametrize(("when", "on"), [
    ("2026-12-07 17:59", False),  # Monday, before the evening
    ("2026-12-07 18:00", True),
    ("2026-12-08 06:59", True),  # Tuesday morning: Monday's range past midnight
    ("2026-12-08 07:00", False),
    ("2026-12-12 12:00", True),  # Saturday, all day
    ("2026-12-14 06:00", False),  # Monday morning: Sunday's 00:00-24:00 ends at midnight, Monday's starts at 18:00
])
def test_weekly_ranges_run_past_midnight(when: str, on: bool) -> None:
    s = Schedule("after_hours", ScheduleConfig.model_validate(AFTER_HOURS), "UTC")
    assert s.on(ts(when)) is on


def test_an_exception_date_follows_the_holiday_ranges() -> None:
    plain = Schedule("s", ScheduleConfig.model_validate(AFTER_HOURS), "UTC")
    assert plain.on(ts("2026-12-25 20:00")) is False  # Christmas (a Friday): the weekly range does not apply
    assert plain.on(ts("2026-12-25 03:00")) is True  # but Thursday's evening range runs into it
    holiday = Schedule("s", ScheduleConfig.model_validate({**AFTER_HOURS, "holidays": ["00:00-24:00"]}), "UTC")
    assert holiday.on(ts("2026-12-25 12:00")) is True


def test_schedules_are_read_in_their_time_zone() -> None:
    s = Schedule("s", ScheduleConfig.model_validate({"mon-fri": ["18:00-07:00"]}), "Europe/Berlin")
    assert s.on(ts("2026-12-07 18:30", "Europe/Berlin")) is True
    assert s.on(ts("2026-12-07 17:30", "UTC")) is True  # 18:30 in Berlin
    assert s.on(ts("2026-12-07 16:30", "UTC")) is False
    own = Schedule("s", ScheduleConfig.model_validate({"timezone": "America/New_York", "mon": ["09:00-10:00"]}),
                   "Europe/Berlin")
    assert own.on(ts("2026-12-07 14:30", "UTC")) is True


def test_manual_arming_wins_until_its_end() -> None:
    sched = Schedules({"s": ScheduleConfig.model_validate({"mon": ["09:00-10:00"]})}, "UTC")
    noon = ts("2026-12-07 12:00")
    assert sched.on("s", noon, {}) is False
    until = datetime.fromtimestamp(noon + 3600, UTC)
    armed = {"s": Override("armed", until, "ada", "late delivery")}
    assert sched.on("s", noon, armed) is True
    assert sched.on("s", noon + 3601, armed) is False  # back to the week
    disarmed = {"s": Override("disarmed", None, "ada", "stocktaking")}
    assert sched.on("s", ts("2026-12-07 09:30"), disarmed) is False
    state = sched.state("s", armed, noon)
    assert state["on"] is True and state["weekly"] is False and state["manual"] == "armed" and state["by"] == "ada"


def _update(kind: str, label: str, type_: str = "start", **kw: object) -> EventUpdate:
    return EventUpdate(type_, Event("cam", kind, label, 100.0, **kw))  # type: ignore[arg-type]


def test_which_events_a_rule_takes() -> None:
    zone = AlarmRuleConfig(kind="intrusion", zone="floor")
    assert matches(zone, _update("object", "person", "update", zones=["floor"]))
    assert not matches(zone, _update("object", "car", zones=["floor"]))  # only people by default
    assert not matches(zone, _update("object", "person", zones=["yard"]))
    line = AlarmRuleConfig(kind="intrusion", line="door", direction="in")
    assert matches(line, _update("object", "person", crossings=[{"line": "door", "direction": "in"}]))
    assert not matches(line, _update("object", "person", crossings=[{"line": "door", "direction": "out"}]))
    tamper = AlarmRuleConfig(kind="tamper", causes=["covered"])
    assert matches(tamper, _update("tamper", "covered", data={"cause": "covered"}))
    assert not matches(tamper, _update("tamper", "frozen", data={"cause": "frozen"}))
    assert not matches(tamper, _update("tamper", "covered", "end", data={"cause": "covered"}))  # its end is no alarm
    left = AlarmRuleConfig(kind="left", zone="bay")
    assert matches(left, _update("left", "bay", data={"zone": "bay"}))
    assert not matches(left, _update("removed", "bay", data={"zone": "bay"}))
    machine = AlarmRuleConfig(kind="machine", machine="press")
    assert matches(machine, _update("machine", "press", data={"state": "stopped"}))
    assert not matches(machine, _update("machine", "press", data={"state": "running"}))
    face = AlarmRuleConfig(kind="face", watchlists=["banned"])
    assert matches(face, _update("alert", "banned", data={"watchlists": ["banned"]}))
    assert not matches(face, _update("alert", "vip", data={"watchlists": ["vip"]}))
    assert not matches(face, _update("alert", "deny", data={"plate": "AB123CD", "list": "deny"}))
    plate = AlarmRuleConfig(kind="plate", lists=["deny"])
    assert matches(plate, _update("alert", "deny", data={"plate": "AB123CD", "list": "deny"}))


CAMERA = """
cameras:
  dock:
    url: rtsp://camera.invalid/dock
    zones:
      floor: {points: [[0, 0], [1, 0], [1, 1]], loiter: 20s}
      shelf: {points: [[0, 0], [1, 0], [1, 1]], removed: 30s}
  gate:
    url: rtsp://camera.invalid/gate
    detect: {enabled: false}
"""


def _config(extra: str) -> str:
    return CAMERA + extra


@pytest.mark.parametrize(("extra", "expected"), [
    ("schedules: {night: {mon-fri: ['18:00-07:00', '06:00-08:00']}}", "overlap past midnight"),
    ("schedules: {night: {mon: ['08:00-12:00', '11:00-13:00']}}", "overlap at 11:00"),
    ("schedules: {night: {mon: ['25:00-26:00']}}", "no such time of day"),
    ("schedules: {night: {mon-fri: ['08:00-09:00'], fri: ['10:00-11:00']}}", "fri is in both"),
    ("schedules: {night: {someday: ['08:00-09:00']}}", "is not a day"),
    ("schedules: {night: {mon: ['08:00-08:00']}}", "is empty"),
    ("schedules: {night: {timezone: Mars/Olympus, mon: ['08:00-09:00']}}", "unknown time zone"),
    ("alarms: {rules: {r: {kind: intrusion, zone: nowhere, cameras: [dock]}}}", "alarms.rules.r.zone"),
    ("alarms: {rules: {r: {kind: intrusion, zone: floor, schedule: nights}}}", "alarms.rules.r.schedule"),
    ("alarms: {rules: {r: {kind: intrusion, zone: floor, cameras: [gate]}}}", "has no analytics"),
    ("alarms: {rules: {r: {kind: tamper, cameras: [gate]}}}", "has no analytics"),
    ("alarms: {rules: {r: {kind: left, zone: shelf}}}", "does not watch for left objects"),
    ("alarms: {rules: {r: {kind: loitering, zone: shelf}}}", "has no loiter time"),
    ("alarms: {rules: {r: {kind: intrusion}}}", "names a zone or a line"),
    ("alarms: {rules: {r: {kind: offline, cameras: [yard]}}}", "alarms.rules.r.cameras: no camera 'yard'"),
    ("alarms: {rules: {r: {kind: offline, notify: [pager]}}}", "alarms.rules.r.notify: no webhook 'pager'"),
    ("alarms: {rules: {r: {kind: machine, machine: press}}}", "alarms.rules.r.machine: no camera can raise it"),
])
def test_config_errors_name_the_key(extra: str, expected: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(_config(extra))
    assert expected in str(exc.value), str(exc.value)


def test_a_rule_without_cameras_watches_every_camera_that_can_raise_it() -> None:
    cfg = parse_config(_config("""
schedules:
  after_hours: {mon-fri: ["18:00-07:00"], sat-sun: ["00:00-24:00"], except: [2026-12-25]}
alarms:
  rules:
    shelf_empty: {kind: removed, zone: shelf, priority: 2}
    down: {kind: offline, after: 1m}
    tampering: {kind: tamper, unless: after_hours}
"""))
    assert cfg.alarm_cameras("shelf_empty") == ["dock"]
    assert cfg.alarm_cameras("down") == ["dock", "gate"]
    assert cfg.alarm_cameras("tampering") == ["dock"]  # the gate runs no analytics
    assert cfg.alarms.rules["down"].after == 60
    assert cfg.schedules["after_hours"].except_ == [(datetime(2026, 12, 25) + timedelta()).date()]
