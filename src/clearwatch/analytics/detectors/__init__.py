"""Object detectors behind one protocol, the backends that implement it, and the verified model files they
load."""

from typing import TYPE_CHECKING

from clearwatch.lazy import lazy_exports

if TYPE_CHECKING:
    from clearwatch.analytics.detectors.base import Detections, Detector, nms
    from clearwatch.analytics.detectors.models import ModelError, ModelSpec, locate_model
    from clearwatch.analytics.detectors.registry import available, create_detector, register

__getattr__, __dir__ = lazy_exports(__name__, {
    "Detections": ".base",
    "Detector": ".base",
    "nms": ".base",
    "ModelError": ".models",
    "ModelSpec": ".models",
    "locate_model": ".models",
    "available": ".registry",
    "create_detector": ".registry",
    "register": ".registry",
})

__all__ = ["Detections", "Detector", "ModelError", "ModelSpec", "available", "create_detector", "locate_model",
           "nms", "register"]
