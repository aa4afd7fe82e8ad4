"""Human-friendly durations ("90s", "7d") and sizes ("500GB"): parsed for the config, printed for people."""

from __future__ import annotations

import re

_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE_UNITS = {
    "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
    "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
}
_NUM_UNIT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def parse_duration(value: object) -> float:
    """Seconds from a number or a string like ``"10s"``, ``"5m"``, ``"7d"``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 10, '10s', '5m' or '7d'")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        m = _NUM_UNIT.match(value)
        if m:
            unit = m.group(2).lower() or "s"
            if unit in _DURATION_UNITS:
                return float(m.group(1)) * _DURATION_UNITS[unit]
    raise ValueError(f"{value!r} is not a duration; use seconds or a number with ms, s, m, h, d or w")


def parse_size(value: object) -> int:
    """Bytes from a number or a string like ``"500GB"`` or ``"1.5 TiB"``."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as '500MB' or '2TB'")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        m = _NUM_UNIT.match(value)
        if m:
            unit = m.group(2).lower() or "b"
            if unit in _SIZE_UNITS:
                return int(float(m.group(1)) * _SIZE_UNITS[unit])
    raise ValueError(f"{value!r} is not a size; use bytes or a number with KB, MB, GB, TB (or KiB, MiB, GiB, TiB)")


def format_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"
