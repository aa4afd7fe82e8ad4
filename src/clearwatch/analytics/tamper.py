"""Camera tampering: covered or blinded, moved or re-pointed, defocused, or frozen. Judged twice a second on the
small grey picture motion already made, against a reference of the view that is refreshed slowly while
nothing is wrong. What each check can and cannot catch is in the README."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from clearwatch.config.analytics import TamperConfig

Cause = Literal["covered", "moved", "defocused", "frozen"]
SAMPLE = 0.5  # seconds between looks
LEARN = 30.0  # seconds: time constant of the reference while all is well
DESCRIPTOR_WIDTH = 48  # the view's layout, compared by correlation
FROZEN_DIFF = 0.15  # mean grey change between looks below which the picture has not changed at all


@dataclass(frozen=True)
class Look:
    """One look at the picture."""

    contrast: float  # grey standard deviation: a covered lens leaves almost none
    sharpness: float  # mean |Laplacian|: the fine detail a defocused lens loses
    layout: np.ndarray  # zero-mean, unit-norm small picture of edges: where things are in the view
    change: float  # mean grey change since the previous look (0: frozen)


@dataclass(frozen=True)
class TamperChange:
    cause: Cause
    started: bool  # True: reported; False: over (or the new view was taken as the reference)
    since: float  # when the condition began
    time: float
    measures: dict[str, float]
    relearned: bool = False


def look(grey: np.ndarray, previous: np.ndarray | None) -> Look:
    h, w = grey.shape
    small = cv2.resize(grey, (DESCRIPTOR_WIDTH, max(8, round(h * DESCRIPTOR_WIDTH / w))),
                       interpolation=cv2.INTER_AREA).astype(np.float32)
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    edges = cv2.magnitude(gx, gy)
    edges -= edges.mean()
    norm = float(np.linalg.norm(edges))
    layout = edges / norm if norm > 1e-6 else np.zeros_like(edges)
    sharpness = float(np.abs(cv2.Laplacian(grey, cv2.CV_16S, ksize=3)).mean())
    change = float(cv2.absdiff(grey, previous).mean()) if previous is not None else 255.0
    return Look(float(grey.std()), sharpness, layout, change)


class TamperWatcher:
    """Feeds on each analysed frame's small grey picture; returns reports when a condition has lasted long
    enough (``after``, ``frozen_after``) and when it ends. One condition at a time, the most telling first:
    frozen, covered, moved, defocused."""

    def __init__(self, cfg: TamperConfig):
        self.cfg = cfg
        s = cfg.sensitivity
        # sensitivity 0.5 → covered below 30% of the usual contrast, defocused below 40% of the usual detail,
        # moved when the edge layout correlates under 0.45 with the usual one
        self.covered_ratio = 0.1 + 0.4 * s
        self.defocus_ratio = 0.15 + 0.5 * s
        self.moved_corr = 0.15 + 0.6 * s
        self._next = -np.inf
        self._previous: np.ndarray | None = None
        self._looks = 0
        self.contrast = 0.0
        self.sharpness = 0.0
        self.layout: np.ndarray | None = None
        self.pending: tuple[Cause, float] | None = None
        self.active: tuple[Cause, float] | None = None
        self.last: dict[str, float] = {}

    def update(self, grey: np.ndarray, t: float) -> list[TamperChange]:
        if t < self._next:
            return []
        self._next = t + SAMPLE - 1e-6
        now = look(grey, self._previous)
        self._previous = grey
        if self.layout is None or self.layout.shape != now.layout.shape:
            self._learn(now, 1.0)
            return []
        cause, measures = self.judge(now)
        self.last = measures
        out: list[TamperChange] = []
        if self.active is not None:
            active, since = self.active
            relearn = active in ("moved", "defocused") and t - since >= self.cfg.relearn
            if cause != active or relearn:
                out.append(TamperChange(active, False, since, t, measures, relearned=relearn))
                self.active = None
                self.pending = (cause, t) if cause is not None and not relearn else None
                if relearn:
                    self._learn(now, 1.0)
            return out
        if cause is None:
            self.pending = None
            self._learn(now, max(SAMPLE / LEARN, 1.0 / (self._looks + 1)))
            return out
        if self.pending is None or self.pending[0] != cause:
            self.pending = (cause, t)
        since = self.pending[1]
        delay = self.cfg.frozen_after if cause == "frozen" else self.cfg.after
        if t - since >= delay - 1e-6:
            self.active, self.pending = (cause, since), None
            out.append(TamperChange(cause, True, since, t, measures))
        return out

    def forget(self) -> None:
        """The camera dropped out: what was being judged is over; the reference stays."""
        self.active = self.pending = None
        self._previous = None

    def judge(self, now: Look) -> tuple[Cause | None, dict[str, float]]:
        assert self.layout is not None
        corr = float((now.layout * self.layout).sum())
        measures = {"contrast": round(now.contrast / max(self.contrast, 1e-6), 3),
                    "sharpness": round(now.sharpness / max(self.sharpness, 1e-6), 3),
                    "layout": round(corr, 3), "change": round(now.change, 3)}
        if now.change < FROZEN_DIFF:
            return "frozen", measures
        if now.contrast < max(3.0, self.covered_ratio * self.contrast):
            return "covered", measures
        if corr < self.moved_corr:
            return "moved", measures
        if now.sharpness < self.defocus_ratio * self.sharpness:
            return "defocused", measures
        return None, measures

    def _learn(self, now: Look, rate: float) -> None:
        self._looks += 1
        if self.layout is None or self.layout.shape != now.layout.shape or rate >= 1.0:
            self.contrast, self.sharpness, self.layout = now.contrast, now.sharpness, now.layout.copy()
            return
        self.contrast += rate * (now.contrast - self.contrast)
        self.sharpness += rate * (now.sharpness - self.sharpness)
        layout = self.layout + rate * (now.layout - self.layout)
        norm = float(np.linalg.norm(layout))
        self.layout = layout / norm if norm > 1e-6 else layout
