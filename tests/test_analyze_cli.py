"""``clearwatch analyze``: JSON lines on a real clip, and clear errors for damaged files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "clearwatch", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


@pytest.fixture(scope="module")
def analyzed(vtest: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, object]]]:
    work = tmp_path_factory.mktemp("analyze")
    (work / "site.yaml").write_text(
        f"data_dir: {work / 'data'}\n"
        "cameras:\n"
        "  vtest:\n"
        f"    url: {vtest}\n"
        "    zones:\n"
        "      path: {points: [[0.0, 0.25], [1.0, 0.25], [1.0, 0.75], [0.0, 0.75]], objects: [person], loiter: 12s}\n"
        "    lines:\n"
        "      L: {points: [[0.78, 0.2], [0.78, 0.8]]}\n"
    )
    r = cli("analyze", str(vtest), "--config", "site.yaml", "--json", "--snapshots", "snaps", cwd=work)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    return work, [json.loads(line) for line in r.stdout.splitlines()]


def test_json_lines_carry_the_documented_fields(analyzed: tuple[Path, list[dict[str, object]]]) -> None:
    work, events = analyzed
    assert len(events) >= 15
    for ev in [e for e in events if e["kind"] == "object"]:
        assert {"camera", "label", "track_id", "start", "end", "score", "zones", "crossings"} <= ev.keys()
        assert ev["camera"] == "vtest"
        assert 0 <= ev["start"] <= ev["end"] <= 80  # type: ignore[operator]
    people = [e for e in events if e["label"] == "person" and e["kind"] == "object"]
    assert any("path" in e["zones"] for e in people)  # type: ignore[operator]
    crossings = [c for e in people for c in e["crossings"]]  # type: ignore[attr-defined]
    assert sum(1 for c in crossings if 3.0 <= c["time"] <= 5.5 and c["direction"] == "out") == 2
    object_tracks = {e["track_id"] for e in events if e["kind"] == "object"}
    loiterers = [e for e in events if e["kind"] == "loitering"]
    assert loiterers, "some people stay on the path longer than 12 s"
    for ev in loiterers:
        assert ev["zones"] == ["path"] and ev["label"] == "person" and ev["track_id"] in object_tracks
        assert ev["data"]["dwell"] >= 12 and ev["end"] - ev["start"] >= 12  # type: ignore[index,operator]
    snaps = [work / "snaps" / str(e["snapshot"]) for e in people]
    assert all(p.is_file() and p.read_bytes()[:2] == b"\xff\xd8" for p in snaps)


def test_truncated_file_gives_events_so_far_and_a_clear_error(vtest: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.avi"
    data = vtest.read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    r = cli("analyze", str(cut), "--json", "--no-snapshots", cwd=tmp_path)
    assert r.returncode == 1
    assert "truncated" in r.stderr and "Traceback" not in r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert events and max(e["end"] for e in events) < 40


@pytest.mark.parametrize(("content", "message"), [
    (b"this is not a video at all" * 100, "not a readable video file"),
    (b"", "not a readable video file"),
    (None, "file not found"),
])
def test_unreadable_files_fail_clearly(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "clip.mp4"
    if content is not None:
        path.write_bytes(content)
    r = cli("analyze", str(path), "--no-snapshots", cwd=tmp_path)
    assert r.returncode == 1, r.stdout
    assert message in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_missing_model_is_an_actionable_error(vtest: Path, tmp_path: Path) -> None:
    env = {**os.environ, "CLEARWATCH_MODELS": str(tmp_path / "empty"), "HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "clearwatch", "analyze", str(vtest)], capture_output=True, text=True,
                       cwd=tmp_path, env=env, timeout=60)
    assert r.returncode == 1
    assert "yolox_nano.onnx not found" in r.stderr and "CLEARWATCH_MODELS" in r.stderr
    assert "c789161ed43c" in r.stderr  # the expected SHA-256, so the user can check the file they fetch


def test_tampered_model_is_refused(vtest: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "yolox_nano.onnx").write_bytes(b"not the model")
    env = {**os.environ, "CLEARWATCH_MODELS": str(models)}
    r = subprocess.run([sys.executable, "-m", "clearwatch", "analyze", str(vtest)], capture_output=True, text=True,
                       cwd=tmp_path, env=env, timeout=60)
    assert r.returncode == 1 and "expected c789161ed43c" in r.stderr.replace("\n", "")
