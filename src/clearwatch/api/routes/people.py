"""The identity registry over HTTP: people, enrolment by photo upload, face search and verification."""

from __future__ import annotations

import hashlib
from datetime import datetime

from fastapi import APIRouter, Depends, File, Form, HTTPException, Path, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from clearwatch.api.routes.approvals import second_person
from clearwatch.api.security import Principal, ctx, require
from clearwatch.faces import ImageError, load_image
from clearwatch.governance import Perm
from clearwatch.identity import EnrolmentError, FaceRegistry, NotFound, Photo, main_face
from clearwatch.storage.models import Person

router = APIRouter(prefix="/api", tags=["people"])
MAX_UPLOAD = 20_000_000


class PersonOut(BaseModel):
    id: str
    name: str
    external_ref: str | None
    tags: list[str]
    watchlists: list[str]
    legal_basis: str
    enrolled_by: str
    created_at: datetime
    templates: int


class TemplateOut(BaseModel):
    id: int
    quality: float
    source: str
    created_at: datetime


class PersonDetail(PersonOut):
    face_templates: list[TemplateOut]


def registry(request: Request) -> FaceRegistry:
    reg = ctx(request).registry
    if reg is None:
        raise HTTPException(503, "the identity registry is not available: set identity.key_file (or "
                                 "$CLEARWATCH_KEY) and restart")
    return reg


def person_out(p: object, n: int) -> PersonOut:
    return PersonOut(templates=n, **{k: getattr(p, k) for k in (
        "id", "name", "external_ref", "tags", "watchlists", "legal_basis", "enrolled_by", "created_at")})


async def _photo(upload: UploadFile) -> Photo:
    data = await upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise HTTPException(413, f"{upload.filename}: larger than {MAX_UPLOAD // 1_000_000} MB")
    return Photo((upload.filename or "upload")[:200], data)


@router.get("/people", response_model=list[PersonOut])
def people(request: Request, p: Principal = Depends(require(Perm.PEOPLE))) -> list[PersonOut]:
    reg = registry(request)
    ctx(request).audit.append(p.actor, "biometric.list", "people")
    return [person_out(person, n) for person, n in reg.people()]


@router.post("/people", response_model=PersonOut, status_code=201)
async def enrol(request: Request, name: str = Form(..., min_length=1, max_length=200),
                legal_basis: str = Form(..., min_length=3, max_length=1000),
                external_ref: str | None = Form(None, max_length=200), watchlists: str = Form("", max_length=500),
                face: int | None = Form(None, ge=1, le=100), photos: list[UploadFile] = File(...),
                p: Principal = Depends(require(Perm.PEOPLE))) -> PersonOut:
    """Enrol from one or more photos; all or nothing, every refusal with its reason (422)."""
    reg = registry(request)
    items = [await _photo(u) for u in photos]
    lists = [w.strip() for w in watchlists.split(",") if w.strip()]
    try:
        person = reg.enrol(name, items, legal_basis=legal_basis, enrolled_by=p.user.name, external_ref=external_ref,
                           watchlists=lists, choose=face)
    except EnrolmentError as exc:
        ctx(request).audit.append(p.actor, "biometric.enrol_refused", name[:64], {"problems": exc.problems})
        raise HTTPException(422, {"message": "enrolment refused", "problems": exc.problems}) from None
    ctx(request).audit.append(p.actor, "biometric.enrol", person.id,
                              {"name": person.name, "photos": len(items), "legal_basis": legal_basis})
    return person_out(person, len(items))


def found(reg: FaceRegistry, person_id: str) -> Person:
    try:
        return reg.get(person_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/people/{person_id}", response_model=PersonDetail)
def person(person_id: str, request: Request, p: Principal = Depends(require(Perm.PEOPLE))) -> PersonDetail:
    reg = registry(request)
    person = found(reg, person_id)
    templates = reg.templates(person.id)
    ctx(request).audit.append(p.actor, "biometric.view", person.id)
    return PersonDetail(**person_out(person, len(templates)).model_dump(), face_templates=[
        TemplateOut(id=t.id, quality=t.quality, source=t.source, created_at=t.created_at) for t in templates])


@router.get("/people/{person_id}/faces/{template_id}.jpg", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}}})
def face_crop(person_id: str, request: Request, template_id: int = Path(..., ge=1, le=2**63 - 1),
              p: Principal = Depends(require(Perm.PEOPLE))) -> Response:
    reg = registry(request)
    template = next((t for t in reg.templates(person_id) if t.id == template_id), None)
    data = reg.crop(template) if template is not None else None
    if data is None:
        raise HTTPException(404, "no such face")
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.delete("/people/{person_id}", status_code=204)
def delete_person(person_id: str, request: Request, p: Principal = Depends(require(Perm.PEOPLE))) -> Response:
    """Erase a person as ``POST /people/{id}/erase`` does (templates, pictures, fingerprints, their identity in
    past events; the live index forgets them at once), without handing back the receipt."""
    from clearwatch.governance.signing import installation_signer
    from clearwatch.governance.subjects import erase_person, receipt_summary

    c = ctx(request)
    reg = registry(request)
    person = found(reg, person_id)
    receipt = erase_person(c.config, c.db, reg, installation_signer(c.config), person.id, p.user.name, "deleted")
    c.audit.append(p.actor, "biometric.delete", person.id, receipt_summary(receipt))
    return Response(status_code=204)


class Match(BaseModel):
    person_id: str
    name: str
    similarity: float
    match: bool
    watchlists: list[str]


class SearchResult(BaseModel):
    quality: float
    threshold: float
    candidates: list[Match]


@router.post("/faces/search", response_model=SearchResult,
             responses={202: {"description": "a second person must approve this search first"}})
async def face_search(request: Request, justification: str = Form(..., min_length=5, max_length=1000),
                      top: int = Form(5, ge=1, le=50), photo: UploadFile = File(...),
                      approval: str | None = Form(None),
                      p: Principal = Depends(require(Perm.FACE_SEARCH))) -> Response:
    """Who is in this photo? Needs a justification, which goes on the audit trail with the result. Where face
    searches need dual authorisation, the first call makes a request (202) and the approved one runs."""
    reg = registry(request)
    item = await _photo(photo)
    params = {"photo_sha256": hashlib.sha256(item.data).hexdigest(), "top": top}
    waiting = second_person(request, p, "face_search", params, justification, approval)
    if waiting is not None:
        return waiting
    try:
        shot = main_face(reg.engine.analyse(load_image(item.data, item.name), min_quality=0.0))
    except ImageError as exc:
        raise HTTPException(422, str(exc)) from None
    if shot is None or shot.embedding is None:
        raise HTTPException(422, f"{item.name}: no face found")
    cands = reg.identify(shot.embedding, top)
    out = [Match(person_id=c.person_id, name=c.name, similarity=round(c.similarity, 4),
                 match=c.similarity >= reg.threshold, watchlists=c.watchlists) for c in cands]
    ctx(request).audit.append(p.actor, "biometric.search", item.name,
                              {"matches": [m.person_id for m in out if m.match], "top": top},
                              justification=justification)
    return JSONResponse(SearchResult(quality=round(shot.quality.score, 3), threshold=reg.threshold,
                                     candidates=out).model_dump())
