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
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, cast

import orjson
from sqlalchemy import ARRAY, JSON, ColumnElement, String, Table, any_, bindparam, func, insert, select, text, update
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from clearwatch.federation.subjects import SOURCE, SiteMessage, parse_site_subject, parse_source, site_stream
from clearwatch.storage import Database
from clearwatch.storage.events import event_values
from clearwatch.storage.models import Alarm, EventRecord, FedRecord, FedSite, Setting
from clearwatch.storage.types import UTCDateTime
from clearwatch.timeparse import json_default

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

    def add(self, other: Applied) -> None:
        self.applied += other.applied
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.gaps += other.gaps


@dataclass
class _Tally:
    """A site's counters while a batch is applied, written to its row once at the end."""

    last_seq: int
    applied: int = 0
    duplicates: int = 0
    gaps: int = 0
    rejected: int = 0
    events: int = 0
    health: dict[str, Any] | None = None


@dataclass
class _Batch:
    """One transaction's view of the events it touches: one query for those that exist, one statement (PostgreSQL)
    for all it writes."""

    known: dict[str, tuple[str | None, int | None]]  # event id → (site, version) in the database or this batch
    stored: set[str] = field(default_factory=set)  # ids that were in the database before the batch
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # what to write, each event at its latest state


def _event_row(site: str, ev: dict[str, Any]) -> dict[str, Any]:
    """An event's columns as the central node keeps them: its pictures under the site's folder."""
    values = event_values(ev, _NOT_YET)
    values["snapshot"] = _site_path(site, values["snapshot"])
    values["face_snapshot"] = _site_path(site, values["face_snapshot"])
    data = dict(values["data"] or {})
    if isinstance(data.get("plate_snapshot"), str):
        data["plate_snapshot"] = _site_path(site, data["plate_snapshot"])
    values["data"] = data
    return {"id": str(ev["id"]), "site": site, **values}


def _add_event(site: str, version: int, row: dict[str, Any], events: _Batch, now: datetime) -> None:
    eid = row["id"]
    known = events.known.get(eid)
    if known is not None and known[0] != site:
        raise ValueError(f"event {eid} belongs to site {known[0]!r}")
    if known is not None and (known[1] or 0) >= version:
        return  # an older state of it than the one we have
    events.rows[eid] = {**row, "version": version, "updated_at": now}  # when it was committed, not prepared
    events.known[eid] = (site, version)


_NOT_YET = datetime.fromtimestamp(0, UTC)  # updated_at is set when the row is committed


def _parse(msg: Incoming) -> dict[str, Any] | ValueError:
    try:
        body = orjson.loads(msg.data)  # also refuses NaN, which the database's JSON would refuse for the whole batch
    except ValueError as exc:
        return exc
    return body if isinstance(body, dict) else ValueError("the message is not a JSON object")


def _known_events(s: Session, ids: list[str]) -> dict[str, tuple[str | None, int | None]]:
    """(site, version) of those of ``ids`` already stored."""
    if not ids:
        return {}
    if s.get_bind().dialect.name == "postgresql":
        # psycopg prepares a statement it runs often, and PostgreSQL then keeps a generic plan made when the table
        # was small: a sequential scan comparing every row with each of 500 ids (0.1–0.4 s a batch at 50,000
        # events, growing with the table). Planned each time for the ids it has, it is 500 primary-key lookups.
        s.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        among: ColumnElement[bool] = EventRecord.id == any_(bindparam("ids", ids, type_=ARRAY(String)))
    else:
        among = EventRecord.id.in_(ids)
    rows = s.execute(select(EventRecord.id, EventRecord.site, EventRecord.version).where(among))
    return {r.id: (r.site, r.version) for r in rows}


def _write_events(s: Session, events: _Batch) -> None:
    if s.get_bind().dialect.name == "postgresql":
        # the batch as one JSON parameter that PostgreSQL unpacks and upserts itself: a statement and a round of
        # type processing per row were most of the time spent applying a backlog. The guard repeats the rule
        # checked above — a row is replaced only by a later version from its own site.
        s.execute(text(_UPSERT), {"rows": orjson.dumps(list(events.rows.values()), default=json_default).decode()})
        return
    new = [r for eid, r in events.rows.items() if eid not in events.stored]
    if new:
        s.execute(insert(EventRecord), new)
    for eid, r in events.rows.items():
        if eid in events.stored:
            s.execute(update(EventRecord).where(EventRecord.id == eid).values(r))


_UPSERT = (
    "INSERT INTO events SELECT * FROM json_populate_recordset(NULL::events, CAST(:rows AS json)) "
    "ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f'"{c.name}" = EXCLUDED."{c.name}"' for c in EventRecord.__table__.columns if c.name != "id")
    + " WHERE events.site IS NOT DISTINCT FROM EXCLUDED.site AND COALESCE(events.version, 0) < EXCLUDED.version"
)


_SITES = cast(Table, FedSite.__table__)
# a site's counters grow by what the batch brought, in one statement for all sites (executemany): its other
# columns (the link's state) are the ping loop's, written meanwhile in its own transactions
_COUNT = update(_SITES).where(_SITES.c.name == bindparam("site")).values(
    last_seq=bindparam("seq"),
    applied=_SITES.c.applied + bindparam("n_applied"),
    duplicates=_SITES.c.duplicates + bindparam("n_duplicates"),
    gaps=_SITES.c.gaps + bindparam("n_gaps"),
    rejected=_SITES.c.rejected + bindparam("n_rejected"),
    last_message_at=func.coalesce(bindparam("message_at", type_=UTCDateTime()), _SITES.c.last_message_at),
    last_event_at=func.coalesce(bindparam("event_at", type_=UTCDateTime()), _SITES.c.last_event_at),
    health=func.coalesce(bindparam("health", type_=JSON(none_as_null=True)), _SITES.c.health))


def _write_tallies(s: Session, positions: dict[str, int], tallies: dict[str, _Tally], now: datetime) -> None:
    new = [name for name in tallies if name not in positions]  # a site's first message
    if new:  # its row is made by the link check, or here, with nothing counted yet
        s.add_all(FedSite(name=name, last_seq=0, applied=0, duplicates=0, gaps=0, rejected=0, link_up=False)
                  for name in new)
        s.flush()
    # rows locked in name order, as the link check locks them: in any other order the two can deadlock
    counts = [{"site": name, "seq": t.last_seq, "n_applied": t.applied, "n_duplicates": t.duplicates,
               "n_gaps": t.gaps, "n_rejected": t.rejected, "message_at": now if t.applied or t.rejected else None,
               "event_at": now if t.events else None, "health": t.health}
              for name, t in sorted(tallies.items()) if t.last_seq != positions.get(name) or t.duplicates]
    if counts:
        s.execute(_COUNT, counts)


def _inside(path: str | None) -> bool:
    # plain string work: this runs for every event a backlog brings, and PurePosixPath cost more than the rest
    if not path:
        return False
    # no empty, "." or ".." part, and not absolute: the path wrapped in slashes shows each as "//", "/./", "/../"
    wrapped = f"/{path}/"
    return "//" not in wrapped and "/./" not in wrapped and "/../" not in wrapped


def safe_relative(path: str) -> PurePosixPath | None:
    """A picture's path as a site names it, if it stays inside the site's folder."""
    return PurePosixPath(path) if _inside(path) else None


def _site_path(site: str, rel: str | None) -> str | None:
    return f"sites/{site}/{rel}" if _inside(rel) else None


@dataclass(frozen=True)
class Prepared:
    """One message and what can be worked out from it alone, before the database is asked anything."""

    msg: Incoming
    where: SiteMessage | None  # the site and kind its subject names
    source: tuple[str, int] | None  # the site stream and sequence its header names
    body: dict[str, Any] | ValueError
    row: dict[str, Any] | Exception | None = None  # an event's columns (but its version), or why it has none


class Applier:
    """``apply`` = ``commit(prepare(batch))``: what needs no database (parsing, the event rows) is done before the
    transaction opens, so it holds its locks (the sites' rows, which the link check also writes) only while it
    writes."""

    def __init__(self, db: Database, snapshots_dir: Path, sites: Sequence[str]):
        self.db = db
        self.snapshots_dir = snapshots_dir
        self.sites = set(sites)
        # site → the central-stream position of its latest message committed (this process's life only): how far
        # back the hub would have to look for it (``sources.MAX_SCAN``)
        self.positions: dict[str, int] = {}

    def apply(self, batch: Sequence[Incoming]) -> Applied:
        return self.commit(self.prepare(batch))

    def prepare(self, batch: Sequence[Incoming]) -> list[Prepared]:
        """Needs no database: any thread, any time before ``commit``."""
        return [self._prepare(m) for m in batch]

    def _prepare(self, msg: Incoming, refused: str | None = None) -> Prepared:
        where = parse_site_subject(msg.subject)
        source = parse_source(msg.headers.get(SOURCE))
        body = _parse(msg) if refused is None else ValueError(f"the database refused it: {refused}")
        row: dict[str, Any] | Exception | None = None
        if where is not None and where.kind == "event" and not isinstance(body, ValueError):
            try:
                row = _event_row(where.site, body["event"])
            except (ValueError, KeyError, TypeError) as exc:
                row = exc
            except (OverflowError, OSError) as exc:  # a time no clock can hold
                row = ValueError(f"the event's times: {exc}")
        return Prepared(msg, where, source, body, row)

    def commit(self, batch: Sequence[Prepared]) -> Applied:
        try:
            return self._commit(batch)
        except (DataError, IntegrityError) as exc:
            # something in the batch the database refuses (a value too long for its column…): apply the rest and
            # refuse just that, or the central node would try the same batch for ever
            if len(batch) > 1:
                out = Applied()
                for m in batch:
                    out.add(self.commit([m]))
                return out
            try:  # once more first: a site's row made by the link check at the same moment is not the message's fault
                return self._commit(batch)
            except (DataError, IntegrityError):
                return self._commit([self._prepare(batch[0].msg, refused=str(exc.orig or exc).splitlines()[0])])

    def _commit(self, batch: Sequence[Prepared]) -> Applied:
        out = Applied()
        now = datetime.now(UTC)
        with self.db.session() as s:
            positions: dict[str, int] = {name: seq for name, seq in s.execute(select(FedSite.name, FedSite.last_seq))}
            tallies = {name: _Tally(seq) for name, seq in positions.items()}
            known = _known_events(s, [str(p.row["id"]) for p in batch if isinstance(p.row, dict)])
            events = _Batch(known, set(known))
            for p in batch:
                self._one(s, p, tallies, events, out, now)
            if events.rows:
                _write_events(s, events)
            _write_tallies(s, positions, tallies, now)
            last = max((p.msg.position for p in batch), default=0)
            if last:
                pos = s.get(Setting, POSITION)
                if pos is None:
                    s.add(Setting(key=POSITION, value=str(last)))
                elif int(pos.value) < last:
                    pos.value = str(last)
        for p in batch:
            if p.where is not None and p.msg.position > self.positions.get(p.where.site, 0):
                self.positions[p.where.site] = p.msg.position
        return out

    def position(self) -> int:
        """Where applying stopped: the central stream's sequence of the last message committed."""
        with self.db.session() as s:
            pos = s.get(Setting, POSITION)
            return int(pos.value) if pos is not None else 0

    def _one(self, s: Session, p: Prepared, tallies: dict[str, _Tally], events: _Batch, out: Applied,
             now: datetime) -> None:
        where, source, msg = p.where, p.source, p.msg
        if where is None or where.site not in self.sites or source is None or source[0] != site_stream(where.site):
            out.rejected += 1
            log.warning("rejected %s from %s: not a configured site's own stream", msg.subject,
                        source[0] if source else "nowhere")
            return
        site = where.site
        tally = tallies.get(site)
        if tally is None:
            tally = tallies[site] = _Tally(0)
        seq = source[1]
        if seq <= tally.last_seq:
            tally.duplicates += 1
            out.duplicates += 1
            return
        if seq > tally.last_seq + 1:
            missing = seq - tally.last_seq - 1
            tally.gaps += missing
            out.gaps += missing
            log.warning("site %s: %d message(s) before sequence %d never arrived (the site's stream lost them: an "
                        "outage longer than its max_age, or a purge)", site, missing, seq)
        tally.last_seq = seq
        try:
            body = p.body
            if isinstance(body, ValueError):
                raise body
            if body.get("site") != site:
                raise ValueError(f"the message names site {body.get('site')!r}")
            self._kind(s, tally, site, where.kind, seq, body, p.row, events, now)
        # a message of the wrong shape is refused, never left to stop the batch (and every batch after it)
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
            log.warning("rejected %s (sequence %d): %s", msg.subject, seq, exc)
            tally.rejected += 1
            out.rejected += 1
            return
        tally.applied += 1
        out.applied += 1
        if where.kind == "event":
            tally.events += 1

    def _kind(self, s: Session, tally: _Tally, site: str, kind: str, seq: int, body: dict[str, Any],
              row: dict[str, Any] | Exception | None, events: _Batch, now: datetime) -> None:
        """Apply one message of ``kind``; its site-stream sequence is the version of what it writes."""
        if kind == "event":
            if not isinstance(row, dict):
                raise row if row is not None else ValueError("no event")
            _add_event(site, seq, row, events, now)
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
                tally.health = body
        else:
            raise ValueError(f"unknown kind {kind!r}")

    def _alarm(self, s: Session, site: str, alarm: dict[str, Any]) -> None:
        if not isinstance(alarm, dict):
            raise ValueError("the alarm is not a JSON object")
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
