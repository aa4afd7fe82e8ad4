"""Accountability over HTTP: the transparency report (JSON, and the console's page), subject access reports,
and erasure with a signed receipt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from clearwatch.api.routes.events import as_utc
from clearwatch.api.routes.people import registry
from clearwatch.api.security import Principal, ctx, require, session_principal
from clearwatch.governance import Perm
from clearwatch.identity.errors import NotFound

router = APIRouter(prefix="/api", tags=["accountability"])
pages = APIRouter(include_in_schema=False)


def _transparency(request: Request, since: datetime | None) -> dict[str, Any]:
    from clearwatch.governance.signing import verification_keys
    from clearwatch.governance.transparency import transparency_report

    c = ctx(request)
    since = as_utc(since) or datetime.now(UTC) - timedelta(days=30)
    return transparency_report(c.config, c.db, since, trusted=verification_keys(c.config))


@router.get("/reports/transparency")
def transparency(request: Request, since: datetime | None = None,
                 p: Principal = Depends(require(Perm.AUDIT))) -> dict[str, Any]:
    """Footage held, who can see what, who looked, the registry by legal basis, retention compliance and the
    audit trail's state — all read from the data itself."""
    report = _transparency(request, since)
    ctx(request).audit.append(p.actor, "report.transparency", "", {"since": report["period"]["since"]})
    return report


@pages.get("/transparency", response_class=HTMLResponse)
def transparency_page(request: Request, since: datetime | None = Query(None)) -> HTMLResponse:
    """The report as a page: for auditors, or for anyone when ``governance.public_transparency`` is on."""
    from clearwatch.web.pages import LoginRedirect
    from clearwatch.web.reports import render_transparency

    c = ctx(request)
    p = session_principal(c, request)
    if not c.config.governance.public_transparency:
        if p is None:
            raise LoginRedirect
        if not p.can(Perm.AUDIT):
            raise HTTPException(403, f"your role ({p.user.role}) may not open this page")
    report = _transparency(request, since)
    if p is not None:
        c.audit.append(p.actor, "report.transparency", "", {"since": report["period"]["since"]})
    return HTMLResponse(render_transparency(report, standalone=False), headers={"Cache-Control": "no-store"})


@router.get("/people/{person_id}/report")
def subject(person_id: str, request: Request, p: Principal = Depends(require(Perm.PEOPLE))) -> dict[str, Any]:
    """Everything held about an enrolled person (subject access); answering it is audited."""
    from clearwatch.governance.subjects import subject_report

    c = ctx(request)
    try:
        report = subject_report(c.db, person_id, c.config.site.name)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    c.audit.append(p.actor, "report.subject", report["person"]["id"],
                   {"matches": len(report["matches_on_video"]), "searches": len(report["searches_returning_them"])})
    return report


@pages.get("/people/{person_id}/report", response_class=HTMLResponse)
def subject_page(person_id: str, request: Request) -> HTMLResponse:
    from clearwatch.web.pages import page_user
    from clearwatch.web.reports import render_subject

    p = page_user(request, Perm.PEOPLE)
    return HTMLResponse(render_subject(subject(person_id, request, p), standalone=False),
                        headers={"Cache-Control": "no-store"})


class EraseRequest(BaseModel):
    why: str = Field(min_length=5, max_length=1000, description="The erasure request, and its reference.")


@router.post("/people/{person_id}/erase")
def erase(person_id: str, body: EraseRequest, request: Request,
          p: Principal = Depends(require(Perm.PEOPLE))) -> dict[str, Any]:
    """Erase everything held about a person; returns the signed receipt (check it with ``clearwatch verify``)."""
    from clearwatch.governance.signing import installation_signer
    from clearwatch.governance.subjects import erase_person, receipt_summary

    c = ctx(request)
    reg = registry(request)
    try:
        receipt = erase_person(c.config, c.db, reg, installation_signer(c.config), person_id, p.user.name,
                               body.why.strip())
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    c.audit.append(p.actor, "biometric.erase", receipt["person_id"], receipt_summary(receipt),
                   justification=body.why.strip())
    return receipt
