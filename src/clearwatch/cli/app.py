"""The ``clearwatch`` command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.table import Table

from clearwatch.cli.admin_cmds import audit_app, users_app
from clearwatch.cli.alarms import alarms_app
from clearwatch.cli.analyze import analyze
from clearwatch.cli.approvals import approvals_app
from clearwatch.cli.common import (
    ConfigOption,
    DataOption,
    JsonOption,
    console,
    open_db,
    print_json,
    resolve_config,
    setup_logging,
)
from clearwatch.cli.events_cmds import events_app, machines_app
from clearwatch.cli.exports import export
from clearwatch.cli.federation import central, federation_app
from clearwatch.cli.fingers import fingers_app
from clearwatch.cli.people import faces_app, keys_app, people_app
from clearwatch.cli.plates import plates_app
from clearwatch.cli.reports import report_app, verify
from clearwatch.cli.running import run_until_signalled
from clearwatch.timeparse import fmt_time, parse_time
from clearwatch.units import format_size

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Clearwatch: self-hosted, accountable video surveillance.")
config_app = typer.Typer(no_args_is_help=True, help="Check configuration files.")
recordings_app = typer.Typer(no_args_is_help=True, help="Recorded footage.")
holds_app = typer.Typer(no_args_is_help=True, help="Evidence holds: footage retention must keep.")
app.add_typer(config_app, name="config")
app.add_typer(recordings_app, name="recordings")
app.add_typer(holds_app, name="holds")

STALE_AFTER = 10.0

app.command()(analyze)
app.add_typer(events_app, name="events")
app.add_typer(machines_app, name="machines")
app.add_typer(people_app, name="people")
app.add_typer(faces_app, name="faces")
app.add_typer(keys_app, name="keys")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(fingers_app, name="fingers")
app.add_typer(plates_app, name="plates")
app.add_typer(alarms_app, name="alarms")
app.add_typer(report_app, name="report")
app.add_typer(approvals_app, name="approvals")
app.command()(verify)
app.command()(central)
app.add_typer(federation_app, name="federation")


# run ---------------------------------------------------------------------------------------------

@app.command()
def run(config: Path = typer.Argument(..., help="YAML config file.")) -> None:
    """Run Clearwatch: record every configured camera until stopped (Ctrl-C or SIGTERM)."""
    from clearwatch.config import load_config
    from clearwatch.service import Service

    cfg = load_config(config)
    setup_logging(cfg.logging.level)
    if not cfg.cameras:
        console.print("[yellow]no cameras configured[/yellow]; add some under 'cameras:'")
    run_until_signalled(Service(cfg))


@app.command()
def demo(
    duration: float = typer.Option(0, help="Stop after this many seconds (0: run until Ctrl-C)."),
    data: Path = typer.Option(Path("clearwatch-data"), "--data", help="Where the demo keeps its data."),
) -> None:
    """Loop a real clip as a live camera and record it: no config needed."""
    from clearwatch.cli.demo import run_demo

    setup_logging("warning")
    run_demo(duration, data.absolute())


# config ------------------------------------------------------------------------------------------

@config_app.command("check")
def config_check(file: Path = typer.Argument(..., help="YAML config file.")) -> None:
    """Validate a config file; print every problem with its path and line."""
    from clearwatch.config import load_config

    cfg = load_config(file)
    console.print(f"[green]ok[/green] {file}: {len(cfg.cameras)} camera(s), data in {cfg.data_dir}")


# cameras -----------------------------------------------------------------------------------------

@app.command()
def cameras(config: Path | None = ConfigOption, data: Path | None = DataOption, json: bool = JsonOption) -> None:
    """Camera health as reported by the running service."""
    from clearwatch.sources.health import health_of
    from clearwatch.storage import CameraStatusStore

    cfg = resolve_config(config, data)
    reported = CameraStatusStore(open_db(cfg)).read(stale_after=STALE_AFTER)
    names = list(cfg.cameras) + [h.camera for h in reported if h.camera not in cfg.cameras]
    out = health_of(names, reported)
    if json:
        print_json([h.as_dict() | {"service_running": h.state != "offline"} for h in out])
        return
    if not out:
        console.print("no cameras configured or reported (is `clearwatch run` going?)")
        return
    table = Table("camera", "state", "recording", "sound", "fps in", "last frame", "reconnects", "last error")
    colours = {"streaming": "green", "stalled": "red", "reconnecting": "yellow", "connecting": "yellow",
               "offline": "dim"}
    for h in out:
        c = colours.get(h.state, "white")
        table.add_row(h.camera, f"[{c}]{h.state}[/{c}]", h.recording, h.sound or "", f"{h.fps_in:.1f}",
                      fmt_time(h.last_frame_at),
                      str(h.reconnects), h.last_error or "")
    console.print(table)


# recordings --------------------------------------------------------------------------------------

@recordings_app.command("list")
def recordings_list(
    camera: str | None = typer.Argument(None, help="Only this camera."),
    since: str | None = typer.Option(None, help="From (ISO time, 'now' or -1h)."),
    until: str | None = typer.Option(None, help="Until (ISO time, 'now' or -10m)."),
    limit: int = typer.Option(200, help="At most this many segments (the newest)."),
    config: Path | None = ConfigOption,
    data: Path | None = DataOption,
    json: bool = JsonOption,
) -> None:
    """Recorded segments, and the gaps between them."""
    from clearwatch.storage import SegmentIndex, find_gaps

    cfg = resolve_config(config, data)
    index = SegmentIndex(open_db(cfg))
    segs = index.list(camera, parse_time(since) if since else None, parse_time(until) if until else None)
    segs = segs[-limit:] if limit else segs
    gaps = find_gaps(segs)
    if json:
        print_json({
            "segments": [{"camera": s.camera, "start": s.start, "end": s.end, "duration": s.duration,
                          "bytes": s.bytes, "path": str(cfg.recordings_dir / s.path), "status": s.status}
                         for s in segs],
            "gaps": [{"camera": g.camera, "start": g.start, "end": g.end, "seconds": g.seconds} for g in gaps],
        })
        return
    if not segs:
        console.print("no recordings" + (f" for camera {camera!r}" if camera else ""))
        return
    table = Table("camera", "start", "end", "duration", "size", "status", "file")
    gap_after = {(g.camera, g.start): g for g in gaps}
    for s in segs:
        table.add_row(s.camera, fmt_time(s.start), fmt_time(s.end), f"{s.duration:.1f} s", format_size(s.bytes),
                      s.status, s.path)
        g = gap_after.get((s.camera, s.end))
        if g:
            table.add_row(g.camera, fmt_time(g.start), fmt_time(g.end), f"[red]{g.seconds:.1f} s[/red]", "",
                          "[red]gap[/red]", "")
    console.print(table)
    total = sum(s.bytes for s in segs)
    console.print(f"{len(segs)} segment(s), {format_size(total)}, {len(gaps)} gap(s); files under "
                  f"{cfg.recordings_dir}")


# export ------------------------------------------------------------------------------------------

# "-10m" is a time, not an option
RELATIVE_TIMES = {"ignore_unknown_options": True}


app.command(context_settings=RELATIVE_TIMES)(export)


# retention & holds -------------------------------------------------------------------------------

@app.command("retention")
def retention_cmd(config: Path | None = ConfigOption, data: Path | None = DataOption,
                  json: bool = JsonOption) -> None:
    """Apply the retention policy now (the service also does this periodically)."""
    from clearwatch.recording import Retention, retention_policy
    from clearwatch.storage import HoldStore, SegmentIndex

    cfg = resolve_config(config, data)
    db = open_db(cfg)
    report = Retention(cfg.recordings_dir, SegmentIndex(db), HoldStore(db), retention_policy(cfg)).run_once()
    if json:
        print_json(report.__dict__)
        return
    console.print(f"deleted {report.deleted} segment(s) ({report.deleted_by_age} by age, "
                  f"{report.deleted_by_quota} by quota), freed {format_size(report.freed_bytes)}; "
                  f"{report.kept_held} kept under hold")


@holds_app.command("add", context_settings=RELATIVE_TIMES)
def holds_add(
    start: str = typer.Argument(...), end: str = typer.Argument(...),
    reason: str = typer.Option(..., help="Why this footage must be kept (case number, incident)."),
    camera: str | None = typer.Option(None, help="Only this camera (default: all cameras)."),
    days: float | None = typer.Option(None, help="Release the hold after this many days (default: never)."),
    config: Path | None = ConfigOption, data: Path | None = DataOption,
) -> None:
    """Keep footage from retention, e.g. as evidence."""
    from clearwatch.storage import HoldStore

    cfg = resolve_config(config, data)
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    hold_id = HoldStore(open_db(cfg)).add("evidence", camera, parse_time(start), parse_time(end), reason, "cli",
                                           expires)
    console.print(f"hold {hold_id} added")


@holds_app.command("list")
def holds_list(config: Path | None = ConfigOption, data: Path | None = DataOption, json: bool = JsonOption) -> None:
    """Active holds."""
    from clearwatch.storage import HoldStore

    cfg = resolve_config(config, data)
    holds = HoldStore(open_db(cfg)).active()
    if json:
        print_json([{"id": h.id, "kind": h.kind, "camera": h.camera, "start": h.start, "end": h.end,
                     "reason": h.reason, "created_by": h.created_by, "expires_at": h.expires_at} for h in holds])
        return
    table = Table("id", "kind", "camera", "start", "end", "reason", "expires")
    for h in holds:
        table.add_row(str(h.id), h.kind, h.camera or "all", fmt_time(h.start), fmt_time(h.end), h.reason,
                      fmt_time(h.expires_at))
    console.print(table)


@holds_app.command("remove")
def holds_remove(hold_id: int, config: Path | None = ConfigOption, data: Path | None = DataOption) -> None:
    """Release a hold."""
    from clearwatch.storage import HoldStore

    cfg = resolve_config(config, data)
    if not HoldStore(open_db(cfg)).remove(hold_id):
        raise typer.BadParameter(f"no hold {hold_id}")
    console.print(f"hold {hold_id} removed")


@app.command("db-upgrade")
def db_upgrade(config: Path | None = ConfigOption, data: Path | None = DataOption) -> None:
    """Create or migrate the database schema."""
    cfg = resolve_config(config, data)
    db = open_db(cfg)
    console.print(f"database {db.safe_url} is up to date")
