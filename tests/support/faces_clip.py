"""A generated clip with faces on moving video: two people's faces (crops of the shared photos, of two different
identities) travel across the real street clip, one left to right, one right to left, for ``SECONDS``. Every
frame holds both faces, so a redaction has to cover both on every frame."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np

from clearwatch.media import write_clip

FPS = 10
SECONDS = 6.0
FACE_WIDTH = 120
PEOPLE = ("img1.jpg", "img3.jpg")  # id00 and id01 in labels.csv


def face_crop(photo: Path, width: int = FACE_WIDTH) -> np.ndarray:
    from clearwatch.faces import FaceEngine

    image = cv2.imread(str(photo))
    face = FaceEngine().detector.detect(image)[0]
    x, y, w, h = (float(v) for v in face.box)
    cx, cy, side = x + w / 2, y + h / 2, max(w, h) * 1.7
    x1, y1 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    crop = image[y1:int(y1 + side), x1:int(x1 + side)]
    return cv2.resize(crop, (width, round(width * crop.shape[0] / crop.shape[1])), interpolation=cv2.INTER_AREA)


def faces_clip(dst: Path, vtest: Path, photos: Path) -> Path:
    """Write the clip (once; cached by path) and return it."""
    if dst.exists():
        return dst
    crops = [face_crop(photos / p) for p in PEOPLE]

    def frames() -> Iterator[np.ndarray]:
        with av.open(str(vtest)) as c:
            for k, f in enumerate(c.decode(video=0)):
                if k >= SECONDS * FPS:
                    return
                img = f.to_ndarray(format="bgr24")
                h, w = img.shape[:2]
                u = k / (SECONDS * FPS)
                for i, crop in enumerate(crops):
                    ch, cw = crop.shape[:2]
                    x = int((u if i == 0 else 1 - u) * (w - cw))
                    y = int(h * (0.15 + 0.45 * i))
                    img[y:y + ch, x:x + cw] = crop
                yield img

    return write_clip(dst, frames(), fps=FPS)
