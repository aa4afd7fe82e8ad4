"""One plate decision per vehicle: reads collected while the vehicle is in view (rate-limited), voted when its
track ends. A dedicated entrance camera has no vehicle tracks: there, reads of the same plate close in time
form a pass, which ends when the plate has not been seen for a while."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from clearwatch.config.plates import PlatesConfig
from clearwatch.plates.formats import classify
from clearwatch.plates.lists import edit_distance
from clearwatch.plates.reader import PlateRead, PlateReader
from clearwatch.plates.vote import Reading, vote

ABOVE_PLATE = 0.35  # of a vehicle box's height, from the top: never holds its plate (front or back view)
MARGIN = 0.06  # of the vehicle box, around it: a plate at the bumper's edge must not be cut
TILE, OVERLAP = 640, 200  # pixels: at most this much is read at once; overlap > a plate's width
EDGE = 2  # pixels: a plate box this close to the picture's edge is cut off
SETTLED = 0.95  # mean character confidence of two agreeing reads after which a vehicle is not read again


@dataclass
class _Pass:
    first: float
    last: float
    label: str
    readings: list[Reading] = field(default_factory=list)
    best: PlateRead | None = None
    best_crop: np.ndarray | None = None
    best_frame: np.ndarray | None = None
    best_box: tuple[float, float, float, float] | None = None  # the plate in frame pixels
    first_box: tuple[float, float, float, float] | None = None
    last_box: tuple[float, float, float, float] | None = None
    tried: float = float("-inf")

    @property
    def settled(self) -> bool:
        """Two sure reads in a row that agree: more would cost CPU and change nothing."""
        if len(self.readings) < 2:
            return False
        a, b = self.readings[-2:]
        return a.text == b.text and min(a.mean_confidence, b.mean_confidence) >= SETTLED


@dataclass(frozen=True)
class PlateDecision:
    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    format: str | None
    first: float
    last: float
    vehicle: str  # the tracked label (car, truck, …), or "vehicle" on a dedicated camera
    colour: str | None
    reads: int
    plate_jpeg: bytes | None
    frame_jpeg: bytes | None  # the frame of the best read with the plate boxed (dedicated cameras)
    box: tuple[float, float, float, float] | None  # the plate in frame pixels, when last read
    first_box: tuple[float, float, float, float] | None  # … and when first read (which way it went)


def regions(boxes: np.ndarray, width: int, height: int, gap: float = 24.0) -> list[tuple[int, int, int, int]]:
    """Moving boxes merged where they touch (within ``gap`` pixels), grown by a margin, big enough to hold a
    plate: where to read on a camera without vehicle tracks."""
    merged: list[list[float]] = []
    for b in sorted(boxes.tolist(), key=lambda b: -(b[2] - b[0]) * (b[3] - b[1])):
        for m in merged:
            if b[0] <= m[2] + gap and b[2] >= m[0] - gap and b[1] <= m[3] + gap and b[3] >= m[1] - gap:
                m[:] = [min(m[0], b[0]), min(m[1], b[1]), max(m[2], b[2]), max(m[3], b[3])]
                break
        else:
            merged.append(list(b))
    out = []
    for x1, y1, x2, y2 in merged:
        mx, my = (x2 - x1) * 0.1 + 8, (y2 - y1) * 0.1 + 8
        r = (max(0, int(x1 - mx)), max(0, int(y1 - my)), min(width, int(x2 + mx)), min(height, int(y2 + my)))
        if r[2] - r[0] >= 48 and r[3] - r[1] >= 24:
            out += _tiles(r)
    return out


def _inside(box: tuple[float, float, float, float], region: tuple[int, int, int, int]) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return region[0] <= cx < region[2] and region[1] <= cy < region[3]


def _tiles(r: tuple[int, int, int, int]) -> list[tuple[int, int, int, int]]:
    """A wide region (a vehicle and the background it uncovered) cut into overlapping tiles, so the text
    detector does not shrink a plate below what it can find."""
    def spans(a: int, b: int) -> list[tuple[int, int]]:
        if b - a <= TILE:
            return [(a, b)]
        n = -(-(b - a - TILE) // (TILE - OVERLAP)) + 1
        step = (b - a - TILE) / (n - 1)
        return [(a + round(i * step), a + round(i * step) + TILE) for i in range(n)]

    return [(x1, y1, x2, y2) for x1, x2 in spans(r[0], r[2]) for y1, y2 in spans(r[1], r[3])]


def colour_name(bgr: np.ndarray) -> str | None:
    """A vehicle's colour in words, from the middle of its box (windows and road excluded as far as possible)."""
    h, w = bgr.shape[:2]
    if h < 8 or w < 8:
        return None
    body = bgr[int(h * 0.45):int(h * 0.8), int(w * 0.2):int(w * 0.8)]
    hsv = cv2.cvtColor(body, cv2.COLOR_BGR2HSV).reshape(-1, 3).astype(np.float32)
    hue, sat, val = np.median(hsv[:, 0]), np.median(hsv[:, 1]), np.median(hsv[:, 2])
    if val < 50:
        return "black"
    if sat < 40:
        return "white" if val > 190 else "silver" if val > 120 else "grey"
    if hue < 25 and val < 140:
        return "brown"
    for limit, name in ((8, "red"), (20, "orange"), (33, "yellow"), (85, "green"), (130, "blue"), (160, "purple")):
        if hue < limit:
            return name
    return "red"


def _due(t: float, last: float, interval: float) -> bool:
    return t - last >= interval - 1e-3  # frame times carry rounding: 0.4 s apart may compute as 0.39999…


def _jpeg(image: np.ndarray | None) -> bytes | None:
    if image is None or image.size == 0:
        return None
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return buf.tobytes() if ok else None


class PlateWatcher:
    def __init__(self, cfg: PlatesConfig, reader: PlateReader, lost_after: float = 3.0):
        self.cfg = cfg
        self.reader = reader
        self.lost_after = lost_after
        self.passes: dict[int, _Pass] = {}
        self._reported: dict[str, float] = {}  # plate → when its last decision's pass ended
        self._next_key = -1  # dedicated passes have negative keys: never a track id
        self._frame_tried = float("-inf")
        self.attempts = 0

    # vehicles (tracked by the object detector) ---------------------------------------------------------

    def look(self, track_id: int, label: str, image: np.ndarray, box: np.ndarray, t: float) -> None:
        """Read the vehicle's plate, at most every ``interval`` and ``max_reads`` times per vehicle."""
        p = self.passes.get(track_id)
        if p is None:
            p = self.passes[track_id] = _Pass(t, t, label)
        p.last, p.label = t, label
        if not _due(t, p.tried, self.cfg.interval) or len(p.readings) >= self.cfg.max_reads or p.settled:
            return
        h, w = image.shape[:2]
        x1, y1, x2, y2 = box
        if x1 <= EDGE or y1 <= EDGE or x2 >= w - EDGE or y2 >= h - EDGE:
            return  # a vehicle still coming into view (or leaving it): its plate may be cut; wait for it
        p.tried = t
        mx, my = (x2 - x1) * MARGIN, (y2 - y1) * MARGIN
        y1 += (y2 - y1) * ABOVE_PLATE  # plates hang low on a vehicle: the roof and windows only cost time
        x1, y1 = max(0, int(x1 - mx)), max(0, int(y1 - my))
        x2, y2 = min(w, int(x2 + mx)), min(h, int(y2 + my))
        if x2 - x1 < 16 or y2 - y1 < 16:
            return
        reads = self._reads(image, (x1, y1, x2, y2), first=True)
        if reads:
            self._keep(p, reads[0], image, (x1, y1, x2, y2))

    def finish(self, track_id: int) -> PlateDecision | None:
        p = self.passes.pop(track_id, None)
        return self._decide(p) if p is not None else None

    # dedicated entrance cameras ------------------------------------------------------------------------

    def look_frame(self, image: np.ndarray, t: float, moving: np.ndarray) -> list[PlateDecision]:
        """Read where things move (``moving``: boxes in frame pixels), every ``interval``; returns the passes
        that ended (their plate not seen for a while)."""
        ended = [k for k, p in self.passes.items() if t - p.last > self.lost_after]
        done = [d for d in (self._decide(self.passes.pop(k)) for k in ended) if d is not None]
        if len(moving) and _due(t, self._frame_tried, self.cfg.interval):
            self._frame_tried = t
            # a plate already read surely twice is followed, not read again: where it is now is not known
            # without reading, so regions holding its last position are skipped while it stays in view
            settled = [p.last_box for p in self.passes.values() if p.settled and p.last_box is not None]
            for region in regions(moving, image.shape[1], image.shape[0]):
                if any(_inside(box, region) for box in settled):
                    continue
                for read in self._reads(image, region):
                    key = self._pass_for(read.text, t)
                    p = self.passes[key]
                    p.last, p.tried = t, t
                    self._keep(p, read, image, region)
        return done

    @property
    def pending(self) -> bool:
        """Passes are open (a dedicated camera keeps reading until their plates are gone)."""
        return bool(self.passes)

    def finish_all(self) -> list[PlateDecision]:
        out = [self._decide(p) for p in self.passes.values()]
        self.passes.clear()
        return [d for d in out if d is not None]

    def _pass_for(self, text: str, t: float) -> int:
        for key, p in self.passes.items():
            if p.best is not None and edit_distance(p.best.text, text, 2) <= 2:
                return key
        key, self._next_key = self._next_key, self._next_key - 1
        self.passes[key] = _Pass(t, t, "vehicle")
        return key

    # shared -------------------------------------------------------------------------------------------

    def _reads(self, image: np.ndarray, region: tuple[int, int, int, int], first: bool = False) -> list[PlateRead]:
        """Plates read in ``region``, except those cut by the edge of the picture (a plate half out of view
        reads as a shorter, different plate)."""
        x1, y1, x2, y2 = region
        h, w = image.shape[:2]
        self.attempts += 1
        reads = self.reader.read(np.ascontiguousarray(image[y1:y2, x1:x2]), first)
        return [r for r in reads if r.box[0] + x1 > EDGE and r.box[2] + x1 < w - EDGE
                and r.box[1] + y1 > EDGE and r.box[3] + y1 < h - EDGE]

    def _keep(self, p: _Pass, read: PlateRead, image: np.ndarray, region: tuple[int, int, int, int]) -> None:
        p.readings.append(Reading(read.text, read.char_confidences))
        x1, y1 = region[0], region[1]
        where = (read.box[0] + x1, read.box[1] + y1, read.box[2] + x1, read.box[3] + y1)
        p.first_box = p.first_box or where
        p.last_box = where
        if p.best is None or (read.verified, read.confidence) > (p.best.verified, p.best.confidence):
            bx1, by1, bx2, by2 = where
            pad = 0.15 * (by2 - by1)
            p.best, p.best_box = read, where
            p.best_crop = image[max(0, int(by1 - pad)):int(by2 + pad), max(0, int(bx1 - pad)):int(bx2 + pad)].copy()
            p.best_frame = image[region[1]:region[3], region[0]:region[2]]

    def _decide(self, p: _Pass) -> PlateDecision | None:
        voted = vote(p.readings)
        if voted is None or p.best is None:
            return None
        fitted = classify(voted.text, self.reader.formats)
        similar = max(1, self.cfg.fuzzy)  # the same plate read a character differently is still the same car
        self._reported = {text: at for text, at in self._reported.items() if p.first - at <= self.cfg.repeat_window}
        repeat = any(p.first - at <= self.cfg.repeat_window and edit_distance(text, fitted.text, similar) <= similar
                     for text, at in self._reported.items())
        self._reported[fitted.text] = p.last
        if repeat:
            return None  # the same vehicle's track lost and found again: already reported
        frame = None
        if p.label == "vehicle" and p.best_frame is not None and p.best_box is not None:  # no track snapshot
            frame = p.best_frame.copy()
            x1, y1, x2, y2 = (int(v) for v in p.best_box)
            cv2.rectangle(frame, (x1, y1), (x2, y2), (0, 200, 255), 2)
        colour = colour_name(p.best_frame) if p.best_frame is not None and p.label != "vehicle" else None
        return PlateDecision(fitted.text, min(voted.confidences), voted.confidences, fitted.format, p.first, p.last,
                             p.label, colour, len(p.readings), _jpeg(p.best_crop), _jpeg(frame), p.last_box,
                             p.first_box)
