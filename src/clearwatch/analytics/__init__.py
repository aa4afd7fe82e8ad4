"""Analytics on decoded frames. For now: motion detection that drives motion-triggered recording."""

from clearwatch.analytics.motion import MotionDetector

__all__ = ["MotionDetector"]
