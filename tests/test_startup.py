"""The CLI starts at once: what it imports before a command needs it. Timing is in benchmarks/startup.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ["cv2", "onnxruntime", "faiss", "numba", "skimage", "supervision", "fastapi", "av", "trackers",
         "sqlalchemy", "numpy", "argon2", "paho", "httpx", "uvicorn"]

PROBE = """
import json, sys
{setup}
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def loaded(setup: str) -> list[str]:
    r = subprocess.run([sys.executable, "-c", PROBE.format(setup=setup, heavy=HEAVY)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_importing_the_cli_loads_no_heavy_library() -> None:
    assert loaded("import clearwatch.cli") == []


def test_help_and_config_check_load_no_heavy_library(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("objects: {detector: fastestdet}\ncameras:\n  gate: {url: rtsp://h/x, zones: {door: "
                   "{points: [[0, 0], [1, 0], [1, 1]]}}}\n")
    run = "from clearwatch.cli import app\ntry:\n    app([{args}], standalone_mode=False)\nexcept SystemExit:\n    pass"
    assert loaded(run.format(args="'--help'")) == []
    assert loaded(run.format(args=f"'config', 'check', {str(cfg)!r}")) == []


@pytest.mark.parametrize("package", ["analytics", "identity", "faces", "fingerprints", "recording", "sources",
                                     "events", "governance", "api", "web", "config", "plates", "alarms"])
def test_package_faces_load_their_parts_on_first_use(package: str) -> None:
    # the light parts of a package (a config section, an exception) never drag in the heavy ones
    assert loaded(f"import clearwatch.{package}") == []


def test_a_public_name_still_resolves_through_its_package() -> None:
    r = subprocess.run([sys.executable, "-c", "import clearwatch.analytics as a, sys; a.CameraAnalytics; "
                        "print('cv2' in sys.modules, 'CameraAnalytics' in dir(a))"],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == ["True", "True"], r.stderr
