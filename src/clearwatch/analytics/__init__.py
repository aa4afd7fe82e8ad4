"""Analytics on decoded frames: motion, objects, tracking, zones and lines, machines and counters.

Public face: build a ``CameraAnalytics`` with ``CameraSettings`` and a detector from ``create_detector``,
then feed it ``Frame``s (from ``FrameDecoder`` on a live camera or ``iter_file_frames`` on a file).
"""

from clearwatch.analytics.detectors import Detector, ModelError, create_detector
from clearwatch.analytics.frames import Frame, FrameDecoder, VideoFileError, iter_file_frames
from clearwatch.analytics.machinery import HourStats
from clearwatch.analytics.motion import Motion, MotionDetector
from clearwatch.analytics.pipeline import AnalyticsSink, CameraAnalytics, CameraSettings, StageTimes, camera_settings

__all__ = [
    "AnalyticsSink",
    "CameraAnalytics",
    "CameraSettings",
    "Detector",
    "Frame",
    "FrameDecoder",
    "HourStats",
    "ModelError",
    "Motion",
    "MotionDetector",
    "StageTimes",
    "VideoFileError",
    "camera_settings",
    "create_detector",
    "iter_file_frames",
]
