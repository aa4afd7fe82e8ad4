"""Fingerprints in the identity registry: templates (and optionally images) encrypted per person and finger,
1:1 verification against a person, and 1:N identification with a vectorised prefilter."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import delete, select

from clearwatch.errors import ClearwatchError
from clearwatch.fingerprints import Prepared, Template, prepare, score
from clearwatch.identity.crypto import Cipher
from clearwatch.storage import Database
from clearwatch.storage.models import FingerTemplate, Person

# Decision thresholds on the matcher's score, per false match rate, from benchmarks/fingerprints.py: the
# 11,520 cross-finger pairs of FVC2002 DB1-DB4 B with our extractor (0.1% of them score above 0.174; the
# highest scores 0.321, so the 1e-4 point is the highest impostor seen, and coarse). Recalibrate when the
# extractor or matcher changes.
FINGER_THRESHOLDS = {"1e-3": 0.18, "1e-4": 0.33}
FINGERS = {1: "right thumb", 2: "right index", 3: "right middle", 4: "right ring", 5: "right little",
           6: "left thumb", 7: "left index", 8: "left middle", 9: "left ring", 10: "left little"}
SHORTLIST = 200


class FingerError(ClearwatchError):
    pass


@dataclass
class FingerCandidate:
    person_id: str
    name: str
    finger: int
    score: float
    template_id: int


def _signature(p: Prepared) -> np.ndarray:
    """A rotation-invariant summary for the prefilter: the histogram of local edge lengths."""
    lengths = p.edges[..., 0][p.valid]
    h, _ = np.histogram(lengths, bins=16, range=(0, 160))
    v = h.astype(np.float32)
    return v / (np.linalg.norm(v) + 1e-6)


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
        self._sigs = np.zeros((0, 16), np.float32)
        self._names: dict[str, str] = {}

    def start(self) -> None:
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
            self._sigs = np.array([_signature(p) for p in prepared], np.float32).reshape(-1, 16)
            self._names = names

    def enrol(self, person_id: str, finger: int, template: Template, source: str,
              image_png: bytes | None = None) -> int:
        if finger not in FINGERS:
            raise FingerError(f"finger position {finger} is not 1-10 (ISO: 1 right thumb … 10 left little)")
        if len(template) < 8:
            raise FingerError(f"{source}: only {len(template)} minutiae found: too few to enrol (need 8)")
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
        p = prepare(template)
        with self._lock:
            self._ids.append(tid)
            self._owners.append((person_id, finger))
            self._prepared.append(p)
            self._sigs = np.vstack([self._sigs, _signature(p)[None, :]])
            self._names[person_id] = name
        return tid

    def forget_person(self, person_id: str) -> None:
        """Remove a person's fingers from memory and the database (erasure)."""
        with self._lock:
            keep = [i for i, (pid, _) in enumerate(self._owners) if pid != person_id]
            self._ids = [self._ids[i] for i in keep]
            self._owners = [self._owners[i] for i in keep]
            self._prepared = [self._prepared[i] for i in keep]
            self._sigs = self._sigs[keep] if keep else np.zeros((0, 16), np.float32)
        with self.db.session() as s:
            s.execute(delete(FingerTemplate).where(FingerTemplate.person_id == person_id))

    def verify(self, person_id: str, probe: Template, finger: int | None = None) -> float:
        p = prepare(probe)
        with self._lock:
            mine = [self._prepared[i] for i, (pid, f) in enumerate(self._owners)
                    if pid == person_id and (finger is None or f == finger)]
        if not mine:
            raise FingerError(f"person {person_id!r} has no enrolled fingerprint" +
                              (f" for finger {finger}" if finger else ""))
        return max(score(p, c) for c in mine)

    def identify(self, probe: Template, k: int = 5, workers: int = 2) -> list[FingerCandidate]:
        """Prefilter on the edge-length signature, then the full matcher on the shortlist, in parallel."""
        p = prepare(probe)
        with self._lock:
            sigs, prepared, owners, ids, names = self._sigs, self._prepared, self._owners, self._ids, self._names
        if not prepared:
            return []
        near = np.argsort(-(sigs @ _signature(p)))[:SHORTLIST]
        with ThreadPoolExecutor(workers) as pool:
            scores = list(pool.map(lambda i: score(p, prepared[i]), near))
        best: dict[str, FingerCandidate] = {}
        for i, sc in zip(near, scores, strict=True):
            pid, finger = owners[i]
            if pid not in best or sc > best[pid].score:
                best[pid] = FingerCandidate(pid, names.get(pid, "?"), finger, float(sc), ids[i])
        return sorted(best.values(), key=lambda c: -c.score)[:k]
