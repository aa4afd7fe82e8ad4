"""What every object detector gives and takes. A new backend is one file in ``backends/`` that implements
``Detector`` and registers itself (see ``registry``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, cast

import numpy as np


@dataclass
class Detections:
    """Boxes in pixels of the image that was passed in (x1, y1, x2, y2), with scores and label indices."""

    boxes: np.ndarray  # (N, 4) float32
    scores: np.ndarray  # (N,) float32
    classes: np.ndarray  # (N,) int32

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32))

    def __len__(self) -> int:
        return len(self.scores)

    def select(self, keep: np.ndarray) -> Detections:
        return Detections(self.boxes[keep], self.scores[keep], self.classes[keep])

    def shifted(self, dx: float, dy: float, scale: float = 1.0, scale_y: float | None = None) -> Detections:
        """Map boxes found in a crop (resized by ``scale``, or ``scale`` across and ``scale_y`` down) back to the
        full frame."""
        sy = scale if scale_y is None else scale_y
        boxes = self.boxes / np.array([scale, sy, scale, sy], np.float32) + np.array([dx, dy, dx, dy], np.float32)
        return Detections(boxes.astype(np.float32), self.scores, self.classes)

    @staticmethod
    def concat(parts: list[Detections]) -> Detections:
        if not parts:
            return Detections.empty()
        return Detections(
            np.concatenate([p.boxes for p in parts]).astype(np.float32),
            np.concatenate([p.scores for p in parts]).astype(np.float32),
            np.concatenate([p.classes for p in parts]).astype(np.int32),
        )


class Detector(Protocol):
    """Finds objects in a BGR image. ``input_size`` is the longest side the model wants for a whole frame."""

    labels: tuple[str, ...]
    input_size: int
    stride: int  # crops are padded to a multiple of this

    def detect(self, image: np.ndarray, min_score: float) -> Detections: ...


def nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float) -> np.ndarray:
    """Class-aware non-maximum suppression; returns the indices to keep."""
    if len(scores) == 0:
        return np.zeros(0, np.int64)
    import cv2  # the detectors that call this have loaded it already

    # OpenCV's batched NMS: the same rule as a numpy loop per kept box, at a tenth to a twentieth of the cost
    # (OpenCV's stubs ask for sequences; the binding takes arrays as they are)
    xywh: Any = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], 1)
    labels: Any = classes.astype(np.int32)
    keep = cv2.dnn.NMSBoxesBatched(xywh, cast(Any, scores), labels, 0.0, iou)
    return np.asarray(keep, np.int64).reshape(-1)
