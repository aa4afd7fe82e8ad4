"""The running service: RTSP camera → analytics → events in the database, on MQTT, as snapshots and
as event-triggered recordings; a broken camera beside it changes nothing."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import cv2
import pytest

from clearwatch.service import Service
from clearwatch.storage import EventStore
from tests.support.helpers import make_config, subscribe_all, wait_for
from tests.support.servers import RtspServer

pytestmark = pytest.mark.slow


@pytest.mark.rtsp
def test_rtsp_camera_events_reach_database_mqtt_snapshots_and_recordings(rtsp: RtspServer, tmp_path: Path,
                                                                          detector: object) -> None:
    prefix = f"cw-{uuid.uuid4().hex[:8]}"
    sub = subscribe_all(prefix)
    got = sub.got
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 64)
    cfg = make_config(
        tmp_path / "data", {"street": rtsp.url("cam1"), "broken": str(broken)},
        extra=f"mqtt: {{enabled: true, topic_prefix: {prefix}}}\nrecord: {{mode: events, pre_roll: 2, post_roll: 2}}\n"
              "alarms: {rules: {walkers: {kind: intrusion, zone: all, cameras: [street]},"
              " down: {kind: offline, after: 2s, cameras: [broken], priority: 1}}}",
        camera_extra="zones: {all: {points: [[0, 0], [1, 0], [1, 1], [0, 1]]}}",
    )
    # analytics read the camera's second stream (as they would a sub-stream); recording keeps the main one
    street = cfg.cameras["street"].model_copy(update={"detect_url": rtsp.url("cam2")})
    cfg = cfg.model_copy(update={"cameras": {**cfg.cameras, "street": street}})
    svc = Service(cfg)
    svc.start()
    try:
        assert svc.model_errors == {}
        store = EventStore(svc.db)
        assert wait_for(lambda: len([e for e in store.list(camera="street") if e.end is not None]) >= 2, 60) \
            is not None, "people walking past the camera end up as finished events"
        assert wait_for(lambda: any(t == f"{prefix}/events" for t, _ in got), 10) is not None
        # the alarm engine listens to the running system: people in the zone, a camera that never came up
        assert wait_for(lambda: {(a.rule, a.camera) for a in svc.alarms.store.queue()} >=
                        {("walkers", "street"), ("down", "broken")} or None, 20), svc.alarms.store.queue()
        assert wait_for(lambda: any(t == f"{prefix}/alarms" for t, _ in got), 10) is not None
        walkers = next(a for a in svc.alarms.store.queue() if a.rule == "walkers")
        assert walkers.snapshot and walkers.count >= 1 and walkers.clip_start is not None
    finally:
        svc.stop()
        time.sleep(0.5)
        sub.close()

    events = store.list(camera="street", limit=1000)
    assert all(e.end is not None for e in events), "stopping ends every open event"
    people = [e for e in events if e.label == "person"]
    assert len(people) >= 2
    for ev in people:
        assert ev.snapshot, ev.id
        img = cv2.imread(str(cfg.data_dir / "snapshots" / ev.snapshot))
        assert img is not None and img.shape[1] == 640
        assert ev.clip_start is not None and ev.clip_end is not None and ev.clip_start < ev.start < ev.clip_end
    published = [json.loads(p) for t, p in got if t == f"{prefix}/events"]
    assert {m["event"]["id"] for m in published} <= {e.id for e in events}
    assert any(m["type"] == "end" for m in published)
    assert any(t == f"{prefix}/street/person" for t, _ in got)

    segments = svc.index.list("street")
    assert segments, "events triggered recording"
    first = min(people, key=lambda e: e.start)
    assert any(s.start <= first.start <= s.end for s in segments), "the event's start is on a recording"

    broken_health = next(h for h in svc.health() if h.camera == "broken")
    assert broken_health.state != "streaming" and broken_health.last_error
    assert not store.list(camera="broken")
    assert svc.units["street"].detect_camera is not None and svc.units["street"].detect_camera.packets > 30


def test_missing_model_leaves_recording_and_motion_running(h264_clip: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARWATCH_MODELS", str(tmp_path / "no-models"))
    monkeypatch.setenv("HOME", str(tmp_path))
    cfg = make_config(tmp_path / "data", {"gate": str(h264_clip)},
                      camera_extra="record: {mode: motion, pre_roll: 2, post_roll: 2}")
    svc = Service(cfg)
    svc.start()
    try:
        unit = svc.units["gate"]
        assert unit.analytics is not None and unit.analytics.detector is None
        assert "model missing" in svc.model_errors["gate"]
        assert wait_for(lambda: unit.camera.health.recording == "recording", 20) is not None
        assert unit.analytics.motion_frames > 0
    finally:
        svc.stop()
    assert svc.index.list("gate")
    assert EventStore(svc.db).count() == 0
