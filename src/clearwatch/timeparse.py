"""Times typed by people: ISO 8601, 'now', or relative like '-10m' (ago) and '+2h' (from now)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import overload

from clearwatch.errors import ClearwatchError

_REL = re.compile(r"^([-+])(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@overload
def iso_z(t: datetime, timespec: str = "auto") -> str: ...
@overload
def iso_z(t: datetime | None, timespec: str = "auto") -> str | None: ...
def iso_z(t: datetime | None, timespec: str = "auto") -> str | None:
    """ISO 8601 in UTC with a ``Z`` (None stays None): how Clearwatch writes times into signed documents, reports
    and the audit trail."""
    return t.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z") if t is not None else None


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """Aware UTC datetime. A time without an offset is taken as UTC (recordings are laid out in UTC)."""
    now = now or datetime.now(UTC)
    t = text.strip()
    if t.lower() == "now":
        return now
    m = _REL.match(t)
    if m:
        delta = timedelta(seconds=float(m.group(2)) * _UNITS[m.group(3)])
        return now - delta if m.group(1) == "-" else now + delta
    try:
        parsed = datetime.fromisoformat(t.replace("Z", "+00:00") if t.endswith("Z") else t)
    except ValueError:
        raise ClearwatchError(
            f"cannot read time {text!r}: use ISO 8601 (2026-11-25T14:30:00Z), 'now' or relative like -10m or +2h"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def fmt_time(t: datetime | None) -> str:
    if t is None:
        return "-"
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") + "Z"


def json_default(v: object) -> str:
    """``json.dumps``'s ``default`` for what Clearwatch sends: datetimes in ISO 8601, anything else as text."""
    return v.isoformat() if isinstance(v, datetime) else str(v)
