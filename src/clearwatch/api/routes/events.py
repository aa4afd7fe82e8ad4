"""Events: filtered list, one event, its snapshots, and a live stream (server-sent events)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from clearwatch.api.security import Principal, SeenRecently, ctx, masked_jpeg, require
from clearwatch.events import EventUpdate
from clearwatch.governance import Perm
from clearwatch.storage import EventRecord

router = APIRouter(prefix="/api", tags=["events"])
seen = SeenRecently()


class EventOut(BaseModel):
    id: str
    site: str | None = None  # at the central node: the site it happened at
    camera: str
    kind: str
    label: str
    start: datetime
    end: datetime | None
    score: float
    track_id: int | None
    zones: list[str]
    crossings: list[dict[str, Any]]
    identity: str | None
    identity_name: str | None
    similarity: float | None
    snapshot: bool
    face_snapshot: bool
    clip_start: datetime | None
    clip_end: datetime | None
    data: dict[str, Any]


PLATE_FIELDS = ("plate", "listed", "chars", "plate_snapshot", "note")


def plate_hidden(kind: str, label: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A plate read as a role without the plates permission sees it: that a plate was read, not which."""
    if kind == "plate":
        return "plate", {k: v for k, v in data.items() if k not in PLATE_FIELDS}
    if kind == "alert" and "plate" in data:
        return label, {k: v for k, v in data.items() if k not in PLATE_FIELDS}
    return label, data


def event_out(r: EventRecord, biometric: bool, plates: bool = True) -> EventOut:
    label, data = (r.label, r.data) if plates else plate_hidden(r.kind, r.label, r.data)
    return EventOut(
        id=r.id, site=r.site, camera=r.camera, kind=r.kind, label=label, start=r.start, end=r.end, score=r.score,
        track_id=r.track_id, zones=r.zones, crossings=r.crossings,
        # who someone is, is biometric: roles without it see that a face was matched, not whose
        identity=r.identity if biometric else None, identity_name=r.identity_name if biometric else None,
        similarity=r.similarity if biometric else None, snapshot=bool(r.snapshot),
        face_snapshot=bool(r.face_snapshot) and biometric, clip_start=r.clip_start, clip_end=r.clip_end,
        data=data if biometric or r.kind != "alert" else {k: v for k, v in data.items() if k != "name"},
    )


class EventPage(BaseModel):
    events: list[EventOut]
    next_before: datetime | None


@router.get("/events", response_model=EventPage)
def list_events(request: Request, camera: str | None = None, label: str | None = None, kind: str | None = None,
                zone: str | None = None, identity: str | None = None, start: datetime | None = None,
                end: datetime | None = None, before: datetime | None = None, site: str | None = None,
                limit: int = Query(50, ge=1, le=500), p: Principal = Depends(require(Perm.EVENTS))) -> EventPage:
    """Newest first. Page with ``before`` = the previous page's ``next_before``. At the central node every
    site's events, or one ``site``'s."""
    c = ctx(request)
    start, end, before = (as_utc(x) for x in (start, end, before))
    sites = None
    if c.central is not None:  # cameras belong to sites here: a user is limited by site
        if site is not None and not p.sees_site(site):
            raise HTTPException(403 if site in c.central.sites else 404, f"site {site!r} is not available to you")
        sites = [site] if site else (None if p.user.sites is None else p.sites(c.central.sites))
        allowed = [camera] if camera else []
    else:
        allowed = p.cameras(c.cameras)
        if camera is not None and camera not in allowed:
            raise HTTPException(403 if camera in c.cameras else 404, f"camera {camera!r} is not available to you")
    biometric = p.can(Perm.PEOPLE)
    if identity and not biometric:
        raise HTTPException(403, "searching events by identity needs the people permission")
    cameras = [camera] if camera else (None if len(allowed) == len(c.cameras) else allowed)
    upper = min(x for x in (end, before) if x is not None) if (end or before) else None
    rows = c.events.query(cameras=cameras, label=label, kind=kind, zone=zone, identity=identity, start=start,
                          end=upper, limit=limit, sites=sites)
    if identity:
        c.audit.append(p.actor, "biometric.event_search", identity, {"results": len(rows)})
    if label:  # a plate is looked up through the plate search, which asks why and is audited
        if kind == "plate":
            raise HTTPException(403, "look plates up with /api/plates/search (it asks why, and is audited)")
        rows = [r for r in rows if r.kind != "plate"]
    return EventPage(events=[event_out(r, biometric, p.can(Perm.PLATES)) for r in rows],
                     next_before=rows[-1].start if len(rows) == limit else None)


@router.get("/events/{event_id}", response_model=EventOut)
def get_event(event_id: str, request: Request, p: Principal = Depends(require(Perm.EVENTS))) -> EventOut:
    c = ctx(request)
    r = c.events.get(event_id)
    if r is None or not p.sees(r.camera) or not p.sees_site(r.site):
        raise HTTPException(404, "no such event")
    return event_out(r, p.can(Perm.PEOPLE), p.can(Perm.PLATES))


@router.get("/events/{event_id}/snapshot.jpg", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}}})
def event_snapshot(event_id: str, request: Request, face: bool = False,
                   p: Principal = Depends(require(Perm.EVENTS))) -> Response:
    c = ctx(request)
    r = c.events.get(event_id)
    if r is None or not p.sees(r.camera) or not p.sees_site(r.site):
        raise HTTPException(404, "no such event")
    if face and not p.can(Perm.PEOPLE):
        raise HTTPException(403, "face crops need the people permission")
    rel = r.face_snapshot if face else r.snapshot
    if not rel or not (c.snapshots_dir / rel).is_file():
        raise HTTPException(404, "this event has no such snapshot (or retention removed it)")
    if seen.first(p.user.name, "snapshot", event_id, str(face)):
        c.audit.append(p.actor, "footage.snapshot", r.camera, {"event": event_id, "face": face})
    return masked_jpeg(p, c, r.camera, c.snapshots_dir / rel)


@router.get("/events/stream/live", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def stream(request: Request, p: Principal = Depends(require(Perm.EVENTS))) -> StreamingResponse:
    """New and changed events as they happen (server-sent events, ``event: start|update|end``)."""
    c = ctx(request)
    if c.event_service is None:
        raise HTTPException(503, "no cameras are running in this process")
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[EventUpdate] = asyncio.Queue(maxsize=1000)
    biometric = p.can(Perm.PEOPLE)
    plates = p.can(Perm.PLATES)

    def listener(update: EventUpdate) -> None:
        if p.sees(update.event.camera):
            loop.call_soon_threadsafe(_offer, queue, update)

    service = c.event_service
    service.listeners.append(listener)

    async def gen() -> AsyncIterator[str]:
        try:
            yield ": connected\n\n"
            while not await request.is_disconnected():
                try:
                    u = await asyncio.wait_for(queue.get(), 15.0)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                data = u.event.as_dict()
                if not plates:
                    data["label"], data["data"] = plate_hidden(u.event.kind, u.event.label, u.event.data)
                if not biometric:
                    for k in ("identity", "identity_name", "similarity", "face_snapshot"):
                        data[k] = None
                yield f"event: {u.type}\ndata: {json.dumps(data, default=str)}\n\n"
        finally:
            service.listeners.remove(listener)

    return StreamingResponse(gen(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def as_utc(t: datetime | None) -> datetime | None:
    """Times without an offset are UTC (as everywhere in Clearwatch)."""
    return t.replace(tzinfo=UTC) if t is not None and t.tzinfo is None else t


def _offer(queue: asyncio.Queue[EventUpdate], update: EventUpdate) -> None:
    if not queue.full():  # a viewer too slow to keep up misses updates, never slows the cameras
        queue.put_nowait(update)
