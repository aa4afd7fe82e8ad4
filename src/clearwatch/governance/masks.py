"""Privacy masks: parts of a camera's view (a neighbour's window, a street outside the site) that roles without
the ``unmask`` permission never see. Recordings stay untouched on disk; the mask is burned into what leaves the
server — live frames, snapshots, played recordings and exports (``redaction.redact_video`` re-encodes those) —
never hidden by the browser."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from clearwatch.errors import ClearwatchError

Polygons = Sequence[Sequence[tuple[float, float]]]
FILL = (96, 96, 96)  # flat grey: plainly a mask, not a scene


def mask_image(image: np.ndarray, polygons: Polygons) -> np.ndarray:
    """A copy of ``image`` (BGR) with the polygons (fractions of the frame) filled."""
    h, w = image.shape[:2]
    out = image.copy()
    pts = [np.round(np.array(p, np.float64) * [w - 1, h - 1]).astype(np.int32) for p in polygons]
    cv2.fillPoly(out, pts, FILL)
    return out


def mask_jpeg(data: bytes, polygons: Polygons, quality: int = 85) -> bytes:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ClearwatchError("cannot decode the picture to mask it")
    ok, buf = cv2.imencode(".jpg", mask_image(image, polygons), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ClearwatchError("cannot encode the masked picture")
    return bytes(buf.tobytes())
