"""``clearwatch approvals``: requests waiting for a second person (dual authorisation), and deciding them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from clearwatch.cli.admin_cmds import cli_actor
from clearwatch.cli.common import ConfigOption, DataOption, JsonOption, console, open_db, print_json, resolve_config
from clearwatch.errors import ClearwatchError
from clearwatch.timeparse import fmt_time

if TYPE_CHECKING:
    from clearwatch.config import Config
    from clearwatch.governance import AuditLog
    from clearwatch.governance.approvals import Approvals
    from clearwatch.storage import Database

approvals_app = typer.Typer(no_args_is_help=True, help="Dual authorisation: requests waiting for a second person.")


def _open(config: Path | None, data: Path | None) -> tuple[Approvals, AuditLog]:
    from clearwatch.governance import AuditLog
    from clearwatch.governance.approvals import Approvals

    cfg = resolve_config(config, data)
    db = open_db(cfg)
    return Approvals(db, cfg.governance.approval_ttl), AuditLog(db)


def second_person(cfg: Config, db: Database, action: str, params: dict[str, object], why: str,
                  approval: str | None) -> None:
    """Dual authorisation in front of a command: returns when it may run (not configured, or ``approval``
    covers exactly this and is now spent); without ``--approval`` it makes the request (audited) and stops with
    what to do next."""
    from clearwatch.governance import AuditLog
    from clearwatch.governance.approvals import ApprovalError, ApprovalNeeded, Approvals

    if action not in cfg.governance.dual_authorisation:
        return
    store, actor = Approvals(db, cfg.governance.approval_ttl), cli_actor()
    if approval is None:
        req = store.request(action, params, actor.name, why)
        AuditLog(db).append(actor, "approval.request", req.id, {"action": action, **params}, justification=why)
        raise ApprovalNeeded(req)
    try:
        store.use(approval, action, params, actor.name)
    except ApprovalError as exc:
        raise ClearwatchError(str(exc)) from None


@approvals_app.command("list")
def approvals_list(json: bool = JsonOption, config: Path | None = ConfigOption, data: Path | None = DataOption) -> None:
    """Requests waiting for a decision."""
    store, _ = _open(config, data)
    rows = store.pending()
    if json:
        print_json([{k: getattr(a, k) for k in ("id", "action", "params", "requested_by", "reason", "created_at",
                                               "expires_at", "state")} for a in rows])
        return
    table = Table("id", "action", "what", "by", "why", "expires")
    for a in rows:
        table.add_row(a.id, a.action, str(a.params), a.requested_by, a.reason, fmt_time(a.expires_at))
    console.print(table if rows else "nothing waiting")


def _decide(approval: str, approve: bool, config: Path | None, data: Path | None) -> None:
    from clearwatch.governance.approvals import ApprovalError

    store, audit = _open(config, data)
    actor = cli_actor()
    try:
        a = store.decide(approval, actor.name, approve)
    except ApprovalError as exc:
        raise ClearwatchError(str(exc)) from None
    audit.append(actor, "approval.approve" if approve else "approval.reject", a.id,
                 {"action": a.action, "requested_by": a.requested_by, **a.params})
    console.print(f"{'approved' if approve else 'rejected'}: {a.action} requested by {a.requested_by} ({a.reason})")


@approvals_app.command("approve")
def approvals_approve(approval: str, config: Path | None = ConfigOption, data: Path | None = DataOption) -> None:
    """Approve someone else's request (never your own)."""
    _decide(approval, True, config, data)


@approvals_app.command("reject")
def approvals_reject(approval: str, config: Path | None = ConfigOption, data: Path | None = DataOption) -> None:
    _decide(approval, False, config, data)
