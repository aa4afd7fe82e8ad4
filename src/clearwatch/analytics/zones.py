"""Zones (where a tracked object is), lines (which way it crossed) and loitering (how long it stayed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import supervision as sv

from clearwatch.analytics.tracking import Track
from clearwatch.config.analytics import LineConfig, ZoneConfig

ANCHOR = sv.Position.BOTTOM_CENTER  # where a person stands or a car touches the road


def _pixels(points: list[tuple[float, float]], size: tuple[int, int]) -> np.ndarray:
    return np.round(np.array(points, np.float64) * [size[0] - 1, size[1] - 1]).astype(np.int32)


def _as_sv(tracks: list[Track], labels: tuple[str, ...]) -> sv.Detections:
    return sv.Detections(
        xyxy=np.array([t.box for t in tracks], np.float32).reshape(-1, 4),
        tracker_id=np.array([t.id for t in tracks], int),
        class_id=np.array([labels.index(t.label) if t.label in labels else -1 for t in tracks], int),
    )


@dataclass
class Crossing:
    line: str
    direction: str  # 'in': from the right of point1→point2 (as seen on screen) to its left; 'out': back
    track: Track
    time: float


@dataclass
class LoiterChange:
    zone: str
    track: Track
    started: bool  # True: dwell passed the limit; False: the loiterer left
    since: float
    time: float


class ZoneWatcher:
    def __init__(self, zones: dict[str, ZoneConfig], lines: dict[str, LineConfig], frame_size: tuple[int, int],
                 labels: tuple[str, ...]):
        self.labels = labels
        self.zone_cfg = zones
        self.line_cfg = lines
        self._zones = {n: sv.PolygonZone(_pixels(z.points, frame_size), triggering_anchors=(ANCHOR,))
                       for n, z in zones.items()}
        self._lines = {n: sv.LineZone(sv.Point(*_pixels(ln.points, frame_size)[0].tolist()),
                                      sv.Point(*_pixels(ln.points, frame_size)[1].tolist()),
                                      triggering_anchors=(ANCHOR,), minimum_crossing_threshold=1)
                       for n, ln in lines.items()}
        self.inside: dict[int, dict[str, float]] = {}  # track id → zone → entered at
        self._loitering: set[tuple[int, str]] = set()
        self.counts: dict[str, dict[str, int]] = {n: {"in": 0, "out": 0} for n in lines}

    def update(self, seen: list[Track], ended: list[Track], t: float) -> tuple[list[Crossing], list[LoiterChange]]:
        crossings: list[Crossing] = []
        loiter: list[LoiterChange] = []
        if seen and (self._zones or self._lines):
            dets = _as_sv(seen, self.labels)
            for name, zone in self._zones.items():
                cfg = self.zone_cfg[name]
                hit = zone.trigger(dets)
                for tr, inside in zip(seen, hit, strict=True):
                    inside = bool(inside) and (not cfg.objects or tr.label in cfg.objects)
                    zones = self.inside.setdefault(tr.id, {})
                    if inside and name not in zones:
                        zones[name] = t
                    elif not inside and name in zones:
                        since = zones.pop(name)
                        if (tr.id, name) in self._loitering:
                            self._loitering.discard((tr.id, name))
                            loiter.append(LoiterChange(name, tr, False, since, t))
                    if inside and cfg.loiter is not None and (tr.id, name) not in self._loitering \
                            and t - zones[name] >= cfg.loiter:
                        self._loitering.add((tr.id, name))
                        loiter.append(LoiterChange(name, tr, True, zones[name], t))
            for name, line in self._lines.items():
                line_cfg = self.line_cfg[name]
                crossed_in, crossed_out = line.trigger(dets)
                for tr, i, o in zip(seen, crossed_in, crossed_out, strict=True):
                    if (i or o) and (not line_cfg.objects or tr.label in line_cfg.objects):
                        direction = "in" if i else "out"
                        self.counts[name][direction] += 1
                        crossings.append(Crossing(name, direction, tr, t))
        for tr in ended:
            for name, since in self.inside.pop(tr.id, {}).items():
                if (tr.id, name) in self._loitering:
                    self._loitering.discard((tr.id, name))
                    loiter.append(LoiterChange(name, tr, False, since, tr.last))
        return crossings, loiter

    def zones_of(self, track_id: int) -> list[str]:
        return sorted(self.inside.get(track_id, {}))
