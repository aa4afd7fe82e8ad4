"""``clearwatch events`` and ``clearwatch machines``: what analytics found, from the database."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from clearwatch.cli.common import ConfigOption, DataOption, JsonOption, console, open_db, print_json, resolve_config
from clearwatch.timeparse import fmt_time, parse_time

events_app = typer.Typer(no_args_is_help=True, help="Analytics events (objects, loitering, machines, plates, alerts).")
machines_app = typer.Typer(no_args_is_help=True, help="Machines and production counters.")
TIMES = {"ignore_unknown_options": True}  # "-1h" is a time, not an option


@events_app.command("list", context_settings=TIMES)
def events_list(
    camera: str | None = typer.Option(None, help="Only this camera."),
    label: str | None = typer.Option(None, help="Only this label (person, car, a machine's name…)."),
    kind: str | None = typer.Option(None, help="object, loitering, machine, plate or alert."),
    since: str | None = typer.Option(None, help="From (ISO time, 'now' or -1h)."),
    until: str | None = typer.Option(None, help="Until."),
    limit: int = typer.Option(100, min=1, max=100_000),
    config: Path | None = ConfigOption,
    data: Path | None = DataOption,
    json: bool = JsonOption,
) -> None:
    """The newest events first."""
    from clearwatch.storage import EventStore

    cfg = resolve_config(config, data)
    rows = EventStore(open_db(cfg)).list(camera, label, kind, parse_time(since) if since else None,
                                         parse_time(until) if until else None, limit)
    if json:
        print_json([{
            "id": r.id, "camera": r.camera, "kind": r.kind, "label": r.label, "start": r.start, "end": r.end,
            "score": r.score, "track_id": r.track_id, "zones": r.zones, "crossings": r.crossings,
            "snapshot": str(cfg.data_dir / "snapshots" / r.snapshot) if r.snapshot else None,
            "clip_start": r.clip_start, "clip_end": r.clip_end, "data": r.data,
        } for r in rows])
        return
    if not rows:
        console.print("no events")
        return
    table = Table("start", "end", "camera", "kind", "label", "score", "zones", "crossings", "id")
    for r in rows:
        crossings = ", ".join(f"{c['line']} {c['direction']}" for c in r.crossings)
        label_text = r.label if r.kind != "machine" else f"{r.label}: {r.data.get('state')}"
        table.add_row(fmt_time(r.start), fmt_time(r.end) if r.end else "[green]ongoing[/green]", r.camera, r.kind,
                      label_text, f"{r.score:.2f}", ", ".join(r.zones), crossings, r.id[:8])
    console.print(table)


@machines_app.command("stats", context_settings=TIMES)
def machines_stats(
    camera: str | None = typer.Option(None, help="Only this camera."),
    name: str | None = typer.Option(None, help="Only this machine or counter."),
    since: str | None = typer.Option("-24h", help="From (default: the last 24 hours)."),
    until: str | None = typer.Option(None, help="Until."),
    config: Path | None = ConfigOption,
    data: Path | None = DataOption,
    json: bool = JsonOption,
) -> None:
    """Per hour: each machine's running / idle / stopped time, starts and stops; each counter's items."""
    from clearwatch.storage import StatsStore

    cfg = resolve_config(config, data)
    rows = StatsStore(open_db(cfg)).hours(camera, name, None, parse_time(since) if since else None,
                                          parse_time(until) if until else None)
    if json:
        print_json([{
            "camera": r.camera, "kind": r.kind, "name": r.name, "hour": r.hour,
            **({"running_s": round(r.running_s, 1), "idle_s": round(r.idle_s, 1),
                "stopped_s": round(r.stopped_s, 1), "starts": r.starts, "stops": r.stops}
               if r.kind == "machine" else {"count_in": r.count_in, "count_out": r.count_out}),
        } for r in rows])
        return
    if not rows:
        console.print("no machine or counter statistics in this period")
        return
    table = Table("hour", "camera", "name", "running", "idle", "stopped", "uptime", "starts", "stops", "items in",
                  "items out")
    for r in rows:
        if r.kind == "machine":
            known = r.running_s + r.idle_s + r.stopped_s
            share = f"{100 * r.running_s / known:.0f}%" if known else ""
            table.add_row(fmt_time(r.hour), r.camera, r.name, f"{r.running_s / 60:.1f} min",
                          f"{r.idle_s / 60:.1f} min", f"{r.stopped_s / 60:.1f} min", share, str(r.starts),
                          str(r.stops), "", "")
        else:
            table.add_row(fmt_time(r.hour), r.camera, r.name, "", "", "", "", "", "", str(r.count_in),
                          str(r.count_out))
    console.print(table)
