"""The audit trail: append-only, each record carrying the hash of the one before.

``hash = sha256(prev_hash || canonical record)``, the record including its own id, so editing a record,
deleting one, swapping two or cutting the tail off is found by ``verify``. The newest id and hash are also
kept as the chain's head (updated in the same transaction as each append), which is how truncation shows.
Appends are serialised by taking the head row's write lock first, so several processes (the server and the
CLI) extend one chain rather than forking it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, select, text

from clearwatch.storage import Database
from clearwatch.storage.models import AuditRecord, Setting
from clearwatch.timeparse import iso_z

GENESIS = "0" * 64
HEAD = "audit_head"
# plain SQL, prepared once: the append path is hot (every look at footage goes through it)
_LOCK_HEAD = text(f"UPDATE settings SET value = value WHERE key = '{HEAD}' RETURNING value")
_NEW_HEAD = text(f"INSERT INTO settings (key, value) VALUES ('{HEAD}', :v)")
_SET_HEAD = text(f"UPDATE settings SET value = :v WHERE key = '{HEAD}'")
_INSERT = text("INSERT INTO audit_log (id, ts, actor, role, action, target, detail, justification, address, "
               "prev_hash, hash) VALUES (:id, :ts, :actor, :role, :action, :target, :detail, :justification, "
               ":address, :prev_hash, :hash)")


def canonical(rec_id: int, ts: str, actor: str, role: str, action: str, target: str, detail: str,
              justification: str | None, address: str | None) -> bytes:
    """The record as hashed: compact JSON, UTF-8 (``json.dumps(..., separators=(",", ":"),
    ensure_ascii=False)``). orjson writes the same bytes several times faster, which is what lets a report
    verify a million records in a few seconds; what it refuses (a lone surrogate) goes through json."""
    row = [rec_id, ts, actor, role, action, target, detail, justification, address]
    try:
        return orjson.dumps(row)
    except TypeError:
        return json.dumps(row, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


def chain_hash(prev: str, body: bytes) -> str:
    return hashlib.sha256(prev.encode() + b"\n" + body).hexdigest()


Row = tuple[int, str, str, str, str, str, str, str | None, str | None, str, str]  # as stored, hash last


def check_chain(rows: Iterable[Row], head: Callable[[], tuple[int, str]], max_problems: int = 20,
                base: tuple[int, str] = (0, GENESIS)) -> Verification:
    """Walk records in id order: each must follow the one before (ids and hashes), match its own hash, and the
    last must be the stored head (read after the walk, so appends during it do not look like truncation).
    ``base``: the (id, hash) the remaining records continue from — the start, or a signed checkpoint where
    older records were trimmed."""
    problems: list[str] = []
    prev, expected_id, n = base[1], base[0] + 1, 0
    for rec_id, ts, actor, role, action, target, detail, just, addr, prev_hash, h in rows:
        n += 1
        if rec_id != expected_id:
            problems.append(f"record {rec_id}: expected record {expected_id} next "
                            f"({'records deleted' if rec_id > expected_id else 'records out of order'})")
        if prev_hash != prev:
            problems.append(f"record {rec_id}: does not follow the record before it (reordered, replaced "
                            "or a record before it deleted)")
        if chain_hash(prev_hash, canonical(rec_id, ts, actor, role, action, target, detail, just, addr)) != h:
            problems.append(f"record {rec_id}: content does not match its hash (edited)")
        prev, expected_id = h, rec_id + 1
        if len(problems) >= max_problems:
            break
    head_id, head_hash = head()
    if len(problems) < max_problems and (head_id, head_hash) != (expected_id - 1, prev):
        if head_id > expected_id - 1:
            problems.append(f"the chain ends at record {expected_id - 1} but its head says {head_id}: "
                            "records were cut off the end (truncated)")
        else:
            problems.append(f"the chain's head (record {head_id}) does not match its last record "
                            f"{expected_id - 1}")
    return Verification(not problems, n, problems, head_id)


@dataclass
class Verification:
    ok: bool
    records: int
    problems: list[str] = field(default_factory=list)
    head_id: int | None = None


@dataclass
class Actor:
    name: str
    role: str
    address: str | None = None


@dataclass
class _Pending:
    actor: Actor
    action: str
    target: str
    detail: str
    justification: str | None
    ts: str
    rec_id: int | None = None
    error: Exception | None = None


class AuditLog:
    def __init__(self, db: Database):
        self.db = db
        self._conn: Connection | None = None  # kept open: a pool checkout per append costs more than the append
        self._cv = threading.Condition()
        self._queue: list[_Pending] = []
        self._writing = False

    def append(self, actor: Actor, action: str, target: str = "", detail: dict[str, Any] | None = None,
               justification: str | None = None) -> int:
        """Append one record and return its id once it is committed.

        Concurrent callers are committed together (group commit): whoever finds no write in progress writes
        everything queued so far in one transaction while the others wait for it.
        """
        detail_json = json.dumps(detail or {}, separators=(",", ":"), sort_keys=True, ensure_ascii=False,
                                 default=str)
        ts = iso_z(datetime.now(UTC), "microseconds")
        item = _Pending(actor, action, target[:255], detail_json, justification, ts)
        with self._cv:
            self._queue.append(item)
            while item.rec_id is None and item.error is None:
                if self._writing:
                    self._cv.wait()
                    continue
                self._writing = True
                batch, self._queue = self._queue, []
                self._cv.release()
                try:
                    self._write(batch)
                except Exception as exc:
                    for it in batch:
                        it.error = exc
                finally:
                    self._cv.acquire()
                    self._writing = False
                    self._cv.notify_all()
        if item.error is not None:
            raise item.error
        if item.rec_id is None:  # the loop above waits until one of the two is set
            raise RuntimeError("audit append finished without a record id")
        return item.rec_id

    def _write(self, batch: list[_Pending]) -> None:
        if self._conn is None or self._conn.closed:
            self._conn = self.db.engine.connect()
        try:
            with self._conn.begin():
                # take the head's write lock while reading it: appends from any process queue up here
                head = self._conn.execute(_LOCK_HEAD).scalar()
                if head is None:
                    self._conn.execute(_NEW_HEAD, {"v": f"0:{GENESIS}"})
                    head = f"0:{GENESIS}"
                last_id, prev = str(head).split(":", 1)
                rec_id = int(last_id)
                rows: list[dict[str, Any]] = []
                for it in batch:
                    rec_id += 1
                    h = chain_hash(prev, canonical(rec_id, it.ts, it.actor.name, it.actor.role, it.action, it.target,
                                                   it.detail, it.justification, it.actor.address))
                    rows.append({"id": rec_id, "ts": it.ts, "actor": it.actor.name, "role": it.actor.role,
                                 "action": it.action, "target": it.target, "detail": it.detail,
                                 "justification": it.justification, "address": it.actor.address,
                                 "prev_hash": prev, "hash": h})
                    prev = h
                self._conn.execute(_INSERT, rows)
                self._conn.execute(_SET_HEAD, {"v": f"{rec_id}:{prev}"})
        except Exception:
            self._conn.close()  # a broken connection is not reused
            self._conn = None
            raise
        for it, row in zip(batch, rows, strict=True):
            it.rec_id = row["id"]

    def close(self) -> None:
        with self._cv:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def list(self, limit: int = 100, before: int | None = None, actor: str | None = None,
             action: str | None = None) -> list[AuditRecord]:
        q = select(AuditRecord).order_by(AuditRecord.id.desc()).limit(limit)
        if before:
            q = q.where(AuditRecord.id < before)
        if actor:
            q = q.where(AuditRecord.actor == actor)
        if action:
            q = q.where(AuditRecord.action == action)
        with self.db.session() as s:
            return list(s.scalars(q))

    def head(self) -> tuple[int, str]:
        with self.db.session() as s:
            value = s.scalar(select(Setting.value).where(Setting.key == HEAD)) or f"0:{GENESIS}"
        last_id, h = value.split(":", 1)
        return int(last_id), h

    def _rows(self) -> Iterator[tuple[Any, ...]]:
        """Every record in id order, straight from the driver in large batches (a million records are read in a
        couple of seconds; row objects per record would double that). PostgreSQL streams them from a
        server-side cursor, so memory stays flat."""
        sql = ("SELECT id, ts, actor, role, action, target, detail, justification, address, prev_hash, hash "
               "FROM audit_log ORDER BY id")
        raw = self.db.engine.raw_connection()
        try:
            driver = raw.driver_connection
            postgres = self.db.engine.dialect.name == "postgresql"
            cur = driver.cursor(name="audit_verify") if postgres else raw.cursor()  # type: ignore[union-attr]
            cur.execute(sql)
            while rows := cur.fetchmany(20_000):
                yield from rows
            cur.close()
        finally:
            raw.close()

    def verify(self, max_problems: int = 20, trusted: set[str] | None = None,
               witnessed: Iterable[dict[str, Any]] = ()) -> Verification:
        """Walk the whole chain; every break is reported with the record id where it shows. Where old records
        were trimmed, the chain must start at a signed checkpoint; every signed checkpoint (stored, or
        ``witnessed``: held by an outside witness) must match the record it names, so a chain rewritten from
        the start by someone with database access shows too. ``trusted``: key ids checkpoints must be signed
        with (None: any valid signature)."""
        from clearwatch.governance.checkpoints import check_checkpoints, stored_checkpoints

        checkpoints = [*stored_checkpoints(self.db), *witnessed]
        with self.db.session() as s:
            first = s.scalar(select(AuditRecord.id).order_by(AuditRecord.id).limit(1))
            first_prev = s.scalar(select(AuditRecord.prev_hash).order_by(AuditRecord.id).limit(1))
        early: list[str] = []
        base = (0, GENESIS)
        if first is not None and first > 1:
            from clearwatch.governance.signing import check_document

            cut = [c for c in checkpoints if c.get("record_id") == first - 1 and c.get("hash") == first_prev
                   and not check_document(c, trusted)]
            base = (first - 1, str(first_prev))
            if not cut:
                early.append(f"records 1-{first - 1} are gone and no valid signed checkpoint marks that cut "
                             "(deleted, not trimmed by retention)")
        v = check_chain(self._rows(), self.head, max_problems, base)
        late = check_checkpoints(self.db, checkpoints, trusted, first or 1, v.head_id or 0)
        v.problems = early + v.problems + late
        v.ok = not v.problems
        return v
