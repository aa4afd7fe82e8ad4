"""Cheap motion detection on a small grey picture: the gate in front of everything expensive."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from clearwatch.config.analytics import MotionConfig

# A change over this share of the picture is light or camera movement, not an object: relearn the scene.
RELEARN_FRACTION = 0.6


def polygon_mask(polygons: list[list[tuple[float, float]]], width: int, height: int) -> np.ndarray:
    """A uint8 mask (1 inside any polygon) for polygons in frame fractions."""
    mask = np.zeros((height, width), np.uint8)
    for poly in polygons:
        pts = np.round(np.array(poly, np.float64) * [width - 1, height - 1]).astype(np.int32)
        cv2.fillPoly(mask, [pts], 1)
    return mask


@dataclass
class Motion:
    boxes: np.ndarray  # (N, 4) x1 y1 x2 y2 in frame pixels
    fraction: float  # share of the unmasked picture that changed
    grey: np.ndarray  # this frame, small grey
    previous: np.ndarray | None  # the frame before, small grey
    scale: float  # frame pixels per motion pixel

    @property
    def any(self) -> bool:
        return len(self.boxes) > 0


def moving_now(motion: Motion, threshold: int = 25) -> np.ndarray:
    """Boxes (frame pixels) of what changed since the frame before: where things are now, without the trail of
    uncovered background the slowly learning model leaves behind a passing vehicle."""
    if motion.previous is None or not motion.any:
        return motion.boxes
    changed: np.ndarray = (cv2.absdiff(motion.grey, motion.previous) > threshold).astype(np.uint8)
    changed = cv2.dilate(changed, np.ones((5, 5), np.uint8), iterations=2)
    return blob_boxes(changed, 16) * motion.scale


def blob_boxes(mask: np.ndarray, min_pixels: int) -> np.ndarray:
    """(N, 4) float32 x1 y1 x2 y2 of the 8-connected blobs of ``mask`` with at least ``min_pixels`` pixels."""
    h, w = mask.shape
    # 16-bit labels take a third of the time of 32-bit ones; enough whenever the mask cannot hold 65,535 blobs
    # (8-connected blobs are at least one pixel apart: at most a quarter of the pixels start one)
    ltype = cv2.CV_16U if (w + 1) // 2 * ((h + 1) // 2) < 65535 else cv2.CV_32S
    stats = cv2.connectedComponentsWithStats(mask, connectivity=8, ltype=ltype)[2]
    blobs = stats[1:][stats[1:, cv2.CC_STAT_AREA] >= min_pixels]
    if not len(blobs):
        return np.zeros((0, 4), np.float32)
    return np.column_stack([blobs[:, 0], blobs[:, 1], blobs[:, 0] + blobs[:, 2],
                            blobs[:, 1] + blobs[:, 3]]).astype(np.float32)


class MotionDetector:
    """Background subtraction with a running average; masks blank out trees, clocks and road signs."""

    def __init__(self, cfg: MotionConfig, frame_size: tuple[int, int]):
        fw, fh = frame_size
        self.width = min(cfg.width, fw)
        self.height = max(8, round(fh * self.width / fw))
        self.scale = fw / self.width
        self.threshold = cfg.threshold
        self.min_pixels = max(4, int(cfg.min_area * self.width * self.height))
        self.allowed = 1 - polygon_mask(cfg.masks, self.width, self.height) if cfg.masks else None
        self.allowed_pixels = int(self.allowed.sum()) if self.allowed is not None else self.width * self.height
        self._background: np.ndarray | None = None
        self._previous: np.ndarray | None = None
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))

    def update(self, image: np.ndarray) -> Motion:
        small = cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_AREA)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
        previous = self._previous
        self._previous = grey
        if self._background is None or self.allowed_pixels == 0:
            self._background = grey.astype(np.float32)
            return Motion(np.zeros((0, 4), np.float32), 0.0, grey, previous, self.scale)
        diff = cv2.absdiff(grey, cv2.convertScaleAbs(self._background))
        changed: np.ndarray = (diff > self.threshold).astype(np.uint8)
        if self.allowed is not None:
            changed &= self.allowed
        fraction = cv2.countNonZero(changed) / self.allowed_pixels
        if fraction > RELEARN_FRACTION:
            self._background = grey.astype(np.float32)
        else:
            # slow learning: parked things fade into the background over ~10 frames, walkers stand out
            cv2.accumulateWeighted(grey, self._background, 0.1)
        changed = cv2.dilate(changed, self._kernel, iterations=2)
        boxes = blob_boxes(changed, self.min_pixels) * np.float32(self.scale)
        return Motion(boxes, fraction, grey, previous, self.scale)
