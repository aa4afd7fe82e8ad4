"""Machines and production lines: is it running, for how long, and how many items went by.

A machine is an area of the picture whose frame-to-frame change means it runs. States change with
hysteresis (separate on/off levels and minimum durations) and are back-dated to when the change really
happened, so uptime stays exact despite the confirmation delays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from clearwatch.analytics.motion import Motion, polygon_mask
from clearwatch.config.analytics import MachineConfig

STATES = ("running", "idle", "stopped")


@dataclass
class Transition:
    machine: str
    state: str
    previous: str | None
    at: float  # when it really happened (back-dated)
    decided: float  # when the evidence was complete


@dataclass
class HourStats:
    """Seconds per state, starts/stops, and counted items, per (name, hour start)."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STATES, 0.0))
    starts: int = 0
    stops: int = 0
    count_in: int = 0
    count_out: int = 0


class StatsBook:
    """Hourly buckets waiting to be added to the database."""

    def __init__(self) -> None:
        self.pending: dict[tuple[str, str, float], HourStats] = {}

    def bucket(self, kind: str, name: str, t: float) -> HourStats:
        key = (kind, name, t - t % 3600)
        if key not in self.pending:
            self.pending[key] = HourStats()
        return self.pending[key]

    def add_time(self, name: str, state: str, start: float, end: float, sign: float = 1.0) -> None:
        while end > start:
            part = min(end, start - start % 3600 + 3600)
            self.bucket("machine", name, start).seconds[state] += sign * (part - start)
            start = part

    def drain(self) -> dict[tuple[str, str, float], HourStats]:
        out, self.pending = self.pending, {}
        return out


class MachineMonitor:
    def __init__(self, name: str, cfg: MachineConfig, motion_size: tuple[int, int], book: StatsBook):
        self.name = name
        self.cfg = cfg
        self.book = book
        self.mask = polygon_mask([cfg.points], *motion_size).astype(bool)
        self.area = max(1, int(self.mask.sum()))
        self.off_level = cfg.off_level if cfg.off_level is not None else cfg.on_level / 2
        self.state: str | None = None
        self.since: float | None = None  # start of the current state
        self.accounted: float | None = None  # stats are booked up to here
        self.first: float | None = None
        self.run_candidate: float | None = None
        self.last_active: float | None = None
        self.activity = 0.0
        self.totals: dict[str, float] = dict.fromkeys(STATES, 0.0)
        self.starts = 0
        self.stops = 0

    def update(self, motion: Motion, t: float) -> list[Transition]:
        if self.first is None:
            self.first = t
        if motion.previous is None:
            return []
        diff = cv2.absdiff(motion.grey, motion.previous)
        self.activity = float(np.count_nonzero(diff[self.mask] > self.cfg.threshold)) / self.area
        level = self.off_level if self.state == "running" else self.cfg.on_level
        out: list[Transition] = []
        if self.activity >= level:
            if self.run_candidate is None:
                self.run_candidate = t
            self.last_active = t
            if self.state != "running" and t - self.run_candidate >= self.cfg.start_after:
                out.append(self._change("running", self.run_candidate, t))
        else:
            self.run_candidate = None
            still_since = self.last_active if self.last_active is not None else self.first
            if self.state in (None, "running") and t - still_since >= self.cfg.idle_after:
                out.append(self._change("idle", still_since, t))
            if self.state == "idle" and t - still_since >= self.cfg.stop_after:
                out.append(self._change("stopped", still_since + self.cfg.stop_after, t))
        self._book(t)
        return out

    def _add(self, state: str, start: float, end: float, sign: float = 1.0) -> None:
        self.totals[state] += sign * (end - start)
        self.book.add_time(self.name, state, start, end, sign)

    def _change(self, state: str, at: float, decided: float) -> Transition:
        previous = self.state
        if previous is not None and self.since is not None and self.accounted is not None:
            at = max(at, self.since)
            if self.accounted > at:
                # time already booked to the old state after the real change moves to the new one (below)
                self._add(previous, at, self.accounted, -1.0)
            else:
                self._add(previous, self.accounted, at)
        self.accounted = at
        self.state, self.since = state, at
        if state == "running":
            self.starts += 1
            self.book.bucket("machine", self.name, at).starts += 1
        elif previous == "running":
            self.stops += 1
            self.book.bucket("machine", self.name, at).stops += 1
        return Transition(self.name, state, previous, at, decided)

    def _book(self, t: float) -> None:
        if self.state is not None and self.accounted is not None and t > self.accounted:
            self._add(self.state, self.accounted, t)
            self.accounted = t

    def snapshot(self) -> dict[str, object]:
        return {"state": self.state or "unknown", "since": self.since, "activity": round(self.activity, 4),
                "uptime": round(self.totals["running"], 2), "starts": self.starts, "stops": self.stops}
