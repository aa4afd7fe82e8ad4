"""Crops are sized to whole model strides: the model sees picture where it would otherwise see grey padding, and
boxes found in a crop land back where they are in the frame."""

from __future__ import annotations

import numpy as np
import pytest

from clearwatch.analytics.detectors import Detections
from clearwatch.analytics.motion import Motion
from clearwatch.analytics.objects import CALL_PIXELS, ObjectFinder
from clearwatch.config.analytics import ObjectsConfig

LABELS = ("person", "car")


class WholeCropDetector:
    """Finds one person filling every crop it is shown, and remembers the crops' sizes."""

    labels = LABELS
    input_size = 416
    stride = 32

    def __init__(self) -> None:
        self.shapes: list[tuple[int, int]] = []

    def detect(self, image: np.ndarray, min_score: float) -> Detections:
        h, w = image.shape[:2]
        self.shapes.append((h, w))
        return Detections(np.array([[0, 0, w, h]], np.float32), np.array([0.9], np.float32), np.zeros(1, np.int32))


def finder(size: tuple[int, int] = (640, 480)) -> tuple[ObjectFinder, WholeCropDetector]:
    det = WholeCropDetector()
    return ObjectFinder(det, ObjectsConfig(full_frame_interval=3600), size), det


@pytest.mark.parametrize(("a", "b", "model"), [(100.0, 180.0, 64), (100.0, 210.0, 64), (100.0, 240.0, 96)])
def test_a_span_is_rounded_to_the_nearest_stride_about_its_middle(a: float, b: float, model: int) -> None:
    f, _ = finder()  # scale 416 / 640 = 0.65
    start, end, size = f._fit(a, b, 640)
    assert size == model and abs((end - start) * f.scale - model) <= 0.5
    assert abs((start + end) / 2 - (a + b) / 2) <= 1.0
    # never narrowed by more than half a stride in the model (the margin _regions leaves on each side)
    assert (end - start) * f.scale >= (b - a) * f.scale - 16.5


def test_a_span_at_the_edge_grows_into_the_frame_and_one_longer_than_the_frame_is_the_frame() -> None:
    f, _ = finder()
    start, end, size = f._fit(0.0, 50.0, 640)
    assert start == 0 and size == 32 and abs(end * f.scale - 32) <= 0.5
    start, end, _ = f._fit(600.0, 640.0, 640)
    assert end == 640 and start < 600
    small, _ = finder((100, 60))  # scale 1: the whole picture is smaller than one fitted span
    assert small._fit(0.0, 60.0, 60) == (0, 60, 60)


def test_the_model_sees_whole_strides_and_boxes_come_back_in_frame_pixels() -> None:
    f, det = finder()
    image = np.zeros((480, 640, 3), np.uint8)
    f.find(image, 0.0, None, np.zeros((0, 4), np.float32))  # the first frame is a whole one
    det.shapes.clear()
    before = f.stats.pixels
    grey = np.zeros((240, 320), np.uint8)
    motion = Motion(boxes=np.array([[300, 200, 340, 300], [10, 10, 50, 60]], np.float32), fraction=0.02,
                    grey=grey, previous=grey, scale=2.0)
    found = f.find(image, 0.2, motion, np.zeros((0, 4), np.float32))
    assert len(det.shapes) == 2 and all(h % 32 == 0 and w % 32 == 0 for h, w in det.shapes)
    # each crop's whole-crop person maps back to a box around its motion, inside the frame
    for box in found.boxes:
        assert 0 <= box[0] < box[2] <= 640 and 0 <= box[1] < box[3] <= 480
    assert any(b[0] <= 300 and b[2] >= 340 and b[1] <= 200 and b[3] >= 300 for b in found.boxes)
    assert any(b[0] <= 10 and b[2] >= 50 and b[1] <= 10 and b[3] >= 60 for b in found.boxes)
    assert f.stats.pixels - before == sum(h * w for h, w in det.shapes)


def test_crops_run_unless_they_would_cost_the_detector_more_than_a_whole_frame() -> None:
    f, det = finder()
    image = np.zeros((480, 640, 3), np.uint8)
    none = np.zeros((0, 4), np.float32)
    grey = np.zeros((240, 320), np.uint8)
    f.find(image, 0.0, None, none)
    assert f._full_pixels == 416 * 320  # what the whole 640x480 frame is in the model

    def moving(*boxes: tuple[float, float, float, float]) -> Motion:
        return Motion(np.array(boxes, np.float32), 0.1, grey, grey, 2.0)

    # four blobs apart, a third of the picture between them: crops, however much of the frame they span
    det.shapes.clear()
    f.find(image, 0.2, moving((20, 20, 120, 200), (500, 20, 600, 200), (20, 280, 120, 460), (500, 280, 600, 460)),
           none)
    assert len(det.shapes) == 4 and f.stats.full_passes == 1
    crop_cost = sum(h * w + CALL_PIXELS for h, w in det.shapes)
    assert crop_cost < f._full_pixels
    # a crowd: twelve blobs apart, each crop cheap, but together (with a call each) dearer than the frame
    det.shapes.clear()
    crowd = [(x + 30, y + 30, x + 130, y + 130) for x in range(0, 640, 160) for y in range(0, 480, 160)]
    f.find(image, 0.4, moving(*crowd), none)
    assert det.shapes == [(480, 640)] and f.stats.full_passes == 2
