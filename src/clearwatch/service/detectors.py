"""Models shared by the cameras that use the same setting: one object detector per model setting, one plate
reader per format set (onnxruntime sessions are thread-safe). A model that cannot load turns that analysis off
for those cameras, never recording."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Generic, TypeVar

from clearwatch.analytics.detectors import Detector, ModelError, create_detector
from clearwatch.config import CameraConfig

if TYPE_CHECKING:
    from clearwatch.plates.reader import PlateReader
    from clearwatch.plates.watch import PlateWatcher

log = logging.getLogger(__name__)
T = TypeVar("T")


class SharedModels(Generic[T]):
    """One model per key, built on first use; one that fails to load is remembered (it is not retried for
    every camera) and each camera that wanted it is noted in ``errors``."""

    def __init__(self, what: str, still: str, model: str = "model"):
        self.what, self.still, self.model = what, still, model  # "object detection", "Cameras still record…"
        self._models: dict[Hashable, T | None] = {}
        self.errors: dict[str, str] = {}  # camera → why it goes without

    def get(self, camera: str, key: Hashable, build: Callable[[], T]) -> T | None:
        if key not in self._models:
            try:
                self._models[key] = build()
            except ModelError as exc:
                log.error("%s is off: %s. %s", self.what, exc, self.still)
                self._models[key] = None
        model = self._models[key]
        if model is None:
            self.errors[camera] = f"{self.what} unavailable: {self.model} missing or invalid (see the log)"
        return model


class PlateReaders:
    """One plate reader (three OCR sessions) per distinct format set and size limit."""

    def __init__(self) -> None:
        self._readers: SharedModels[PlateReader] = SharedModels("plate reading", "Cameras still record and detect.",
                                                                     "OCR model")

    @property
    def errors(self) -> dict[str, str]:
        return self._readers.errors

    def watcher_for(self, camera: CameraConfig) -> PlateWatcher | None:
        from clearwatch.plates.reader import PlateReader
        from clearwatch.plates.watch import PlateWatcher

        if not camera.reads_plates:
            return None
        p = camera.plates
        reader = self._readers.get(camera.name, repr((p.format_specs(), p.min_height)),
                                   lambda: PlateReader(p.format_specs(), min_height=p.min_height))
        return PlateWatcher(p, reader, lost_after=camera.objects.lost_after) if reader is not None else None


class DetectorCache:
    """One object detector per distinct model setting."""

    def __init__(self) -> None:
        self._detectors: SharedModels[Detector] = SharedModels("object detection",
                                                               "Cameras still record and detect motion.")

    @property
    def errors(self) -> dict[str, str]:
        return self._detectors.errors

    def for_camera(self, camera: CameraConfig) -> Detector | None:
        if not camera.detects_objects:
            return None
        o = camera.objects
        return self._detectors.get(camera.name, (o.detector, o.model, o.sha256, o.input_size, o.threads),
                                   lambda: create_detector(o.detector, o.model, o.sha256, o.input_size, o.threads))
