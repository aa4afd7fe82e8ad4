from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from clearwatch.analytics import Detector, ModelError, create_detector
from clearwatch.media import transcode_h264
from tests.support.servers import (
    RtspServer,
    postgres_reachable,
    rtsp_available,
    throwaway_postgres_db,
)

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CLEARWATCH_SHARED", ROOT.parent / "shared"))
VTEST = SHARED / "data/video/vtest.avi"
MEDIA_CACHE = ROOT / ".cache" / "test-media"
MODELS = SHARED / "models"
# the shared model folder stands in for an installed model directory (SHA-256 is still checked)
if MODELS.is_dir():
    os.environ.setdefault("CLEARWATCH_MODELS", str(MODELS))


@pytest.fixture(scope="session")
def vtest() -> Path:
    if not VTEST.is_file():
        pytest.skip(f"shared test clip missing: {VTEST} (set CLEARWATCH_SHARED)")
    return VTEST


@pytest.fixture(scope="session")
def detector() -> Detector:
    try:
        return create_detector("yolox_nano")
    except ModelError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def h264_clip(vtest: Path) -> Path:
    """vtest.avi as H.264 MP4 (no B-frames, keyframe every 2 s), repeated to 160 s so no test runs off its end."""
    clip = MEDIA_CACHE / "vtest-h264-160s.mp4"
    if not clip.exists():
        transcode_h264(vtest, clip, gop_seconds=2.0, min_seconds=160)
    return clip


@pytest.fixture(scope="session")
def output_dir() -> Path:
    out = ROOT / "test-output"
    out.mkdir(exist_ok=True)
    return out


@pytest.fixture
def rtsp(h264_clip: Path, output_dir: Path) -> Iterator[RtspServer]:
    why = rtsp_available()
    if why:
        pytest.skip(why)
    server = RtspServer({"cam1": h264_clip, "cam2": h264_clip}, log_dir=output_dir)
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'clearwatch.db'}"
        return
    why = postgres_reachable()
    if why:
        pytest.skip(why)
    with throwaway_postgres_db() as url:
        yield url
