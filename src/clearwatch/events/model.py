"""What analytics report: events with a lifecycle (start, update, end)."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal

EventType = Literal["start", "update", "end"]


def new_event_id() -> str:
    return uuid.uuid4().hex


@dataclass
class Event:
    camera: str
    kind: str  # object | loitering | machine | plate | alert | tamper | left | removed
    label: str
    start: float  # wall clock, seconds since the epoch
    id: str = field(default_factory=new_event_id)
    end: float | None = None
    score: float = 0.0
    track_id: int | None = None
    zones: list[str] = field(default_factory=list)
    crossings: list[dict[str, Any]] = field(default_factory=list)
    box: list[float] | None = None  # last box, fractions of the frame (x1, y1, x2, y2)
    path: list[tuple[float, float, float]] = field(default_factory=list)  # (time, x, y) fractions
    snapshot: str | None = None  # path relative to the snapshots folder
    identity: str | None = None  # an enrolled person's id, when recognised
    identity_name: str | None = None
    similarity: float | None = None
    face_snapshot: str | None = None  # path relative to the snapshots folder
    clip_start: float | None = None
    clip_end: float | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The event as it is now, detached from the live one (which analytics go on changing). Copied by hand:
        ``dataclasses.asdict`` walks every point of the path and was most of the cost of storing an update."""
        d = {name: getattr(self, name) for name in _EVENT_FIELDS}
        d["zones"] = list(self.zones)
        d["crossings"] = [dict(c) for c in self.crossings]
        d["box"] = None if self.box is None else list(self.box)
        d["path"] = [list(p) for p in self.path]
        d["data"] = copy.deepcopy(self.data)
        return d


_EVENT_FIELDS = tuple(f.name for f in fields(Event))


def snapshot_name(event: Event, suffix: str = "") -> str:
    """Where an event's picture goes under the snapshots folder (``suffix`` for its other pictures: a face, a
    plate): by camera and day, or by camera alone for a file analysed in seconds from its start."""
    if event.start < 1e9:  # times relative to a file being analysed, not wall-clock
        return f"{event.camera}/{event.id}{suffix}.jpg"
    day = datetime.fromtimestamp(event.start, UTC).strftime("%Y-%m-%d")
    return f"{event.camera}/{day}/{event.id}{suffix}.jpg"


@dataclass
class EventUpdate:
    type: EventType
    event: Event
    files: dict[str, bytes] = field(default_factory=dict)  # more images to store (path → JPEG), e.g. the face


@dataclass
class CounterDelta:
    camera: str
    name: str
    time: float
    count_in: int
    count_out: int
    total_in: int
    total_out: int
