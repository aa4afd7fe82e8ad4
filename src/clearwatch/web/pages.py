"""The console's pages: server-rendered shells; the data comes from the JSON API in small vanilla JS."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from clearwatch.api.routes.auth import do_login
from clearwatch.api.security import SESSION_COOKIE, Principal, ctx, end_session, session_principal
from clearwatch.governance import Perm

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
STATIC = Path(__file__).with_name("static")
NAV = [("/", "Live", Perm.LIVE.value), ("/sites", "Sites", Perm.LIVE.value), ("/alarms", "Alarms", Perm.ALARMS.value),
       ("/events", "Events", Perm.EVENTS.value),
       ("/people", "People", Perm.PEOPLE.value), ("/search", "Face search", Perm.FACE_SEARCH.value),
       ("/fingers", "Fingerprints", Perm.PEOPLE.value),
       ("/plates", "Plates", Perm.PLATES.value),
       ("/machines", "Machines", Perm.MACHINES.value), ("/approvals", "Approvals", Perm.EXPORT.value),
       ("/system", "System", Perm.SYSTEM.value),
       ("/audit", "Audit", Perm.AUDIT.value), ("/transparency", "Transparency", Perm.AUDIT.value),
       ("/users", "Users", Perm.USERS.value)]

router = APIRouter(include_in_schema=False)


class LoginRedirect(Exception):
    pass


def _render(request: Request, template: str, p: Principal | None, page: str, title: str,
            status: int = 200, **extra: Any) -> HTMLResponse:
    perms = {perm.value for perm in Perm if p and p.can(perm)}
    central = ctx(request).central is not None
    # the central node has no cameras of its own (live view is per site); a site has no sites page
    hidden = "/" if central else "/sites"
    nav = [n for n in NAV if n[0] != hidden]
    context = {"user": p.user if p else None, "csrf": p.csrf if p else "", "perms": perms, "nav": nav,
               "central": central,
               "page": page, "title": title, "status": status, **extra}
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status,
                                      headers={"Cache-Control": "no-store"})


def page_user(request: Request, perm: Perm) -> Principal:
    p = session_principal(ctx(request), request)
    if p is None:
        raise LoginRedirect
    if not p.can(perm):
        raise HTTPException(403, f"your role ({p.user.role}) may not open this page")
    return p


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    if session_principal(ctx(request), request) is not None:
        return RedirectResponse("/", 303)
    return _render(request, "login.html", None, "login", "Log in")


@router.post("/login", response_class=HTMLResponse)
def login_form(request: Request, username: str = Form(""), password: str = Form("")) -> Response:
    redirect = RedirectResponse("/", 303)
    try:
        do_login(request, redirect, username[:64], password[:1024])
    except HTTPException as exc:
        return _render(request, "login.html", None, "login", "Log in", status=exc.status_code, error=exc.detail,
                       username=username[:64])
    return redirect


@router.post("/logout")
def logout_form(request: Request, csrf: str = Form("")) -> Response:
    c = ctx(request)
    p = session_principal(c, request)
    if p is not None:
        if not secrets.compare_digest(csrf, p.csrf or ""):
            raise HTTPException(403, "missing or wrong CSRF token")
        end_session(c, request.cookies.get(SESSION_COOKIE, ""))
        c.audit.append(p.actor, "auth.logout", p.user.name)
    response = RedirectResponse("/login", 303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
def live_page(request: Request) -> Response:
    p = page_user(request, Perm.LIVE)
    if ctx(request).central is not None:  # no cameras of its own: its front page is the sites
        return RedirectResponse("/sites", 303)
    return _render(request, "live.html", p, "live", "Live", cameras=p.cameras(ctx(request).cameras))


@router.get("/cameras/{camera}", response_class=HTMLResponse)
def camera_page(camera: str, request: Request) -> Response:
    p = page_user(request, Perm.PLAYBACK)
    c = ctx(request)
    if camera not in c.config.cameras:
        raise HTTPException(404, f"no camera {camera!r}")
    if not p.sees(camera):
        raise HTTPException(403, f"camera {camera!r} is not assigned to you")
    return _render(request, "camera.html", p, "camera", camera, camera=camera, can_export=p.can(Perm.EXPORT),
                   has_audio=c.config.cameras[camera].record.audio and p.can(Perm.LIVE))


@router.get("/events", response_class=HTMLResponse)
def events_page(request: Request) -> Response:
    p = page_user(request, Perm.EVENTS)
    return _render(request, "events.html", p, "events", "Events", cameras=p.cameras(ctx(request).cameras),
                   can_people=p.can(Perm.PEOPLE))


@router.get("/alarms", response_class=HTMLResponse)
def alarms_page(request: Request) -> Response:
    p = page_user(request, Perm.ALARMS)
    return _render(request, "alarms.html", p, "alarms", "Alarms", can_handle=p.can(Perm.ALARM_HANDLE),
                   can_arm=p.can(Perm.ARM))


@router.get("/people", response_class=HTMLResponse)
def people_page(request: Request) -> Response:
    p = page_user(request, Perm.PEOPLE)
    return _render(request, "people.html", p, "people", "People", registry=ctx(request).registry is not None)


@router.get("/fingers", response_class=HTMLResponse)
def fingers_page(request: Request) -> Response:
    from clearwatch.identity.fingers import FINGERS

    p = page_user(request, Perm.PEOPLE)
    return _render(request, "fingers.html", p, "fingers", "Fingerprints", registry=ctx(request).registry is not None,
                   positions=sorted(FINGERS.items()))


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request) -> Response:
    p = page_user(request, Perm.FACE_SEARCH)
    return _render(request, "search.html", p, "search", "Face search")


@router.get("/plates", response_class=HTMLResponse)
def plates_page(request: Request) -> Response:
    p = page_user(request, Perm.PLATES)
    return _render(request, "plates.html", p, "plates", "Plates", can_search=p.can(Perm.PLATE_SEARCH))


def _table_page(request: Request, perm: Perm, page: str, title: str) -> Response:
    p = page_user(request, perm)
    return _render(request, "table.html", p, page, title, source=page)


@router.get("/sites", response_class=HTMLResponse)
def sites_page(request: Request) -> Response:
    if ctx(request).central is None:
        raise HTTPException(404, "this installation is not a central node")
    return _table_page(request, Perm.LIVE, "sites", "Sites")


@router.get("/machines", response_class=HTMLResponse)
def machines_page(request: Request) -> Response:
    return _table_page(request, Perm.MACHINES, "machines", "Machines and lines")


@router.get("/approvals", response_class=HTMLResponse)
def approvals_page(request: Request) -> Response:
    return _table_page(request, Perm.EXPORT, "approvals", "Requests waiting for a second person")


@router.get("/system", response_class=HTMLResponse)
def system_page(request: Request) -> Response:
    return _table_page(request, Perm.SYSTEM, "system", "System")


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request) -> Response:
    return _table_page(request, Perm.AUDIT, "audit", "Audit trail")


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request) -> Response:
    return _table_page(request, Perm.USERS, "users", "Users")


def render_error(request: Request, status: int, message: str) -> Response:
    p = session_principal(ctx(request), request)
    return _render(request, "error.html", p, "error", str(status), status=status, message=message)
