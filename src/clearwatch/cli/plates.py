"""``clearwatch plates``: read plates in photos, search the plates the cameras read, and manage plate lists."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from clearwatch.cli.admin_cmds import cli_actor
from clearwatch.cli.common import (
    ConfigOption,
    DataOption,
    JsonOption,
    console,
    justification,
    open_db,
    print_json,
    resolve_config,
)
from clearwatch.errors import ClearwatchError
from clearwatch.timeparse import fmt_time, parse_time

if TYPE_CHECKING:
    from clearwatch.storage.plate_lists import PlateListStore

plates_app = typer.Typer(no_args_is_help=True, help="Licence plates: read, search, lists.")
lists_app = typer.Typer(no_args_is_help=True, help="Plate lists (allow, deny, watch, visitor) and their plates.")
plates_app.add_typer(lists_app, name="lists")
TIMES = {"ignore_unknown_options": True}  # "-1h" is a time, not an option


@plates_app.command("read")
def plates_read(
    images: list[Path] = typer.Argument(..., help="Photos (a vehicle, a plate, a frame)."),
    fmt: list[str] = typer.Option([], "--format", help="Plate format preset or regex (default: the config's)."),
    min_height: int | None = typer.Option(None, "--min-height", min=6, help="Least plate text height, pixels."),
    config: Path | None = ConfigOption,
    data: Path | None = DataOption,
    json: bool = JsonOption,
) -> None:
    """The plates in each image: text, confidence, box and format (none: unverified). Exit 1 if an image could
    not be read (the others are still reported)."""
    from clearwatch.faces.images import ImageError, load_image
    from clearwatch.plates.formats import PRESETS, FormatError
    from clearwatch.plates.reader import PlateReader

    cfg = resolve_config(config, data).plates
    specs: list[str | dict[str, str]] = [f if f.upper() in PRESETS else {"name": f"custom{i + 1}", "regex": f}
                                         for i, f in enumerate(fmt)] or cfg.format_specs()
    try:
        reader = PlateReader(specs, min_height=min_height or cfg.min_height)
    except FormatError as exc:
        raise ClearwatchError(str(exc)) from None
    out: list[dict[str, object]] = []
    failed = False
    for path in images:
        try:
            image = load_image(path, str(path), holds="a plate")
        except ImageError as exc:
            failed = True
            out.append({"file": str(path), "error": str(exc), "plates": []})
            continue
        out.append({"file": str(path), "plates": [p.as_dict() for p in reader.read(image)]})
    if json:
        print_json(out)
    else:
        for row in out:
            if "error" in row:
                console.print(f"[red]{row['error']}[/red]", highlight=False)
                continue
            found = row["plates"]
            assert isinstance(found, list)
            line = ", ".join(f"{p['text']} ({p['format'] or 'unverified'}, {p['confidence']:.2f})" for p in found)
            console.print(f"{row['file']}: {line or 'no plate'}", highlight=False)
    if failed:
        raise typer.Exit(1)


@plates_app.command("search", context_settings=TIMES)
def plates_search(
    text: str = typer.Argument(..., help="A plate; * and ? are wildcards (AB*, ?B123CD)."),
    why: str = typer.Option(..., "--why", help="Why you are looking (kept on the audit trail)."),
    fuzzy: int = typer.Option(0, "--fuzzy", min=0, max=3, help="Also plates this many characters off."),
    since: str | None = typer.Option(None, help="From (ISO time, 'now' or -1d)."),
    until: str | None = typer.Option(None, help="Until."),
    camera: list[str] = typer.Option([], "--camera", help="Only this camera (repeatable)."),
    limit: int = typer.Option(100, min=1, max=10_000),
    config: Path | None = ConfigOption,
    data: Path | None = DataOption,
    json: bool = JsonOption,
) -> None:
    """Where and when the cameras read a plate, newest first. Every search is audited with its reason."""
    from clearwatch.governance import AuditLog
    from clearwatch.storage import EventStore

    why = justification(why)
    db = open_db(resolve_config(config, data))
    found = EventStore(db).plates(text, fuzzy=fuzzy, cameras=camera or None,
                                  start=parse_time(since) if since else None,
                                  end=parse_time(until) if until else None, limit=limit)
    AuditLog(db).append(cli_actor(), "plate.search", text, {"fuzzy": fuzzy, "since": since, "until": until,
                        "cameras": camera or None, "results": len(found)}, justification=why)
    rows = [{"id": r.id, "camera": r.camera, "plate": r.label, "distance": d, "time": r.start,
             "confidence": r.score, "format": r.data.get("format"), "vehicle": r.data.get("vehicle"),
             "colour": r.data.get("colour"), "direction": r.data.get("direction"), "lists": r.data.get("lists", []),
             "snapshot": r.snapshot, "plate_snapshot": r.data.get("plate_snapshot")} for r, d in found]
    if json:
        print_json(rows)
        return
    if not rows:
        console.print(f"no plate read matches {text!r}")
        return
    table = Table("time", "camera", "plate", "off by", "confidence", "vehicle", "direction", "lists")
    for r in rows:
        table.add_row(fmt_time(r["time"]), str(r["camera"]), str(r["plate"]), str(r["distance"]),
                      f"{r['confidence']:.2f}", f"{r['colour'] or ''} {r['vehicle'] or ''}".strip(),
                      str(r["direction"] or ""), ", ".join(r["lists"]))
    console.print(table)


def _store(config: Path | None, data: Path | None) -> PlateListStore:
    from clearwatch.storage.plate_lists import PlateListStore

    return PlateListStore(open_db(resolve_config(config, data)))


@lists_app.command("show")
def lists_show(name: str | None = typer.Argument(None, help="A list (default: all lists)."),
               config: Path | None = ConfigOption, data: Path | None = DataOption, json: bool = JsonOption) -> None:
    """Plate lists, or one list's plates."""
    store = _store(config, data)
    if name is None:
        lists = store.lists()
        if json:
            print_json([{"name": pl.name, "kind": pl.kind, "description": pl.description, "plates": n}
                        for pl, n in lists])
            return
        table = Table("list", "kind", "plates", "description")
        for pl, n in lists:
            table.add_row(pl.name, pl.kind, str(n), pl.description)
        console.print(table if lists else "no plate lists")
        return
    store.get(name)
    entries = store.entries(name)
    if json:
        print_json([{"plate": e.plate, "valid_from": e.valid_from, "valid_until": e.valid_until, "note": e.note,
                     "added_by": e.added_by} for e in entries])
        return
    table = Table("plate", "valid from", "valid until", "note", "added by")
    for e in entries:
        table.add_row(e.plate, fmt_time(e.valid_from), fmt_time(e.valid_until), e.note, e.added_by)
    console.print(table if entries else f"list {name!r} is empty")


@lists_app.command("create")
def lists_create(name: str = typer.Argument(...),
                 kind: str = typer.Option(..., "--kind", help="allow, deny, watch or visitor."),
                 description: str = typer.Option("", "--description"),
                 config: Path | None = ConfigOption, data: Path | None = DataOption) -> None:
    """A new plate list; a match to any of its plates raises an alert."""
    from clearwatch.governance import AuditLog

    store = _store(config, data)
    store.create(name, kind, cli_actor().name, description)
    AuditLog(store.db).append(cli_actor(), "plates.list_create", name, {"kind": kind})
    console.print(f"created {kind} list {name!r}")


@lists_app.command("delete")
def lists_delete(name: str, config: Path | None = ConfigOption, data: Path | None = DataOption) -> None:
    """Delete a list and its plates."""
    from clearwatch.governance import AuditLog

    store = _store(config, data)
    if not store.delete(name):
        raise ClearwatchError(f"no plate list {name!r}")
    AuditLog(store.db).append(cli_actor(), "plates.list_delete", name)
    console.print(f"deleted list {name!r}")


@lists_app.command("add", context_settings=TIMES)
def lists_add(name: str = typer.Argument(..., help="The list."), plate: str = typer.Argument(...),
              valid_from: str | None = typer.Option(None, "--from", help="Valid from (visitors)."),
              valid_until: str | None = typer.Option(None, "--until", help="Valid until (visitors)."),
              note: str = typer.Option("", "--note"),
              config: Path | None = ConfigOption, data: Path | None = DataOption) -> None:
    """Put a plate on a list (again: update its dates and note)."""
    from clearwatch.governance import AuditLog

    store = _store(config, data)
    entry = store.add(name, plate, cli_actor().name, valid_from=parse_time(valid_from) if valid_from else None,
                      valid_until=parse_time(valid_until) if valid_until else None, note=note)
    AuditLog(store.db).append(cli_actor(), "plates.list_add", name, {"plate": entry.plate})
    console.print(f"{entry.plate} on {name!r}" + (f" until {fmt_time(entry.valid_until)}" if entry.valid_until else ""))


@lists_app.command("remove")
def lists_remove(name: str, plate: str, config: Path | None = ConfigOption, data: Path | None = DataOption) -> None:
    """Take a plate off a list."""
    from clearwatch.governance import AuditLog

    store = _store(config, data)
    if not store.remove(name, plate):
        raise ClearwatchError(f"{plate!r} is not on list {name!r}")
    AuditLog(store.db).append(cli_actor(), "plates.list_remove", name, {"plate": plate})
    console.print(f"removed {plate} from {name!r}")
