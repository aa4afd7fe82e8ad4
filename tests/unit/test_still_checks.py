"""What stands still is looked at again by crops of its own box, not by whole-frame passes: tracks the last frame
did not see every ``still_interval``, and what the last detections started on the very next frame."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from clearwatch.analytics.detectors import Detections
from clearwatch.analytics.motion import Motion
from clearwatch.analytics.objects import ObjectFinder
from clearwatch.config.analytics import ObjectsConfig

LABELS = ("person", "car")
SIZE = (640, 480)
NONE = np.zeros((0, 4), np.float32)


class CountingDetector:
    labels = LABELS
    input_size = 640  # scale 1: crops keep their frame size
    stride = 32

    def __init__(self) -> None:
        self.shapes: list[tuple[int, int]] = []

    def detect(self, image: np.ndarray, min_score: float) -> Detections:
        self.shapes.append(image.shape[:2])
        return Detections.empty()


def still_motion() -> Motion:
    return Motion(NONE, 0.0, np.zeros((60, 80), np.uint8), None, 8.0)


def boxes(*b: tuple[float, float, float, float]) -> np.ndarray:
    return np.array(b, np.float32).reshape(-1, 4)


def started(cfg: ObjectsConfig) -> tuple[ObjectFinder, CountingDetector]:
    det = CountingDetector()
    f = ObjectFinder(det, cfg, SIZE)
    f.find(np.zeros((480, 640, 3), np.uint8), 0.0, still_motion(), NONE)  # the first frame is a whole one
    assert det.shapes == [(480, 640)]
    det.shapes.clear()
    return f, det


def test_unseen_tracks_are_looked_at_every_still_interval_with_crops_of_their_boxes() -> None:
    f, det = started(ObjectsConfig(still_interval=1.0))
    image = np.zeros((480, 640, 3), np.uint8)
    parked = boxes((100, 100, 160, 140))
    looked = []
    for k in range(1, 16):  # 3 s at 5 fps, nothing moving
        t = k * 0.2
        n = len(det.shapes)
        f.find(image, t, still_motion(), parked, unseen=parked)
        looked += [t] * (len(det.shapes) - n)
    assert looked == pytest.approx([1.0, 2.0, 3.0])  # one crop each time, not a whole frame
    assert all(h < 480 and w < 640 for h, w in det.shapes)
    assert f.stats.full_passes == 1 and f.stats.still_checks == 3 and f.stats.skipped == 12


def test_what_the_last_detections_started_is_looked_at_on_the_next_frame() -> None:
    f, det = started(ObjectsConfig(still_interval=1.0))
    image = np.zeros((480, 640, 3), np.uint8)
    f.find(image, 0.2, still_motion(), NONE, new=boxes((300, 200, 340, 300)))
    assert len(det.shapes) == 1
    f.find(image, 0.4, still_motion(), NONE)  # it became a track, seen in the last frame: nothing to look at
    assert len(det.shapes) == 1 and f.stats.skipped == 1


def test_with_no_tracks_and_no_motion_the_detector_rests_until_the_whole_frame_is_due() -> None:
    f, det = started(ObjectsConfig(full_frame_interval=10.0))
    image = np.zeros((480, 640, 3), np.uint8)
    for k in range(1, 51):
        f.find(image, k * 0.2, still_motion(), NONE)
    assert det.shapes == [(480, 640)]  # at 10 s, and only then
    assert f.stats.full_passes == 2 and f.stats.skipped == 49


def test_a_still_interval_as_long_as_lost_after_is_refused() -> None:
    with pytest.raises(ValidationError, match="still_interval"):
        ObjectsConfig(still_interval=3.0, lost_after=3.0)
