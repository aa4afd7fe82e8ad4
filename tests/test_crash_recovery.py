"""kill -9 of the recorder mid-segment loses at most the last fragment; start-up repairs and re-indexes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clearwatch.config import load_config
from clearwatch.recording import reconcile
from clearwatch.storage import Database, SegmentIndex
from tests.support.helpers import decode_all

pytestmark = pytest.mark.slow


def test_kill_9_mid_segment_then_restart(h264_clip: Path, tmp_path: Path) -> None:
    cfg_file = tmp_path / "cw.yaml"
    cfg_file.write_text(
        f"data_dir: {tmp_path}/data\nstorage: {{min_free: 0}}\ncameras:\n  gate:\n    url: {h264_clip}\n"
    )
    proc = subprocess.Popen([sys.executable, "-m", "clearwatch", "run", str(cfg_file)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    cfg = load_config(cfg_file)
    try:
        # wait until the second segment is a few seconds in
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            files = sorted(cfg.recordings_dir.glob("gate/*/*/*.mp4"))
            if len(files) >= 2 and time.time() - files[-1].stat().st_ctime > 0:
                break
            time.sleep(0.2)
        time.sleep(5.5)
        killed_at = datetime.now(UTC)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    db = Database(cfg.database_url)
    index = SegmentIndex(db)
    before = index.list("gate")
    assert [s.status for s in before][-1] == "recording", "the segment being written should be open in the index"
    torn = cfg.recordings_dir / before[-1].path
    torn_size = torn.stat().st_size

    report = reconcile(cfg.recordings_dir, index)
    after = index.list("gate")
    assert all(s.status == "complete" for s in after)
    assert before[-1].path in report.repaired or torn.stat().st_size == torn_size
    first_start = after[0].start
    recorded = sum(s.duration for s in after)
    elapsed = (killed_at - first_start).total_seconds()
    # at most the last (1 s) fragment plus the packet in flight is lost
    assert recorded >= elapsed - 2.5, (recorded, elapsed)
    for s in after:
        frames, span = decode_all(cfg.recordings_dir / s.path)
        assert frames >= 1
        assert span == pytest.approx(s.duration, abs=0.25), s.path
        assert abs((s.end - s.start).total_seconds() - s.duration) < 0.01
    assert after[-1].duration > 1.0

    # a second start-up changes nothing
    again = reconcile(cfg.recordings_dir, index)
    assert not (again.repaired or again.indexed_orphans or again.dropped_rows or again.removed_unplayable)
    db.dispose()


def test_reconcile_indexes_orphans_and_drops_missing(h264_clip: Path, tmp_path: Path) -> None:
    from tests.support.helpers import make_config

    cfg = make_config(tmp_path, {"gate": str(h264_clip)}, camera_extra="record: {segment_seconds: 4}")
    from clearwatch.service import Service

    svc = Service(cfg)
    svc.start()
    time.sleep(13)
    svc.stop()
    segs = svc.index.list("gate")
    assert len(segs) >= 3
    db = Database(cfg.database_url)
    index = SegmentIndex(db)
    # a row whose file vanished, and a file nobody indexed
    (cfg.recordings_dir / segs[0].path).unlink()
    index.delete_ids([segs[1].id])
    report = reconcile(cfg.recordings_dir, index)
    assert report.dropped_rows == [segs[0].path]
    assert report.indexed_orphans == [segs[1].path]
    restored = {s.path: s for s in index.list("gate")}[segs[1].path]
    # the precise start time comes back from the segment's own metadata
    assert abs((restored.start - segs[1].start).total_seconds()) < 0.001
    assert restored.duration == pytest.approx(segs[1].duration, abs=0.05)
    # garbage in the recordings folder is removed, not indexed
    junk = cfg.recordings_dir / "gate" / segs[2].path.split("/")[1] / segs[2].path.split("/")[2] / "59.59.mp4"
    junk.write_bytes(b"not a video")
    report = reconcile(cfg.recordings_dir, index)
    assert report.removed_unplayable == [junk.relative_to(cfg.recordings_dir).as_posix()]
    assert not junk.exists()
    db.dispose()
