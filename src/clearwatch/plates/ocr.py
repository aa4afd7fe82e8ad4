"""Text lines in a picture: PP-OCR's DB text detector (where) and its CTC recognisers (what), on onnxruntime.

Plates are printed in condensed type that document-trained recognisers take for narrower letters (a W read as
N): the reader (``reader``) reads each line stretched sideways, by two recognisers, and votes on the reads
character by character (``vote``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnx

from clearwatch.analytics.detectors.models import ModelError
from clearwatch.analytics.detectors.onnx_session import open_session

DET_SIDE = 480  # longest side the detector sees: plates inside a vehicle crop, not document pages
DET_THRESHOLD, BOX_THRESHOLD, UNCLIP = 0.3, 0.5, 1.6
REC_HEIGHT, REC_WIDTH = 48, 320


@dataclass(frozen=True)
class TextBox:
    quad: np.ndarray  # (4, 2) float32 corners in the image: top-left, top-right, bottom-right, bottom-left
    score: float

    @property
    def height(self) -> float:
        tl, tr, br, bl = self.quad
        return float(min(np.linalg.norm(bl - tl), np.linalg.norm(br - tr)))

    @property
    def width(self) -> float:
        tl, tr, br, bl = self.quad
        return float(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl)))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        x, y = self.quad[:, 0], self.quad[:, 1]
        return float(x.min()), float(y.min()), float(x.max()), float(y.max())


@dataclass(frozen=True)
class LineRead:
    text: str
    confidences: list[float]  # one per character of ``text``


def _ordered(points: np.ndarray) -> np.ndarray:
    s, d = points.sum(1), np.diff(points, axis=1).ravel()
    return np.array([points[np.argmin(s)], points[np.argmin(d)], points[np.argmax(s)], points[np.argmax(d)]],
                    np.float32)


class TextDetector:
    def __init__(self, path: Path, threads: int = 1, side: int = DET_SIDE):
        self.session = open_session(path, threads)
        self.input = self.session.get_inputs()[0].name
        self.side = side

    def find(self, image: np.ndarray) -> list[TextBox]:
        """Text lines in a BGR image, as rotated boxes grown back to the whole glyphs (the model predicts a
        shrunk core of each line)."""
        h, w = image.shape[:2]
        r = self.side / max(h, w)
        nh, nw = max(32, round(h * r / 32) * 32), max(32, round(w * r / 32) * 32)
        x = (cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 127.5) - 1.0
        prob = self.session.run(None, {self.input: x.transpose(2, 0, 1)[None]})[0][0, 0]
        mask = (prob > DET_THRESHOLD).astype(np.uint8)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
        boxes = []
        sx, sy = w / nw, h / nh
        for i in range(1, n):
            if stats[i, cv2.CC_STAT_AREA] < 6:
                continue
            region = labels == i
            score = float(prob[region].mean())
            if score < BOX_THRESHOLD:
                continue
            ys, xs = np.nonzero(region)
            (cx, cy), (rw, rh), angle = cv2.minAreaRect(np.column_stack([xs, ys]).astype(np.float32))
            if min(rw, rh) < 2:
                continue
            grow = rw * rh * UNCLIP / (2 * (rw + rh))  # DB's unclip: offset by area × ratio / perimeter
            quad = cv2.boxPoints(((cx, cy), (rw + 2 * grow, rh + 2 * grow), angle)) * [sx, sy]
            boxes.append(TextBox(_ordered(quad.astype(np.float32)), score))
        return boxes


def rectify(image: np.ndarray, quad: np.ndarray, stretch: float = 1.0) -> np.ndarray:
    """The quadrilateral warped to an upright rectangle, ``stretch`` times wider."""
    tl, tr, br, bl = quad
    w = max(4, round(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl)) * stretch))
    h = max(4, round(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))))
    target = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    return cv2.warpPerspective(image, cv2.getPerspectiveTransform(quad, target), (w, h),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class TextReader:
    """A CTC line recogniser whose alphabet is stored in the model's metadata (PaddleOCR exports do this)."""

    def __init__(self, path: Path, threads: int = 1):
        meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
        if "character" not in meta:
            raise ModelError(f"{path}: no character list in the model's metadata; not a PP-OCR recogniser")
        self.alphabet = ["", *meta["character"].split("\n"), " "]  # index 0 is CTC's blank
        self.session = open_session(path, threads)
        self.input = self.session.get_inputs()[0].name

    def read(self, line: np.ndarray) -> LineRead:
        """One rectified BGR text line; it is scaled to the model's height and padded to a fixed width."""
        h, w = line.shape[:2]
        nw = max(1, min(REC_WIDTH, round(REC_HEIGHT * w / max(h, 1))))
        # padded to a multiple of 32 only: a plate's line is ~200 px at this height, and cost grows with width
        x = np.zeros((REC_HEIGHT, min(REC_WIDTH, -(-(nw + 8) // 32) * 32), 3), np.float32)
        x[:, :nw] = cv2.resize(line, (nw, REC_HEIGHT), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 127.5 - 1
        probs = self.session.run(None, {self.input: x.transpose(2, 0, 1)[None]})[0][0]
        best = probs.argmax(1)
        keep = (best != 0) & np.concatenate([[True], best[1:] != best[:-1]])  # CTC: drop blanks and repeats
        chars = [self.alphabet[k] if k < len(self.alphabet) else "" for k in best[keep]]
        return LineRead("".join(chars), [round(float(c), 4) for c in probs.max(1)[keep]])
