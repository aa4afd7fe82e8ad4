"""The face registry: enrolled people, their encrypted face templates, and 1:N / 1:1 matching.

A person exists only because an operator enrolled them with a recorded legal basis. Unknown faces seen on
camera never become persons.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import cv2
import numpy as np
from sqlalchemy import delete, func, select

from clearwatch.config import Config
from clearwatch.faces import FaceEngine, FaceShot, ImageError, load_image
from clearwatch.identity.crypto import Cipher, EncryptionKeyError, load_key
from clearwatch.identity.errors import EnrolmentError, NotFound
from clearwatch.identity.index import EXACT_BELOW, FaceIndex
from clearwatch.identity.thresholds import DEFAULT_POINT, threshold
from clearwatch.storage import Database
from clearwatch.storage.database import rowcount
from clearwatch.storage.models import FaceTemplate, Person, Setting

KEY_SETTING = "biometric_key_fingerprint"
PERSON_FIELDS = ("id", "name", "external_ref", "tags", "watchlists", "legal_basis", "enrolled_by")
CONFIDENT_FACE = 0.5  # detector score of a face that counts when choosing the main face of a photo


@dataclass
class Candidate:
    person_id: str
    name: str
    similarity: float
    template_id: int
    watchlists: list[str] = field(default_factory=list)


@dataclass
class Photo:
    name: str
    data: bytes


def main_face(shots: list[FaceShot]) -> FaceShot | None:
    """The largest confident face (a large low-score detection is usually not a face)."""
    confident = [s for s in shots if s.face.score >= CONFIDENT_FACE]
    best = confident or shots
    return best[0] if best else None


class FaceRegistry:
    def __init__(self, db: Database, cipher: Cipher, engine: FaceEngine | None = None, *, min_quality: float = 0.5,
                 operating_point: str = DEFAULT_POINT, exact_below: int = EXACT_BELOW):
        self.db = db
        self.cipher = cipher
        self.engine = engine or FaceEngine()
        self.min_quality = min_quality
        self.threshold = threshold(operating_point)
        self.index = FaceIndex(exact_below=exact_below)
        self._owner: dict[int, str] = {}  # template id → person id
        self._people: dict[str, tuple[str, list[str]]] = {}  # person id → (name, watchlists)
        self._lock = threading.Lock()

    # start-up ---------------------------------------------------------------------------------------

    def start(self) -> None:
        """Check the key against the database, then load every template into the index."""
        with self.db.session() as s:
            stored = s.get(Setting, KEY_SETTING)
            if stored is None:
                s.add(Setting(key=KEY_SETTING, value=self.cipher.fingerprint))
            elif stored.value != self.cipher.fingerprint:
                raise EncryptionKeyError("the encryption key is not the one this database's biometric data was written "
                                "with: use the original key (templates cannot be read otherwise)")
            people = {p.id: (p.name, list(p.watchlists)) for p in s.scalars(select(Person))}
            rows = list(s.execute(select(FaceTemplate.id, FaceTemplate.person_id, FaceTemplate.template)))
        ids = np.array([r.id for r in rows], np.int64)
        vecs = np.array([self._open_template(r.template, r.person_id) for r in rows], np.float32).reshape(-1, 128)
        self.index.rebuild(ids, vecs)
        with self._lock:
            self._owner = {r.id: r.person_id for r in rows}
            self._people = people

    def _open_template(self, blob: bytes, person_id: str) -> np.ndarray:
        return np.frombuffer(self.cipher.decrypt(blob, f"face:{person_id}:template"), np.float32)

    # photos -----------------------------------------------------------------------------------------

    def analyse_photo(self, photo: Photo, choose: int | None = None) -> FaceShot:
        """The one face to use from a photo, or ImageError / EnrolmentError with the reason."""
        image = load_image(photo.data, photo.name)
        shots = self.engine.analyse(image, min_quality=0.0)
        if not shots:
            raise EnrolmentError([f"{photo.name}: no face found"])
        if choose is not None:
            if not 1 <= choose <= len(shots):
                raise EnrolmentError([f"{photo.name}: has {len(shots)} face(s), there is no face {choose}"])
            shot = shots[choose - 1]
        elif len(shots) > 1:
            raise EnrolmentError([f"{photo.name}: {len(shots)} faces found; choose one (1 = the largest)"])
        else:
            shot = shots[0]
        if shot.quality.score < self.min_quality:
            raise EnrolmentError([f"{photo.name}: quality {shot.quality.score:.2f} is below "
                                  f"{self.min_quality:.2f}: {shot.quality.reason()}"])
        return shot

    # enrol / delete -----------------------------------------------------------------------------------

    def enrol(self, name: str, photos: Sequence[Photo], *, legal_basis: str, enrolled_by: str,
              external_ref: str | None = None, tags: Sequence[str] = (), watchlists: Sequence[str] = (),
              choose: int | None = None) -> Person:
        """All photos or none: each is checked first, every refusal is reported, then one transaction."""
        problems = []
        if not name.strip():
            problems.append("a name is required")
        if len(legal_basis.strip()) < 3:
            problems.append("a legal basis is required (e.g. 'employment contract, access control')")
        if not enrolled_by.strip():
            problems.append("the enrolling operator is required")
        if not photos:
            problems.append("at least one photo is required")
        shots: list[tuple[Photo, FaceShot]] = []
        for photo in photos:
            try:
                shots.append((photo, self.analyse_photo(photo, choose)))
            except EnrolmentError as exc:
                problems.extend(exc.problems)
            except ImageError as exc:
                problems.append(str(exc))
        if problems:
            raise EnrolmentError(problems)
        now = datetime.now(UTC)
        person = Person(id=uuid.uuid4().hex, name=name.strip(), external_ref=external_ref, tags=list(tags),
                        watchlists=list(watchlists), legal_basis=legal_basis.strip(), enrolled_by=enrolled_by,
                        created_at=now, updated_at=now)
        rows = []
        for photo, shot in shots:
            assert shot.embedding is not None
            ok, crop = cv2.imencode(".jpg", shot.aligned, [cv2.IMWRITE_JPEG_QUALITY, 90])
            rows.append(FaceTemplate(
                person_id=person.id,
                template=self.cipher.encrypt(shot.embedding.astype(np.float32).tobytes(),
                                             f"face:{person.id}:template"),
                crop=self.cipher.encrypt(crop.tobytes(), f"face:{person.id}:crop") if ok else None,
                quality=round(shot.quality.score, 4), model=self.engine.model_version, source=photo.name[:255],
                photo_sha256=hashlib.sha256(photo.data).hexdigest(), created_at=now,
            ))
        with self.db.session() as s:
            s.add(person)
            s.flush()
            s.add_all(rows)
            s.flush()
            ids = [r.id for r in rows]
        self.index.add(ids, np.array([shot.embedding for _, shot in shots], np.float32))
        with self._lock:
            self._owner.update(dict.fromkeys(ids, person.id))
            self._people[person.id] = (person.name, list(person.watchlists))
        return person

    def delete(self, person_id: str) -> bool:
        """Remove a person, their templates and crops: from the database and from the live index at once."""
        with self._lock:
            ids = [t for t, p in self._owner.items() if p == person_id]
            for t in ids:
                del self._owner[t]  # from now on a search cannot name them, even mid-flight
            self._people.pop(person_id, None)
        self.index.remove(ids)
        with self.db.session() as s:
            s.execute(delete(FaceTemplate).where(FaceTemplate.person_id == person_id))
            n = rowcount(s.execute(delete(Person).where(Person.id == person_id)))
        return bool(n)

    # between registries (the central node enrols, sites match) ----------------------------------------

    def export_person(self, person_id: str) -> dict[str, Any]:
        """A person as another registry enrols them: their record and decrypted templates and crops. Biometric
        data in the clear: it only travels to the sites, over their own authenticated (TLS) links."""
        person = self.get(person_id)
        rows = self.templates(person.id)
        return {"person": {k: getattr(person, k) for k in PERSON_FIELDS},
                "templates": [{"embedding": _b64(self._open_template(r.template, person.id).tobytes()),
                               "crop": _b64(c) if (c := self.crop(r)) else None, "quality": r.quality,
                               "model": r.model, "source": r.source, "photo_sha256": r.photo_sha256}
                              for r in rows]}

    def import_person(self, doc: dict[str, Any], *, enrolled_by: str) -> Person:
        """Enrol a person exported by another registry under the same id; what this registry held of them
        (record, watchlists, templates) is replaced, all at once."""
        p, templates = doc["person"], doc["templates"]
        problems = []
        if len(str(p.get("legal_basis") or "").strip()) < 3:
            problems.append("a legal basis is required")
        if not templates:
            problems.append("at least one face template is required")
        wrong = sorted({str(t["model"]) for t in templates} - {self.engine.model_version})
        if wrong:
            problems.append(f"templates of model {', '.join(wrong)} cannot be matched by this site's "
                            f"{self.engine.model_version}: re-enrol from photos")
        vectors = [np.frombuffer(base64.b64decode(t["embedding"]), np.float32) for t in templates]
        if any(v.shape != (128,) for v in vectors):
            problems.append("a face template is not a 128-value embedding")
        if problems:
            raise EnrolmentError(problems)
        pid, now = str(p["id"]), datetime.now(UTC)
        fields = {k: p.get(k) for k in PERSON_FIELDS if k != "id"}
        with self.db.session() as s:
            person = s.get(Person, pid)
            if person is None:
                person = Person(id=pid, created_at=now, **fields)
                s.add(person)
            else:
                for k, v in fields.items():
                    setattr(person, k, v)
            person.updated_at = now
            s.execute(delete(FaceTemplate).where(FaceTemplate.person_id == pid))
            rows = [FaceTemplate(
                person_id=pid, template=self.cipher.encrypt(v.tobytes(), f"face:{pid}:template"),
                crop=self.cipher.encrypt(base64.b64decode(t["crop"]), f"face:{pid}:crop") if t.get("crop") else None,
                quality=float(t["quality"]), model=str(t["model"]), source=str(t["source"])[:255],
                photo_sha256=str(t["photo_sha256"]), created_at=now) for t, v in zip(templates, vectors, strict=True)]
            s.add_all(rows)
            s.flush()
            ids = [r.id for r in rows]
        with self._lock:
            old = [t for t, owner in self._owner.items() if owner == pid]
            for t in old:
                del self._owner[t]
        self.index.remove(old)
        self.index.add(ids, np.array(vectors, np.float32))
        with self._lock:
            self._owner.update(dict.fromkeys(ids, pid))
            self._people[pid] = (person.name, list(person.watchlists))
        return person

    # queries ------------------------------------------------------------------------------------------

    def get(self, person_id: str) -> Person:
        with self.db.session() as s:
            person = s.get(Person, person_id)
            if person is None:
                person = s.scalar(select(Person).where(Person.external_ref == person_id))
        if person is None:
            raise NotFound(f"no enrolled person {person_id!r}")
        return person

    def people(self) -> list[tuple[Person, int]]:
        with self.db.session() as s:
            rows = s.execute(select(FaceTemplate.person_id, func.count()).group_by(FaceTemplate.person_id))
            counts = {person_id: n for person_id, n in rows}
            return [(p, counts.get(p.id, 0)) for p in s.scalars(select(Person).order_by(Person.name))]

    def templates(self, person_id: str) -> list[FaceTemplate]:
        with self.db.session() as s:
            return list(s.scalars(select(FaceTemplate).where(FaceTemplate.person_id == person_id)))

    def identify(self, embedding: np.ndarray, k: int = 5) -> list[Candidate]:
        """The k most similar people (best template each), most similar first; no threshold applied."""
        sims, ids = self.index.search(embedding.reshape(1, -1), max(k * 4, 16))
        best: dict[str, Candidate] = {}
        with self._lock:
            for sim, tid in zip(sims[0], ids[0], strict=True):
                owner = self._owner.get(int(tid))
                if owner is None or (owner in best and best[owner].similarity >= sim):
                    continue
                name, watchlists = self._people.get(owner, ("?", []))
                best[owner] = Candidate(owner, name, float(sim), int(tid), watchlists)
        return sorted(best.values(), key=lambda c: -c.similarity)[:k]

    def verify(self, person_id: str, embedding: np.ndarray) -> float:
        """Best similarity of ``embedding`` to the person's own templates (1:1, no index involved)."""
        person = self.get(person_id)
        rows = self.templates(person.id)
        if not rows:
            raise NotFound(f"{person.name} has no face templates")
        vecs = np.array([self._open_template(r.template, person.id) for r in rows], np.float32)
        return float((vecs @ embedding.astype(np.float32)).max())

    def crop(self, template: FaceTemplate) -> bytes | None:
        return self.cipher.decrypt(template.crop, f"face:{template.person_id}:crop") if template.crop else None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def open_face_registry(config: Config, db: Database) -> FaceRegistry:
    """The one way the service, the API and the CLI open the registry: the configured key (refused if it is
    not the one the database was written with), the configured operating point, every template indexed."""
    ident = config.identity
    registry = FaceRegistry(db, Cipher(load_key(ident.key_file, ident.key_env)), min_quality=ident.min_enrol_quality,
                            operating_point=ident.operating_point, exact_below=ident.exact_search_below)
    registry.start()
    return registry
