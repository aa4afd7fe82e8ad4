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
    sites: set[str] = field(default_factory=set)
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (site, event id, update type) applied


def _event_id(msg: Incoming) -> str | None:
    """The event a message is about, for the batch's one lookup (a message that does not parse is refused later)."""
    if not msg.subject.endswith(".event"):
        return None
    try:
        return str(json.loads(msg.data)["event"]["id"])
    except (ValueError, KeyError, TypeError):
        return None


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
        self._known: dict[str, tuple[str | None, int | None]] = {}  # this batch's events: id → (site, version)
        self._new: dict[str, dict[str, Any]] = {}

    def apply(self, batch: Sequence[Incoming]) -> Applied:
        out = Applied()
        now = datetime.now(UTC)
        with self.db.session() as s:
            rows = {r.name: r for r in s.scalars(select(FedSite))}
            # one query for the batch's events that exist already, one insert for those that do not
            ids = [i for i in (_event_id(m) for m in batch) if i]
            self._known = {r.id: (r.site, r.version) for r in s.execute(
                select(EventRecord.id, EventRecord.site, EventRecord.version).where(EventRecord.id.in_(ids)))}
            self._new = {}
            for msg in batch:
                self._one(s, msg, rows, out, now)
            if self._new:
                s.execute(insert(EventRecord), list(self._new.values()))
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

    def _one(self, s: Session, msg: Incoming, rows: dict[str, FedSite], out: Applied, now: datetime) -> None:
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
            body = json.loads(msg.data)
            version = seq
            if not isinstance(body, dict) or body.get("site") != site:
                raise ValueError(f"the message names site {body.get('site') if isinstance(body, dict) else None!r}")
            ok = self._kind(s, site, where.kind, version, body, now, out)
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            log.warning("rejected %s (sequence %d): %s", msg.subject, seq, exc)
            ok = False
        if ok:
            row.applied += 1
            out.applied += 1
            out.sites.add(site)
            if where.kind == "event":
                row.last_event_at = now
        else:
            row.rejected += 1
            out.rejected += 1

    def _kind(self, s: Session, site: str, kind: str, version: int, body: dict[str, Any], now: datetime,
              out: Applied) -> bool:
        if kind == "event":
            return self._event(s, site, version, body, now, out)
        if kind == "alarm":
            return self._alarm(s, site, body["alarm"])
        if kind == "snapshot":
            return self._snapshot(site, body)
        if kind in RECORD_KINDS:
            key = str(body["key"])[:128]
            rec = s.scalar(select(FedRecord).where(FedRecord.site == site, FedRecord.kind == kind,
                                                   FedRecord.key == key))
            if rec is None:
                s.add(FedRecord(site=site, kind=kind, key=key, version=version, body=body, received_at=now))
            elif version > rec.version:
                rec.version, rec.body, rec.received_at = version, body, now
            if kind == "health":
                site_row = s.get(FedSite, site)
                if site_row is not None:
                    site_row.health = body
            return True
        raise ValueError(f"unknown kind {kind!r}")

    def _event(self, s: Session, site: str, version: int, body: dict[str, Any], now: datetime,
               out: Applied) -> bool:
        ev = body["event"]
        values = event_values(ev, now)
        values["snapshot"] = _site_path(site, values["snapshot"])
        values["face_snapshot"] = _site_path(site, values["face_snapshot"])
        data = dict(values["data"] or {})
        for key in ("plate_snapshot",):
            if isinstance(data.get(key), str):
                data[key] = _site_path(site, data[key])
        values["data"] = data
        eid = str(ev["id"])
        known = self._known.get(eid)
        if known is None:
            self._new[eid] = {"id": eid, "site": site, "version": version, **values}
            self._known[eid] = (site, version)
        elif known[0] != site:
            raise ValueError(f"event {eid} belongs to site {known[0]!r}")
        elif (known[1] or 0) >= version:
            return True  # an older state of it than the one we have
        elif eid in self._new:  # first seen in this batch: the insert carries its latest state
            self._new[eid] = {"id": eid, "site": site, "version": version, **values}
            self._known[eid] = (site, version)
        else:
            s.execute(update(EventRecord).where(EventRecord.id == eid).values(version=version, **values))
            self._known[eid] = (site, version)
        out.events.append((site, str(ev["id"]), str(body.get("type"))))
        return True

    def _alarm(self, s: Session, site: str, alarm: dict[str, Any]) -> bool:
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
        return True

    def _snapshot(self, site: str, body: dict[str, Any]) -> bool:
        rel = safe_relative(str(body["path"]))
        if rel is None:
            raise ValueError(f"picture path {body['path']!r} leaves the site's folder")
        data = base64.b64decode(body["jpeg"], validate=True)
        from clearwatch.events.service import write_atomic

        write_atomic(self.snapshots_dir / "sites" / site / rel, data)
        return True
