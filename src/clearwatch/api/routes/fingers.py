"""Fingerprints over HTTP: a person's fingers (enrol from an image or an ISO/IEC 19794-2 template, list, remove),
1:1 verification and 1:N identification with the decision and the false match rate it stands on. Every call is on
the audit trail; searches carry their justification, and may need a second person's approval."""

from __future__ import annotations

import hashlib
from datetime import datetime

from fastapi import APIRouter, Depends, File, Form, HTTPException, Path, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from clearwatch.api.routes.approvals import second_person
from clearwatch.api.security import Principal, ctx, require
from clearwatch.errors import ClearwatchError
from clearwatch.fingerprints.probe import Probe, read_probe
from clearwatch.governance import Perm
from clearwatch.identity.fingers import FINGERS, FingerError, FingerRegistry, estimated_fmr
from clearwatch.storage.models import FingerTemplate

router = APIRouter(prefix="/api", tags=["fingers"])
MAX_UPLOAD = 10_000_000
PersonId = Path(..., min_length=1, max_length=32)


class FingerOut(BaseModel):
    id: int
    finger: int
    position: str
    minutiae: int
    source: str
    image_kept: bool
    created_at: datetime


class Decision(BaseModel):
    person_id: str
    finger: int | None
    score: float
    fmr: float  # the share of impostor pairs that score as high (estimated on FVC2002)
    threshold: float
    match: bool


class FingerCandidateOut(BaseModel):
    person_id: str
    name: str
    finger: int
    score: float
    fmr: float
    match: bool


class Identification(BaseModel):
    threshold: float
    minutiae: int
    candidates: list[FingerCandidateOut]


def fingers(request: Request) -> FingerRegistry:
    reg = ctx(request).fingers()
    if reg is None:
        raise HTTPException(503, "the identity registry is not available: set identity.key_file (or "
                                 "$CLEARWATCH_KEY) and restart")
    return reg


async def _probe(upload: UploadFile, dpi: float | None) -> tuple[Probe, bytes, str]:
    name = (upload.filename or "upload")[:200]
    data = await upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise HTTPException(413, f"{name}: larger than {MAX_UPLOAD // 1_000_000} MB")
    if not data:
        raise HTTPException(422, f"{name}: the file is empty")
    try:
        # extraction is a few hundred milliseconds of numpy: not on the event loop
        probe = await run_in_threadpool(read_probe, data, name, dpi)
    except ClearwatchError as exc:
        raise HTTPException(422, f"{name}: {exc}") from None
    return probe, data, name


def _out(row: FingerTemplate) -> FingerOut:
    return FingerOut(id=row.id, finger=row.finger, position=FINGERS.get(row.finger, "?"), minutiae=row.minutiae,
                     source=row.source, image_kept=row.image is not None, created_at=row.created_at)


@router.get("/people/{person_id}/fingers", response_model=list[FingerOut])
def person_fingers(request: Request, person_id: str = PersonId,
                   p: Principal = Depends(require(Perm.PEOPLE))) -> list[FingerOut]:
    try:
        rows = fingers(request).fingers(person_id)
    except FingerError as exc:
        raise HTTPException(404, str(exc)) from None
    ctx(request).audit.append(p.actor, "biometric.view", person_id, {"fingers": len(rows)})
    return [_out(r) for r in rows]


@router.post("/people/{person_id}/fingers", response_model=FingerOut, status_code=201)
async def enrol_finger(request: Request, person_id: str = PersonId,
                       finger: int = Form(..., ge=1, le=10, description="ISO position: 1 right thumb … 10 left little"),
                       legal_basis: str = Form(..., min_length=3, max_length=1000),
                       dpi: float | None = Form(None, ge=250, le=1500),
                       keep_image: bool = Form(False, description="Keep the image too (encrypted)."),
                       file: UploadFile = File(..., description="A fingerprint image or an ISO 19794-2 template."),
                       p: Principal = Depends(require(Perm.PEOPLE))) -> FingerOut:
    """Add a finger to an enrolled person, with the legal basis for holding it (on the audit trail)."""
    reg = fingers(request)
    probe, _, name = await _probe(file, dpi)
    png = None
    if keep_image and probe.image is not None:
        import cv2

        png = cv2.imencode(".png", probe.image)[1].tobytes()
    try:
        tid = await run_in_threadpool(reg.enrol, person_id, finger, probe.template, name, png)
    except FingerError as exc:
        ctx(request).audit.append(p.actor, "biometric.finger_enrol_refused", person_id[:64],
                                  {"finger": finger, "problem": str(exc)})
        raise HTTPException(404 if "no enrolled person" in str(exc) else 422, str(exc)) from None
    ctx(request).audit.append(p.actor, "biometric.finger_enrol", person_id,
                              {"finger": finger, "minutiae": len(probe.template), "source": name,
                               "image_kept": png is not None, "legal_basis": legal_basis})
    row = next(r for r in reg.fingers(person_id) if r.id == tid)
    return _out(row)


@router.delete("/people/{person_id}/fingers/{template_id}", status_code=204)
def remove_finger(request: Request, person_id: str = PersonId, template_id: int = Path(..., ge=1, le=2**63 - 1),
                  p: Principal = Depends(require(Perm.PEOPLE))) -> Response:
    try:
        finger = fingers(request).remove(person_id, template_id)
    except FingerError as exc:
        raise HTTPException(404, str(exc)) from None
    ctx(request).audit.append(p.actor, "biometric.finger_remove", person_id, {"finger": finger, "id": template_id})
    return Response(status_code=204)


@router.post("/fingers/verify", response_model=Decision,
             responses={202: {"description": "a second person must approve this search first"}})
async def verify(request: Request, person_id: str = Form(..., min_length=1, max_length=32),
                 justification: str = Form(..., min_length=5, max_length=1000),
                 finger: int | None = Form(None, ge=1, le=10), dpi: float | None = Form(None, ge=250, le=1500),
                 file: UploadFile = File(...), approval: str | None = Form(None),
                 p: Principal = Depends(require(Perm.FINGER_SEARCH))) -> Response:
    """1:1 — is this finger the person's? The score, the false match rate at that score, and the decision at the
    configured operating point."""
    reg = fingers(request)
    probe, data, name = await _probe(file, dpi)
    params = {"sha256": hashlib.sha256(data).hexdigest(), "person_id": person_id, "finger": finger}
    waiting = second_person(request, p, "finger_search", params, justification, approval)
    if waiting is not None:
        return waiting
    try:
        s = await run_in_threadpool(reg.verify, person_id, probe.template, finger)
    except FingerError as exc:
        raise HTTPException(404, str(exc)) from None
    out = Decision(person_id=person_id, finger=finger, score=round(s, 5), fmr=estimated_fmr(s),
                   threshold=reg.threshold, match=s >= reg.threshold)
    ctx(request).audit.append(p.actor, "biometric.finger_verify", person_id,
                              {"score": out.score, "match": out.match, "probe": name}, justification=justification)
    return JSONResponse(out.model_dump())


@router.post("/fingers/identify", response_model=Identification,
             responses={202: {"description": "a second person must approve this search first"}})
async def identify(request: Request, justification: str = Form(..., min_length=5, max_length=1000),
                   top: int = Form(5, ge=1, le=50), dpi: float | None = Form(None, ge=250, le=1500),
                   file: UploadFile = File(...), approval: str | None = Form(None),
                   p: Principal = Depends(require(Perm.FINGER_SEARCH))) -> Response:
    """1:N — whose finger is this? The best candidates, each with its score, false match rate and decision."""
    reg = fingers(request)
    probe, data, name = await _probe(file, dpi)
    params = {"sha256": hashlib.sha256(data).hexdigest(), "top": top}
    waiting = second_person(request, p, "finger_search", params, justification, approval)
    if waiting is not None:
        return waiting
    cands = await run_in_threadpool(reg.identify, probe.template, top)
    rows = [FingerCandidateOut(person_id=c.person_id, name=c.name, finger=c.finger, score=round(c.score, 5),
                               fmr=estimated_fmr(c.score), match=c.score >= reg.threshold) for c in cands]
    ctx(request).audit.append(p.actor, "biometric.finger_identify", name,
                              {"matches": [c.person_id for c in rows if c.match], "top": top},
                              justification=justification)
    return JSONResponse(Identification(threshold=reg.threshold, minutiae=len(probe.template),
                                       candidates=rows).model_dump())
