"""Privacy masks: parts of a camera's view (a neighbour's window, a street outside the site) that roles without
the ``unmask`` permission never see. Recordings stay untouched on disk; the mask is burned into what leaves the
server — live frames, snapshots, played recordings, exports — never hidden by the browser."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
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


def masked_video(src: Path, dst: Path, polygons: Polygons, crf: int = 23) -> Path:
    """Re-encode ``src`` (H.264 MP4) with the mask burned into every frame, keeping its timestamps."""
    tmp = dst.with_name(f"{dst.name}.{os.getpid()}-{threading.get_ident()}.part")  # two viewers, one segment
    dst.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(src)) as inp, av.open(str(tmp), "w", format="mp4") as out:
        vin = inp.streams.video[0]
        rate = vin.average_rate or Fraction(25)
        vout = out.add_stream("libx264", rate=rate)
        vout.width, vout.height = vin.codec_context.width, vin.codec_context.height
        vout.pix_fmt = "yuv420p"
        vout.time_base = vin.time_base
        vout.options = {"preset": "veryfast", "crf": str(crf)}
        for frame in inp.decode(vin):
            img = mask_image(frame.to_ndarray(format="bgr24"), polygons)
            new = av.VideoFrame.from_ndarray(img, format="bgr24")
            new.pts, new.time_base = frame.pts, frame.time_base
            for pkt in vout.encode(new):
                out.mux(pkt)
        for pkt in vout.encode():
            out.mux(pkt)
    os.replace(tmp, dst)
    return dst
