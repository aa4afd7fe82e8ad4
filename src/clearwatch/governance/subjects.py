"""What Clearwatch holds about an enrolled person (subject access), and erasing them with a signed receipt.

Erasure removes their face templates and crops, their fingerprints, their identity from every past event (the
events stay, anonymous: a person walked past, nobody says who) with the face crops of those events, and their
name from face alarms; the live index forgets them at once. The receipt lists what went and where, signed with
the installation's key. The audit trail keeps that an erasure happened (ids and counts, no name)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, or_, select, update

from clearwatch import __version__
from clearwatch.config import Config
from clearwatch.governance.signing import Signer
from clearwatch.storage import Database
from clearwatch.storage.models import Alarm, AuditRecord, EventRecord, FaceTemplate, FingerTemplate, Person
from clearwatch.timeparse import iso_z

if TYPE_CHECKING:
    from clearwatch.identity import FaceRegistry

log = logging.getLogger(__name__)
RECEIPT = "clearwatch-erasure-receipt/1"
REPORT = "clearwatch-subject-report/1"
# audit actions whose records name the people a search returned (in their detail)
SEARCHES = ("biometric.search", "biometric.finger_identify", "biometric.video_search", "biometric.event_search",
            "biometric.verify", "biometric.finger_verify")




def subject_report(db: Database, person_id: str, site: str) -> dict[str, Any]:
    """Everything held about one enrolled person, read from the data itself."""
    with db.session() as s:
        p = s.get(Person, person_id) or s.scalar(select(Person).where(Person.external_ref == person_id))
        if p is None:
            from clearwatch.identity.errors import NotFound

            raise NotFound(f"no enrolled person {person_id!r}")
        faces = list(s.execute(select(FaceTemplate.id, FaceTemplate.quality, FaceTemplate.source,
                                      FaceTemplate.model, FaceTemplate.created_at, FaceTemplate.crop.is_not(None))
                               .where(FaceTemplate.person_id == p.id)))
        fingers = list(s.execute(select(FingerTemplate.finger, FingerTemplate.minutiae, FingerTemplate.source,
                                        FingerTemplate.created_at, FingerTemplate.image.is_not(None))
                                 .where(FingerTemplate.person_id == p.id)))
        matches = list(s.execute(select(EventRecord.id, EventRecord.camera, EventRecord.kind, EventRecord.start,
                                        EventRecord.end, EventRecord.similarity, EventRecord.face_snapshot)
                                 .where(EventRecord.identity == p.id).order_by(EventRecord.start)))
        needle = f'%"{p.id}"%'  # ids are hex: safe inside a LIKE pattern
        trail = list(s.scalars(select(AuditRecord).where(or_(
            AuditRecord.target == p.id,
            AuditRecord.action.in_(SEARCHES) & AuditRecord.detail.like(needle))).order_by(AuditRecord.id)))
    searches = [r for r in trail if r.action in SEARCHES and r.target != p.id]
    return {
        "format": REPORT, "site": site, "generated": iso_z(datetime.now(UTC)),
        "person": {"id": p.id, "name": p.name, "external_ref": p.external_ref, "tags": p.tags,
                   "watchlists": p.watchlists, "legal_basis": p.legal_basis, "enrolled_by": p.enrolled_by,
                   "enrolled_at": iso_z(p.created_at), "updated_at": iso_z(p.updated_at)},
        "face_templates": [{"id": f.id, "quality": round(f.quality, 3), "source": f.source, "model": f.model,
                            "created_at": iso_z(f.created_at), "photo_crop_kept": bool(f[5])} for f in faces],
        "fingerprints": [{"finger": f.finger, "minutiae": f.minutiae, "source": f.source,
                          "created_at": iso_z(f.created_at), "image_kept": bool(f[4])} for f in fingers],
        "matches_on_video": [{"event": m.id, "camera": m.camera, "kind": m.kind, "start": iso_z(m.start),
                              "end": iso_z(m.end), "similarity": m.similarity, "face_picture": bool(m.face_snapshot)}
                             for m in matches],
        "searches_returning_them": [{"time": r.ts, "by": r.actor, "role": r.role, "action": r.action,
                                     "why": r.justification, "from": r.address} for r in searches],
        "record_history": [{"time": r.ts, "by": r.actor, "action": r.action, "why": r.justification}
                           for r in trail if r.target == p.id],
    }


def erase_person(config: Config, db: Database, registry: FaceRegistry, signer: Signer, person_id: str, by: str,
                 why: str) -> dict[str, Any]:
    """Erase everything held about an enrolled person; returns the signed receipt."""
    person = registry.get(person_id)
    pid = person.id
    with db.session() as s:
        face_ids = list(s.scalars(select(FaceTemplate.id).where(FaceTemplate.person_id == pid)))
        fingers = sorted(s.scalars(select(FingerTemplate.finger).where(FingerTemplate.person_id == pid)))
        events = list(s.execute(select(EventRecord.id, EventRecord.kind, EventRecord.face_snapshot,
                                       EventRecord.data).where(EventRecord.identity == pid)))
    crops_deleted = []
    for e in events:
        if e.face_snapshot:
            path = config.snapshots_dir / e.face_snapshot
            try:
                if path.exists():
                    path.unlink()
                    crops_deleted.append(e.face_snapshot)
            except OSError as exc:
                log.warning("cannot delete %s: %s", path, exc.strerror)
    event_ids = [e.id for e in events]
    with db.session() as s:
        if event_ids:
            s.execute(update(EventRecord).where(EventRecord.id.in_(event_ids)).values(
                identity=None, identity_name=None, similarity=None, face_snapshot=None))
            for e in events:  # an alert names whom it was about in its data too
                if e.kind == "alert" and "name" in (e.data or {}):
                    s.execute(update(EventRecord).where(EventRecord.id == e.id).values(
                        data={k: v for k, v in e.data.items() if k != "name"}))
        alarms = [a for a in s.scalars(select(Alarm).where(Alarm.kind == "face"))
                  if a.event_id in event_ids or person.name in a.title]
        for a in alarms:
            a.title = f"Watchlist face on {a.camera}" if a.camera else "Watchlist face"
        s.execute(delete(FingerTemplate).where(FingerTemplate.person_id == pid))
    registry.delete(pid)
    receipt = {
        "format": RECEIPT, "site": config.site.name, "person_id": pid, "external_ref": person.external_ref,
        "enrolled_at": iso_z(person.created_at), "legal_basis": person.legal_basis,
        "erased_at": iso_z(datetime.now(UTC)),
        "erased_by": by, "why": why, "software": f"clearwatch {__version__}",
        "removed": {"person_record": True, "face_templates": len(face_ids), "face_template_ids": face_ids,
                    "fingerprints": fingers, "event_identity_links": len(event_ids), "events": event_ids,
                    "event_face_pictures": crops_deleted, "face_alarms_anonymised": [a.id for a in alarms],
                    "live_face_index": True},
        "where": {"database": db.safe_url, "pictures": str(config.snapshots_dir)},
    }
    return signer.sign_document(receipt)


def receipt_summary(receipt: dict[str, Any]) -> dict[str, Any]:
    """What goes on the audit trail about an erasure: ids and counts, not the person's name."""
    r = receipt["removed"]
    return {"face_templates": r["face_templates"], "fingerprints": len(r["fingerprints"]),
            "event_links": r["event_identity_links"], "pictures": len(r["event_face_pictures"]),
            "receipt_signature": receipt["signed"]["signature"][:24]}


def write_json(path: Any, doc: dict[str, Any]) -> None:
    from pathlib import Path

    Path(path).write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
