"""Align a face to the 112x112 five-point template SFace was trained on (the ArcFace template)."""

from __future__ import annotations

import cv2
import numpy as np

TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655],
                     [70.7299, 92.2041]], np.float32)
SIZE = 112


def align(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """A similarity transform (rotation, scale, shift: no shear) from the landmarks to the template."""
    found, _ = cv2.estimateAffinePartial2D(landmarks.astype(np.float32), TEMPLATE, method=cv2.LMEDS)
    matrix: np.ndarray | None = found  # None for degenerate landmarks (the stubs say always an array)
    if matrix is None:  # degenerate landmarks: fall back to the eyes-and-mouth least squares
        matrix = cv2.getAffineTransform(landmarks[[0, 1, 3]].astype(np.float32), TEMPLATE[[0, 1, 3]])
    return cv2.warpAffine(image, matrix, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
