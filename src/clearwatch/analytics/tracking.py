"""ByteTrack (Roboflow ``trackers``, which took it over from ``supervision``) plus the lifecycle Clearwatch needs:
stable ids, a label by vote, the best snapshot, a box path, and an end when a track is gone for good."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import supervision as sv
from trackers import ByteTrackTracker

from clearwatch.analytics.detectors import Detections
from clearwatch.analytics.frames import Frame

PATH_STEP = 0.5  # seconds between recorded path points
MOVED_FRACTION = 0.4  # of the box's longer side: more than a detector's jitter, less than one stride


@dataclass
class Track:
    id: int
    first: float
    last: float
    box: np.ndarray
    votes: dict[str, float] = field(default_factory=dict)  # label → summed detection scores
    hits: int = 0
    max_score: float = 0.0
    best_quality: float = -1.0
    best_image: np.ndarray | None = None
    best_box: np.ndarray | None = None
    path: list[tuple[float, float, float]] = field(default_factory=list)
    origin: np.ndarray | None = None
    pending_crossings: list[dict[str, object]] = field(default_factory=list)  # before its event starts
    sighted: tuple[float, np.ndarray] | None = None  # (time, box) it had before its last detection: its speed

    @property
    def label(self) -> str:
        return max(self.votes, key=self.votes.__getitem__) if self.votes else "object"

    @property
    def moved(self) -> bool:
        """Something that never moved (a parked car, a sign taken for a person) is tracked but is not an event.

        Judged by how far the box travelled, not by motion near it: people walking past a parked van
        must not turn the van into an event.
        """
        if self.origin is None:
            return False
        size = max(self.box[2] - self.box[0], self.box[3] - self.box[1], 1.0)
        return bool(float(np.hypot(*(_centre(self.box) - self.origin))) > MOVED_FRACTION * size)


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], np.float32)


def _step(tr: Track, t: float, w: int, h: int) -> None:
    """Add the track's centre to its path (a fraction of the picture), at most every PATH_STEP seconds."""
    if not tr.path or t - tr.path[-1][0] >= PATH_STEP:
        c = _centre(tr.box)
        tr.path.append((t, round(float(c[0]) / w, 4), round(float(c[1]) / h, 4)))


@dataclass
class Carried:
    """Tracks that can go a frame without the detector (``ObjectTracker.predicted``)."""

    tracks: list[Track]  # the settled ones, seen in the last frame
    boxes: np.ndarray  # where each of them will be
    others: np.ndarray  # boxes of the other tracks seen in the last frame (new, or never moved)


class ObjectTracker:
    def __init__(self, labels: tuple[str, ...], min_score: float, lost_after: float, fps: float):
        self.labels = labels
        self.lost_after = lost_after
        self._tracker = ByteTrackTracker(
            lost_track_buffer=max(1, round(lost_after * 30)),  # counted in 30 fps frames, whatever the rate
            frame_rate=fps,
            track_activation_threshold=min_score,
            high_conf_det_threshold=min_score,
            minimum_consecutive_frames=1,
        )
        self.tracks: dict[int, Track] = {}
        # ByteTrack gives a track its id at its second sighting: what the last detections started, to be looked at
        # again at once (something standing still has no motion to lead the detector back to it)
        self.new_boxes = np.zeros((0, 4), np.float32)
        self._last_t: float | None = None

    def boxes(self) -> np.ndarray:
        if not self.tracks:
            return np.zeros((0, 4), np.float32)
        return np.array([t.box for t in self.tracks.values()], np.float32)

    def unseen(self) -> np.ndarray:
        """Boxes of the tracks that the last frame did not see: standing still where no motion led the detector,
        or gone (until ``lost_after`` ends them)."""
        boxes = [tr.box for tr in self.tracks.values() if tr.last != self._last_t]
        return np.array(boxes, np.float32).reshape(-1, 4)

    def predicted(self, t: float, min_hits: int) -> Carried:
        """Of the tracks seen in the last frame: where the settled ones (``min_hits`` sightings, moved) will be at
        ``t`` at their last speed, and the boxes of the others (new or standing), which still need the detector."""
        settled: list[Track] = []
        others: list[Track] = []
        for tr in self.tracks.values():
            if tr.last == self._last_t:
                (settled if tr.hits >= min_hits and tr.moved and tr.sighted is not None else others).append(tr)
        boxes = []
        for tr in settled:
            assert tr.sighted is not None
            t0, b0 = tr.sighted
            # the centre moves on at its last speed; the size stays (its change between two detections is jitter)
            shift = (_centre(tr.box) - _centre(b0)) * ((t - tr.last) / max(tr.last - t0, 1e-3))
            boxes.append(tr.box + np.concatenate([shift, shift]))
        return Carried(settled, np.array(boxes, np.float32).reshape(-1, 4),
                       np.array([tr.box for tr in others], np.float32).reshape(-1, 4))

    def carry(self, carried: Carried, frame: Frame) -> tuple[list[Track], list[Track]]:
        """A frame without the detector: the settled tracks move to their predicted boxes (no sighting, vote or
        snapshot), and ByteTrack is not told — it takes the next detections after a longer step (its motion model
        goes by timestamps), so no prediction is ever mistaken for a sighting of someone else."""
        t = frame.time
        w, h = frame.size
        for tr, box in zip(carried.tracks, carried.boxes, strict=True):
            tr.box, tr.last = box, t
            _step(tr, t, w, h)
        self._last_t = t
        return list(carried.tracks), self._ended(t)

    def update(self, dets: Detections, frame: Frame) -> tuple[list[Track], list[Track]]:
        """Feed one frame's detections; returns (tracks seen in this frame, tracks that ended)."""
        t = self._last_t = frame.time
        sv_dets = sv.Detections(xyxy=dets.boxes.reshape(-1, 4), confidence=dets.scores, class_id=dets.classes)
        tracked = self._tracker.update(sv_dets, timestamp=t)
        seen: list[Track] = []
        w, h = frame.size
        n = len(tracked)
        ids = tracked.tracker_id if tracked.tracker_id is not None else np.zeros(0, int)
        scores = tracked.confidence if tracked.confidence is not None else np.zeros(n, np.float32)
        classes = tracked.class_id if tracked.class_id is not None else np.zeros(n, int)
        for box, score, cls, tid in zip(tracked.xyxy, scores, classes, ids, strict=True):
            if tid < 0:
                continue
            tr = self.tracks.get(int(tid))
            if tr is None:
                tr = self.tracks[int(tid)] = Track(int(tid), t, t, box.astype(np.float32))
                tr.origin = _centre(tr.box)
            tr.sighted = (tr.last, tr.box)
            tr.box = box.astype(np.float32)
            tr.last = t
            _step(tr, t, w, h)
            seen.append(tr)
            tr.hits += 1
            label = self.labels[int(cls)]
            tr.votes[label] = tr.votes.get(label, 0.0) + float(score)
            tr.max_score = max(tr.max_score, float(score))
            quality = _quality(box, float(score), w, h)
            if quality > tr.best_quality:
                tr.best_quality, tr.best_image, tr.best_box = quality, frame.image, tr.box
        started = (ids < 0) & (scores >= self._tracker.track_activation_threshold)  # ByteTrack's own rule
        self.new_boxes = tracked.xyxy[started].astype(np.float32).reshape(-1, 4)
        return seen, self._ended(t)

    def _ended(self, t: float) -> list[Track]:
        ended = [tr for tr in self.tracks.values() if t - tr.last > self.lost_after]
        for tr in ended:
            del self.tracks[tr.id]
        return ended

    def finish(self) -> list[Track]:
        ended = list(self.tracks.values())
        self.tracks.clear()
        return ended


def _quality(box: np.ndarray, score: float, w: int, h: int) -> float:
    """Big, confident and whole: a box cut by the frame edge makes a poor snapshot."""
    bw, bh = box[2] - box[0], box[3] - box[1]
    cut = box[0] <= 1 or box[1] <= 1 or box[2] >= w - 1 or box[3] >= h - 1
    return score * float(np.sqrt(max(bw * bh, 1.0))) * (0.5 if cut else 1.0)


def render_snapshot(track: Track, label: str) -> bytes | None:
    """The track's best frame as JPEG, with its box and label drawn."""
    if track.best_image is None or track.best_box is None:
        return None
    image = track.best_image.copy()
    x1, y1, x2, y2 = (int(v) for v in track.best_box)
    cv2.rectangle(image, (x1, y1), (x2, y2), (0, 200, 255), 2)
    text = f"{label} #{track.id} {track.max_score:.2f}"
    cv2.putText(image, text, (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 200, 255), 1, cv2.LINE_AA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return buf.tobytes() if ok else None
