"""Production counters on made-up motion blobs and tracks."""

from __future__ import annotations

import numpy as np

from clearwatch.analytics.counters import LineCounter
from clearwatch.analytics.motion import Motion
from clearwatch.analytics.tracking import Track
from clearwatch.config.analytics import CounterConfig

SIZE = (200, 100)


def blob_at(x: float) -> Motion:
    grey = np.zeros((SIZE[1], SIZE[0]), np.uint8)
    return Motion(np.array([[x - 8, 40, x + 8, 60]], np.float32), 0.01, grey, grey, 1.0)


def test_moving_blobs_crossing_the_line_are_counted_one_each() -> None:
    counter = LineCounter("boxes", CounterConfig(points=[(0.5, 0.0), (0.5, 1.0)], source="motion"), SIZE, ())
    t = 0.0
    for _item in range(3):
        for x in range(40, 170, 10):  # left to right across x = 100
            counter.update([], blob_at(x), t)
            t += 0.2
        for _ in range(20):  # a gap with nothing moving, so the next item is a new blob
            counter.update([], Motion(np.zeros((0, 4), np.float32), 0.0, blob_at(0).grey, None, 1.0), t)
            t += 0.2
    assert (counter.count_in, counter.count_out) == (3, 0)


def test_small_blobs_are_not_items() -> None:
    counter = LineCounter("boxes", CounterConfig(points=[(0.5, 0.0), (0.5, 1.0)], source="motion",
                                                 min_area=0.05), SIZE, ())
    for k, x in enumerate(range(40, 170, 10)):
        counter.update([], blob_at(x), k * 0.2)  # 16x20 px = 1.6% of the frame, under 5%
    assert (counter.count_in, counter.count_out) == (0, 0)


def test_object_counter_counts_only_its_labels() -> None:
    cfg = CounterConfig(points=[(0.5, 0.0), (0.5, 1.0)], objects=["car"])
    counter = LineCounter("cars", cfg, SIZE, ("person", "car"))
    car, walker = Track(1, 0, 0, np.zeros(4, np.float32)), Track(2, 0, 0, np.zeros(4, np.float32))
    car.votes["car"] = walker.votes["person"] = 1.0
    for k, x in enumerate(range(160, 30, -20)):  # right to left: 'out' for a line drawn top to bottom
        for tr in (car, walker):
            tr.box = np.array([x - 10, 40, x + 10, 70], np.float32)
        counter.update([car, walker], None, k * 0.2)
    assert (counter.count_in, counter.count_out) == (0, 1)
