"""YOLOX (Megvii) ONNX exported with the raw head: decode grids and strides here, then NMS."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

from clearwatch.analytics.detectors.base import Detections, nms
from clearwatch.analytics.detectors.models import ModelSpec
from clearwatch.analytics.detectors.onnx_session import open_session
from clearwatch.analytics.detectors.registry import register
from clearwatch.analytics.labels import COCO_LABELS

MODEL = ModelSpec(
    "yolox_nano.onnx",
    "c789161ed43c8269fcd4e67c67eeeb4e80c622da2eb296a20bc6007bd18a0b7d",
    "opencv/opencv_zoo models/object_detection_yolox/yolox_nano.onnx (Apache-2.0)",
)

STRIDES = (8, 16, 32)
PAD_VALUE = 114


@register(MODEL)
class YoloxDetector:
    labels = COCO_LABELS
    stride = 32

    def __init__(self, path: Path, input_size: int = 416, threads: int = 1, nms_iou: float = 0.45):
        self.session = open_session(path, threads, dynamic_input=True)
        self.input_name = self.session.get_inputs()[0].name
        self.input_size = input_size
        self.nms_iou = nms_iou
        self._grids: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        self._lock = threading.Lock()

    def _grid(self, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        key = (h, w)
        with self._lock:
            if key not in self._grids:
                cells, strides = [], []
                for s in STRIDES:
                    gy, gx = np.mgrid[0 : h // s, 0 : w // s]
                    cells.append(np.stack([gx.ravel(), gy.ravel()], 1))
                    strides.append(np.full((cells[-1].shape[0], 1), s))
                self._grids[key] = (np.concatenate(cells).astype(np.float32),
                                    np.concatenate(strides).astype(np.float32))
            return self._grids[key]

    def detect(self, image: np.ndarray, min_score: float) -> Detections:
        """Letterbox ``image`` (BGR) so its longest side is at most ``input_size``, padded to the stride."""
        h, w = image.shape[:2]
        r = min(1.0, self.input_size / max(h, w))
        nh, nw = max(1, round(h * r)), max(1, round(w * r))
        ph, pw = -(-nh // self.stride) * self.stride, -(-nw // self.stride) * self.stride
        canvas = np.full((ph, pw, 3), PAD_VALUE, np.uint8)
        canvas[:nh, :nw] = image if r == 1.0 else cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        blob = np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32)
        out = self.session.run(None, {self.input_name: blob})[0][0]
        # a score is objectness times a class probability, so it is never above the objectness: the class
        # arithmetic is needed only for the few anchors whose objectness passes (out of 3,549 for a whole frame)
        cand = np.flatnonzero(out[:, 4] >= min_score)
        cls = out[cand, 5:]
        best = cls.argmax(1)
        scores = out[cand, 4] * cls[np.arange(len(cand)), best]
        passed = scores >= min_score
        if not passed.any():
            return Detections.empty()
        keep, scores, best = cand[passed], scores[passed], best[passed]
        grid, strides = self._grid(ph, pw)
        raw, grid, strides = out[keep], grid[keep], strides[keep]
        centre = (raw[:, :2] + grid) * strides
        size = np.exp(np.clip(raw[:, 2:4], -10, 10)) * strides
        boxes = np.concatenate([centre - size / 2, centre + size / 2], 1) / r
        boxes = np.clip(boxes, 0, [w, h, w, h]).astype(np.float32)
        scores, best = scores.astype(np.float32), best.astype(np.int32)
        idx = nms(boxes, scores, best, self.nms_iou)
        return Detections(boxes[idx], scores[idx], best[idx])
