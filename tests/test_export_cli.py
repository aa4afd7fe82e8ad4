"""Export (no re-encode) and the CLI on real recordings made from the shared clip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import av
import pytest

from clearwatch.config import Config
from clearwatch.errors import NoFootageError
from clearwatch.recording import export_range
from clearwatch.service import Service
from clearwatch.storage import Database, HoldStore, SegmentIndex
from tests.support.helpers import decode_all, make_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recorded(h264_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Config:
    """About 16 s of footage, a 4 s gap, then 10 s more."""
    data = tmp_path_factory.mktemp("rec")
    cfg = make_config(data, {"gate": str(h264_clip)}, camera_extra="record: {segment_seconds: 6}")
    for seconds in (16, 10):
        svc = Service(cfg)
        svc.start()
        time.sleep(seconds)
        svc.stop()
        time.sleep(4)
    return cfg


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "clearwatch", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


def test_export_joins_segments_with_wall_clock_timestamps(recorded: Config, tmp_path: Path) -> None:
    db = Database(recorded.database_url)
    index, holds = SegmentIndex(db), HoldStore(db)
    segs = index.list("gate")
    assert len(segs) >= 4
    start = segs[0].start + timedelta(seconds=3)
    end = segs[-1].end - timedelta(seconds=2)
    out = tmp_path / "clip.mp4"
    result = export_range(recorded.recordings_dir, index, holds, "gate", start, end, out)
    assert result.segments == len(segs)
    # begins at the keyframe at or before `start` (keyframes every 2 s)
    assert start - timedelta(seconds=2.01) <= result.start <= start
    assert result.gaps >= 3.5
    with av.open(str(out)) as c:
        s = c.streams.video[0]
        dts = [p.dts for p in c.demux(s) if p.dts is not None]
        assert s.codec_context.name == "h264"
    assert dts == sorted(dts) and len(set(dts)) == len(dts)
    frames, span = decode_all(out)
    # the span follows wall-clock time, gap included
    assert span == pytest.approx((result.end - result.start).total_seconds(), abs=0.3)
    assert frames == pytest.approx(10 * (span - result.gaps), abs=3)
    assert holds.active() == []  # the export hold is released
    with pytest.raises(NoFootageError, match="no footage from camera 'gate'"):
        export_range(recorded.recordings_dir, index, holds, "gate", segs[0].start - timedelta(hours=2),
                     segs[0].start - timedelta(hours=1), tmp_path / "none.mp4")
    assert not (tmp_path / "none.mp4").exists()
    db.dispose()


def test_cli_recordings_cameras_export(recorded: Config, tmp_path: Path) -> None:
    data = str(recorded.data_dir)
    r = _cli("recordings", "list", "--data", data, "--json")
    assert r.returncode == 0, r.stderr
    listing = json.loads(r.stdout)
    assert len(listing["segments"]) >= 4 and len(listing["gaps"]) == 1
    assert listing["gaps"][0]["seconds"] >= 3.5
    r = _cli("recordings", "list", "--data", data)
    assert "gap" in r.stdout
    r = _cli("cameras", "--data", data, "--json")
    cams = json.loads(r.stdout)
    assert cams[0]["camera"] == "gate" and cams[0]["state"] == "stopped"
    first = listing["segments"][0]["start"]
    out = tmp_path / "cli.mp4"
    r = _cli("export", "gate", first, "now", str(out), "--data", data, "--why", "incident 42 for the police")
    assert r.returncode == 0, r.stderr
    assert "exported" in r.stdout and out.stat().st_size > 100_000
    manifest = json.loads((tmp_path / "cli.mp4.manifest.json").read_text())
    assert manifest["camera"] == "gate" and manifest["why"] == "incident 42 for the police"
    assert manifest["signed"]["key_id"] and (recorded.data_dir / "signing.key").stat().st_mode & 0o077 == 0
    _signed_export_checks(data, out, tmp_path, listing["segments"][0])
    r = _cli("export", "gate", "-20h", "-19h", str(tmp_path / "x.mp4"), "--data", data, "--why", "test case")
    assert r.returncode == 1 and "no footage from camera 'gate'" in r.stderr and "Traceback" not in r.stderr
    red = tmp_path / "redacted.mp4"
    r = _cli("export", "gate", listing["segments"][0]["start"], listing["segments"][0]["end"], str(red), "--data",
             data, "--why", "for the press, faces hidden", "--redact", "faces,plates")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "redacted.mp4.manifest.json").read_text())["redactions"] == ["faces", "plates"]
    assert _cli("export", "verify", str(red), "--data", data).returncode == 0
    r = _cli("export", "gate", "-1h", "now", str(red), "--data", data, "--why", "bad kind", "--redact", "cats")
    assert r.returncode == 1 and "use faces, people, plates" in r.stderr
    r = _cli("export", "gate", "yesterday-ish", "now", str(tmp_path / "x.mp4"), "--data", data, "--why", "test case")
    assert r.returncode == 1 and "cannot read time 'yesterday-ish'" in r.stderr


def _signed_export_checks(data: str, out: Path, tmp_path: Path, segment: dict[str, str]) -> None:
    """A signed export verifies; a flipped byte, an edited manifest, another export's manifest or a key from
    elsewhere do not, each named."""
    import shutil

    ok = _cli("export", "verify", str(out), "--data", data)
    assert ok.returncode == 0 and "verified" in ok.stdout, ok.stderr
    manifest = out.with_name(out.name + ".manifest.json")

    flipped = tmp_path / "flipped" / out.name
    flipped.parent.mkdir()
    shutil.copy(out, flipped)
    shutil.copy(manifest, flipped.with_name(manifest.name))
    with flipped.open("r+b") as f:
        f.seek(50_000)
        byte = f.read(1)
        f.seek(50_000)
        f.write(bytes([byte[0] ^ 0x01]))
    r = _cli("export", "verify", str(flipped), "--data", data)
    assert r.returncode == 1 and "SHA-256 does not match" in r.stderr, r.stderr

    edited = json.loads(manifest.read_text())
    edited["why"] = "something more innocent"
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    r = _cli("export", "verify", str(out), "--manifest", str(tmp_path / "edited.json"), "--data", data)
    assert r.returncode == 1 and "signature does not match the content" in r.stderr, r.stderr

    other = tmp_path / "other.mp4"
    r = _cli("export", "gate", segment["start"], segment["end"], str(other), "--data", data, "--why",
             "second export, shorter")
    assert r.returncode == 0, r.stderr
    r = _cli("export", "verify", str(out), "--manifest", str(other) + ".manifest.json", "--data", data)
    assert r.returncode == 1 and "belongs to another export" in r.stderr and "is for 'other.mp4'" in r.stderr

    from clearwatch.governance.signing import create_signing_key

    stranger = create_signing_key(tmp_path / "stranger.key").sign_document(json.loads(manifest.read_text()))
    (tmp_path / "stranger.json").write_text(json.dumps(stranger))
    r = _cli("export", "verify", str(out), "--manifest", str(tmp_path / "stranger.json"), "--data", data)
    assert r.returncode == 1 and "not a trusted key" in r.stderr, r.stderr
    r = _cli("export", "verify", str(tmp_path / "missing.mp4"), "--data", data)
    assert r.returncode == 1 and "no manifest" in r.stderr


def test_demo_runs_without_config(tmp_path: Path) -> None:
    r = _cli("demo", "--duration", "14", "--data", str(tmp_path / "demo-data"), cwd=Path(__file__).parent.parent)
    assert r.returncode == 0, r.stderr
    assert "looping" in r.stdout and "vtest.avi" in r.stdout
    segs = list((tmp_path / "demo-data/recordings/demo").glob("*/*/*.mp4"))
    assert len(segs) >= 1
    r = _cli("recordings", "list", "demo", "--data", str(tmp_path / "demo-data"), "--json")
    assert sum(s["duration"] for s in json.loads(r.stdout)["segments"]) >= 10
