"""Dual authorisation: an action configured in ``governance.dual_authorisation`` (an export, a face search over
the registry, seeing past a camera's privacy masks) runs only once a second user with the same permission has
approved the request for exactly that action. Nobody approves their own request; requests expire; an approved
export or search runs once, an approved unmasking holds until it expires. Requests and decisions go on the audit
trail (by whoever calls this: the API or the CLI)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select

from clearwatch.errors import ClearwatchError
from clearwatch.governance.roles import Perm
from clearwatch.storage import Database
from clearwatch.storage.models import Approval

Action = Literal["export", "face_search", "finger_search", "unmask"]
PERM: dict[str, Perm] = {"export": Perm.EXPORT, "face_search": Perm.FACE_SEARCH,
                         "finger_search": Perm.FINGER_SEARCH, "unmask": Perm.UNMASK}


class ApprovalError(ClearwatchError):
    pass


class ApprovalNeeded(ClearwatchError):
    """The action needs a second person's approval: a request was made (``approval``)."""

    def __init__(self, approval: Approval):
        super().__init__(f"this {approval.action.replace('_', ' ')} needs a second person's approval: request "
                         f"{approval.id} made; another user runs 'clearwatch approvals approve {approval.id}' "
                         f"(or approves it in the console), then run this again with --approval {approval.id}")
        self.approval = approval


def _now() -> datetime:
    return datetime.now(UTC)


class Approvals:
    def __init__(self, db: Database, ttl: float = 3600.0):
        self.db = db
        self.ttl = ttl

    def request(self, action: str, params: dict[str, Any], by: str, reason: str) -> Approval:
        if action not in PERM:
            raise ApprovalError(f"unknown action {action!r}: use {', '.join(PERM)}")
        now = _now()
        row = Approval(id=secrets.token_hex(8), action=action, params=params, requested_by=by, reason=reason,
                       created_at=now, expires_at=now + timedelta(seconds=self.ttl), state="pending")
        with self.db.session() as s:
            s.add(row)
        return row

    def get(self, approval_id: str) -> Approval:
        with self.db.session() as s:
            row = s.get(Approval, approval_id)
        if row is None:
            raise ApprovalError(f"no approval request {approval_id!r}")
        return row

    def pending(self) -> list[Approval]:
        with self.db.session() as s:
            return list(s.scalars(select(Approval).where(Approval.state == "pending", Approval.expires_at > _now())
                                  .order_by(Approval.created_at)))

    def decide(self, approval_id: str, by: str, approve: bool) -> Approval:
        with self.db.session() as s:
            row = s.get(Approval, approval_id)
            if row is None:
                raise ApprovalError(f"no approval request {approval_id!r}")
            if row.requested_by == by:
                raise ApprovalError("you cannot decide your own request: a second person must")
            if row.state != "pending":
                raise ApprovalError(f"request {approval_id} is {row.state} already")
            if row.expires_at <= _now():
                raise ApprovalError(f"request {approval_id} expired at {row.expires_at:%Y-%m-%d %H:%M:%S} UTC")
            row.state = "approved" if approve else "rejected"
            row.decided_by, row.decided_at = by, _now()
            return row

    def use(self, approval_id: str, action: str, params: dict[str, Any], by: str) -> Approval:
        """Check that the approval covers this action by this user, and spend it (unmasking is not spent)."""
        with self.db.session() as s:
            row = s.get(Approval, approval_id)
            if row is None:
                raise ApprovalError(f"no approval request {approval_id!r}")
            if row.requested_by != by:
                raise ApprovalError(f"request {approval_id} was made by {row.requested_by}, not you")
            if row.action != action or row.params != params:
                raise ApprovalError(f"request {approval_id} was for another {row.action.replace('_', ' ')} "
                                    f"({row.params}); make a new request for this one")
            if row.expires_at <= _now():
                raise ApprovalError(f"request {approval_id} expired at {row.expires_at:%Y-%m-%d %H:%M:%S} UTC")
            if row.state == "pending":
                raise ApprovalError(f"request {approval_id} is still waiting for a second person's approval")
            if row.state != "approved":
                raise ApprovalError(f"request {approval_id} is {row.state}")
            if action != "unmask":
                row.state, row.used_at = "used", _now()
            return row

    def unmasked(self, by: str, camera: str) -> bool:
        """An approved, unexpired unmasking of ``camera`` for ``by``."""
        with self.db.session() as s:
            rows = s.scalars(select(Approval).where(Approval.action == "unmask", Approval.requested_by == by,
                                                    Approval.state == "approved", Approval.expires_at > _now()))
            return any(r.params.get("camera") == camera for r in rows)
