"""Zones, line crossings and loitering on made-up tracks: no video, no model."""

from __future__ import annotations

import numpy as np

from clearwatch.analytics.tracking import Track
from clearwatch.analytics.zones import ZoneWatcher
from clearwatch.config.analytics import LineConfig, ZoneConfig

SIZE = (100, 100)
LABELS = ("person", "car")


def person(track_id: int, x: float, y: float, t: float = 0.0, label: str = "person") -> Track:
    """A 10x20 box whose bottom centre (where a person stands) is at (x, y) pixels."""
    tr = Track(track_id, t, t, np.array([x - 5, y - 20, x + 5, y], np.float32))
    tr.votes[label] = 1.0
    return tr


def walk(watcher: ZoneWatcher, tr: Track, points: list[tuple[float, float]], t0: float = 0.0, dt: float = 1.0):
    crossings, changes = [], []
    for k, (x, y) in enumerate(points):
        tr.box = np.array([x - 5, y - 20, x + 5, y], np.float32)
        tr.last = t0 + k * dt
        c, lc = watcher.update([tr], [], tr.last)
        crossings += c
        changes += lc
    return crossings, changes


def test_a_track_is_in_a_zone_by_where_it_stands() -> None:
    left = ZoneConfig(points=[(0, 0), (0.5, 0), (0.5, 1), (0, 1)])
    w = ZoneWatcher({"left": left}, {}, SIZE, LABELS)
    a, b = person(1, 20, 60), person(2, 80, 60)
    w.update([a, b], [], 0.0)
    assert w.zones_of(1) == ["left"] and w.zones_of(2) == []


def test_zone_for_cars_ignores_people() -> None:
    lot = ZoneConfig(points=[(0, 0), (1, 0), (1, 1), (0, 1)], objects=["car"])
    w = ZoneWatcher({"lot": lot}, {}, SIZE, LABELS)
    w.update([person(1, 50, 50), person(2, 50, 50, label="car")], [], 0.0)
    assert w.zones_of(1) == [] and w.zones_of(2) == ["lot"]


def test_line_crossings_are_counted_once_each_way() -> None:
    # a vertical line down the middle, drawn top to bottom: its right side (facing along it) is the screen's
    # left, so walking left → right is 'in'
    line = LineConfig(points=[(0.5, 0.0), (0.5, 1.0)])
    w = ZoneWatcher({}, {"door": line}, SIZE, LABELS)
    tr = person(1, 20, 60)
    crossings, _ = walk(w, tr, [(20, 60), (40, 60), (60, 60), (80, 60)])
    assert [c.direction for c in crossings] == ["in"]
    crossings, _ = walk(w, tr, [(60, 60), (40, 60), (20, 60)], t0=10)
    assert [c.direction for c in crossings] == ["out"]
    assert w.counts["door"] == {"in": 1, "out": 1}


def test_standing_near_a_line_without_crossing_counts_nothing() -> None:
    w = ZoneWatcher({}, {"door": LineConfig(points=[(0.5, 0.0), (0.5, 1.0)])}, SIZE, LABELS)
    walk(w, person(1, 70, 60), [(70, 60), (60, 60), (55, 60), (60, 60), (70, 60)])
    assert w.counts["door"] == {"in": 0, "out": 0}


def test_loitering_starts_after_the_dwell_and_ends_when_the_track_leaves() -> None:
    zone = ZoneConfig(points=[(0, 0), (0.5, 0), (0.5, 1), (0, 1)], loiter=5.0)
    w = ZoneWatcher({"gate": zone}, {}, SIZE, LABELS)
    tr = person(1, 20, 60)
    _, changes = walk(w, tr, [(20, 60)] * 5)  # 0..4 s: under the limit
    assert changes == []
    _, changes = walk(w, tr, [(22, 60)] * 2, t0=5)  # 5 s in the zone
    assert [(c.zone, c.started, c.since) for c in changes] == [("gate", True, 0.0)]
    _, changes = walk(w, tr, [(80, 60)], t0=8)
    assert [(c.started, c.since, c.time) for c in changes] == [(False, 0.0, 8.0)]


def test_an_ended_track_ends_its_loitering() -> None:
    zone = ZoneConfig(points=[(0, 0), (1, 0), (1, 1), (0, 1)], loiter=1.0)
    w = ZoneWatcher({"yard": zone}, {}, SIZE, LABELS)
    tr = person(1, 50, 50)
    walk(w, tr, [(50, 50)] * 3)
    _, changes = w.update([], [tr], 3.0)
    assert [(c.started, c.time) for c in changes] == [(False, tr.last)]
    assert w.zones_of(1) == []
