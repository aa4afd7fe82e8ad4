"""The analytics picture (conversion, decoder options), where the detector looks (crop regions), and NMS against
the plain rule it implements."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from clearwatch.analytics.detectors.base import nms
from clearwatch.analytics.frames import decoder_options, detect_size, frame_bgr, iter_file_frames
from clearwatch.analytics.motion import blob_boxes
from clearwatch.analytics.objects import merge_regions
from clearwatch.media import write_clip


def _frame(w: int, h: int, seed: int = 0) -> tuple[av.VideoFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    # smooth content: what a camera sees, so that scaled pictures can be compared value by value
    small = rng.integers(0, 255, (h // 48 + 1, w // 48 + 1, 3), np.uint8)
    img = np.ascontiguousarray(np.repeat(np.repeat(small, 48, 0), 48, 1)[:h, :w])
    return av.VideoFrame.from_ndarray(img, format="bgr24").reformat(format="yuv420p"), img


@pytest.mark.parametrize(("w", "h", "width"), [(768, 576, 640), (1920, 1080, 640), (640, 480, 640), (640, 482, 640)])
def test_frame_bgr_gives_the_detect_size_with_swscale_colours(w: int, h: int, width: int) -> None:
    frame, _ = _frame(w, h)
    size = detect_size(w, h, width)
    out = frame_bgr(frame, size)
    assert out.shape == (size[1], size[0], 3) and out.dtype == np.uint8
    reference = frame.to_ndarray(format="bgr24", width=size[0], height=size[1]).astype(int)
    assert np.abs(out.astype(int) - reference).mean() < 4.0  # the same picture, scaled a little differently


def test_decoder_options_skip_deblocking_only_where_asked_and_understood() -> None:
    assert decoder_options("h264", True) == {"skip_loop_filter": "nointra"}
    assert decoder_options("hevc", True) == {"skip_loop_filter": "nointra"}
    assert decoder_options("h264", False) == {}
    assert decoder_options("mpeg4", True) == {}  # no in-loop deblocking to skip


def test_skipping_deblocking_reaches_the_decoder_and_changes_the_picture_only_a_little(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    base = rng.integers(0, 255, (30, 40, 3), np.uint8)
    frames = [np.ascontiguousarray(np.roll(np.repeat(np.repeat(base, 8, 0), 8, 1), i * 3, axis=1))
              for i in range(30)]  # a moving texture: inter-coded blocks with edges for the filter to smooth
    clip = write_clip(tmp_path / "texture.mp4", frames, fps=10, gop_seconds=10)
    kept = [f.image for f in iter_file_frames(clip, "t", 10, 320, skip_deblocking=False)]
    skipped = [f.image for f in iter_file_frames(clip, "t", 10, 320, skip_deblocking=True)]
    assert len(kept) == len(skipped) == 30
    assert np.array_equal(kept[0], skipped[0])  # the keyframe is filtered either way
    diff = np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(kept[1:], skipped[1:], strict=True)])
    assert 0.0 < diff < 8.0


def test_regions_merge_when_the_union_costs_no_more_than_the_parts() -> None:
    side_by_side = np.array([[0, 0, 40, 100], [30, 0, 70, 100]], np.float32)
    assert merge_regions(side_by_side).tolist() == [[0, 0, 70, 100]]
    # a tall and a wide box crossing at a corner: their bounding box is mostly empty
    corner = np.array([[0, 0, 20, 200], [10, 190, 210, 210]], np.float32)
    assert len(merge_regions(corner)) == 2
    apart = np.array([[0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    assert len(merge_regions(apart)) == 2
    # merging can chain: the third box overlaps only the union of the first two
    chain = np.array([[0, 0, 40, 40], [30, 0, 70, 40], [60, 0, 100, 40]], np.float32)
    assert merge_regions(chain).tolist() == [[0, 0, 100, 40]]
    assert merge_regions(corner, waste=10.0).tolist() == [[0, 0, 210, 210]]


def _plain_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float) -> list[int]:
    """The rule, written out: best first, drop every same-class box overlapping a kept one by more than ``iou``."""
    keep: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        ok = True
        for j in keep:
            if classes[i] != classes[j]:
                continue
            x1, y1 = max(boxes[i, 0], boxes[j, 0]), max(boxes[i, 1], boxes[j, 1])
            x2, y2 = min(boxes[i, 2], boxes[j, 2]), min(boxes[i, 3], boxes[j, 3])
            inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
            a = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])
            b = (boxes[j, 2] - boxes[j, 0]) * (boxes[j, 3] - boxes[j, 1])
            if inter / (a + b - inter) > iou:
                ok = False
                break
        if ok:
            keep.append(int(i))
    return keep


@pytest.mark.parametrize("seed", range(20))
def test_nms_follows_the_plain_rule(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    xy = rng.uniform(0, 300, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(10, 80, (n, 2))], 1).astype(np.float32)
    scores = rng.permutation(np.linspace(0.2, 0.99, n)).astype(np.float32)  # no ties: one right order
    classes = rng.integers(0, 3, n).astype(np.int32)
    assert sorted(nms(boxes, scores, classes, 0.45).tolist()) == sorted(_plain_nms(boxes, scores, classes, 0.45))


def _blobs_by_flood(mask: np.ndarray, min_pixels: int) -> set[tuple[int, int, int, int]]:
    """The plain rule: each 8-connected blob's bounding box (x2, y2 exclusive), by flood fill."""
    seen = np.zeros_like(mask, bool)
    out = set()
    h, w = mask.shape
    for y0, x0 in zip(*np.nonzero(mask), strict=True):
        if seen[y0, x0]:
            continue
        stack, pixels = [(y0, x0)], []
        seen[y0, x0] = True
        while stack:
            y, x = stack.pop()
            pixels.append((y, x))
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    ny, nx = y + dy, x + dx
                    if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        stack.append((ny, nx))
        if len(pixels) >= min_pixels:
            ys, xs = zip(*pixels, strict=True)
            out.add((min(xs), min(ys), max(xs) + 1, max(ys) + 1))
    return out


@pytest.mark.parametrize(("shape", "density"), [((90, 160), 0.03), ((180, 320), 0.3), ((13, 7), 0.5)])
def test_motion_blobs_are_the_8_connected_blobs_big_enough(shape: tuple[int, int], density: float) -> None:
    mask = (np.random.default_rng(7).random(shape) < density).astype(np.uint8)
    boxes = blob_boxes(mask, 3)
    assert boxes.dtype == np.float32
    assert {tuple(int(v) for v in b) for b in boxes} == _blobs_by_flood(mask, 3)


def test_motion_blobs_of_a_mask_too_big_for_16_bit_labels() -> None:
    # 600x600: a checkerboard of lone pixels would be 90,000 blobs, past what 16-bit labels can count
    mask = np.zeros((600, 600), np.uint8)
    mask[::2, ::2] = 1
    boxes = blob_boxes(mask, 1)
    assert len(boxes) == 90_000
    assert boxes[:, 2].max() == 599 and boxes[:, 3].max() == 599
