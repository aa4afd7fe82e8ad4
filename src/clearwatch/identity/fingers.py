"""Fingerprints in the identity registry: templates (and optionally images) encrypted per person and finger,
1:1 verification against a person, and 1:N identification (the matcher's prefilter cascade over all cores)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import delete, func, select

from clearwatch.errors import ClearwatchError
from clearwatch.fingerprints import Gallery, Prepared, Template, prepare, score
from clearwatch.identity.crypto import Cipher
from clearwatch.storage import Database
from clearwatch.storage.models import FingerTemplate, Person

# Decision thresholds on the matcher's score, per false match rate, from benchmarks/fingerprints.py: the
# 92,160 cross-finger pairs within each FVC2002 B database (both directions; our templates and the ISO ones
# mixed, as a registry holding both would). 0.1% of them score at or above 0.109 and 0.01% (9 pairs) at or
# above 0.152; the 1e-4 point therefore rests on the top ten impostors. Recalibrate when the extractor or
# matcher changes (the regression test's baseline holds the benchmark's values).
FINGER_THRESHOLDS = {"1e-3": 0.109, "1e-4": 0.152}
# (FMR, score at which it is reached), same source: every impostor scores at least 0
_FMR_CURVE = ((1.0, 0.0), (1e-1, 0.032), (1e-2, 0.065), (1e-3, 0.109), (1e-4, 0.152))
FINGERS = {1: "right thumb", 2: "right index", 3: "right middle", 4: "right ring", 5: "right little",
           6: "left thumb", 7: "left index", 8: "left middle", 9: "left ring", 10: "left little"}


class FingerError(ClearwatchError):
    pass


@dataclass
class FingerCandidate:
    person_id: str
    name: str
    finger: int
    score: float
    template_id: int


def estimated_fmr(score: float) -> float:
    """The false match rate at ``score`` (the share of impostor pairs scoring as high), interpolated
    log-linearly on the calibration curve; beyond its last point, that point's FMR (an upper bound)."""
    fmrs = np.log10([f for f, _ in _FMR_CURVE])
    scores = np.array([s for _, s in _FMR_CURVE])
    return float(10 ** np.interp(score, scores, fmrs, left=0.0, right=fmrs[-1]))


class FingerRegistry:
    def __init__(self, db: Database, cipher: Cipher, operating_point: str = "1e-3"):
        if operating_point not in FINGER_THRESHOLDS:
            raise FingerError(f"unknown operating point {operating_point!r}: use {', '.join(FINGER_THRESHOLDS)}")
        self.db = db
        self.cipher = cipher
        self.threshold = FINGER_THRESHOLDS[operating_point]
        self._lock = threading.Lock()
        self._ids: list[int] = []
        self._owners: list[tuple[str, int]] = []
        self._prepared: list[Prepared] = []
        self._gallery: Gallery | None = None  # packed on the first search after a change
        self._names: dict[str, str] = {}
        # (how many, highest id, newest) of the stored fingers this memory holds: any insert moves the newest (SQLite
        # may give a new row the id of a deleted one), any delete alone the count
        self._stored: tuple[int, int, str] = (-1, -1, "")

    def _stored_now(self) -> tuple[int, int, str]:
        with self.db.session() as s:
            n, top, newest = s.execute(select(func.count(), func.max(FingerTemplate.id),
                                              func.max(FingerTemplate.created_at))).one()
            return int(n or 0), int(top or 0), str(newest or "")

    def refresh(self) -> None:
        """Reload when the stored fingers changed under us (another process enrolled, an erasure removed them):
        a long-running console must never match an erased person's finger."""
        if self._stored_now() != self._stored:
            self.start()

    def start(self) -> None:
        stored = self._stored_now()
        with self.db.session() as s:
            names = {p.id: p.name for p in s.scalars(select(Person))}
            rows = list(s.execute(select(FingerTemplate.id, FingerTemplate.person_id, FingerTemplate.finger,
                                         FingerTemplate.template)))
        prepared = [prepare(Template.from_bytes(self.cipher.decrypt(r.template, f"finger:{r.person_id}:template")))
                    for r in rows]
        with self._lock:
            self._ids = [r.id for r in rows]
            self._owners = [(r.person_id, r.finger) for r in rows]
            self._prepared = prepared
            self._gallery = None
            self._names = names
            self._stored = stored

    def fingers(self, person_id: str) -> list[FingerTemplate]:
        """A person's enrolled fingers (the rows; templates still encrypted), by finger position."""
        with self.db.session() as s:
            if s.get(Person, person_id) is None:
                raise FingerError(f"no enrolled person {person_id!r}")
            return list(s.scalars(select(FingerTemplate).where(FingerTemplate.person_id == person_id)
                                  .order_by(FingerTemplate.finger, FingerTemplate.id)))

    def remove(self, person_id: str, template_id: int) -> int:
        """Remove one enrolled finger; its position, or FingerError when the person has no such finger."""
        with self.db.session() as s:
            row = s.get(FingerTemplate, template_id)
            if row is None or row.person_id != person_id:
                raise FingerError(f"person {person_id!r} has no fingerprint {template_id}")
            finger = row.finger
            s.delete(row)
        self.start()
        return finger

    def enrol(self, person_id: str, finger: int, template: Template, source: str,
              image_png: bytes | None = None) -> int:
        if finger not in FINGERS:
            raise FingerError(f"finger position {finger} is not 1-10 (ISO: 1 right thumb … 10 left little)")
        if len(template) < 8:
            raise FingerError(f"{source}: only {len(template)} minutiae found: too few to enrol (need 8)")
        self.refresh()  # what others stored meanwhile is loaded before ours is added to it
        stored_before = self._stored
        with self.db.session() as s:
            person = s.get(Person, person_id)
            if person is None:
                raise FingerError(f"no enrolled person {person_id!r} (enrol them first, with a legal basis)")
            row = FingerTemplate(
                person_id=person_id, finger=finger,
                template=self.cipher.encrypt(template.to_bytes(), f"finger:{person_id}:template"),
                image=self.cipher.encrypt(image_png, f"finger:{person_id}:image") if image_png else None,
                minutiae=len(template), source=source[:255], created_at=datetime.now(UTC))
            s.add(row)
            s.flush()
            tid, name = row.id, person.name
        now = self._stored_now()
        # ours the only change since we loaded? Otherwise the next search reloads everything
        snapshot = now if now[0] == stored_before[0] + 1 and now[1] == tid else (-1, -1, "")
        p = prepare(template)
        with self._lock:
            self._stored = snapshot
            self._ids.append(tid)
            self._owners.append((person_id, finger))
            self._prepared.append(p)
            self._gallery = None
            self._names[person_id] = name
        return tid

    def forget_person(self, person_id: str) -> None:
        """Remove a person's fingers from memory and the database (erasure)."""
        with self._lock:
            keep = [i for i, (pid, _) in enumerate(self._owners) if pid != person_id]
            self._ids = [self._ids[i] for i in keep]
            self._owners = [self._owners[i] for i in keep]
            self._prepared = [self._prepared[i] for i in keep]
            self._gallery = None
        with self.db.session() as s:
            s.execute(delete(FingerTemplate).where(FingerTemplate.person_id == person_id))
        self._stored = self._stored_now()

    def verify(self, person_id: str, probe: Template, finger: int | None = None) -> float:
        self.refresh()
        p = prepare(probe)
        with self._lock:
            mine = [self._prepared[i] for i, (pid, f) in enumerate(self._owners)
                    if pid == person_id and (finger is None or f == finger)]
        if not mine:
            raise FingerError(f"person {person_id!r} has no enrolled fingerprint" +
                              (f" for finger {finger}" if finger else ""))
        return max(score(p, c) for c in mine)

    def identify(self, probe: Template, k: int = 5, workers: int | None = None) -> list[FingerCandidate]:
        """The ``k`` best persons: every template prefiltered, the short list fully compared, on all cores."""
        self.refresh()
        p = prepare(probe)
        with self._lock:
            if self._gallery is None:
                self._gallery = Gallery(self._prepared)
            gallery, owners, ids, names = self._gallery, self._owners, self._ids, self._names
        # a person may hold several fingers: ask for enough to fill k distinct persons
        idx, scores = gallery.search(p, k * 10, workers)
        best: dict[str, FingerCandidate] = {}
        for i, sc in zip(idx, scores, strict=True):
            pid, finger = owners[i]
            if pid not in best or sc > best[pid].score:
                best[pid] = FingerCandidate(pid, names.get(pid, "?"), finger, float(sc), ids[i])
        return sorted(best.values(), key=lambda c: -c.score)[:k]
