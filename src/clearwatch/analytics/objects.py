"""Motion-gated object detection: the detector looks only where something moves, plus a periodic whole frame."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from clearwatch.analytics.detectors import Detections, Detector, nms
from clearwatch.analytics.motion import Motion
from clearwatch.config.analytics import ObjectsConfig

# What one more detector call costs beside its pixels, counted in pixels: onnxruntime's fixed cost per run of
# YOLOX-nano (~0.3 ms) at its cost per input pixel (~0.09 us). Crops cheaper than a whole frame by this
# reckoning are run as crops.
CALL_PIXELS = 3_300
# A merged crop may hold this much more than its parts (their overlap is counted twice, so the union of two
# boxes that overlap heavily is always cheaper).
MERGE_WASTE = 1.0
# ByteTrack's second association stage wants the weak detections too.
TRACKER_FLOOR = 0.2
# Crops are scaled as YOLOX's own preprocessing scales its training pictures (bilinear). Area averaging at the
# ~0.65 ratio a 640-wide frame needs is 7-10 times dearer.
RESIZE = cv2.INTER_LINEAR
_NO_BOXES = np.zeros((0, 4), np.float32)


def label_filter(cfg: ObjectsConfig, label: str, key: str, default: float) -> float:
    """A per-label filter value (``filters: {car: {min_score: …}}``), else ``default``."""
    f = cfg.filters.get(label)
    value = getattr(f, key) if f is not None else None
    return default if value is None else value


def _area(b: np.ndarray) -> float:
    return float((b[2] - b[0]) * (b[3] - b[1]))


def merge_regions(boxes: np.ndarray, waste: float = MERGE_WASTE) -> np.ndarray:
    """Union overlapping boxes until no two overlap whose union would cost at most ``waste`` times the pixels of
    the two apart (few boxes: the quadratic loop is cheap). Two people side by side become one crop; a tall one
    and a wide one crossing at a corner stay two, instead of one crop of the empty rectangle around both."""
    regions = [b.copy() for b in boxes]
    merged = True
    while merged and len(regions) > 1:
        merged = False
        out: list[np.ndarray] = []
        while regions:
            r = regions.pop()
            i = 0
            while i < len(regions):
                o = regions[i]
                if r[0] < o[2] and o[0] < r[2] and r[1] < o[3] and o[1] < r[3]:
                    u = np.array([min(r[0], o[0]), min(r[1], o[1]), max(r[2], o[2]), max(r[3], o[3])], np.float32)
                    if _area(u) <= waste * (_area(r) + _area(o)):
                        r = u
                        regions.pop(i)
                        merged = True
                        continue
                i += 1
            out.append(r)
        regions = out
    return np.array(regions, np.float32).reshape(-1, 4)


@dataclass
class DetectionStats:
    frames: int = 0
    full_passes: int = 0
    crop_passes: int = 0
    skipped: int = 0
    coasted: int = 0  # frames whose settled tracks were carried on their predictions
    still_checks: int = 0  # frames that looked again at tracks not seen in the frame before
    pixels: int = 0  # model input pixels (padding included), the cost driver


class ObjectFinder:
    """Decides where to run the detector on each frame, runs it, and filters what it finds."""

    def __init__(self, detector: Detector, cfg: ObjectsConfig, frame_size: tuple[int, int],
                 mask: np.ndarray | None = None):
        self.detector = detector
        self.cfg = cfg
        self.width, self.height = frame_size
        self.scale = min(1.0, detector.input_size / max(frame_size))
        self.wanted = np.array([label in cfg.track for label in detector.labels])
        self.min_score = np.array([label_filter(cfg, label, "min_score", cfg.min_score) for label in detector.labels])
        area = float(self.width * self.height)
        self.min_area = np.array([label_filter(cfg, label, "min_area", 0.0) * area for label in detector.labels])
        self.max_area = np.array([label_filter(cfg, label, "max_area", 1.0) * area for label in detector.labels])
        self.mask = mask  # frame-size uint8, 1 where objects are ignored
        self._last_full: float | None = None
        self._last_still: float | None = None
        self._coasting = 0  # frames in a row left to the tracker
        stride = detector.stride  # the model's input is padded to whole strides
        self._full_pixels = (-(-round(self.width * self.scale) // stride) * stride
                             * -(-round(self.height * self.scale) // stride) * stride)
        self.stats = DetectionStats()

    def find(self, image: np.ndarray, t: float, motion: Motion | None, track_boxes: np.ndarray,
             unseen: np.ndarray = _NO_BOXES, new: np.ndarray = _NO_BOXES) -> Detections:
        """Detections in frame pixels, already filtered by label, score, area and mask.

        Besides where something moves: ``unseen``, boxes of the tracks not seen in the last frame, looked at again
        every ``still_interval`` (all at once, so that a whole frame is run instead when that is cheaper), and
        ``new``, what the last frame's detections started, looked at again at once so that it becomes a track."""
        self.stats.frames += 1
        due = self._last_full is None or t - self._last_full >= self.cfg.full_frame_interval
        if not self.cfg.motion_gated or motion is None or due:
            return self._full(image, t)
        look = new
        if len(unseen) and (self._last_still is None or t - self._last_still >= self.cfg.still_interval):
            look, self._last_still = np.concatenate([new, unseen]), t
            self.stats.still_checks += 1
        if not motion.any and not len(look):
            self.stats.skipped += 1
            return Detections.empty()
        crops = [(self._fit(x1, x2, self.width), self._fit(y1, y2, self.height))
                 for x1, y1, x2, y2 in self._regions(np.concatenate([motion.boxes, look]), track_boxes)]
        if sum(cw * ch + CALL_PIXELS for (_, _, cw), (_, _, ch) in crops) >= self._full_pixels:
            return self._full(image, t)
        return self._crops(image, crops)

    def carry(self, t: float, motion: Motion | None, predicted: np.ndarray, others: np.ndarray) -> bool:
        """May this frame go without the detector, its settled tracks carried on their ``predicted`` boxes
        (``ObjectTracker.predicted``)? One frame in ``tracked_interval`` at most, and only when everything that
        moves lies where they are about to be and touches none of the ``others`` (new or standing tracks, which
        still need the detector): people walking are most of a busy scene's motion, and their own motion carries
        them through a frame as well as a detection would. (Looking only at the rest of the motion, and giving
        ByteTrack half a frame, lost 40% of the people; giving it the carried tracks at their predicted boxes kept
        them, for 8% fewer detector pixels, but split a tenth more people into two tracks: all or nothing.)"""
        due = self._last_full is None or t - self._last_full >= self.cfg.full_frame_interval
        if (due or not self.cfg.motion_gated or motion is None or not motion.any or not len(predicted)
                or self._coasting + 1 >= self.cfg.tracked_interval
                or not _overlaps(motion.boxes, predicted).any(1).all()
                or _overlaps(others, motion.boxes).any()):
            self._coasting = 0
            return False
        self._coasting += 1
        self.stats.frames += 1
        self.stats.coasted += 1
        return True

    def _crops(self, image: np.ndarray, crops: list[tuple[tuple[int, int, int], tuple[int, int, int]]]
               ) -> Detections:
        """Detections in ``crops``, each ((x1, x2, model width), (y1, y2, model height)) as ``_fit`` gives them."""
        parts = []
        for (cx1, cx2, cw), (cy1, cy2, ch) in crops:
            crop = image[cy1:cy2, cx1:cx2]
            if (cw, ch) != (cx2 - cx1, cy2 - cy1):
                crop = cv2.resize(crop, (cw, ch), interpolation=RESIZE)
            self.stats.crop_passes += 1
            self.stats.pixels += cw * ch
            parts.append(self.detector.detect(crop, TRACKER_FLOOR).shifted(cx1, cy1, cw / (cx2 - cx1),
                                                                            ch / (cy2 - cy1)))
        found = Detections.concat(parts)
        if len(found) > 1:  # an object cut by two crops is found twice
            found = found.select(nms(found.boxes, found.scores, found.classes, 0.5))
        return self._keep(found)

    def _fit(self, a: float, b: float, limit: int) -> tuple[int, int, int]:
        """A crop's span on one axis, ``a``..``b`` in frame pixels, made to fill a whole number of model strides
        once scaled — the model pads to one anyway, and picture is worth more to it than grey: rounded to the
        nearest stride, widened with the frame's own pixels or narrowed by at most half a stride of its margin
        (``_regions`` leaves at least that much on each side). Returns (start, end, size in the model)."""
        stride = self.detector.stride
        fitted = max(1, round((b - a) * self.scale / stride)) * stride
        span = min(limit, round(fitted / self.scale))
        start = int(min(max(0.0, (a + b - span) / 2), limit - span))
        return start, start + span, fitted if span * self.scale >= fitted - 0.5 else max(1, round(span * self.scale))

    def _full(self, image: np.ndarray, t: float) -> Detections:
        self._last_full = self._last_still = t
        self.stats.full_passes += 1
        self.stats.pixels += self._full_pixels
        return self._keep(self.detector.detect(image, TRACKER_FLOOR))

    def _regions(self, motion_boxes: np.ndarray, track_boxes: np.ndarray) -> np.ndarray:
        """Motion boxes (and the tracks they touch) grown by a margin the model needs for context. A still track's
        own box comes in as a motion box: it touches itself."""
        boxes = motion_boxes
        if len(track_boxes):
            touching = _overlaps(track_boxes, motion_boxes).any(1)
            boxes = np.concatenate([boxes, track_boxes[touching]])
        w = boxes[:, 2] - boxes[:, 0]
        h = boxes[:, 3] - boxes[:, 1]
        # context around the blob, and at least one model stride of it in crop pixels. A tenth of the blob's longer
        # side, not a fifth: big blobs are mostly groups, already padded by motion's dilation; people of 110+ px
        # cropped from vtest score the same either way (0.693 vs 0.696 on 32), for 10% fewer detector pixels
        margin = np.maximum(0.1 * np.maximum(w, h), 0.5 * self.detector.stride / self.scale)
        grown = np.column_stack([boxes[:, 0] - margin, boxes[:, 1] - margin, boxes[:, 2] + margin,
                                 boxes[:, 3] + margin])
        grown = np.clip(grown, 0, [self.width, self.height, self.width, self.height])
        return merge_regions(grown)

    def _keep(self, d: Detections) -> Detections:
        if not len(d):
            return d
        c = d.classes
        area = (d.boxes[:, 2] - d.boxes[:, 0]) * (d.boxes[:, 3] - d.boxes[:, 1])
        # weak detections pass (ByteTrack uses them to keep tracks), but only down to the tracker floor
        keep = self.wanted[c] & (area >= self.min_area[c]) & (area <= self.max_area[c])
        if self.mask is not None and keep.any():
            cx = np.clip(((d.boxes[:, 0] + d.boxes[:, 2]) / 2).astype(int), 0, self.width - 1)
            cy = np.clip(((d.boxes[:, 1] + d.boxes[:, 3]) / 2).astype(int), 0, self.height - 1)
            keep &= self.mask[cy, cx] == 0
        return d.select(keep)


def _overlaps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) bool: does box a[i] intersect box b[j]."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), bool)
    return ((a[:, None, 0] < b[None, :, 2]) & (b[None, :, 0] < a[:, None, 2])
            & (a[:, None, 1] < b[None, :, 3]) & (b[None, :, 1] < a[:, None, 3]))
