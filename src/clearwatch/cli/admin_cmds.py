"""``clearwatch users`` and ``clearwatch audit``."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from clearwatch.cli.common import (
    ConfigOption,
    DataOption,
    JsonOption,
    console,
    err_console,
    open_db,
    print_json,
    resolve_config,
)
from clearwatch.errors import ClearwatchError
from clearwatch.governance.roles import Role

if TYPE_CHECKING:
    from clearwatch.config import Config
    from clearwatch.governance import Actor


users_app = typer.Typer(no_args_is_help=True, help="Console and API users.")
audit_app = typer.Typer(no_args_is_help=True, help="The tamper-evident audit trail.")


def audit_quietly(cfg: Config, action: str, target: str, detail: dict[str, object]) -> None:
    """Evaluation commands (compare, verify two files) work on files alone: they are audited when the data
    directory allows it, and say so on stderr when it does not."""
    from clearwatch.governance import AuditLog

    try:
        AuditLog(open_db(cfg)).append(cli_actor(), action, target, detail)
    except ClearwatchError as exc:
        err_console.print(f"[yellow]not audited[/yellow]: {exc}", highlight=False)


def cli_actor() -> Actor:
    from clearwatch.governance import Actor

    return Actor(f"cli:{getpass.getuser()}", "admin", "local")


@users_app.command("create")
def users_create(
    name: str = typer.Argument(..., help="User name."),
    role: Role = typer.Option(Role.VIEWER, "--role", help="admin, operator, viewer or auditor."),
    camera: list[str] = typer.Option([], "--camera", help="Limit to this camera (repeatable; default: all)."),
    site: list[str] = typer.Option([], "--site", help="Central node: limit to this site (repeatable; default: all)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
    config: Path | None = ConfigOption, data: Path | None = DataOption, json: bool = JsonOption,
) -> None:
    """Create a user. Without --password-stdin a strong password is generated and printed once."""
    from clearwatch.governance import AuditLog, Users

    cfg = resolve_config(config, data)
    unknown = [c for c in camera if c not in cfg.cameras]
    if unknown and cfg.cameras:
        raise ClearwatchError(f"unknown camera(s): {', '.join(unknown)}")
    strange = [s for s in site if cfg.central is None or s not in cfg.central.sites]
    if strange:
        raise ClearwatchError(f"unknown site(s): {', '.join(strange)} (sites are named in a central node's config)")
    password = typer.get_text_stream("stdin").readline().rstrip("\n") if password_stdin else None
    db = open_db(cfg)
    user, password = Users(db).create(name, role.value, password, camera or None, site or None)
    AuditLog(db).append(cli_actor(), "user.create", name, {"role": role.value, "cameras": camera or None,
                                                           "sites": site or None})
    if json:
        print_json({"name": user.name, "role": user.role, "cameras": user.cameras,
                    **({} if password_stdin else {"password": password})})
    else:
        console.print(f"created {role.value} {name!r}" + ("" if password_stdin else
                                                          f"; password (shown once): {password}"))


@users_app.command("list")
def users_list(config: Path | None = ConfigOption, data: Path | None = DataOption, json: bool = JsonOption) -> None:
    from clearwatch.governance import Users

    users = Users(open_db(resolve_config(config, data))).all()
    if json:
        print_json([{"name": u.name, "role": u.role, "cameras": u.cameras, "disabled": u.disabled} for u in users])
        return
    table = Table("name", "role", "cameras", "disabled")
    for u in users:
        table.add_row(u.name, u.role, ", ".join(u.cameras) if u.cameras else "all", "yes" if u.disabled else "")
    console.print(table if users else "no users yet: clearwatch users create NAME --role admin")


@users_app.command("passwd")
def users_passwd(name: str, config: Path | None = ConfigOption, data: Path | None = DataOption) -> None:
    """Set a user's password (asked twice, not echoed)."""
    from clearwatch.governance import AuditLog, Users

    db = open_db(resolve_config(config, data))
    password = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    Users(db).set_password(name, password)
    AuditLog(db).append(cli_actor(), "user.update", name, {"password_changed": True})
    console.print(f"password of {name!r} changed")


@users_app.command("delete")
def users_delete(name: str, config: Path | None = ConfigOption, data: Path | None = DataOption) -> None:
    from clearwatch.governance import AuditLog, Users

    db = open_db(resolve_config(config, data))
    if not Users(db).delete(name):
        raise ClearwatchError(f"no user {name!r}")
    AuditLog(db).append(cli_actor(), "user.delete", name)
    console.print(f"deleted {name!r}")


@audit_app.command("verify")
def audit_verify(checkpoint: list[Path] = typer.Option([], "--checkpoint", help="A signed checkpoint kept by a "
                                                     "witness (repeatable): the chain must still match it."),
                 config: Path | None = ConfigOption, data: Path | None = DataOption, json: bool = JsonOption) -> None:
    """Check the whole hash chain and its signed checkpoints; exit 1 naming where it breaks."""
    import json as jsonlib

    from clearwatch.governance import AuditLog
    from clearwatch.governance.signing import verification_keys

    cfg = resolve_config(config, data)
    witnessed = []
    for path in checkpoint:
        try:
            witnessed.append(jsonlib.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            raise ClearwatchError(f"cannot read checkpoint {path}: {exc}") from None
    log = AuditLog(open_db(cfg))
    v = log.verify(trusted=verification_keys(cfg), witnessed=witnessed)
    if json:
        print_json({"ok": v.ok, "records": v.records, "problems": v.problems})
    elif v.ok:
        console.print(f"audit trail intact: {v.records} record(s), head at record {v.head_id}")
    else:
        for p in v.problems:
            console.print(f"[red]{p}[/red]", highlight=False)
    if not v.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(config: Path | None = ConfigOption, data: Path | None = DataOption) -> None:
    """Sign the chain's head now and print the checkpoint (JSON) for a witness to keep."""
    from clearwatch.governance.checkpoints import Checkpointer
    from clearwatch.governance.signing import installation_signer
    from clearwatch.storage import OutboxStore

    cfg = resolve_config(config, data)
    db = open_db(cfg)
    doc = Checkpointer(cfg, db, installation_signer(cfg), OutboxStore(db).add).make("manual", force=True)
    if doc is None:
        raise ClearwatchError("the audit trail is empty: nothing to sign yet")
    print_json(doc)


@audit_app.command("list")
def audit_list(limit: int = typer.Option(50, min=1), actor: str | None = None, action: str | None = None,
               config: Path | None = ConfigOption, data: Path | None = DataOption, json: bool = JsonOption) -> None:
    from clearwatch.governance import AuditLog

    rows = AuditLog(open_db(resolve_config(config, data))).list(limit, None, actor, action)
    if json:
        print_json([{k: getattr(r, k) for k in ("id", "ts", "actor", "role", "action", "target", "detail",
                                                 "justification", "address", "hash")} for r in rows])
        return
    table = Table("#", "time", "who", "action", "target", "why", "from")
    for r in rows:
        table.add_row(str(r.id), r.ts, f"{r.actor} ({r.role})", r.action, r.target, r.justification or "",
                      r.address or "")
    console.print(table)
