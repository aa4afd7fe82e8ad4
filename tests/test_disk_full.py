"""Running out of disk while recording: a real, small tmpfs."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from clearwatch.config import parse_config
from clearwatch.service import Service
from tests.support.helpers import decode_all, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1200k", "tmpfs", str(mnt)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_reports_keeps_index_consistent_and_resumes(h264_clip: Path, tmp_path: Path,
                                                              small_fs: Path) -> None:
    cfg = parse_config(
        f"data_dir: {tmp_path}/data\n"
        f"storage: {{recordings_dir: {small_fs}, min_free: 0}}\n"
        f"cameras:\n  gate:\n    url: {h264_clip}\n    record: {{segment_seconds: 4}}\n"
    )
    svc = Service(cfg)
    svc.start()
    try:
        cam = svc.units["gate"].camera
        assert wait_for(lambda: cam.health.recording == "error", 60) is not None
        assert "disk full" in (cam.health.last_error or "")
        assert cam.is_alive() and cam.health.state == "streaming"  # live video goes on
        assert svc.index_writer.flush()
        segs = svc.index.list("gate")
        assert segs, "segments written before the disk filled stay indexed"
        for s in segs:
            path = cfg.recordings_dir / s.path
            assert path.exists(), s.path
            if s.status == "complete":
                _frames, span = decode_all(path)
                assert span == pytest.approx(s.duration, abs=0.25)
        n_before = len(segs)
        # space comes back
        subprocess.run(["mount", "-o", "remount,size=64m", str(small_fs)], check=True)
        assert wait_for(lambda: cam.health.recording == "recording", 20) is not None
        assert wait_for(lambda: len(svc.index.list("gate")) > n_before, 20) is not None
    finally:
        svc.stop()
    for s in svc.index.list("gate"):
        assert s.status == "complete"
        decode_all(cfg.recordings_dir / s.path)
