"""``clearwatch alarms``: the alarm desk from a terminal (list, acknowledge, close) and manual arming of
schedules. Everything goes through the same engine and database as the console, and onto the audit trail."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import typer
from rich.table import Table

from clearwatch.cli.admin_cmds import cli_actor
from clearwatch.cli.common import ConfigOption, DataOption, JsonOption, console, open_db, print_json, resolve_config
from clearwatch.errors import ClearwatchError
from clearwatch.timeparse import fmt_time, parse_time

if TYPE_CHECKING:
    from clearwatch.alarms.engine import AlarmEngine

alarms_app = typer.Typer(no_args_is_help=True, help="The alarm desk: list, acknowledge and close alarms; arm and "
                                                    "disarm schedules by hand.")
STATES = ("open", "new", "acknowledged", "closed", "all")


def _engine(config: Path | None, data: Path | None) -> AlarmEngine:
    from clearwatch.alarms.engine import AlarmEngine

    cfg = resolve_config(config, data)
    return AlarmEngine(cfg, open_db(cfg))


@alarms_app.command("list")
def alarms_list(state: str = typer.Option("open", "--state", help="open, new, acknowledged, closed or all."),
                camera: list[str] = typer.Option([], "--camera", help="Only this camera (repeatable)."),
                limit: int = typer.Option(100, "--limit", min=1, max=10000),
                json: bool = JsonOption, config: Path | None = ConfigOption, data: Path | None = DataOption) -> None:
    """The queue, most urgent first."""
    from clearwatch.storage.alarms import alarm_dict

    if state not in STATES:
        raise ClearwatchError(f"--state {state!r}: use one of {', '.join(STATES)}")
    engine = _engine(config, data)
    rows = engine.store.queue(state, camera or None, limit)  # type: ignore[arg-type]
    if json:
        print_json([alarm_dict(a) for a in rows])
        return
    table = Table("id", "P", "alarm", "camera", "first", "last", "×", "state", "by")
    for a in rows:
        table.add_row(a.id[:12], str(a.priority), a.title, a.camera or "", fmt_time(a.first_at),
                      fmt_time(a.last_at), str(a.count), a.state + (" (escalated)" if a.escalated_at else ""),
                      a.closed_by or a.acked_by or "")
    console.print(table if rows else f"no {state} alarms")


def _full_id(engine: AlarmEngine, prefix: str) -> str:
    """An alarm by its id or an unambiguous start of it (the list shows 12 characters)."""
    if engine.store.get(prefix) is not None:
        return prefix
    hits = [a.id for a in engine.store.queue("all", limit=100000) if a.id.startswith(prefix)] if len(prefix) >= 4 \
        else []
    if len(hits) != 1:
        raise ClearwatchError(f"no alarm {prefix!r}" if not hits else f"{prefix!r} matches {len(hits)} alarms")
    return hits[0]


def _act(alarm: str, what: str, note: str, config: Path | None, data: Path | None) -> None:
    from clearwatch.storage.alarms import AlarmError

    engine = _engine(config, data)
    alarm_id = _full_id(engine, alarm)
    try:
        a = (engine.acknowledge if what == "ack" else engine.close)(alarm_id, cli_actor(), note)
    except AlarmError as exc:
        raise ClearwatchError(str(exc)) from None
    console.print(f"{'acknowledged' if what == 'ack' else 'closed'}: {a.title}")


AlarmArg = typer.Argument(..., help="Alarm id (or its first characters).")
NoteOption = typer.Option("", "--note", help="What you did or found.")


@alarms_app.command("ack")
def alarms_ack(alarm: str = AlarmArg, note: str = NoteOption, config: Path | None = ConfigOption,
               data: Path | None = DataOption) -> None:
    """Acknowledge an alarm (you have it; escalation stops)."""
    _act(alarm, "ack", note, config, data)


@alarms_app.command("close")
def alarms_close(alarm: str = AlarmArg, note: str = NoteOption, config: Path | None = ConfigOption,
                 data: Path | None = DataOption) -> None:
    """Close an alarm."""
    _act(alarm, "close", note, config, data)


@alarms_app.command("schedules")
def alarms_schedules(json: bool = JsonOption, config: Path | None = ConfigOption,
                     data: Path | None = DataOption) -> None:
    """Each schedule: armed or not now, by the week or by hand."""
    engine = _engine(config, data)
    overrides = engine.overrides(fresh=True)
    states = [engine.schedules.state(n, overrides) for n in engine.schedules.items]
    if json:
        print_json(states)
        return
    table = Table("schedule", "now", "how", "time zone")
    for s in states:
        how = f"by hand: {s['manual']} by {s['by']} ({s['reason']})" if s["manual"] else "weekly schedule"
        table.add_row(str(s["name"]), "armed" if s["on"] else "off", how, str(s["timezone"]))
    console.print(table if states else "no schedules configured")


def _set(schedule: str, mode: Literal["armed", "disarmed", "auto"], why: str, until: str | None, config: Path | None,
         data: Path | None) -> None:
    if len(why.strip()) < 3:
        raise ClearwatchError("--why needs a reason (at least 3 characters); it goes on the audit trail")
    engine = _engine(config, data)
    if schedule not in engine.schedules.items:
        raise ClearwatchError(f"no schedule {schedule!r} (schedules: {', '.join(engine.schedules.items) or 'none'})")
    end = parse_time(until) if until else None
    state = engine.set_arming(schedule, mode, cli_actor(), why.strip(), end)
    how = f" by hand until {fmt_time(end)}" if end else " by hand" if mode != "auto" else " (weekly schedule)"
    console.print(f"{schedule}: {'armed' if state['on'] else 'off'}{how}")


TIMES = {"ignore_unknown_options": True}


@alarms_app.command("arm", context_settings=TIMES)
def alarms_arm(schedule: str, why: str = typer.Option(..., "--why", help="Why (kept on the audit trail)."),
               until: str | None = typer.Option(None, "--until", help="Back to the weekly schedule then."),
               config: Path | None = ConfigOption, data: Path | None = DataOption) -> None:
    """Arm a schedule by hand: the rules on it are armed whatever the week says."""
    _set(schedule, "armed", why, until, config, data)


@alarms_app.command("disarm", context_settings=TIMES)
def alarms_disarm(schedule: str, why: str = typer.Option(..., "--why", help="Why (kept on the audit trail)."),
                  until: str | None = typer.Option(None, "--until", help="Back to the weekly schedule then."),
                  config: Path | None = ConfigOption, data: Path | None = DataOption) -> None:
    """Disarm a schedule by hand (a late shift in the warehouse, say)."""
    _set(schedule, "disarmed", why, until, config, data)


@alarms_app.command("auto")
def alarms_auto(schedule: str, why: str = typer.Option(..., "--why", help="Why (kept on the audit trail)."),
                config: Path | None = ConfigOption, data: Path | None = DataOption) -> None:
    """Back to the weekly schedule."""
    _set(schedule, "auto", why, None, config, data)
