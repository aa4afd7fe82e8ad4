"""Object detectors behind one protocol, and the verified model files they load."""

from __future__ import annotations

from pathlib import Path

from clearwatch.analytics.detectors.base import COCO_LABELS, Detections, Detector, nms
from clearwatch.analytics.detectors.models import KNOWN_MODELS, ModelError, locate_model


def create_detector(kind: str, path: Path | None = None, sha256: str | None = None, input_size: int = 416,
                    threads: int = 1) -> Detector:
    """Build a detector; raises ModelError (with where to put the file) when its model is unavailable."""
    if kind == "yolox_nano":
        from clearwatch.analytics.detectors.yolox import YoloxDetector

        return YoloxDetector(locate_model(kind, path, sha256), input_size, threads)
    if kind == "fastestdet":
        from clearwatch.analytics.detectors.fastestdet import FastestDetDetector

        return FastestDetDetector(locate_model(kind, path, sha256), input_size, threads)
    raise ModelError(f"unknown detector {kind!r}: use yolox_nano or fastestdet")


__all__ = ["COCO_LABELS", "KNOWN_MODELS", "Detections", "Detector", "ModelError", "create_detector",
           "locate_model", "nms"]
