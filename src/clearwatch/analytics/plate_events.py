"""Plate decisions as events: one ``plate`` event per vehicle pass (with its snapshots), and an ``alert`` for
each plate list it matches. Kept apart from the pipeline so the pipeline only decides when to look."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

import numpy as np

from clearwatch.analytics.tracking import Track, render_snapshot
from clearwatch.config.analytics import LineConfig
from clearwatch.events.model import Event, snapshot_name

if TYPE_CHECKING:
    from clearwatch.plates.lists import ListEntry
    from clearwatch.plates.watch import PlateDecision


class PlateLooker(Protocol):
    """Plate reading (``plates.PlateWatcher``), behind a protocol like face recognition."""

    def look(self, track_id: int, label: str, image: np.ndarray, box: np.ndarray, t: float) -> None: ...
    def finish(self, track_id: int) -> PlateDecision | None: ...
    def look_frame(self, image: np.ndarray, t: float, moving: np.ndarray) -> list[PlateDecision]: ...
    def finish_all(self) -> list[PlateDecision]: ...
    @property
    def pending(self) -> bool: ...


def side(line: LineConfig, size: tuple[int, int], box: tuple[float, float, float, float]) -> float:
    """> 0 on the line's 'in' side (right of point 1 → point 2 as seen on screen), < 0 on its 'out' side."""
    (ax, ay), (bx, by) = ((x * (size[0] - 1), y * (size[1] - 1)) for x, y in line.points)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)


def plate_events(camera: str, decision: PlateDecision, *, track: Track | None, direction: str | None,
                 pre_roll: float, post_roll: float, snapshots: bool,
                 lists: Callable[[], list[ListEntry]] | None, fuzzy: int
                 ) -> list[tuple[Event, bytes | None, dict[str, bytes]]]:
    """The plate event, then one alert per list hit: (event, snapshot, more files) each, all already ended."""
    from clearwatch.plates.lists import match

    ev = Event(camera, "plate", decision.text, decision.first, end=decision.last, score=decision.confidence,
               track_id=track.id if track is not None else None, clip_start=decision.first - pre_roll,
               clip_end=decision.last + post_roll)
    snap: bytes | None = None
    files: dict[str, bytes] = {}
    if snapshots:
        snap = render_snapshot(track, track.label) if track is not None else decision.frame_jpeg
        ev.snapshot = snapshot_name(ev) if snap is not None else None
        plate_name = snapshot_name(ev, "-plate")
        if decision.plate_jpeg is not None:
            files[plate_name] = decision.plate_jpeg
            ev.data["plate_snapshot"] = plate_name
    if track is not None:
        ev.path = list(track.path)
    hits = match(decision.text, lists(), datetime.fromtimestamp(decision.last, UTC), fuzzy) if lists else []
    ev.data.update({
        "plate": decision.text, "confidence": round(decision.confidence, 4),
        "chars": [round(c, 4) for c in decision.char_confidences], "format": decision.format,
        "verified": decision.format is not None, "vehicle": decision.vehicle, "colour": decision.colour,
        "direction": direction, "reads": decision.reads, "lists": sorted({h.entry.list for h in hits}),
    })
    out: list[tuple[Event, bytes | None, dict[str, bytes]]] = [(ev, snap, files)]
    for h in hits:
        e = h.entry
        alert = Event(camera, "alert", e.list, decision.last, end=decision.last, score=decision.confidence,
                      track_id=ev.track_id, snapshot=ev.snapshot, clip_start=ev.clip_start, clip_end=ev.clip_end,
                      data={"plate": decision.text, "list": e.list, "list_kind": e.kind, "listed": e.plate,
                            "distance": h.distance, "note": e.note, "event": ev.id,
                            "plate_snapshot": ev.data.get("plate_snapshot")})
        out.append((alert, None, {}))
    return out
