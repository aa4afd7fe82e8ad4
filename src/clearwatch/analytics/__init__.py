"""Analytics on decoded frames: motion, objects, tracking, zones and lines, machines and counters.

Public face: build a ``CameraAnalytics`` for a resolved ``CameraConfig`` with a detector from
``create_detector``, then feed it ``Frame``s (from ``FrameDecoder`` on a live camera or ``iter_file_frames``
on a file). Parts load on first use, so importing this package costs nothing."""

from typing import TYPE_CHECKING

from clearwatch.lazy import lazy_exports

if TYPE_CHECKING:
    from clearwatch.analytics.detectors import Detector, ModelError, create_detector
    from clearwatch.analytics.frames import Frame, FrameDecoder, VideoFileError, iter_file_frames
    from clearwatch.analytics.machinery import HourStats
    from clearwatch.analytics.motion import Motion, MotionDetector
    from clearwatch.analytics.pipeline import AnalyticsSink, CameraAnalytics, StageTimes

__getattr__, __dir__ = lazy_exports(__name__, {
    "AnalyticsSink": ".pipeline",
    "CameraAnalytics": ".pipeline",
    "Detector": ".detectors",
    "Frame": ".frames",
    "FrameDecoder": ".frames",
    "HourStats": ".machinery",
    "ModelError": ".detectors",
    "Motion": ".motion",
    "MotionDetector": ".motion",
    "StageTimes": ".pipeline",
    "VideoFileError": ".frames",
    "create_detector": ".detectors",
    "iter_file_frames": ".frames",
})

__all__ = ["AnalyticsSink", "CameraAnalytics", "Detector", "Frame", "FrameDecoder", "HourStats", "ModelError",
           "Motion", "MotionDetector", "StageTimes", "VideoFileError", "create_detector", "iter_file_frames"]
