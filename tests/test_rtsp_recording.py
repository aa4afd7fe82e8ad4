"""Recording from a real RTSP server (GStreamer), including failures of the server itself."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from clearwatch.service import Service
from clearwatch.storage import EventStore, find_gaps
from tests.support.helpers import decode_all, make_config, wait_for
from tests.support.servers import RtspServer, free_port

pytestmark = [pytest.mark.rtsp, pytest.mark.slow]


def test_records_30s_while_broken_cameras_fail_clearly(
    rtsp: RtspServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    password = "Sup3r-S3cret"
    cfg = make_config(tmp_path, {
        "gate": rtsp.url("cam1"),
        "yard": rtsp.url("cam2"),
        "refused": f"rtsp://admin:{password}@127.0.0.1:{free_port()}/stream",
        "wrongpath": f"rtsp://admin:{password}@127.0.0.1:{rtsp.port}/no-such-mount",
    })
    svc = Service(cfg)
    svc.start()
    try:
        assert wait_for(lambda: all(h.recording == "recording" for h in svc.health()[:2]), 20) is not None
        import time
        time.sleep(30)
        health = {h.camera: h for h in svc.health()}
    finally:
        svc.stop()
    for cam in ("gate", "yard"):
        assert health[cam].state == "streaming" and health[cam].fps_in > 8, health[cam]
    assert "connection refused" in (health["refused"].last_error or "")
    assert "404" in (health["wrongpath"].last_error or "")
    for cam in ("refused", "wrongpath"):
        assert health[cam].state in ("reconnecting", "connecting") and health[cam].reconnects >= 3
    # the password never reaches logs or health
    assert password not in caplog.text
    assert all(password not in (h.last_error or "") for h in health.values())

    for cam in ("gate", "yard"):
        segs = svc.index.list(cam)
        assert all(s.status == "complete" for s in segs)
        total = sum(s.duration for s in segs)
        assert total >= 28, (cam, total)
        assert not find_gaps(segs)
        for s in segs:
            assert s.duration <= 12.5  # 10 s segments cut on 2 s keyframes
            frames, span = decode_all(cfg.recordings_dir / s.path)
            assert frames >= round(s.duration * 10) - 1  # 10 fps clip, nothing missing
            assert span == pytest.approx(s.duration, abs=0.25)
            assert s.path.startswith(f"{cam}/{s.start:%Y-%m-%d}/{s.start:%H}/")
    assert svc.index.list("refused") == []


def test_server_killed_and_restarted_resumes_with_gap(rtsp: RtspServer, tmp_path: Path) -> None:
    cfg = make_config(tmp_path, {"gate": rtsp.url("cam1")})
    svc = Service(cfg)
    svc.start()
    try:
        cam = svc.units["gate"].camera
        assert wait_for(lambda: cam.health.recording == "recording", 20) is not None
        assert wait_for(lambda: cam.packets > 100, 20) is not None
        rtsp.kill()
        assert wait_for(lambda: cam.health.state != "streaming", 10) is not None
        import time
        time.sleep(5)
        before = cam.packets
        rtsp.start()
        resumed = wait_for(lambda: cam.packets > before + 10 and cam.health.recording == "recording", 30)
        assert resumed is not None and resumed <= 10, f"resumed after {resumed} s"
        time.sleep(4)
        assert cam.is_alive()
    finally:
        svc.stop()
    segs = svc.index.list("gate")
    gaps = find_gaps(segs)
    assert len(gaps) == 1 and gaps[0].seconds >= 4, gaps
    assert cam.health.reconnects >= 1
    for s in segs:
        decode_all(cfg.recordings_dir / s.path)


def test_frozen_server_is_detected_as_stalled(rtsp: RtspServer, tmp_path: Path) -> None:
    cfg = make_config(tmp_path, {"gate": rtsp.url("cam1")})
    svc = Service(cfg)
    svc.start()
    try:
        cam = svc.units["gate"].camera
        assert wait_for(lambda: cam.health.recording == "recording", 20) is not None
        store = EventStore(svc.db)
        open_events = lambda: [e for e in store.list(camera="gate", limit=1000) if e.end is None]  # noqa: E731
        assert wait_for(lambda: bool(open_events()), 40) is not None, "people in view before the freeze"
        rtsp.freeze()
        detected = wait_for(lambda: cam.health.state == "stalled", 15)
        assert detected is not None and detected <= 10, detected
        assert "no video" in (cam.health.last_error or "")
        # nobody stays "in view" while the camera is away: the drop ends what was open
        assert wait_for(lambda: not open_events(), 5) is not None, open_events()
        rtsp.thaw()
        assert wait_for(lambda: cam.health.state == "streaming", 30) is not None
    finally:
        rtsp.thaw()
        svc.stop()
