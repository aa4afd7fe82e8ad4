"""Licence plates over HTTP: the latest reads, audited search, plate crops, and the plate lists."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from clearwatch.api.routes.events import as_utc, seen
from clearwatch.api.security import Principal, ctx, require
from clearwatch.governance import Perm
from clearwatch.plates.lists import LIST_KINDS
from clearwatch.storage import EventRecord
from clearwatch.storage.models import PlateListEntry
from clearwatch.storage.plate_lists import PlateListError, PlateListStore

router = APIRouter(prefix="/api/plates", tags=["plates"])


class PlateOut(BaseModel):
    id: str
    camera: str
    plate: str
    time: datetime
    end: datetime | None
    confidence: float
    format: str | None
    verified: bool
    vehicle: str | None
    colour: str | None
    direction: str | None
    lists: list[str]
    snapshot: bool
    plate_snapshot: bool
    distance: int = 0


def plate_out(r: EventRecord, distance: int = 0) -> PlateOut:
    d: dict[str, Any] = r.data
    return PlateOut(id=r.id, camera=r.camera, plate=r.label, time=r.start, end=r.end, confidence=r.score,
                    format=d.get("format"), verified=bool(d.get("verified")), vehicle=d.get("vehicle"),
                    colour=d.get("colour"), direction=d.get("direction"), lists=d.get("lists", []),
                    snapshot=bool(r.snapshot), plate_snapshot=bool(d.get("plate_snapshot")), distance=distance)


@router.get("", response_model=list[PlateOut])
def latest(request: Request, camera: str | None = None, limit: int = Query(50, ge=1, le=500),
           p: Principal = Depends(require(Perm.PLATES))) -> list[PlateOut]:
    """The newest plate reads of the cameras you may see."""
    c = ctx(request)
    cams = [camera] if camera else p.cameras(c.cameras)
    if camera is not None and not p.sees(camera):
        raise HTTPException(403, f"camera {camera!r} is not assigned to you")
    return [plate_out(r) for r in c.events.query(cameras=cams, kind="plate", limit=limit)]


@router.get("/search", response_model=list[PlateOut])
def search(request: Request, q: str = Query(..., min_length=1, max_length=16, description="A plate; * ? wildcards"),
           why: str = Query(..., min_length=5, max_length=500, description="Why you are looking (audited)."),
           fuzzy: int = Query(0, ge=0, le=3), start: datetime | None = None, end: datetime | None = None,
           limit: int = Query(100, ge=1, le=1000),
           p: Principal = Depends(require(Perm.PLATE_SEARCH))) -> list[PlateOut]:
    """Where and when a plate was read, newest first; each search is on the audit trail with its reason."""
    if len(why.strip()) < 5:
        raise HTTPException(422, "why: give a real reason (at least 5 characters); it goes on the audit trail")
    c = ctx(request)
    found = c.events.plates(q, fuzzy=fuzzy, cameras=p.cameras(c.cameras), start=as_utc(start), end=as_utc(end),
                            limit=limit)
    c.audit.append(p.actor, "plate.search", q, {"fuzzy": fuzzy, "results": len(found)}, justification=why.strip())
    return [plate_out(r, d) for r, d in found]


@router.get("/{event_id}/plate.jpg", response_class=FileResponse, responses={200: {"content": {"image/jpeg": {}}}})
def plate_crop(event_id: str, request: Request, p: Principal = Depends(require(Perm.PLATES))) -> FileResponse:
    c = ctx(request)
    r = c.events.get(event_id)
    if r is None or not p.sees(r.camera):
        raise HTTPException(404, "no such plate read")
    rel = r.data.get("plate_snapshot")
    if not rel or not (c.snapshots_dir / rel).is_file():
        raise HTTPException(404, "this read has no plate crop (or retention removed it)")
    if seen.first(p.user.name, "plate", event_id):
        c.audit.append(p.actor, "footage.snapshot", r.camera, {"event": event_id, "plate": True})
    return FileResponse(c.snapshots_dir / rel, media_type="image/jpeg")


# lists -----------------------------------------------------------------------------------------------

class ListIn(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
    kind: str = Field(description=f"One of {', '.join(LIST_KINDS)}.")
    description: str = Field(default="", max_length=500)


class ListOut(BaseModel):
    name: str
    kind: str
    description: str
    plates: int


class EntryIn(BaseModel):
    plate: str = Field(min_length=1, max_length=20)
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    note: str = Field(default="", max_length=500)


class EntryOut(BaseModel):
    plate: str
    valid_from: datetime | None
    valid_until: datetime | None
    note: str
    added_by: str


def entry_out(e: PlateListEntry) -> EntryOut:
    return EntryOut(plate=e.plate, valid_from=e.valid_from, valid_until=e.valid_until, note=e.note,
                    added_by=e.added_by)


def _store(request: Request) -> PlateListStore:
    return PlateListStore(ctx(request).db)


@router.get("/lists", response_model=list[ListOut])
def lists(request: Request, p: Principal = Depends(require(Perm.PLATES))) -> list[ListOut]:
    return [ListOut(name=pl.name, kind=pl.kind, description=pl.description, plates=n)
            for pl, n in _store(request).lists()]


@router.post("/lists", response_model=ListOut, status_code=201)
def create_list(body: ListIn, request: Request, p: Principal = Depends(require(Perm.PLATES))) -> ListOut:
    try:
        pl = _store(request).create(body.name, body.kind, p.user.name, body.description)
    except PlateListError as exc:
        raise HTTPException(409 if "exists" in str(exc) else 422, str(exc)) from None
    ctx(request).audit.append(p.actor, "plates.list_create", pl.name, {"kind": pl.kind})
    return ListOut(name=pl.name, kind=pl.kind, description=pl.description, plates=0)


@router.delete("/lists/{name}", status_code=204)
def delete_list(name: str, request: Request, p: Principal = Depends(require(Perm.PLATES))) -> Response:
    if not _store(request).delete(name):
        raise HTTPException(404, f"no plate list {name!r}")
    ctx(request).audit.append(p.actor, "plates.list_delete", name)
    return Response(status_code=204)


@router.get("/lists/{name}/entries", response_model=list[EntryOut])
def entries(name: str, request: Request, p: Principal = Depends(require(Perm.PLATES))) -> list[EntryOut]:
    store = _store(request)
    try:
        store.get(name)
    except PlateListError as exc:
        raise HTTPException(404, str(exc)) from None
    return [entry_out(e) for e in store.entries(name)]


@router.post("/lists/{name}/entries", response_model=EntryOut, status_code=201)
def add_entry(name: str, body: EntryIn, request: Request, p: Principal = Depends(require(Perm.PLATES))) -> EntryOut:
    try:
        e = _store(request).add(name, body.plate, p.user.name, valid_from=as_utc(body.valid_from),
                                valid_until=as_utc(body.valid_until), note=body.note)
    except PlateListError as exc:
        raise HTTPException(404 if "no plate list" in str(exc) else 422, str(exc)) from None
    ctx(request).audit.append(p.actor, "plates.list_add", name, {"plate": e.plate})
    return entry_out(e)


@router.delete("/lists/{name}/entries/{plate}", status_code=204)
def remove_entry(name: str, plate: str, request: Request, p: Principal = Depends(require(Perm.PLATES))) -> Response:
    try:
        removed = _store(request).remove(name, plate)
    except PlateListError as exc:
        raise HTTPException(422, str(exc)) from None
    if not removed:
        raise HTTPException(404, f"{plate!r} is not on list {name!r}")
    ctx(request).audit.append(p.actor, "plates.list_remove", name, {"plate": plate})
    return Response(status_code=204)
