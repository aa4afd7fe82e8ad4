"""Shared CLI plumbing: where the config comes from, output, logging."""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from clearwatch.errors import ClearwatchError

if TYPE_CHECKING:
    from clearwatch.config import Config
    from clearwatch.storage import Database

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

ConfigOption = typer.Option(
    None, "--config", "-c", envvar="CLEARWATCH_CONFIG",
    help="Config file (default: ./clearwatch.yaml if present, else built-in defaults).",
)
DataOption = typer.Option(
    None, "--data", envvar="CLEARWATCH_DATA", help="Data directory when no config is given (default ./clearwatch-data)."
)
JsonOption = typer.Option(False, "--json", help="Machine-readable JSON output.")


def resolve_config(config: Path | None, data: Path | None = None) -> Config:
    """The ``--config`` file, else ./clearwatch.yaml, else the defaults with data under ``data``."""
    from clearwatch.config import default_config, load_config

    if config is not None:
        return load_config(config)
    if Path("clearwatch.yaml").is_file() and data is None:
        return load_config(Path("clearwatch.yaml"))
    return default_config(data)


def justification(why: str) -> str:
    """A ``--why`` as it goes on the audit trail; a blank or token one is refused."""
    if len(why.strip()) < 5:
        raise ClearwatchError("--why needs a real justification (at least 5 characters)")
    return why.strip()


def open_db(cfg: Config) -> Database:
    from clearwatch.storage import Database

    db = Database(cfg.database_url)
    db.migrate()
    return db


def setup_logging(level: str = "info") -> None:
    from rich.logging import RichHandler

    logging.basicConfig(
        level=level.upper(), format="%(name)s: %(message)s", datefmt="%H:%M:%S",
        handlers=[RichHandler(console=err_console, show_path=False, rich_tracebacks=False)], force=True,
    )
    for noisy in ("alembic", "libav"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    os.environ.setdefault("AV_LOG_FORCE_NOCOLOR", "1")


def _default(o: Any) -> Any:
    if isinstance(o, datetime):
        return o.isoformat().replace("+00:00", "Z")
    if isinstance(o, Path):
        return str(o)
    raise TypeError(type(o).__name__)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, default=_default, indent=2))


def print_comparisons(rows: list[dict[str, Any]], key: str, json: bool) -> None:
    """A probe's comparisons in gallery order: JSON, or one line each (the value, or the error, and the file)."""
    if json:
        print_json(rows)
        return
    for row in rows:
        console.print(f"{row[key] if row[key] is not None else row.get('error')}\t{row['gallery']}")
