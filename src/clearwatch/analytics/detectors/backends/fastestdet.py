"""FastestDet (dog-qiuqiu): a ~1 MB anchor-free detector, very fast, weaker on vehicles. Fixed 352x352 input."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from clearwatch.analytics.detectors.base import Detections, nms
from clearwatch.analytics.detectors.models import ModelSpec
from clearwatch.analytics.detectors.onnx_session import open_session
from clearwatch.analytics.detectors.registry import register
from clearwatch.analytics.labels import COCO_LABELS

MODEL = ModelSpec(
    "FastestDet.onnx",
    "31cb14c017fce347cb4c846ec62fdf00d76bb3beecdf4be21e7116ac67feb880",
    "dog-qiuqiu/FastestDet example/onnx-runtime/FastestDet.onnx (BSD-3-Clause)",
)


@register(MODEL)
class FastestDetDetector:
    labels = COCO_LABELS
    stride = 32

    def __init__(self, path: Path, input_size: int = 352, threads: int = 1, nms_iou: float = 0.45):
        self.session = open_session(path, threads)
        self.input_name = self.session.get_inputs()[0].name
        self.input_size = 352  # the exported graph is fixed at 352x352
        self.nms_iou = nms_iou

    def detect(self, image: np.ndarray, min_score: float) -> Detections:
        h, w = image.shape[:2]
        s = self.input_size
        blob = cv2.resize(image, (s, s), interpolation=cv2.INTER_AREA).transpose(2, 0, 1)[None]
        fmap = self.session.run(None, {self.input_name: blob.astype(np.float32) / 255.0})[0][0]
        c, gh, gw = fmap.shape
        cells = fmap.reshape(c, -1).T
        cls = cells[:, 5:]
        best = cls.argmax(1)
        scores = cells[:, 0] ** 0.6 * cls[np.arange(len(cls)), best] ** 0.4
        keep = scores >= min_score
        if not keep.any():
            return Detections.empty()
        gy, gx = np.divmod(np.arange(gh * gw)[keep], gw)
        sel = cells[keep]
        cx = (gx + np.tanh(sel[:, 1])) / gw
        cy = (gy + np.tanh(sel[:, 2])) / gh
        bw = 1 / (1 + np.exp(-sel[:, 3]))
        bh = 1 / (1 + np.exp(-sel[:, 4]))
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1) * [w, h, w, h]
        boxes = np.clip(boxes, 0, [w, h, w, h]).astype(np.float32)
        scores, best = scores[keep].astype(np.float32), best[keep].astype(np.int32)
        idx = nms(boxes, scores, best, self.nms_iou)
        return Detections(boxes[idx], scores[idx], best[idx])
