"""Objects left in a zone and objects removed from one: a change against the empty scene that stays still.

Twice a second, on motion's small grey picture: a reference of the zone, learnt slowly only where nothing
differs from it, is compared with the picture. A pixel that differs *and* holds still ages; one that matches the
reference again starts over; one covered by a tracked person or by something moving keeps its age (a parcel
does not vanish because someone walks past it). Where a zone's pixels have aged past its ``left`` or
``removed`` delay, the region is one report: *left* when its outline has edges now that the reference lacks,
*removed* when the reference had them (the shelf's edge was the box's). A report ends when the region matches
the reference again, or when it is taken into the reference after ``ABSORB`` seconds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

from clearwatch.analytics.motion import polygon_mask
from clearwatch.config.analytics import ZoneConfig

StillKind = Literal["left", "removed"]
SAMPLE = 0.5  # seconds between looks
DIFF = 22  # grey levels from the reference that count as a change
STILL = 6  # grey levels between looks under which a changed pixel holds still
LEARN = 20.0  # seconds: time constant of the reference where nothing differs
GLOBAL = 0.35  # over this share of the watched area changed at once: light or camera, relearn everything
ABSORB = 600.0  # seconds a report stays open before its region joins the reference
CLEARED = 0.3  # a report ends when under this share of its region still differs
KNOWN = 5.0  # seconds a reference pixel must have been seen (no person over it) before a change there counts


@dataclass
class StillThing:
    id: int
    kind: StillKind
    zone: str
    mask: np.ndarray  # bool, at the watcher's size
    box: tuple[int, int, int, int]  # x1 y1 x2 y2 in the watcher's pixels
    since: float
    reported: float


@dataclass(frozen=True)
class StillChange:
    thing: StillThing
    started: bool
    time: float
    absorbed: bool = False


@dataclass
class _Zone:
    name: str
    cfg: ZoneConfig
    mask: np.ndarray  # bool
    min_pixels: int
    delays: dict[StillKind, float] = field(default_factory=dict)


class StillWatcher:
    def __init__(self, zones: dict[str, ZoneConfig], size: tuple[int, int]):
        w, h = size
        self.size = size
        self.zones = [_Zone(n, z, polygon_mask([z.points], w, h).astype(bool), max(4, round(z.min_object * w * h)),
                            _delays(z))
                      for n, z in zones.items() if z.left is not None or z.removed is not None]
        self.watched = np.zeros((h, w), bool)
        for z in self.zones:
            self.watched |= z.mask
        self.area = max(1, int(self.watched.sum()))
        self._next = -np.inf
        self._reference: np.ndarray | None = None
        self._previous: np.ndarray | None = None
        self._last = 0.0
        self.age = np.zeros((h, w), np.float32)
        self.seen = np.zeros((h, w), np.float32)  # how long each reference pixel was confirmed by the picture
        self.reported = np.zeros((h, w), bool)
        self.things: list[StillThing] = []
        self._ids = 0
        self._kernel = np.ones((3, 3), np.uint8)

    @property
    def active(self) -> bool:
        return bool(self.zones)

    def reset(self) -> None:
        """Forget the reference (the camera's view changed); what was reported stays open until it clears."""
        self._reference = self._previous = None
        self.age[:] = 0
        self.seen[:] = 0

    def update(self, grey: np.ndarray, t: float, busy: np.ndarray | None = None) -> list[StillChange]:
        """``busy``: boxes (N×4, this watcher's pixels) of tracked people, whose pixels keep their age."""
        if not self.zones or t < self._next:
            return []
        self._next = t + SAMPLE - 1e-6
        ref, prev = self._reference, self._previous
        dt = min(t - self._last, 5 * SAMPLE)
        self._previous, self._last = grey, t
        if ref is None or prev is None:
            self._reference = grey.astype(np.float32)
            return []
        differs = (cv2.absdiff(grey, cv2.convertScaleAbs(ref)) > DIFF) & self.watched
        out: list[StillChange] = []
        if differs.sum() > GLOBAL * self.area:  # the light changed, or the camera moved: nothing to age
            out += [StillChange(th, False, t, absorbed=True) for th in self.things]
            self.things.clear()
            self.reported[:] = False
            self.age[:] = 0
            self.seen[:] = 0
            self._reference = grey.astype(np.float32)
            return out
        still = cv2.absdiff(grey, prev) <= STILL
        held = np.zeros_like(differs)
        if busy is not None and len(busy):
            h, w = grey.shape
            for x1, y1, x2, y2 in np.clip(np.round(busy).astype(int), 0, [w, h, w, h]):
                held[y1:y2, x1:x2] = True
        # a reference pixel never confirmed (a walker in the first picture) is not evidence of anything: a
        # still picture there replaces it rather than ageing
        unknown = self.seen < KNOWN
        adopt = differs & still & unknown & ~held
        ref[adopt] = grey[adopt]
        self.age[differs & still & ~held & ~unknown] += dt
        self.age[~differs | adopt] = 0
        confirm = ~differs & ~held
        self.seen[confirm] += dt
        cv2.accumulateWeighted(grey, ref, min(1.0, dt / LEARN), mask=confirm.astype(np.uint8))
        out += self._ended(differs, grey, t)
        out += self._found(grey, ref, t)
        return out

    def _ended(self, differs: np.ndarray, grey: np.ndarray, t: float) -> list[StillChange]:
        out: list[StillChange] = []
        for th in list(self.things):
            absorbed = t - th.reported >= ABSORB
            if absorbed or differs[th.mask].mean() < CLEARED:
                if absorbed and self._reference is not None:
                    self._reference[th.mask] = grey[th.mask]
                    self.age[th.mask] = 0
                self.reported[th.mask] = False
                self.things.remove(th)
                out.append(StillChange(th, False, t, absorbed=absorbed))
        return out

    def _found(self, grey: np.ndarray, ref: np.ndarray, t: float) -> list[StillChange]:
        out: list[StillChange] = []
        for z in self.zones:
            first = min(z.delays.values())
            aged = ((self.age >= first - 1e-6) & z.mask & ~self.reported).astype(np.uint8)
            if aged.sum() < z.min_pixels:
                continue
            aged = cv2.morphologyEx(aged, cv2.MORPH_CLOSE, self._kernel)
            n, labels, stats, _ = cv2.connectedComponentsWithStats(aged, connectivity=8)
            for i in range(1, n):
                if stats[i, cv2.CC_STAT_AREA] < z.min_pixels:
                    continue
                region = labels == i
                kind = self._kind(region, grey, ref)
                delay = z.delays.get(kind)
                age = float(np.median(self.age[region]))
                if delay is None or age < delay - 1e-6:
                    continue
                x, y, bw, bh = (int(v) for v in stats[i, :4])
                self._ids += 1
                th = StillThing(self._ids, kind, z.name, region, (x, y, x + bw, y + bh), t - age, t)
                self.things.append(th)
                self.reported |= region
                out.append(StillChange(th, True, t))
        return out

    def _kind(self, region: np.ndarray, grey: np.ndarray, ref: np.ndarray) -> StillKind:
        """Left or removed, by where the region's outline has edges: in the picture now, or in the reference."""
        ring = cv2.dilate(region.astype(np.uint8), self._kernel, iterations=2).astype(bool) & ~cv2.erode(
            region.astype(np.uint8), self._kernel, iterations=1).astype(bool)
        now = _edges(grey)[ring].mean()
        before = _edges(ref)[ring].mean()
        return "left" if now >= before else "removed"


def _delays(z: ZoneConfig) -> dict[StillKind, float]:
    out: dict[StillKind, float] = {}
    if z.left is not None:
        out["left"] = z.left
    if z.removed is not None:
        out["removed"] = z.removed
    return out


def _edges(image: np.ndarray) -> np.ndarray:
    img = image.astype(np.float32)
    return cv2.magnitude(cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3))
