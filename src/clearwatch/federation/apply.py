"""The central node's side of the stream: what sites sent, applied to the central database idempotently.

Every message arrives with the site stream's own sequence number (the central server's ``Nats-Stream-Source``
header), which orders everything a site said. A message at or below the sequence already applied for its site is
a repeat and changes nothing; a row keeps the sequence that wrote it (its version) and is only ever replaced by a
later one; a batch is one transaction with the sequence it reaches, so a crash between committing and
acknowledging replays the batch harmlessly.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from clearwatch.federation.subjects import SOURCE, parse_site_subject, parse_source, site_stream
from clearwatch.storage import Database
from clearwatch.storage.events import event_values
from clearwatch.storage.models import Alarm, EventRecord, FedRecord, FedSite, Setting
from clearwatch.storage.types import UTCDateTime

log = logging.getLogger(__name__)
RECORD_KINDS = ("health", "checkpoint", "receipt")
ALARM_TIMES = [c.name for c in Alarm.__table__.columns if isinstance(c.type, UTCDateTime)]


POSITION = "federation.central_seq"  # the central stream's sequence applied last, kept with what it applied


@dataclass(frozen=True)
class Incoming:
    subject: str
    headers: dict[str, str]
    data: bytes
    position: int = 0  # its sequence in the central stream


@dataclass
class Applied:
    applied: int = 0
    duplicates: int = 0
    rejected: int = 0
    gaps: int = 0


@dataclass
class _Batch:
    """One transaction's view of the events it touches: one query for those that exist, one insert for the rest."""

    known: dict[str, tuple[str | None, int | None]]  # event id → (site, version) in the database or this batch
    new: dict[str, dict[str, Any]] = field(default_factory=dict)  # rows to insert, at their latest state


def _parse(msg: Incoming) -> dict[str, Any] | ValueError:
    try:
        body = json.loads(msg.data)
    except ValueError as exc:
        return exc
    return body if isinstance(body, dict) else ValueError("the message is not a JSON object")


def _event_id(msg: Incoming, body: dict[str, Any] | ValueError) -> str | None:
    if not msg.subject.endswith(".event") or isinstance(body, ValueError):
        return None
    ev = body.get("event")
    return str(ev["id"]) if isinstance(ev, dict) and "id" in ev else None


def safe_relative(path: str) -> PurePosixPath | None:
    """A picture's path as a site names it, if it stays inside the site's folder."""
    p = PurePosixPath(path)
    if p.is_absolute() or not p.parts or any(part in ("", ".", "..") for part in p.parts):
        return None
    return p


def _site_path(site: str, rel: str | None) -> str | None:
    if not rel or safe_relative(rel) is None:
        return None
    return f"sites/{site}/{rel}"


class Applier:
    def __init__(self, db: Database, snapshots_dir: Path, sites: Sequence[str]):
        self.db = db
        self.snapshots_dir = snapshots_dir
        self.sites = set(sites)

    def apply(self, batch: Sequence[Incoming]) -> Applied:
        out = Applied()
        now = datetime.now(UTC)
        bodies = [_parse(m) for m in batch]
        with self.db.session() as s:
            rows = {r.name: r for r in s.scalars(select(FedSite))}
            ids = [i for i in (_event_id(m, b) for m, b in zip(batch, bodies, strict=True)) if i]
            events = _Batch({r.id: (r.site, r.version) for r in s.execute(
                select(EventRecord.id, EventRecord.site, EventRecord.version).where(EventRecord.id.in_(ids)))})
            for msg, body in zip(batch, bodies, strict=True):
                self._one(s, msg, body, rows, events, out, now)
            if events.new:
                s.execute(insert(EventRecord), list(events.new.values()))
            last = max((m.position for m in batch), default=0)
            if last:
                pos = s.get(Setting, POSITION)
                if pos is None:
                    s.add(Setting(key=POSITION, value=str(last)))
                elif int(pos.value) < last:
                    pos.value = str(last)
        return out

    def position(self) -> int:
        """Where applying stopped: the central stream's sequence of the last message committed."""
        with self.db.session() as s:
            pos = s.get(Setting, POSITION)
            return int(pos.value) if pos is not None else 0

    def _one(self, s: Session, msg: Incoming, body: dict[str, Any] | ValueError, rows: dict[str, FedSite],
             events: _Batch, out: Applied, now: datetime) -> None:
        where = parse_site_subject(msg.subject)
        source = parse_source(msg.headers.get(SOURCE))
        if where is None or where.site not in self.sites or source is None or source[0] != site_stream(where.site):
            out.rejected += 1
            log.warning("rejected %s from %s: not a configured site's own stream", msg.subject,
                        source[0] if source else "nowhere")
            return
        site = where.site
        row = rows.get(site)
        if row is None:
            row = rows[site] = FedSite(name=site, last_seq=0, applied=0, duplicates=0, gaps=0, rejected=0,
                                       link_up=False)
            s.add(row)
        seq = source[1]
        if seq <= row.last_seq:
            row.duplicates += 1
            out.duplicates += 1
            return
        if seq > row.last_seq + 1:
            missing = seq - row.last_seq - 1
            row.gaps += missing
            out.gaps += missing
            log.warning("site %s: %d message(s) before sequence %d never arrived (the site's stream lost them: an "
                        "outage longer than its max_age, or a purge)", site, missing, seq)
        row.last_seq = seq
        row.last_message_at = now
        try:
            if isinstance(body, ValueError):
                raise body
            if body.get("site") != site:
                raise ValueError(f"the message names site {body.get('site')!r}")
            self._kind(s, row, where.kind, seq, body, events, now)
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            log.warning("rejected %s (sequence %d): %s", msg.subject, seq, exc)
            row.rejected += 1
            out.rejected += 1
            return
        row.applied += 1
        out.applied += 1
        if where.kind == "event":
            row.last_event_at = now

    def _kind(self, s: Session, row: FedSite, kind: str, seq: int, body: dict[str, Any], events: _Batch,
              now: datetime) -> None:
        """Apply one message of ``kind``; its site-stream sequence is the version of what it writes."""
        site = row.name
        if kind == "event":
            self._event(s, site, seq, body["event"], events, now)
        elif kind == "alarm":
            self._alarm(s, site, body["alarm"])
        elif kind == "snapshot":
            self._snapshot(site, body)
        elif kind in RECORD_KINDS:
            key = str(body["key"])[:128]
            rec = s.scalar(select(FedRecord).where(FedRecord.site == site, FedRecord.kind == kind,
                                                   FedRecord.key == key))
            if rec is None:
                s.add(FedRecord(site=site, kind=kind, key=key, version=seq, body=body, received_at=now))
            elif seq > rec.version:
                rec.version, rec.body, rec.received_at = seq, body, now
            if kind == "health":
                row.health = body
        else:
            raise ValueError(f"unknown kind {kind!r}")

    def _event(self, s: Session, site: str, version: int, ev: dict[str, Any], events: _Batch, now: datetime) -> None:
        values = event_values(ev, now)
        values["snapshot"] = _site_path(site, values["snapshot"])
        values["face_snapshot"] = _site_path(site, values["face_snapshot"])
        data = dict(values["data"] or {})
        if isinstance(data.get("plate_snapshot"), str):
            data["plate_snapshot"] = _site_path(site, data["plate_snapshot"])
        values["data"] = data
        eid = str(ev["id"])
        known = events.known.get(eid)
        if known is not None and known[0] != site:
            raise ValueError(f"event {eid} belongs to site {known[0]!r}")
        if known is not None and (known[1] or 0) >= version:
            return  # an older state of it than the one we have
        if known is None or eid in events.new:  # the batch's insert carries its latest state
            events.new[eid] = {"id": eid, "site": site, "version": version, **values}
        else:
            s.execute(update(EventRecord).where(EventRecord.id == eid).values(version=version, **values))
        events.known[eid] = (site, version)
    def _alarm(self, s: Session, site: str, alarm: dict[str, Any]) -> None:
        values = {k: v for k, v in alarm.items() if k in Alarm.__table__.columns}
        for k in ALARM_TIMES:
            if isinstance(values.get(k), str):
                values[k] = datetime.fromisoformat(values[k])
        values["snapshot"] = _site_path(site, values.get("snapshot"))
        values["site"] = site
        row = s.get(Alarm, values["id"])
        if row is None:
            s.add(Alarm(**values))
        elif row.site != site:
            raise ValueError(f"alarm {values['id']} belongs to site {row.site!r}")
        else:
            for k, v in values.items():
                setattr(row, k, v)

    def _snapshot(self, site: str, body: dict[str, Any]) -> None:
        rel = safe_relative(str(body["path"]))
        if rel is None:
            raise ValueError(f"picture path {body['path']!r} leaves the site's folder")
        data = base64.b64decode(body["jpeg"], validate=True)
        from clearwatch.events.service import write_atomic

        write_atomic(self.snapshots_dir / "sites" / site / rel, data)
