"""Events, their outbox messages, and hourly statistics in the database."""

from __future__ import annotations

import builtins  # annotations inside EventStore, where `list` is the method
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Insert, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from clearwatch.storage.database import Database
from clearwatch.storage.models import EventRecord, HourlyStat, OutboxMessage


def _dt(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


@dataclass
class Message:
    target: str
    topic: str
    payload: str
    retain: bool = False


@dataclass
class StatDelta:
    camera: str
    kind: str
    name: str
    hour: float  # epoch seconds of the hour's start
    running_s: float = 0.0
    idle_s: float = 0.0
    stopped_s: float = 0.0
    starts: int = 0
    stops: int = 0
    count_in: int = 0
    count_out: int = 0


def _queue_messages(s: Session, messages: Sequence[Message], now: datetime) -> None:
    """Add ``messages`` to the outbox in ``s``'s transaction."""
    if messages:
        s.execute(insert(OutboxMessage), [
            {"target": m.target, "topic": m.topic, "payload": m.payload, "retain": m.retain, "created_at": now,
             "attempts": 0, "next_attempt": 0.0, "status": "pending"} for m in messages])


def event_values(event: dict[str, Any], now: datetime) -> dict[str, Any]:
    """An event as analytics report it (``Event.as_dict``) → the columns of its row."""
    return {
        "camera": event["camera"], "kind": event["kind"], "label": event["label"],
        "start": _dt(event["start"]), "end": _dt(event.get("end")), "score": event.get("score", 0.0),
        "track_id": event.get("track_id"), "zones": event.get("zones", []),
        "crossings": event.get("crossings", []), "box": event.get("box"), "path": event.get("path", []),
        "snapshot": event.get("snapshot"), "identity": event.get("identity"),
        "identity_name": event.get("identity_name"), "similarity": event.get("similarity"),
        "face_snapshot": event.get("face_snapshot"), "clip_start": _dt(event.get("clip_start")),
        "clip_end": _dt(event.get("clip_end")), "data": event.get("data", {}), "updated_at": now,
    }


def _upsert(dialect: str) -> Insert | None:
    """One statement that stores an event's state whether or not it is stored already (``site`` and ``version``
    are the central node's and are left alone); None where the database has no such statement."""
    # exactly the columns event_values fills: a column it does not know keeps what is stored
    columns = list(event_values({"camera": "", "kind": "", "label": "", "start": 0.0}, datetime.now(UTC)))
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        lite = sqlite.insert(EventRecord)
        return lite.on_conflict_do_update(index_elements=["id"], set_={k: lite.excluded[k] for k in columns})
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        pg = postgresql.insert(EventRecord)
        return pg.on_conflict_do_update(index_elements=["id"], set_={k: pg.excluded[k] for k in columns})
    return None


class EventStore:
    def __init__(self, db: Database):
        self.db = db
        self._upsert = _upsert(db.dialect)

    def save(self, event: dict[str, Any], messages: Sequence[Message] = ()) -> None:
        """Store the event's current state and queue its messages in one transaction: both or neither. A camera
        stores every start, update and end as it happens, so this is one statement each, not an ORM load and
        flush (a third of the CPU of storing an update)."""
        now = datetime.now(UTC)
        values = event_values(event, now)
        with self.db.session() as s:
            if self._upsert is not None:
                s.execute(self._upsert, {"id": event["id"], **values})
            else:
                row = s.get(EventRecord, event["id"])
                if row is None:
                    s.add(EventRecord(id=event["id"], **values))
                else:
                    for k, v in values.items():
                        setattr(row, k, v)
            _queue_messages(s, messages, now)

    def get(self, event_id: str) -> EventRecord | None:
        with self.db.session() as s:
            return s.get(EventRecord, event_id)

    def list(self, camera: str | None = None, label: str | None = None, kind: str | None = None,
             start: datetime | None = None, end: datetime | None = None, limit: int = 100,
             identity: str | None = None) -> list[EventRecord]:
        """Newest first; one camera or all."""
        return self.query(cameras=[camera] if camera else None, label=label, kind=kind, identity=identity,
                          start=start, end=end, limit=limit)

    def query(self, *, cameras: builtins.list[str] | None = None, label: str | None = None, kind: str | None = None,
              zone: str | None = None, identity: str | None = None, start: datetime | None = None,
              end: datetime | None = None, limit: int = 50,
              sites: builtins.list[str] | None = None) -> builtins.list[EventRecord]:
        """Newest first, every filter optional; ``cameras`` None means all, ``sites`` None every site."""
        q = select(EventRecord)
        if cameras is not None:
            q = q.where(EventRecord.camera.in_(cameras))
        if sites is not None:
            q = q.where(EventRecord.site.in_(sites))
        for col, value in ((EventRecord.label, label), (EventRecord.kind, kind), (EventRecord.identity, identity)):
            if value:
                q = q.where(col == value)
        if start:
            q = q.where(EventRecord.start >= start)
        if end:
            q = q.where(EventRecord.start < end)
        if zone:
            if self.db.dialect == "postgresql":
                q = q.where(text("(events.zones)::jsonb ? :zone").bindparams(zone=zone))
            else:
                q = q.where(text("EXISTS (SELECT 1 FROM json_each(events.zones) WHERE json_each.value = :zone)")
                            .bindparams(zone=zone))
        with self.db.session() as s:
            return list(s.scalars(q.order_by(EventRecord.start.desc()).limit(limit)))

    def count(self, camera: str | None = None) -> int:
        q = select(func.count()).select_from(EventRecord)
        if camera:
            q = q.where(EventRecord.camera == camera)
        with self.db.session() as s:
            return int(s.scalar(q) or 0)

    def close_open(self, before: datetime) -> int:
        """Events left open by a process that died: end them where they were last updated."""
        with self.db.session() as s:
            rows = s.scalars(select(EventRecord).where(EventRecord.end.is_(None), EventRecord.updated_at < before))
            n = 0
            for row in rows:
                row.end = row.updated_at
                n += 1
            return n

    def plates(self, text: str, *, fuzzy: int = 0, cameras: Sequence[str] | None = None,
               start: datetime | None = None, end: datetime | None = None,
               limit: int = 100) -> builtins.list[tuple[EventRecord, int]]:
        """Plate reads matching ``text`` (wildcards ``*`` ``?``, or within ``fuzzy`` edits), newest first."""
        pattern = plate_pattern(text)
        if not pattern.strip("%_") and "%" not in pattern:
            return []
        q = select(EventRecord).where(EventRecord.kind == "plate")
        if cameras is not None:
            q = q.where(EventRecord.camera.in_(list(cameras)))
        if start:
            q = q.where(EventRecord.start >= start)
        if end:
            q = q.where(EventRecord.start < end)
        wildcard = "%" in pattern or "_" in pattern
        if wildcard or fuzzy == 0:  # the database matches these itself
            q = q.where(EventRecord.label.like(pattern) if wildcard else EventRecord.label == pattern)
            with self.db.session() as s:
                return [(r, 0) for r in s.scalars(q.order_by(EventRecord.start.desc()).limit(limit))]
        # fuzzy: the database narrows by length; the edit distance is computed here, streaming, since a near
        # miss may be older than any number of newer reads of that length
        n = len(pattern)
        q = q.where(func.length(EventRecord.label).between(n - fuzzy, n + fuzzy))
        out: builtins.list[tuple[EventRecord, int]] = []
        with self.db.session() as s:
            rows = s.scalars(q.order_by(EventRecord.start.desc()).execution_options(yield_per=2000))
            for batch in rows.partitions():
                out += within(batch, pattern, fuzzy)
                if len(out) >= limit:
                    break
        return out[:limit]

    def delete_before(self, cutoff: datetime, cameras: Sequence[str] | None = None,
                      exclude: Sequence[str] = ()) -> builtins.list[str]:
        """Delete ended events older than ``cutoff`` (of ``cameras`` only, or of every camera but ``exclude``);
        returns their snapshot paths for the caller to remove."""
        q = select(EventRecord.id, EventRecord.snapshot, EventRecord.face_snapshot).where(
            EventRecord.end.is_not(None), EventRecord.end < cutoff)
        if cameras is not None:
            q = q.where(EventRecord.camera.in_(list(cameras)))
        if exclude:
            q = q.where(EventRecord.camera.not_in(list(exclude)))
        with self.db.session() as s:
            rows = list(s.execute(q))
            if rows:
                s.execute(delete(EventRecord).where(EventRecord.id.in_([r.id for r in rows])))
            return [p for r in rows for p in (r.snapshot, r.face_snapshot) if p]



def plate_pattern(text: str) -> str:
    """A search text as a LIKE pattern over stored plates: capitals and digits, ``*`` any run, ``?`` one."""
    keep = "".join(c for c in text.upper() if (c.isascii() and c.isalnum()) or c in "*?")
    return keep.replace("*", "%").replace("?", "_")


def within(rows: Iterable[EventRecord], plate: str, fuzzy: int) -> list[tuple[EventRecord, int]]:
    """``rows`` whose plate is within ``fuzzy`` edits of ``plate``, with the distance."""
    from clearwatch.plates.lists import edit_distance

    out = []
    for r in rows:
        d = edit_distance(plate, r.label, fuzzy)
        if d <= fuzzy:
            out.append((r, d))
    return out


class OutboxStore:
    def __init__(self, db: Database):
        self.db = db

    def add(self, messages: Sequence[Message]) -> None:
        """Queue messages that belong to no event (machine states, counter totals)."""
        with self.db.session() as s:
            _queue_messages(s, messages, datetime.now(UTC))

    def ready(self, target: str, now: float, limit: int = 100) -> list[OutboxMessage]:
        """The oldest pending messages of ``target``, in order, if the first one is due."""
        with self.db.session() as s:
            rows = list(s.scalars(select(OutboxMessage)
                                  .where(OutboxMessage.target == target, OutboxMessage.status == "pending")
                                  .order_by(OutboxMessage.id).limit(limit)))
        if rows and rows[0].next_attempt > now:
            return []
        return rows

    def next_due(self, target: str) -> float | None:
        with self.db.session() as s:
            return s.scalar(select(OutboxMessage.next_attempt)
                            .where(OutboxMessage.target == target, OutboxMessage.status == "pending")
                            .order_by(OutboxMessage.id).limit(1))

    def delivered(self, ids: Iterable[int]) -> None:
        ids = list(ids)
        if ids:
            with self.db.session() as s:
                s.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(ids)))

    def retry_later(self, msg_id: int, error: str, at: float) -> None:
        with self.db.session() as s:
            s.execute(update(OutboxMessage).where(OutboxMessage.id == msg_id).values(
                attempts=OutboxMessage.attempts + 1, next_attempt=at, last_error=error[:2000]))

    def give_up(self, msg_id: int, error: str) -> None:
        """A permanent refusal: keep the message (nothing is silently lost) but stop retrying it."""
        with self.db.session() as s:
            s.execute(update(OutboxMessage).where(OutboxMessage.id == msg_id).values(
                attempts=OutboxMessage.attempts + 1, status="failed", last_error=error[:2000]))

    def counts(self) -> dict[tuple[str, str], int]:
        with self.db.session() as s:
            rows = s.execute(select(OutboxMessage.target, OutboxMessage.status, func.count())
                             .group_by(OutboxMessage.target, OutboxMessage.status))
            return {(r[0], r[1]): r[2] for r in rows}


STAT_FIELDS = ("running_s", "idle_s", "stopped_s", "starts", "stops", "count_in", "count_out")


class StatsStore:
    def __init__(self, db: Database):
        self.db = db

    def add(self, deltas: Iterable[StatDelta]) -> None:
        with self.db.session() as s:
            for d in deltas:
                hour = datetime.fromtimestamp(d.hour, UTC)
                row = s.scalar(select(HourlyStat).where(
                    HourlyStat.camera == d.camera, HourlyStat.kind == d.kind, HourlyStat.name == d.name,
                    HourlyStat.hour == hour))
                if row is None:
                    row = HourlyStat(camera=d.camera, kind=d.kind, name=d.name, hour=hour,
                                     **dict.fromkeys(STAT_FIELDS, 0))
                    s.add(row)
                for f in STAT_FIELDS:
                    setattr(row, f, (getattr(row, f) or 0) + getattr(d, f))

    def hours(self, camera: str | None = None, name: str | None = None, kind: str | None = None,
              start: datetime | None = None, end: datetime | None = None) -> list[HourlyStat]:
        q = select(HourlyStat)
        if camera:
            q = q.where(HourlyStat.camera == camera)
        if name:
            q = q.where(HourlyStat.name == name)
        if kind:
            q = q.where(HourlyStat.kind == kind)
        if start:
            q = q.where(HourlyStat.hour >= start)
        if end:
            q = q.where(HourlyStat.hour < end)
        with self.db.session() as s:
            return list(s.scalars(q.order_by(HourlyStat.hour, HourlyStat.camera, HourlyStat.name)))
