"""Alarms end to end: tampering and left / removed objects on generated clips with known truth (made from the real
street clip), no false alarms on the street clip itself, intrusion inside and outside armed hours (time frozen by
analysing with a chosen wall-clock start), the alarm desk (grouping, acknowledge, close, escalation, offline
cameras) with MQTT, and ``analyze --json`` emitting the new kinds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clearwatch.alarms import AlarmEngine
from clearwatch.analytics.detectors import Detector
from clearwatch.analytics.offline import CollectingSink, analyze_file
from clearwatch.config import Config
from clearwatch.config.loader import parse_config
from clearwatch.events import EventService
from clearwatch.events.model import Event, EventUpdate
from clearwatch.governance import Actor
from clearwatch.sources.health import HealthSnapshot
from clearwatch.storage import Database, OutboxStore
from clearwatch.storage.alarms import AlarmError
from tests.conftest import ROOT
from tests.support.helpers import camera, subscribe_all, wait_for
from tests.support.scene_clips import CHANGE_AT, GRASS_ZONE, TAMPER, scene_clip

pytestmark = pytest.mark.slow
MEDIA = ROOT / ".cache" / "test-media"
# the street in vtest: where people walk (bottom edges of their boxes land here)
OSCAR = Actor("oscar", "operator")
STREET = [(0.0, 0.3), (1.0, 0.3), (1.0, 1.0), (0.0, 1.0)]


@pytest.fixture(scope="module")
def clips(vtest: Path) -> dict[str, Path]:
    return {case: scene_clip(MEDIA / f"scene-{case}.mp4", vtest, case)
            for case in (*TAMPER, "left", "removed")}


def _scene_events(sink: CollectingSink) -> list[Event]:
    return [ev for ev in sink.ended if ev.kind in ("tamper", "left", "removed")]


@pytest.mark.parametrize("case", TAMPER)
def test_each_kind_of_tampering_is_reported_once_in_time(case: str, clips: dict[str, Path],
                                                         detector: Detector) -> None:
    # the lawn is watched for left and removed objects too: a tampered picture must not look like either
    cam = camera(zones={"lawn": {"points": GRASS_ZONE, "left": 10, "removed": 10}})
    sink = CollectingSink()
    analyze_file(clips[case], cam, detector, sink)
    found = _scene_events(sink)
    assert [(ev.kind, ev.data["cause"]) for ev in found] == [("tamper", case)], [e.data for e in found]
    ev = found[0]
    delay = cam.tamper.frozen_after if case == "frozen" else cam.tamper.after
    assert CHANGE_AT - 0.5 <= ev.start <= CHANGE_AT + 1.5, "when the tampering began"
    assert ev.data["detected"] <= CHANGE_AT + delay + 2.0, "reported within the delay + 2 s"
    started = [u for u in sink.updates if u.type == "start" and u.event.kind == "tamper"]
    assert len(started) == 1


@pytest.mark.parametrize("case", ["left", "removed"])
def test_left_and_removed_objects_are_reported_in_their_zone(case: str, clips: dict[str, Path],
                                                             detector: Detector, tmp_path: Path) -> None:
    cam = camera(zones={"lawn": {"points": GRASS_ZONE, "left": 10, "removed": 10}})
    sink = CollectingSink(snapshots_dir=tmp_path)
    analyze_file(clips[case], cam, detector, sink, start_wall=1_800_000_000.0)
    found = _scene_events(sink)
    assert [(ev.kind, ev.label) for ev in found] == [(case, "lawn")], [(e.kind, e.data) for e in found]
    ev = found[0]
    assert ev.data["detected"] - 1_800_000_000.0 <= CHANGE_AT + 10 + 2.0
    x1, y1, x2, y2 = ev.box or [0, 0, 0, 0]
    truth = (0.20, 0.66, 0.27, 0.74) if case == "left" else (0.085, 0.855, 0.21, 0.925)
    cx, cy = (truth[0] + truth[2]) / 2, (truth[1] + truth[3]) / 2
    assert x1 <= cx <= x2 and y1 <= cy <= y2, f"the box {ev.box} covers the {case} object"
    assert ev.snapshot and (tmp_path / ev.snapshot).stat().st_size > 1000


def test_the_street_clip_raises_no_tamper_left_or_removed(vtest: Path, detector: Detector) -> None:
    cam = camera(zones={"street": {"points": STREET, "left": 10, "removed": 10}})
    sink = CollectingSink()
    result = analyze_file(vtest, cam, detector, sink)
    assert result.video_seconds > 75
    assert _scene_events(sink) == []
    assert any(ev.kind == "object" for ev in sink.ended), "the people were there to be mistaken"


def test_analyze_json_emits_tamper_with_its_cause(clips: dict[str, Path]) -> None:
    env = {**os.environ, "CLEARWATCH_MODELS": str(ROOT.parent / "shared" / "models")}
    out = subprocess.run([sys.executable, "-m", "clearwatch", "analyze", str(clips["covered"]), "--json",
                          "--no-snapshots"], capture_output=True, text=True, env=env, timeout=300, check=True)
    lines = [json.loads(x) for x in out.stdout.splitlines() if x.strip()]
    tamper = [x for x in lines if x["kind"] == "tamper"]
    assert len(tamper) == 1 and tamper[0]["data"]["cause"] == "covered"
    assert abs(tamper[0]["start"] - CHANGE_AT) < 1.5, "seconds from the start of the file"


# the desk ------------------------------------------------------------------------------------------------

def _desk_config(tmp: Path, clip: Path, mqtt: bool = False) -> Config:
    return parse_config(f"""
data_dir: {tmp / 'data'}
site: {{name: depot, timezone: Europe/Berlin}}
mqtt: {{enabled: {str(mqtt).lower()}, topic_prefix: cw-alarms-{os.getpid()}}}
webhooks:
  pager: {{url: 'http://127.0.0.1:9/pager'}}
schedules:
  after_hours: {{mon-fri: ["18:00-07:00"], sat-sun: ["00:00-24:00"], except: [2026-12-25]}}
alarms:
  group_window: 60s
  escalate: {{after: 5m, notify: [pager]}}
  rules:
    night_intruder: {{kind: intrusion, zone: street, schedule: after_hours, priority: 1, notify: [pager]}}
    camera_down: {{kind: offline, after: 30s, priority: 2}}
cameras:
  yard:
    url: '{clip}'
    zones:
      street: {{points: {json.dumps([list(p) for p in STREET])}}}
""")


def _berlin(text: str) -> float:
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Europe/Berlin")).timestamp()


def _run(cfg: Config, clip: Path, detector: Detector, start: float) -> tuple[AlarmEngine, Database]:
    db = Database(cfg.database_url)
    db.migrate()
    events = EventService(cfg, db, deliver=False)
    engine = AlarmEngine(cfg, db, queue=events.queue)
    events.listeners.append(engine.on_update)
    analyze_file(clip, cfg.cameras["yard"], detector, events, start_wall=start)
    return engine, db


def test_intrusion_alarms_only_while_armed_and_once_per_intrusion(clips: dict[str, Path], detector: Detector,
                                                                  tmp_path: Path) -> None:
    clip = clips["left"]  # 30 s of the street with people walking through
    cfg = _desk_config(tmp_path / "night", clip)
    engine, db = _run(cfg, clip, detector, _berlin("2026-12-07 22:00"))  # a Monday night
    alarms = engine.store.queue("all")
    assert len(alarms) == 1, [a.title for a in alarms]
    a = alarms[0]
    assert a.rule == "night_intruder" and a.priority == 1 and a.state == "new" and a.camera == "yard"
    assert a.count >= 2 and len(a.events) == a.count, "every person who came joins the one alarm"
    assert a.snapshot and (cfg.snapshots_dir / a.snapshot).is_file()
    assert a.clip_start is not None and a.clip_end is not None and a.clip_start < a.first_at < a.clip_end
    hooks = [m for m in OutboxStore(db).ready("webhook:pager", 1e12, limit=1000) if m.topic == "alarms"]
    assert len(hooks) == 1 and json.loads(hooks[0].payload)["type"] == "new"

    day = _desk_config(tmp_path / "day", clip)
    engine, _ = _run(day, clip, detector, _berlin("2026-12-07 12:00"))  # Monday noon: not armed
    assert engine.store.queue("all") == []

    disarmed = _desk_config(tmp_path / "disarmed", clip)
    db = Database(disarmed.database_url)
    db.migrate()
    AlarmEngine(disarmed, db).arming.set("after_hours", "disarmed", "ada", "night shift at work")
    engine, _ = _run(disarmed, clip, detector, _berlin("2026-12-07 22:00"))
    assert engine.store.queue("all") == [], "disarmed by hand"


def _object_update(engine: AlarmEngine, t: float, track: int) -> EventUpdate:
    ev = Event("yard", "object", "person", t, id=f"ev{track}x{int(t)}", track_id=track, zones=["street"],
               path=[(t, 0.5, 0.5)])
    update = EventUpdate("start", ev)
    engine.on_update(update)
    return update


def test_desk_groups_acknowledges_closes_and_escalates(tmp_path: Path, vtest: Path) -> None:
    cfg = _desk_config(tmp_path, vtest, mqtt=True)
    db = Database(cfg.database_url)
    db.migrate()
    sub = subscribe_all(cfg.mqtt.topic_prefix)
    events = EventService(cfg, db)
    events.start()
    try:
        night = _berlin("2026-12-08 01:00")
        clock = [night]
        engine = AlarmEngine(cfg, db, queue=events.queue, clock=lambda: clock[0])
        _object_update(engine, night, 1)
        _object_update(engine, night + 20, 2)
        _object_update(engine, night + 20, 2)  # the same person again: no repeat
        _object_update(engine, night + 200, 3)  # after the group window: a new alarm
        first, second = sorted(engine.store.queue("all"), key=lambda a: a.first_at)
        assert (first.count, second.count) == (2, 1)

        engine.acknowledge(first.id, OSCAR, "guard sent")
        with pytest.raises(AlarmError, match="acknowledged already"):
            engine.acknowledge(first.id, Actor("vera", "viewer"), "me too")
        clock[0] = night + 200 + 299
        assert engine.escalate() == 0, "not yet"
        clock[0] = night + 200 + 301
        assert engine.escalate() == 1, "only the unacknowledged one"
        escalated = engine.store.get(second.id)
        assert escalated is not None and escalated.escalated_at is not None and escalated.priority == 1
        assert engine.escalate() == 0, "once"
        closed = engine.close(second.id, OSCAR, "cat on the camera")
        assert closed.state == "closed" and closed.acked_by == "oscar" and closed.close_note == "cat on the camera"
        with pytest.raises(AlarmError, match="closed already"):
            engine.close(second.id, OSCAR, "again")
        assert [a.id for a in engine.store.queue("open")] == [first.id]

        got = wait_for(lambda: len([t for t, _ in sub.got if t.endswith("/alarms")]) >= 6 or None, 15)
        assert got, sub.got
        bodies = [json.loads(p) for t, p in sub.got if t.endswith("/alarms")]
        assert [b["type"] for b in bodies][:6] == ["new", "repeat", "new", "ack", "escalated", "close"]
        body = bodies[0]
        assert body["site"] == "depot" and body["alarm"]["rule"] == "night_intruder"
        pager = [json.loads(m.payload)["type"] for m in OutboxStore(db).ready("webhook:pager", 1e12, limit=50)
                 if m.topic == "alarms"]
        assert pager == ["new", "new", "escalated"], "the rule's new alarms and the escalation"
    finally:
        events.stop()
        sub.client.loop_stop()


def test_a_camera_down_longer_than_the_rule_allows_raises_one_alarm(tmp_path: Path, vtest: Path) -> None:
    cfg = _desk_config(tmp_path, vtest)
    db = Database(cfg.database_url)
    db.migrate()
    engine = AlarmEngine(cfg, db)
    now = datetime.now(UTC)
    up = HealthSnapshot("yard", "streaming", last_frame_at=now)
    engine.check_health([up], now.timestamp())
    stalled = HealthSnapshot("yard", "stalled", last_frame_at=now, last_error="no packets for 5 s")
    engine.check_health([stalled], (now + timedelta(seconds=29)).timestamp())
    assert engine.store.queue("all") == []
    for s in (31, 33, 60):
        engine.check_health([stalled], (now + timedelta(seconds=s)).timestamp())
    alarms = engine.store.queue("all")
    assert len(alarms) == 1 and alarms[0].kind == "offline" and alarms[0].count == 1
    assert "stalled" in alarms[0].title and alarms[0].data["error"] == "no packets for 5 s"
    engine.check_health([HealthSnapshot("yard", "streaming", last_frame_at=now)], now.timestamp() + 70)
    engine.check_health([HealthSnapshot("yard", "reconnecting", last_frame_at=now + timedelta(seconds=70))],
                        now.timestamp() + 71)
    assert len(engine.store.queue("all")) == 1, "back up, then down again: not yet 30 s"


def _cli(*args: str, cfg_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "clearwatch", *args, "--config", str(cfg_path)],
                          capture_output=True, text=True, timeout=120)


def test_cli_lists_acknowledges_closes_and_arms(tmp_path: Path, vtest: Path) -> None:
    from clearwatch.governance import AuditLog

    cfg_path = tmp_path / "clearwatch.yaml"
    cfg_path.write_text(f"""
data_dir: {tmp_path / 'data'}
schedules:
  after_hours: {{mon-fri: ["18:00-07:00"]}}
alarms:
  rules:
    tampering: {{kind: tamper, priority: 2}}
cameras:
  yard: {{url: '{vtest}'}}
""")
    cfg = parse_config(cfg_path.read_text())
    db = Database(cfg.database_url)
    db.migrate()
    engine = AlarmEngine(cfg, db)
    ev = Event("yard", "tamper", "covered", datetime.now(UTC).timestamp(), data={"cause": "covered"})
    engine.on_update(EventUpdate("start", ev))
    (alarm,) = engine.store.queue()

    listed = _cli("alarms", "list", "--json", cfg_path=cfg_path)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["id"], r["title"], r["state"]) for r in rows] == [(alarm.id, "Camera tampering: covered on yard", "new")]
    acked = _cli("alarms", "ack", alarm.id[:12], "--note", "lens wiped", cfg_path=cfg_path)
    assert acked.returncode == 0 and "acknowledged" in acked.stdout, acked.stderr
    again = _cli("alarms", "ack", alarm.id, cfg_path=cfg_path)
    assert again.returncode == 1 and "acknowledged already" in again.stderr and "Traceback" not in again.stderr
    closed = _cli("alarms", "close", alarm.id, "--note", "done", cfg_path=cfg_path)
    assert closed.returncode == 0, closed.stderr
    assert engine.store.get(alarm.id).state == "closed"  # type: ignore[union-attr]
    missing = _cli("alarms", "close", "ffffffffffff", cfg_path=cfg_path)
    assert missing.returncode == 1 and "no alarm" in missing.stderr

    no_reason = _cli("alarms", "arm", "after_hours", "--why", " ", cfg_path=cfg_path)
    assert no_reason.returncode == 1 and "--why" in no_reason.stderr
    armed = _cli("alarms", "arm", "after_hours", "--why", "guard off sick", "--until", "+2h", cfg_path=cfg_path)
    assert armed.returncode == 0 and "armed by hand until" in armed.stdout, armed.stderr + armed.stdout
    state = json.loads(_cli("alarms", "schedules", "--json", cfg_path=cfg_path).stdout)
    assert state[0]["on"] is True and state[0]["manual"] == "armed"
    unknown = _cli("alarms", "disarm", "weekends", "--why", "no such", cfg_path=cfg_path)
    assert unknown.returncode == 1 and "no schedule 'weekends'" in unknown.stderr
    trail = [(r.action, r.target, r.justification) for r in AuditLog(db).list(20)]
    assert ("alarm.arm", "after_hours", "guard off sick") in trail
    assert {"alarm.ack", "alarm.close"} <= {a for a, _, _ in trail}


def test_a_machine_stopped_outside_its_schedule_and_closed_alarms_expire(tmp_path: Path, vtest: Path) -> None:
    from clearwatch.governance.retention import DataRetention

    cfg = parse_config(f"""
data_dir: {tmp_path / 'data'}
schedules:
  maintenance: {{sat: ["06:00-12:00"]}}
alarms:
  rules:
    press_stopped: {{kind: machine, machine: press, state: stopped, unless: maintenance, priority: 2}}
cameras:
  line1:
    url: '{vtest}'
    machines:
      press: {{points: [[0, 0], [0.5, 0], [0.5, 0.5]]}}
""")
    db = Database(cfg.database_url)
    db.migrate()
    engine = AlarmEngine(cfg, db)

    def machine(state: str, when: str) -> None:
        t = datetime.fromisoformat(when).replace(tzinfo=UTC).timestamp()
        engine.on_update(EventUpdate("start", Event("line1", "machine", "press", t, data={"state": state})))

    machine("stopped", "2026-12-12 08:00")  # Saturday morning: maintenance, expected
    machine("running", "2026-12-14 08:00")
    assert engine.store.queue("all") == []
    machine("stopped", "2026-12-14 09:00")  # Monday: a stop nobody planned
    (alarm,) = engine.store.queue("all")
    assert alarm.title == "Machine press stopped on line1" and alarm.priority == 2
    engine.close(alarm.id, OSCAR, "jam cleared")
    retention = DataRetention(cfg, db)
    assert retention.run(alarm.first_at + timedelta(days=89))["alarms"] == 0  # closed alarms: 90 days
    assert retention.run(alarm.first_at + timedelta(days=91))["alarms"] == 1
    assert engine.store.queue("all") == []
