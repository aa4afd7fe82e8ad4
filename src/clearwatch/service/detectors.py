"""One object detector per distinct model setting, shared by the cameras that use it (onnxruntime sessions
are thread-safe). A model that cannot load turns detection off for those cameras, not recording."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from clearwatch.analytics.detectors import Detector, ModelError, create_detector
from clearwatch.config import CameraConfig

if TYPE_CHECKING:
    from clearwatch.plates.reader import PlateReader
    from clearwatch.plates.watch import PlateWatcher

log = logging.getLogger(__name__)


class PlateReaders:
    """One plate reader (three OCR sessions) per distinct format set and size limit, shared by cameras."""

    def __init__(self) -> None:
        self._readers: dict[str, PlateReader | None] = {}
        self.errors: dict[str, str] = {}

    def watcher_for(self, camera: CameraConfig) -> PlateWatcher | None:
        from clearwatch.plates.reader import PlateReader
        from clearwatch.plates.watch import PlateWatcher

        if not camera.reads_plates:
            return None
        p = camera.plates
        key = repr((p.format_specs(), p.min_height))
        if key not in self._readers:
            try:
                self._readers[key] = PlateReader(p.format_specs(), min_height=p.min_height)
            except ModelError as exc:
                log.error("plate reading is off: %s. Cameras still record and detect.", exc)
                self._readers[key] = None
        reader = self._readers[key]
        if reader is None:
            self.errors[camera.name] = "plate reading unavailable: OCR model missing or invalid (see the log)"
            return None
        return PlateWatcher(p, reader, lost_after=camera.objects.lost_after)


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
