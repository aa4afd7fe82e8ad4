"""Dual authorisation over HTTP: requests waiting for a second person, and their decisions (audited)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from clearwatch.api.security import Principal, ctx, principal
from clearwatch.governance.approvals import PERM, ApprovalError, Approvals
from clearwatch.storage.models import Approval

router = APIRouter(prefix="/api/approvals", tags=["accountability"])


class ApprovalOut(BaseModel):
    id: str
    action: str
    params: dict[str, Any]
    requested_by: str
    reason: str
    created_at: datetime
    expires_at: datetime
    state: str
    decided_by: str | None
    decided_at: datetime | None


class ApprovalRequest(BaseModel):
    action: Literal["export", "face_search", "finger_search", "unmask"]
    params: dict[str, Any] = Field(description='unmask: {"camera": NAME}')
    why: str = Field(min_length=5, max_length=1000)


def _out(a: Approval) -> ApprovalOut:
    return ApprovalOut(**{k: getattr(a, k) for k in ApprovalOut.model_fields})


def _store(request: Request) -> Approvals:
    c = ctx(request)
    return Approvals(c.db, c.config.governance.approval_ttl)


@router.get("", response_model=list[ApprovalOut])
def pending(request: Request, p: Principal = Depends(principal)) -> list[ApprovalOut]:
    """Requests waiting for a decision that you may decide (you hold the action's permission), and your own."""
    return [_out(a) for a in _store(request).pending()
            if a.requested_by == p.user.name or p.can(PERM[a.action])]


@router.post("", response_model=ApprovalOut, status_code=201)
def ask(body: ApprovalRequest, request: Request, p: Principal = Depends(principal)) -> ApprovalOut:
    """Ask for a second person's approval (exports and searches ask by themselves; unmasking a camera asks here)."""
    if not p.can(PERM[body.action]):
        raise HTTPException(403, f"your role ({p.user.role}) may not {body.action.replace('_', ' ')}")
    if body.action == "unmask" and body.params.get("camera") not in ctx(request).config.cameras:
        raise HTTPException(422, "unmask needs params.camera: one of the cameras")
    return _out(_request(request, p, body.action, body.params, body.why))


def _request(request: Request, p: Principal, action: str, params: dict[str, Any], why: str) -> Approval:
    a = _store(request).request(action, params, p.user.name, why)
    ctx(request).audit.append(p.actor, "approval.request", a.id, {"action": action, **params}, justification=why)
    return a


def second_person(request: Request, p: Principal, action: str, params: dict[str, Any], why: str,
                  approval: str | None) -> JSONResponse | None:
    """Dual authorisation in front of an action: None when it may run (not configured, or ``approval`` covers
    exactly this and is now spent); otherwise the 202 answer with the request just made. A refused approval is
    403."""
    if action not in ctx(request).config.governance.dual_authorisation:
        return None
    if approval is None:
        a = _request(request, p, action, params, why)
        return JSONResponse({"approval": a.id, "state": "pending", "expires_at": a.expires_at.isoformat(),
                             "detail": f"this {action.replace('_', ' ')} needs a second person's approval"}, 202)
    try:
        _store(request).use(approval, action, params, p.user.name)
    except ApprovalError as exc:
        raise HTTPException(403, str(exc)) from None
    return None


def _decide(request: Request, p: Principal, approval_id: str, approve: bool) -> ApprovalOut:
    store = _store(request)
    try:
        a = store.get(approval_id)
    except ApprovalError as exc:
        raise HTTPException(404, str(exc)) from None
    if not p.can(PERM[a.action]):
        raise HTTPException(403, f"deciding a {a.action.replace('_', ' ')} needs the {PERM[a.action]} permission")
    try:
        a = store.decide(approval_id, p.user.name, approve)
    except ApprovalError as exc:
        raise HTTPException(409, str(exc)) from None
    ctx(request).audit.append(p.actor, "approval.approve" if approve else "approval.reject", a.id,
                              {"action": a.action, "requested_by": a.requested_by, **a.params})
    return _out(a)


@router.post("/{approval_id}/approve", response_model=ApprovalOut)
def approve(approval_id: str, request: Request, p: Principal = Depends(principal)) -> ApprovalOut:
    return _decide(request, p, approval_id, True)


@router.post("/{approval_id}/reject", response_model=ApprovalOut)
def reject(approval_id: str, request: Request, p: Principal = Depends(principal)) -> ApprovalOut:
    return _decide(request, p, approval_id, False)
