"""Where segments live on disk: ``<root>/<camera>/<YYYY-MM-DD>/<HH>/<MM.SS>.mp4`` in UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

SEGMENT_RE = re.compile(
    r"^(?P<camera>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<hour>\d{2})/(?P<mm>\d{2})\.(?P<ss>\d{2})(?:-\d+)?\.mp4$"
)


def segment_path(root: Path, camera: str, start: float) -> Path:
    """A fresh path for a segment starting at ``start`` (epoch seconds); never an existing file."""
    t = datetime.fromtimestamp(start, UTC)
    folder = root / camera / t.strftime("%Y-%m-%d") / t.strftime("%H")
    stem = t.strftime("%M.%S")
    path = folder / f"{stem}.mp4"
    n = 1
    while path.exists():
        path = folder / f"{stem}-{n}.mp4"
        n += 1
    return path


def parse_segment_path(rel: str) -> tuple[str, datetime] | None:
    """Camera and (whole-second) start time from a path relative to the recordings root."""
    m = SEGMENT_RE.match(rel.replace("\\", "/"))
    if not m:
        return None
    try:
        start = datetime.strptime(
            f"{m['date']} {m['hour']}:{m['mm']}:{m['ss']}", "%Y-%m-%d %H:%M:%S"
        ).replace(tzinfo=UTC)
    except ValueError:
        return None
    return m["camera"], start


def relative(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()
