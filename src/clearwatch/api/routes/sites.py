"""The central node's sites: their links, and footage, live pictures and erasures fetched from them on demand.
Every look at a site's footage is audited here and, under the central user's name, at the site."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from clearwatch.api.context import AppContext
from clearwatch.api.security import Principal, ctx, require
from clearwatch.federation.central import CentralNode
from clearwatch.federation.link import FederationError, SiteOffline
from clearwatch.governance import Perm

router = APIRouter(prefix="/api/sites", tags=["sites"])


def _central(c: AppContext) -> CentralNode:
    if c.central is None:
        raise HTTPException(404, "this installation is not a central node")
    return c.central


def _site(p: Principal, node: CentralNode, site: str) -> None:
    if site not in node.sites:
        raise HTTPException(404, f"no site {site!r}")
    if not p.sees_site(site):
        raise HTTPException(403, f"site {site!r} is not assigned to you")


def _failed(exc: FederationError) -> HTTPException:
    return HTTPException(503 if isinstance(exc, SiteOffline) else 502, str(exc))


@router.get("")
def list_sites(request: Request, p: Principal = Depends(require(Perm.LIVE))) -> list[dict[str, Any]]:
    """Each site: link up or down (checked every few seconds; an offline site answers 'no responders' at once),
    what waits to be applied, the last message, its cameras."""
    node = _central(ctx(request))
    return [r for r in node.site_rows() if p.sees_site(r["name"])]


@router.get("/{site}/cameras/{camera}/export", response_class=FileResponse)
def export_site_footage(site: str, camera: str, request: Request, background: BackgroundTasks,
                        start: datetime, end: datetime, justification: str = Query(..., min_length=3),
                        p: Principal = Depends(require(Perm.EXPORT))) -> Response:
    """The site's own export of that range (no re-encoding), streamed here through NATS in pieces."""
    c = ctx(request)
    node = _central(c)
    _site(p, node, site)
    tmp = Path(tempfile.mkdtemp(prefix="cw-site-export-"))
    out = tmp / f"{site}-{camera}.mp4"
    try:
        size, digest = node.export(site, camera, start, end, p.actor, justification, out)
    except FederationError as exc:
        out.unlink(missing_ok=True)
        tmp.rmdir()
        raise _failed(exc) from None
    c.audit.append(p.actor, "footage.export", f"{site}/{camera}",
                   {"site": site, "start": start.isoformat(), "end": end.isoformat(), "bytes": size,
                    "sha256": digest}, justification=justification)

    def clean() -> None:
        out.unlink(missing_ok=True)
        tmp.rmdir()

    background.add_task(clean)
    return FileResponse(out, media_type="video/mp4", filename=out.name, headers={"X-Clearwatch-SHA256": digest})


@router.get("/{site}/cameras/{camera}/snapshot.jpg", response_class=Response)
def site_snapshot(site: str, camera: str, request: Request, p: Principal = Depends(require(Perm.LIVE))) -> Response:
    """The camera's newest picture, from the site (masked unless the role may unmask)."""
    c = ctx(request)
    node = _central(c)
    _site(p, node, site)
    try:
        data = node.snapshot(site, camera, p.actor, unmasked=p.can(Perm.UNMASK))
    except FederationError as exc:
        raise _failed(exc) from None
    c.audit.append(p.actor, "footage.live", f"{site}/{camera}", {"site": site, "snapshot": True})
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


class EraseIn(BaseModel):
    person_id: str = Field(min_length=1, max_length=32)
    justification: str = Field(min_length=3)
    sites: list[str] | None = None


class PushIn(BaseModel):
    justification: str = Field(min_length=3)
    sites: list[str] | None = None


def _status(node: CentralNode, request_id: str) -> dict[str, Any]:
    status = node.command(request_id)
    if status is None:
        raise HTTPException(404, "no such command")
    return status


def _targets(p: Principal, node: CentralNode, sites: list[str] | None) -> list[str] | None:
    for s in sites or []:
        _site(p, node, s)
    if sites is None and p.user.sites is not None:
        raise HTTPException(403, "you are limited to some sites: name them")
    return sites


@router.post("/erasures", status_code=202)
def erase_everywhere(body: EraseIn, request: Request, p: Principal = Depends(require(Perm.PEOPLE))
                     ) -> dict[str, Any]:
    """Erase an enrolled person at every site (or those named). Sites that are offline apply it when they
    come back; the erasure's page lists which sites have confirmed, with each site's signed receipt."""
    c = ctx(request)
    node = _central(c)
    try:
        request_id = node.erase(body.person_id, p.actor, body.justification, _targets(p, node, body.sites))
    except FederationError as exc:
        raise _failed(exc) from None
    c.audit.append(p.actor, "person.erase", body.person_id, {"request": request_id, "sites": body.sites or "all"},
                   justification=body.justification)
    return _status(node, request_id)


@router.post("/people/{person_id}/push", status_code=202)
def push_person(person_id: str, body: PushIn, request: Request, p: Principal = Depends(require(Perm.PEOPLE))
                ) -> dict[str, Any]:
    """Enrol a person of the central registry at sites (every site, or those named), under the same id and
    with their watchlists, so the sites' cameras recognise them; each site confirms when it has."""
    from clearwatch.identity.errors import NotFound

    c = ctx(request)
    node = _central(c)
    if c.registry is None:
        raise HTTPException(503, "the central node has no face registry (no identity key configured)")
    try:
        export = c.registry.export_person(person_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    try:
        request_id = node.push_person(export, p.actor, body.justification, _targets(p, node, body.sites))
    except FederationError as exc:
        raise _failed(exc) from None
    c.audit.append(p.actor, "person.push", export["person"]["id"],
                   {"request": request_id, "sites": body.sites or "all", "templates": len(export["templates"])},
                   justification=body.justification)
    return _status(node, request_id)


@router.post("/users/push", status_code=202)
def push_users(body: PushIn, request: Request, p: Principal = Depends(require(Perm.USERS))) -> dict[str, Any]:
    """This node's users and roles to the sites: each to the sites they may see (``sites`` of a user)."""
    from clearwatch.governance import Users

    c = ctx(request)
    node = _central(c)
    try:
        request_id = node.push_users(Users(c.db).export(), p.actor, body.justification)
    except FederationError as exc:
        raise _failed(exc) from None
    c.audit.append(p.actor, "user.push", "sites", {"request": request_id}, justification=body.justification)
    return _status(node, request_id)


@router.get("/commands/{request_id}")
def command_status(request_id: str, request: Request, p: Principal = Depends(require(Perm.PEOPLE))
                   ) -> dict[str, Any]:
    """A command sent to sites (erasure, enrolment, users): which sites confirmed, what each did."""
    return _status(_central(ctx(request)), request_id)
