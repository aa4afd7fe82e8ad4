from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from clearwatch.config import load_config, parse_config
from clearwatch.errors import ConfigError

GOOD = """
data_dir: data
storage: {max_size: 500GB, min_free: 2GiB}
retention: {days: 14, interval: 5m}
record: {segment_seconds: 10s, mode: continuous}
cameras:
  gate:
    url: rtsp://admin:${GATE_PASSWORD}@10.0.0.5:554/stream1
    record: {mode: events, pre_roll: 5, post_roll: 20s, retention_days: 30}
  yard:
    url: http://10.0.0.6/video.mjpg
"""

MALFORMED = [
    ("cameras:\n  gate:\n    url: [1, 2\n", "line 4, column 1: invalid YAML"),
    ("cameras:\n  gate: {}\n", "line 2: cameras.gate.url: required key is missing"),
    ("cameras:\n  gate:\n    url: ftp://h/x\n", "line 3: cameras.gate.url: unsupported scheme 'ftp'"),
    ("cameras:\n  gate:\n    url: rtsp://\n", "cameras.gate.url: rtsp:// URL has no host"),
    ("cameras:\n  gate:\n    url: rtsp://h:99999/x\n", "cameras.gate.url: URL has an invalid port"),
    ("cameras:\n  gate:\n    url: /no/such/clip.mp4\n", "cameras.gate.url: video file not found: /no/such/clip.mp4"),
    ("cameras:\n  gate:\n    url: rtsp://h/x\n    colour: red\n", "line 4: cameras.gate.colour: unknown key"),
    ("cameras:\n  gate:\n    url: rtsp://h/x\n    record: {mode: always}\n",
     "cameras.gate.record.mode: Input should be 'continuous', 'motion' or 'events'"),
    ("cameras:\n  gate:\n    url: rtsp://h/x\n    record: {segment_seconds: 1}\n",
     "cameras.gate.record.segment_seconds: Input should be greater than or equal to 2"),
    ("cameras:\n  gate:\n    url: rtsp://h/x\n    stall_timeout: soon\n",
     "cameras.gate.stall_timeout: 'soon' is not a duration"),
    ("cameras:\n  gate:\n    url: rtsp://h/x\n  gate:\n    url: rtsp://h/y\n",
     "line 4: cameras.gate: duplicate key (first on line 2)"),
    ("cameras:\n  front door:\n    url: rtsp://h/x\n", "cameras.front door: camera name 'front door' must be"),
    ("storage:\n  max_size: lots\n", "line 2: storage.max_size: 'lots' is not a size"),
    ("retention:\n  days: 0\n", "line 2: retention.days: Input should be greater than 0"),
    ("database:\n  url: mysql://x/y\n", "database.url: unsupported database 'mysql'"),
    ("cameras:\n  gate:\n    url: rtsp://u:${NOT_SET_ANYWHERE}@h/x\n",
     "line 3: cameras.gate.url: environment variable NOT_SET_ANYWHERE is not set"),
    ("- just\n- a list\n", "the top level must be a mapping"),
    ("cameras:\n  gate:\n    url: rtsp://h/x\n    reconnect: {initial_delay: 10, max_delay: 2}\n",
     "cameras.gate.reconnect: max_delay must be at least initial_delay"),
    # analytics
    ("cameras:\n  gate:\n    url: rtsp://h/x\n    zones:\n      door: {points: [[0, 0], [1, 1]]}\n",
     "line 5: cameras.gate.zones.door.points: a polygon needs at least 3 points, got 2"),
    ("cameras:\n  gate:\n    url: rtsp://h/x\n    lines:\n      l: {points: [[0, 0], [1.5, 1]]}\n",
     "cameras.gate.lines.l.points: point [1.5, 1.0] is outside the frame"),
    ("cameras:\n  gate:\n    url: rtsp://h/x\n    lines:\n      l: {points: [[0, 0], [0.5, 0.5], [1, 1]]}\n",
     "cameras.gate.lines.l.points: a line is exactly 2 points"),
    ("objects:\n  track: [person, unicorn]\n", "objects: unknown object label(s) 'unicorn'"),
    ("objects:\n  sha256: abc\n", "objects.sha256: must be 64 hexadecimal digits"),
    ("motion:\n  masks: [[[0, 0], [1, 0]]]\n", "motion.masks.0: a polygon needs at least 3 points"),
    ("cameras:\n  gate:\n    url: rtsp://h/x\n    machines:\n      press: {points: [[0,0],[1,0],[1,1]], "
     "on_level: 0.1, off_level: 0.2}\n", "cameras.gate.machines.press: off_level must not exceed on_level"),
    ("webhooks:\n  ops: {url: ftp://x}\n", "webhooks.ops.url: String should match pattern"),
    ("mqtt:\n  port: 0\n", "mqtt.port: Input should be greater than or equal to 1"),
    ("cameras:\n  gate:\n    url: rtsp://h/x\n    detect_url: gopher://x\n",
     "cameras.gate.detect_url: unsupported scheme 'gopher'"),
]


@pytest.mark.parametrize(("text", "expected"), MALFORMED, ids=[m[1][:40] for m in MALFORMED])
def test_malformed_config_gives_precise_message(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(text, source="test.yaml")
    assert any(expected in p for p in err.value.problems), err.value.problems


def test_camera_analytics_sections_override_global_ones_key_by_key() -> None:
    cfg = parse_config("objects: {min_score: 0.3, track: [person, car]}\ndetect: {fps: 3}\ncameras:\n"
                       "  gate:\n    url: rtsp://h/x\n    objects: {track: [person]}\n    detect: {width: 320}\n")
    objects, detect = cfg.cameras["gate"].objects, cfg.cameras["gate"].detect
    assert objects.track == ["person"] and objects.min_score == 0.3
    assert (detect.fps, detect.width) == (3, 320)


def test_every_problem_is_reported_not_just_the_first() -> None:
    text = "storage: {max_size: lots}\nretention: {days: -1}\ncameras:\n  a: {url: ftp://x}\n  b: {}\n"
    with pytest.raises(ConfigError) as err:
        parse_config(text)
    joined = "\n".join(err.value.problems)
    for path in ("storage.max_size", "retention.days", "cameras.a.url", "cameras.b.url"):
        assert path in joined
    assert len(err.value.problems) == 4


def test_good_config_resolves_defaults_and_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GATE_PASSWORD", "s3cr3t!")
    f = tmp_path / "cw.yaml"
    f.write_text(GOOD)
    cfg = load_config(f)
    assert cfg.data_dir == tmp_path / "data"  # relative paths are relative to the config file
    assert cfg.storage.max_size == 500 * 10**9 and cfg.storage.min_free == 2 * 2**30
    assert cfg.retention.interval == 300
    assert cfg.cameras["gate"].url == "rtsp://admin:s3cr3t!@10.0.0.5:554/stream1"
    gate, yard = cfg.cameras["gate"].record, cfg.cameras["yard"].record
    assert (gate.mode, gate.post_roll, gate.retention_days, gate.segment_seconds) == ("events", 20, 30, 10)
    assert (yard.mode, yard.retention_days) == ("continuous", 14)
    assert cfg.database_url.startswith("sqlite:///") and cfg.database_url.endswith("data/clearwatch.db")


def test_secret_never_in_repr_or_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATE_PASSWORD", "hunter2hunter2")
    cfg = parse_config(GOOD)
    assert "hunter2hunter2" not in repr(cfg)
    bad = GOOD.replace("yard:", "yard:\n    bogus: 1")
    with pytest.raises(ConfigError) as err:
        parse_config(bad)
    assert "hunter2hunter2" not in str(err.value)


def test_dollar_dollar_escapes(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = parse_config("cameras:\n  a:\n    url: rtsp://u:pa$$word@h/x\n")
    assert cfg.cameras["a"].url == "rtsp://u:pa$word@h/x"


def test_cli_config_check_exit_codes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("cameras:\n  gate:\n    url: ftp://x\n    colour: red\n")
    r = subprocess.run([sys.executable, "-m", "clearwatch", "config", "check", str(bad)],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "line 3: cameras.gate.url: unsupported scheme 'ftp'" in r.stderr
    assert "line 4: cameras.gate.colour: unknown key" in r.stderr
    assert "Traceback" not in r.stderr
    good = tmp_path / "good.yaml"
    good.write_text("cameras:\n  gate:\n    url: rtsp://h/x\n")
    r = subprocess.run([sys.executable, "-m", "clearwatch", "config", "check", str(good)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    missing = subprocess.run([sys.executable, "-m", "clearwatch", "config", "check", str(tmp_path / "nope.yaml")],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "file not found" in missing.stderr
