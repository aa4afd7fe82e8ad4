"""Retention of everything that is not footage, kind by kind, in one pass of the retention loop: events and their
snapshots, unrecognised face crops, who was recognised in events, plate reads (hits kept longer), closed alarms,
exports kept on the server and the audit trail (trimmed at a signed checkpoint). Evidence holds keep anything of
their cameras and time range, whatever its kind. Footage itself is ``recording.retention``'s."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select, update

from clearwatch.config import Config
from clearwatch.storage import Database, HoldStore, held
from clearwatch.storage.models import Alarm, EventRecord, Hold

log = logging.getLogger(__name__)
PLATE_KINDS = ("plate",)
BATCH = 5000
MASKED_CACHE = 86400.0  # seconds a masked playback copy is kept for the next viewer


@dataclass(frozen=True)
class Policy:
    """What each kind is kept for, in seconds (for the transparency report and compliance checks)."""

    kind: str
    seconds: float | None  # None: kept for ever
    what: str


def policies(config: Config) -> list[Policy]:
    r = config.retention
    day = 86400.0
    events = (config.events.retain_days or r.days) * day
    return [Policy("footage", r.days * day, "recordings (per camera: record.retention_days)"),
            Policy("events", events, "events, their snapshots and clips (per camera: events.retain_days)"),
            Policy("unknown_faces", r.unknown_faces, "face crops of people nobody recognised"),
            Policy("identity_links", r.identity_links or events, "who was recognised in an event"),
            Policy("plates", r.plates, "plate reads that hit no list"),
            Policy("plate_hits", r.plate_hits, "plate reads that hit a list, and their alerts"),
            Policy("alarms", r.alarms, "closed alarms"),
            Policy("exports", r.exports, "exports kept on the server"),
            Policy("audit", r.audit, "the audit trail (trimmed at a signed checkpoint)")]


def _is_plate(kind: str, data: dict[str, object]) -> bool:
    return kind in PLATE_KINDS or (kind == "alert" and "plate" in data)


class DataRetention:
    def __init__(self, config: Config, db: Database, trim_audit: Callable[[datetime, list[Hold]], int] | None = None):
        self.config = config
        self.db = db
        self.snapshots = config.snapshots_dir
        self.exports = config.exports_dir
        self.masked = config.data_dir / "masked"  # playback copies with privacy masks burned in
        self.trim_audit = trim_audit

    def run(self, now: datetime | None = None) -> dict[str, int]:
        """Apply every policy once; returns how many items of each kind went."""
        now = now or datetime.now(UTC)
        holds = HoldStore(self.db).active(now)
        t0 = time.monotonic()
        done = {"events": self._events(now, holds), "unknown_faces": self._unknown_faces(now, holds),
                "identity_links": self._identity_links(now, holds), "plates": self._plates(now, holds),
                "alarms": self._alarms(now, holds), "exports": self._old_files(self.exports, now),
                "masked_copies": self._old_files(self.masked, now, MASKED_CACHE)}
        if self.config.retention.audit is not None and self.trim_audit is not None:
            done["audit"] = self.trim_audit(now - timedelta(seconds=self.config.retention.audit), holds)
        if any(done.values()):
            log.info("retention: %s (%.1f s)", ", ".join(f"{k} {v}" for k, v in done.items() if v),
                     time.monotonic() - t0)
        return done

    def _unlink(self, rel: str | None) -> None:
        if not rel:
            return
        try:
            (self.snapshots / rel).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("cannot delete %s: %s", rel, exc.strerror)

    def _free(self, rows: list[EventRecord], holds: list[Hold]) -> list[EventRecord]:
        return [r for r in rows if not held(holds, r.camera, r.start, r.end or r.start)]

    def _candidates(self, *where: object) -> list[EventRecord]:
        with self.db.session() as s:
            return list(s.scalars(select(EventRecord).where(*where).limit(BATCH)))  # type: ignore[arg-type]

    def _delete(self, rows: list[EventRecord]) -> int:
        for r in rows:
            self._unlink(r.snapshot)
            self._unlink(r.face_snapshot)
            self._unlink(str(r.data.get("plate_snapshot") or "") or None)
        if rows:
            with self.db.session() as s:
                s.execute(delete(EventRecord).where(EventRecord.id.in_([r.id for r in rows])))
        return len(rows)

    def _events(self, now: datetime, holds: list[Hold]) -> int:
        """Each camera's events after its events retention (default: its recordings'); plate reads go by their
        own policy, below."""
        day = 86400.0
        site = (self.config.events.retain_days or self.config.retention.days) * day
        own = {n: (c.events.retain_days or c.record.retention_days) * day for n, c in self.config.cameras.items()}
        total = 0
        for camera, seconds in [*own.items(), (None, site)]:
            cutoff = now - timedelta(seconds=seconds)
            where = [EventRecord.end.is_not(None), EventRecord.end < cutoff, EventRecord.kind.not_in(PLATE_KINDS)]
            where.append(EventRecord.camera == camera if camera is not None else EventRecord.camera.not_in(list(own)))
            rows = [r for r in self._free(self._candidates(*where), holds) if not _is_plate(r.kind, r.data)]
            total += self._delete(rows)
        return total

    def _unknown_faces(self, now: datetime, holds: list[Hold]) -> int:
        cutoff = now - timedelta(seconds=self.config.retention.unknown_faces)
        rows = self._free(self._candidates(EventRecord.face_snapshot.is_not(None), EventRecord.identity.is_(None),
                                           EventRecord.start < cutoff), holds)
        for r in rows:
            self._unlink(r.face_snapshot)
        if rows:
            with self.db.session() as s:
                s.execute(update(EventRecord).where(EventRecord.id.in_([r.id for r in rows]))
                          .values(face_snapshot=None))
        return len(rows)

    def _identity_links(self, now: datetime, holds: list[Hold]) -> int:
        seconds = self.config.retention.identity_links
        if seconds is None:
            return 0  # they go with their events
        cutoff = now - timedelta(seconds=seconds)
        rows = self._free(self._candidates(EventRecord.identity.is_not(None), EventRecord.start < cutoff), holds)
        for r in rows:
            self._unlink(r.face_snapshot)
        if rows:
            with self.db.session() as s:
                s.execute(update(EventRecord).where(EventRecord.id.in_([r.id for r in rows]))
                          .values(identity=None, identity_name=None, similarity=None, face_snapshot=None))
        return len(rows)

    def _plates(self, now: datetime, holds: list[Hold]) -> int:
        r = self.config.retention
        miss_cut, hit_cut = now - timedelta(seconds=r.plates), now - timedelta(seconds=r.plate_hits)
        rows = self._candidates(EventRecord.kind.in_([*PLATE_KINDS, "alert"]), EventRecord.end.is_not(None),
                                EventRecord.start < max(miss_cut, hit_cut))
        gone = []
        for e in self._free(rows, holds):
            if not _is_plate(e.kind, e.data):
                continue
            hit = e.kind == "alert" or bool(e.data.get("lists"))
            if e.start < (hit_cut if hit else miss_cut):
                gone.append(e)
        return self._delete(gone)

    def _alarms(self, now: datetime, holds: list[Hold]) -> int:
        cutoff = now - timedelta(seconds=self.config.retention.alarms)
        with self.db.session() as s:
            rows = list(s.execute(select(Alarm.id, Alarm.camera, Alarm.first_at, Alarm.last_at).where(
                Alarm.state == "closed", Alarm.last_at < cutoff).limit(BATCH)))
            ids = [a.id for a in rows if not held(holds, a.camera or "", a.first_at, a.last_at)
                   and not (a.camera is None and any(h.start < a.last_at and h.end > a.first_at for h in holds))]
            if ids:
                s.execute(delete(Alarm).where(Alarm.id.in_(ids)))
        return len(ids)

    def _old_files(self, folder: Path, now: datetime, seconds: float | None = None) -> int:
        """Files under ``folder`` older than ``seconds`` (default: the exports' retention); returns how many
        videos went (their manifests go with them)."""
        if not folder.is_dir():
            return 0
        cutoff = (now - timedelta(seconds=seconds or self.config.retention.exports)).timestamp()
        n = 0
        for path in folder.rglob("*"):
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    n += not path.name.endswith(".json")
            except OSError as exc:
                log.warning("cannot delete export %s: %s", path, exc.strerror)
        for d in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
            if not any(d.iterdir()):
                d.rmdir()
        return n

