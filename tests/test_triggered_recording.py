"""Event-triggered recording keeps pre-roll before the trigger and post-roll after it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from clearwatch.service import Service
from tests.support.helpers import decode_all, make_config, wait_for

pytestmark = pytest.mark.slow


def test_events_mode_records_pre_and_post_roll_only(h264_clip: Path, tmp_path: Path) -> None:
    cfg = make_config(tmp_path, {"gate": str(h264_clip)},
                      camera_extra="record: {mode: events, pre_roll: 4, post_roll: 3}\nobjects: {enabled: false}")
    svc = Service(cfg)
    svc.start()
    try:
        cam, rec = svc.units["gate"].camera, svc.units["gate"].recorder
        assert rec is not None
        assert wait_for(lambda: cam.packets > 80, 20) is not None  # 8 s of idle video
        assert cam.health.recording == "idle" and svc.index.list("gate") == []
        triggered_at = time.time()
        rec.trigger(triggered_at + 2)  # an event lasting 2 s
        assert wait_for(lambda: cam.health.recording == "recording", 5) is not None
        assert wait_for(lambda: cam.health.recording == "idle", 15) is not None
        time.sleep(1)
    finally:
        svc.stop()
    (seg,) = svc.index.list("gate")
    lead = triggered_at - seg.start.timestamp()
    tail = seg.end.timestamp() - (triggered_at + 2)
    # pre-roll starts at a keyframe (every 2 s) at or before trigger - 4 s
    assert 4 <= lead <= 6.2, lead
    assert 2.8 <= tail <= 3.6, tail
    _, span = decode_all(cfg.recordings_dir / seg.path)
    assert span == pytest.approx(seg.duration, abs=0.25)


@pytest.fixture(scope="module")
def static_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from clearwatch.media import test_pattern

    return test_pattern(tmp_path_factory.mktemp("static") / "static.mp4", seconds=30, moving=False)


def test_motion_mode_records_people_but_not_a_static_scene(h264_clip: Path, static_clip: Path,
                                                            tmp_path: Path) -> None:
    cfg = make_config(tmp_path, {"street": str(h264_clip), "empty": str(static_clip)},
                      camera_extra="record: {mode: motion, pre_roll: 2, post_roll: 2}")
    svc = Service(cfg)
    svc.start()
    try:
        assert wait_for(lambda: svc.units["street"].camera.health.recording == "recording", 20) is not None
        time.sleep(6)
        empty = svc.units["empty"].analytics
        assert empty is not None and empty.times.frames > 20
        assert empty.motion_frames == 0
        street = svc.units["street"].analytics
        assert street is not None and street.motion_frames > 10
        assert svc.units["empty"].camera.health.recording == "idle"
    finally:
        svc.stop()
    assert svc.index.list("street") and not svc.index.list("empty")
