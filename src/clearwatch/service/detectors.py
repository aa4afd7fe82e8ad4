"""One object detector per distinct model setting, shared by the cameras that use it (onnxruntime sessions
are thread-safe). A model that cannot load turns detection off for those cameras, not recording."""

from __future__ import annotations

import logging

from clearwatch.analytics.detectors import Detector, ModelError, create_detector
from clearwatch.config import CameraConfig

log = logging.getLogger(__name__)


class DetectorCache:
    def __init__(self) -> None:
        self._detectors: dict[tuple[object, ...], Detector | None] = {}
        self.errors: dict[str, str] = {}  # camera → why it detects no objects

    def for_camera(self, camera: CameraConfig) -> Detector | None:
        if not camera.detects_objects:
            return None
        o = camera.objects
        key = (o.detector, o.model, o.sha256, o.input_size, o.threads)
        if key not in self._detectors:
            try:
                self._detectors[key] = create_detector(o.detector, o.model, o.sha256, o.input_size, o.threads)
            except ModelError as exc:
                log.error("object detection is off: %s. Cameras still record and detect motion.", exc)
                self._detectors[key] = None
        detector = self._detectors[key]
        if detector is None:
            self.errors[camera.name] = "object detection unavailable: model missing or invalid (see the log)"
        return detector
