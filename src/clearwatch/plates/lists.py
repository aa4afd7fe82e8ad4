"""Plate lists and matching a read against them: exact, or within a small edit distance (one misread
character), and only while a visitor's entry is valid."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

ListKind = Literal["allow", "deny", "watch", "visitor"]
LIST_KINDS: tuple[ListKind, ...] = ("allow", "deny", "watch", "visitor")


@dataclass(frozen=True)
class ListEntry:
    list: str
    kind: str
    plate: str
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    note: str = ""

    def valid(self, at: datetime) -> bool:
        started = self.valid_from is None or self.valid_from <= at
        return started and (self.valid_until is None or at < self.valid_until)


@dataclass(frozen=True)
class ListHit:
    entry: ListEntry
    distance: int  # characters the read differs from the listed plate


def edit_distance(a: str, b: str, limit: int | None = None) -> int:
    """Levenshtein distance (insert, delete, substitute); stops early once every path exceeds ``limit``."""
    if abs(len(a) - len(b)) > (limit if limit is not None else len(a) + len(b)):
        return abs(len(a) - len(b))
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if limit is not None and min(cur) > limit:
            return min(cur)
        prev = cur
    return prev[-1]


def match(plate: str, entries: list[ListEntry], at: datetime, max_distance: int = 1) -> list[ListHit]:
    """Listed plates within ``max_distance`` of ``plate`` whose entries are valid ``at``, closest first."""
    hits = []
    for e in entries:
        if not e.valid(at):
            continue
        d = edit_distance(plate, e.plate, max_distance)
        if d <= max_distance:
            hits.append(ListHit(e, d))
    return sorted(hits, key=lambda h: (h.distance, h.entry.list))
