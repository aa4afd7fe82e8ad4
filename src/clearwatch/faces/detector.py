"""YuNet face detection with its five landmarks (eyes, nose tip, mouth corners)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from clearwatch.faces.models import face_model

DETECT_MAX_SIDE = 640  # big frames are detected on a downscaled copy: faces under ~20 px are lost anyway


@dataclass
class Face:
    box: np.ndarray  # x, y, w, h in the image's pixels
    landmarks: np.ndarray  # (5, 2): right eye, left eye, nose, right mouth corner, left mouth corner
    score: float

    @property
    def area(self) -> float:
        return float(self.box[2] * self.box[3])

    def xyxy(self) -> list[float]:
        x, y, w, h = (float(v) for v in self.box)
        return [x, y, x + w, y + h]


class FaceDetector:
    def __init__(self, score_threshold: float = 0.6, max_side: int = DETECT_MAX_SIDE):
        self.path = str(face_model("detector"))
        self.score_threshold = score_threshold
        self.max_side = max_side
        self._local = threading.local()  # OpenCV's detector keeps per-call state: one per thread

    def _net(self) -> cv2.FaceDetectorYN:
        net = getattr(self._local, "net", None)
        if net is None:
            net = cv2.FaceDetectorYN.create(self.path, "", (320, 320), self.score_threshold, 0.3, 5000)
            self._local.net = net
        return net

    def detect(self, image: np.ndarray, max_side: int | None = None) -> list[Face]:
        """Faces in a BGR image, largest first."""
        h, w = image.shape[:2]
        limit = max_side or self.max_side
        scale = min(1.0, limit / max(h, w))
        work = image if scale == 1.0 else cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                                                     interpolation=cv2.INTER_AREA)
        net = self._net()
        net.setInputSize((work.shape[1], work.shape[0]))
        _, found = net.detect(work)
        raw: np.ndarray | None = found  # None when there is no face (the stubs say always an array)
        if raw is None:
            return []
        faces = []
        for row in np.asarray(raw, np.float32):
            box = row[:4] / scale
            if box[2] <= 1 or box[3] <= 1:
                continue
            faces.append(Face(box, row[4:14].reshape(5, 2) / scale, float(row[14])))
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces
