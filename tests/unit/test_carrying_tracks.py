"""Frames without the detector: settled tracks carried on their own motion, and when that is allowed."""

from __future__ import annotations

import numpy as np

from clearwatch.analytics.detectors import Detections
from clearwatch.analytics.frames import Frame
from clearwatch.analytics.motion import Motion
from clearwatch.analytics.objects import ObjectFinder
from clearwatch.analytics.tracking import ObjectTracker
from clearwatch.config.analytics import ObjectsConfig

LABELS = ("person", "car")
SIZE = (640, 480)


class NoDetector:
    """The finder's decision needs only the detector's sizes; these tests never run a model."""

    labels = LABELS
    input_size = 640
    stride = 32

    def detect(self, image: np.ndarray, min_score: float) -> Detections:
        raise AssertionError("the detector must not run in these tests")


def frame(t: float) -> Frame:
    return Frame("cam", t, int(t * 5), np.zeros((SIZE[1], SIZE[0], 3), np.uint8))


def person_at(x: float) -> Detections:
    return Detections(np.array([[x, 100, x + 40, 200]], np.float32), np.array([0.9], np.float32),
                      np.array([0], np.int32))


def walked(steps: int = 6, speed: float = 100.0) -> ObjectTracker:
    """A person walking right at ``speed`` px/s, detected every 0.2 s."""
    tracker = ObjectTracker(LABELS, 0.45, 3.0, 5.0)
    for i in range(steps):
        tracker.update(person_at(100 + speed * 0.2 * i), frame(0.2 * i))
    return tracker


def motion(*boxes: tuple[float, float, float, float]) -> Motion:
    return Motion(np.array(boxes, np.float32).reshape(-1, 4), 0.01, np.zeros((240, 320), np.uint8), None, 2.0)


def test_a_settled_track_is_predicted_on_at_its_last_speed_and_keeps_its_size() -> None:
    tracker = walked()
    carried = tracker.predicted(1.2, min_hits=3)
    assert len(carried.tracks) == 1 and len(carried.others) == 0
    (tr,) = carried.tracks
    box = carried.boxes[0]
    assert np.allclose(box[[1, 3]], tr.box[[1, 3]], atol=1)  # no vertical motion
    assert 18.0 < box[0] - tr.box[0] < 22.0  # 100 px/s for 0.2 s
    assert np.isclose(box[2] - box[0], tr.box[2] - tr.box[0])


def test_a_new_track_is_not_carried() -> None:
    tracker = walked(steps=2)
    carried = tracker.predicted(0.4, min_hits=3)
    assert not carried.tracks and len(carried.others) == 1


def test_carrying_moves_the_track_without_counting_a_sighting() -> None:
    tracker = walked()
    carried = tracker.predicted(1.2, min_hits=3)
    (tr,) = carried.tracks
    hits, votes, best = tr.hits, dict(tr.votes), tr.best_quality
    seen, ended = tracker.carry(carried, frame(1.2))
    assert seen == [tr] and not ended
    assert tr.last == 1.2 and np.allclose(tr.box, carried.boxes[0])
    assert (tr.hits, tr.votes, tr.best_quality) == (hits, votes, best)
    # the next detection still lands on the same track
    seen, _ = tracker.update(person_at(100 + 100 * 1.4), frame(1.4))
    assert [s.id for s in seen] == [tr.id] and tr.hits == hits + 1


def test_a_frame_is_carried_only_when_all_motion_is_on_settled_tracks_and_one_in_n() -> None:
    cfg = ObjectsConfig(tracked_interval=2, full_frame_interval=60)
    finder = ObjectFinder(NoDetector(), cfg, SIZE)
    finder._last_full = 0.0  # a whole-frame pass just happened
    predicted = np.array([[110, 100, 150, 200]], np.float32)
    none = np.zeros((0, 4), np.float32)
    on_track = motion((115, 110, 145, 190))
    assert finder.carry(1.0, on_track, predicted, none)
    assert not finder.carry(1.2, on_track, predicted, none)  # the next frame is looked at
    assert finder.carry(1.4, on_track, predicted, none)
    assert not finder.carry(1.6, motion((115, 110, 145, 190), (400, 300, 440, 380)), predicted, none)  # elsewhere
    standing = np.array([[140, 100, 180, 200]], np.float32)
    assert not finder.carry(1.8, on_track, predicted, standing)  # motion touches a track that needs the detector
    assert not finder.carry(2.0, motion(), predicted, none)  # nothing moves: nothing to carry (or detect)
    assert finder.stats.coasted == 2
    every = ObjectFinder(NoDetector(), ObjectsConfig(tracked_interval=1, full_frame_interval=60), SIZE)
    every._last_full = 0.0
    assert not every.carry(1.0, on_track, predicted, none)
