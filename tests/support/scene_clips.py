"""Generated clips with known truth for tampering and left / removed objects, made from the real street clip
(``vtest.avi``: people walking, real noise and compression) so that what is *not* tampered stays realistic:

- ``covered``: a hand or cloth over the lens (a dark, almost uniform picture with sensor noise);
- ``moved``: the camera re-pointed (the view pans and zooms to another part of the scene);
- ``defocused``: the lens turned out of focus (a strong blur);
- ``frozen``: the picture stops (one frame repeated, as a hung encoder sends it);
- ``left``: a parcel put down on the grass and left there;
- ``removed``: the yellow cloth on the grass taken away (the grass around it shows where it was).

Each change happens at ``CHANGE_AT`` seconds and lasts to the end of the clip. Frames go through H.264."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np

from clearwatch.media import write_clip

FPS = 10
CHANGE_AT = 10.0
SECONDS = 30.0
CASES = ("covered", "moved", "defocused", "frozen", "left", "removed")
TAMPER = ("covered", "moved", "defocused", "frozen")
# where things are in vtest's 768×576 picture, as fractions of the frame
PARCEL = (0.20, 0.66, 0.27, 0.74)  # x1 y1 x2 y2 of the parcel put down
CLOTH = (0.085, 0.855, 0.21, 0.925)  # the yellow cloth that is taken away
GRASS_ZONE = [(0.0, 0.5), (0.45, 0.5), (0.45, 1.0), (0.0, 1.0)]  # the lawn bottom-left, holding both


def _frames(vtest: Path) -> Iterator[np.ndarray]:
    with av.open(str(vtest)) as c:
        for f in c.decode(video=0):
            yield f.to_ndarray(format="bgr24")


def _box(frac: tuple[float, float, float, float], w: int, h: int) -> tuple[int, int, int, int]:
    return round(frac[0] * w), round(frac[1] * h), round(frac[2] * w), round(frac[3] * h)


def _parcel(img: np.ndarray) -> None:
    h, w = img.shape[:2]
    x1, y1, x2, y2 = _box(PARCEL, w, h)
    img[y1:y2, x1:x2] = (40, 90, 150)  # cardboard brown (BGR)
    cv2.rectangle(img, (x1, y1), (x2 - 1, y2 - 1), (25, 55, 95), 2)
    cv2.line(img, ((x1 + x2) // 2, y1), ((x1 + x2) // 2, y2 - 1), (170, 200, 220), 3)  # tape


def _remove_cloth(img: np.ndarray, grass: np.ndarray) -> None:
    h, w = img.shape[:2]
    x1, y1, x2, y2 = _box(CLOTH, w, h)
    img[y1:y2, x1:x2] = grass


def _tampered(case: str, img: np.ndarray, k: int, rng: np.random.Generator, held: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    if case == "covered":
        dark = np.full_like(img, 14)
        return np.clip(dark.astype(np.int16) + rng.integers(-3, 4, img.shape), 0, 255).astype(np.uint8)
    if case == "moved":
        # turned right and down onto the car park and zoomed a little: another view of the same street
        m = np.float32([[1.35, 0, -0.45 * w], [0, 1.35, -0.05 * h]])
        return cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    if case == "defocused":
        return cv2.GaussianBlur(img, (0, 0), 6)
    if case == "frozen":
        return held
    raise ValueError(case)


def scene_clip(dst: Path, vtest: Path, case: str, seconds: float = SECONDS) -> Path:
    """Write one case's clip (once; cached by path) and return it."""
    if case not in CASES:
        raise ValueError(f"unknown case {case!r}")
    if dst.exists():
        return dst

    def frames() -> Iterator[np.ndarray]:
        rng = np.random.default_rng(7)
        held: np.ndarray | None = None
        grass: np.ndarray | None = None
        for k, img in enumerate(_frames(vtest)):
            t = k / FPS
            if t >= seconds:
                return
            h, w = img.shape[:2]
            if grass is None:  # the lawn just above the cloth, to lay over it once it is gone
                x1, y1, x2, y2 = _box(CLOTH, w, h)
                grass = img[2 * y1 - y2 - 4:y1 - 4, x1:x2].copy()
            changed = t >= CHANGE_AT
            if case == "left" and changed:
                _parcel(img)
            elif case == "removed" and changed:
                _remove_cloth(img, grass)
            elif case in TAMPER and changed:
                if held is None:
                    held = img.copy()
                img = _tampered(case, img, k, rng, held)
            yield img

    return write_clip(dst, frames(), fps=FPS)
