"""Non-maximum suppression, durations and sizes, time parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from clearwatch.analytics.detectors.base import Detections, nms
from clearwatch.errors import ClearwatchError
from clearwatch.timeparse import parse_time
from clearwatch.units import format_size, parse_duration, parse_size


def test_nms_keeps_the_best_of_overlapping_boxes_per_class() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 10]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    classes = np.array([0, 0, 0, 1], np.int32)
    keep = nms(boxes, scores, classes, iou=0.5)
    assert sorted(keep.tolist()) == [0, 2, 3]  # the 0.8 box overlaps the 0.9 one; class 1 is never suppressed


def test_nms_threshold_decides_what_overlaps() -> None:
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10]], np.float32)  # IoU 1/3
    scores = np.array([0.9, 0.8], np.float32)
    classes = np.zeros(2, np.int32)
    assert len(nms(boxes, scores, classes, iou=0.5)) == 2
    assert nms(boxes, scores, classes, iou=0.3).tolist() == [0]
    assert len(nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32), 0.5)) == 0


def test_detections_map_back_from_a_crop() -> None:
    d = Detections(np.array([[10, 20, 30, 40]], np.float32), np.array([0.9], np.float32), np.array([0], np.int32))
    moved = d.shifted(100, 200, scale=2.0)
    assert moved.boxes.tolist() == [[105, 210, 115, 220]]
    assert len(Detections.concat([d, moved])) == 2 and len(Detections.concat([])) == 0


@pytest.mark.parametrize(("text", "seconds"), [(90, 90.0), ("90s", 90.0), ("5m", 300.0), ("1.5h", 5400.0),
                                               ("7d", 604800.0), ("250ms", 0.25), ("2w", 1209600.0)])
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("text", "size"), [(1000, 1000), ("500GB", 500 * 10**9), ("1.5 TiB", int(1.5 * 2**40)),
                                            ("2g", 2 * 10**9), ("64KiB", 65536)])
def test_sizes(text: object, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("bad", ["soon", "10 parsecs", True, "", "-5s"])
def test_bad_durations_say_what_is_expected(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_sizes_print_for_people() -> None:
    assert [format_size(n) for n in (999, 1500, 2_500_000, 3.2e12)] == ["999 B", "1.5 KB", "2.5 MB", "3.2 TB"]


def test_times_absolute_relative_and_wrong() -> None:
    now = datetime.now(UTC)
    assert abs(parse_time("-10m") - (now - timedelta(minutes=10))) < timedelta(seconds=5)
    assert parse_time("2026-11-26T10:00:00") == datetime(2026, 11, 26, 10, tzinfo=UTC)  # UTC when no offset
    with pytest.raises(ClearwatchError, match="cannot read time"):
        parse_time("yesterday-ish")
