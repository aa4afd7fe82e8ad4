"""Each camera resolved once: site-wide sections deep-merged under its own, validated, paths anchored."""

from __future__ import annotations

from pathlib import Path

import pytest

from clearwatch.analytics.detectors.registry import available
from clearwatch.config import load_config, parse_config
from clearwatch.errors import ConfigError

SITE = """
record: {mode: events, pre_roll: 3}
retention: {days: 14}
objects:
  min_score: 0.3
  filters: {person: {min_score: 0.6}, car: {min_area: 0.01}}
faces: {enabled: true, shots: 7}
cameras:
  gate:
    url: rtsp://h/gate
    record: {post_roll: 20, retention_days: 30}
    objects:
      track: [person]
      filters: {person: {min_area: 0.002}}
  yard:
    url: rtsp://h/yard
    faces: {enabled: false}
"""


def test_site_sections_are_deep_merged_under_the_cameras_own() -> None:
    cfg = parse_config(SITE)
    gate, yard = cfg.cameras["gate"], cfg.cameras["yard"]
    assert (gate.name, yard.name) == ("gate", "yard")
    assert (gate.record.mode, gate.record.pre_roll, gate.record.post_roll) == ("events", 3, 20)
    assert gate.record.retention_days == 30 and yard.record.retention_days == 14  # default: retention.days
    assert gate.objects.track == ["person"] and gate.objects.min_score == 0.3
    # mappings merge key by key: the site's person min_score stays beside the camera's min_area
    person = gate.objects.filters["person"]
    assert (person.min_score, person.min_area) == (0.6, 0.002)
    assert gate.objects.filters["car"].min_area == 0.01
    assert gate.faces.enabled and gate.faces.shots == 7
    assert not yard.faces.enabled and yard.faces.shots == 7


def test_a_camera_without_overrides_gets_the_defaults() -> None:
    cam = parse_config("cameras:\n  a: {url: rtsp://h/x}\n").cameras["a"]
    assert (cam.record.mode, cam.record.segment_seconds, cam.record.retention_days) == ("continuous", 10.0, 7.0)
    assert (cam.detect.fps, cam.detect.width, cam.objects.detector) == (5.0, 640, "yolox_nano")


def test_a_bad_site_section_is_reported_once_where_it_was_written() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config("record: {mode: sometimes}\ncameras:\n  a: {url: rtsp://h/x}\n  b: {url: rtsp://h/y}\n")
    assert len(err.value.problems) == 1 and err.value.problems[0].startswith("line 1: record.mode")


def test_a_merged_camera_is_validated_as_a_whole() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config("cameras:\n  a:\n    url: rtsp://h/x\n    reconnect: {initial_delay: 10, max_delay: 2}\n")
    assert "cameras.a.reconnect: max_delay must be at least initial_delay" in err.value.problems[0]


def test_relative_paths_are_anchored_to_the_config_file(tmp_path: Path) -> None:
    sub = tmp_path / "site"
    sub.mkdir()
    (sub / "models").mkdir()
    f = sub / "clearwatch.yaml"
    f.write_text("data_dir: data\nidentity: {key_file: keys/bio.key}\nobjects: {model: models/y.onnx, "
                 "sha256: " + "a" * 64 + "}\ncameras:\n  a:\n    url: rtsp://h/x\n"
                 "    objects: {model: models/z.onnx}\n")
    cfg = load_config(f)
    assert cfg.data_dir == sub / "data"
    assert cfg.identity.key_file == sub / "keys/bio.key"
    assert cfg.objects.model == sub / "models/y.onnx"
    assert cfg.cameras["a"].objects.model == sub / "models/z.onnx"


def test_a_file_camera_uses_the_site_sections(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x")
    cam = parse_config(SITE).file_camera(clip)
    assert cam.name == "file" and cam.url == str(clip) and not cam.loop
    assert cam.record.pre_roll == 3 and cam.record.retention_days == 14 and cam.objects.min_score == 0.3


def test_a_name_that_is_not_its_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="a camera's name is its key"):
        parse_config("cameras:\n  a: {url: rtsp://h/x, name: b}\n")


def test_detectors_are_the_backend_files_and_an_unknown_one_is_refused() -> None:
    assert {"yolox_nano", "fastestdet"} <= set(available())
    with pytest.raises(ConfigError) as err:
        parse_config("objects: {detector: yolo_v99}\n")
    assert "unknown detector 'yolo_v99': use one of" in err.value.problems[0]
    assert "yolox_nano" in err.value.problems[0]


def test_resolved_cameras_cannot_be_changed_by_accident() -> None:
    cam = parse_config("cameras:\n  a: {url: rtsp://h/x}\n").cameras["a"]
    with pytest.raises(ValueError, match="frozen"):
        cam.url = "rtsp://elsewhere/x"  # type: ignore[misc]
