"""A clip re-encoded at a higher frame rate with ``keep_speed``: same length, every in-between frame a blend."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from clearwatch.media import transcode_h264, write_clip

LEVELS = [40, 140, 90, 200, 60]  # one flat grey picture per source frame


def _greys(path: Path) -> tuple[list[float], float]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        values = [float(f.to_ndarray(format="gray").mean()) for f in c.decode(s)]
        return values, float(s.average_rate or 0)


def test_keep_speed_blends_between_source_frames(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "src.mp4", (np.full((64, 96, 3), v, np.uint8) for v in LEVELS), fps=10)
    out = transcode_h264(src, tmp_path / "paced.mp4", fps=25, keep_speed=True)
    got, rate = _greys(out)
    assert rate == 25
    # 0.4 s of source (5 frames at 10 fps, the last at 0.4 s) is 0.4 s at 25 fps: frames at 0, 0.04, … 0.4
    assert len(got) == 11
    for n, value in enumerate(got):
        pos = n * 10 / 25  # where the frame falls among the source's
        i = int(pos)
        w = pos - i
        want = LEVELS[i] if w == 0 else (1 - w) * LEVELS[i] + w * LEVELS[i + 1]
        assert abs(value - want) < 4, (n, value, want)


def test_without_keep_speed_frames_are_retimed(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "src.mp4", (np.full((64, 96, 3), v, np.uint8) for v in LEVELS), fps=10)
    got, rate = _greys(transcode_h264(src, tmp_path / "fast.mp4", fps=25))
    assert rate == 25
    assert len(got) == len(LEVELS)  # the same frames, played 2.5 times as fast
    assert all(abs(g - v) < 4 for g, v in zip(got, LEVELS, strict=True))
