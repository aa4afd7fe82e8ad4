"""Plate lists in the database: managed from the console, the API and ``clearwatch plates lists``."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from sqlalchemy import delete, func, select

from clearwatch.config.base import NAME
from clearwatch.errors import ClearwatchError
from clearwatch.plates.formats import MAX_LEN, MIN_LEN
from clearwatch.plates.lists import LIST_KINDS, ListEntry
from clearwatch.storage.database import Database, rowcount
from clearwatch.storage.models import PlateList, PlateListEntry

log = logging.getLogger(__name__)


class PlateListError(ClearwatchError):
    pass


def clean_plate(text: str) -> str:
    plate = "".join(c for c in text.upper() if c.isascii() and c.isalnum())
    if not MIN_LEN <= len(plate) <= MAX_LEN:
        raise PlateListError(f"{text!r} is not a plate: {MIN_LEN}-{MAX_LEN} letters and digits")
    return plate


class PlateListStore:
    def __init__(self, db: Database):
        self.db = db

    def create(self, name: str, kind: str, by: str, description: str = "") -> PlateList:
        if not NAME.match(name):
            raise PlateListError(f"list name {name!r} must be 1-64 letters, digits, '_' or '-'")
        if kind not in LIST_KINDS:
            raise PlateListError(f"unknown list kind {kind!r}: use {', '.join(LIST_KINDS)}")
        with self.db.session() as s:
            if s.get(PlateList, name) is not None:
                raise PlateListError(f"plate list {name!r} exists already")
            row = PlateList(name=name, kind=kind, description=description, created_by=by,
                            created_at=datetime.now(UTC))
            s.add(row)
            return row

    def delete(self, name: str) -> bool:
        with self.db.session() as s:
            s.execute(delete(PlateListEntry).where(PlateListEntry.list_name == name))
            return bool(rowcount(s.execute(delete(PlateList).where(PlateList.name == name))))

    def lists(self) -> list[tuple[PlateList, int]]:
        q = (select(PlateList, func.count(PlateListEntry.id)).outerjoin(
            PlateListEntry, PlateListEntry.list_name == PlateList.name).group_by(PlateList.name)
             .order_by(PlateList.name))
        with self.db.session() as s:
            return [(pl, int(n)) for pl, n in s.execute(q)]

    def get(self, name: str) -> PlateList:
        with self.db.session() as s:
            row = s.get(PlateList, name)
        if row is None:
            raise PlateListError(f"no plate list {name!r}")
        return row

    def add(self, name: str, plate: str, by: str, *, valid_from: datetime | None = None,
            valid_until: datetime | None = None, note: str = "") -> PlateListEntry:
        """Add (or update) ``plate`` on a list; a visitor entry may carry validity dates."""
        plate = clean_plate(plate)
        if valid_from and valid_until and valid_until <= valid_from:
            raise PlateListError("valid_until must be after valid_from")
        with self.db.session() as s:
            if s.get(PlateList, name) is None:
                raise PlateListError(f"no plate list {name!r}")
            row = s.scalar(select(PlateListEntry).where(PlateListEntry.list_name == name,
                                                        PlateListEntry.plate == plate))
            if row is None:
                row = PlateListEntry(list_name=name, plate=plate, added_by=by, created_at=datetime.now(UTC))
                s.add(row)
            row.valid_from, row.valid_until, row.note = valid_from, valid_until, note
            return row

    def remove(self, name: str, plate: str) -> bool:
        with self.db.session() as s:
            return bool(rowcount(s.execute(delete(PlateListEntry).where(
                PlateListEntry.list_name == name, PlateListEntry.plate == clean_plate(plate)))))

    def entries(self, name: str | None = None) -> list[PlateListEntry]:
        q = select(PlateListEntry).order_by(PlateListEntry.list_name, PlateListEntry.plate)
        if name is not None:
            q = q.where(PlateListEntry.list_name == name)
        with self.db.session() as s:
            return list(s.scalars(q))

    def all_entries(self) -> list[ListEntry]:
        """Every entry with its list's kind, for matching."""
        q = select(PlateListEntry, PlateList.kind).join(PlateList, PlateList.name == PlateListEntry.list_name)
        with self.db.session() as s:
            return [ListEntry(e.list_name, kind, e.plate, e.valid_from, e.valid_until, e.note)
                    for e, kind in s.execute(q)]


class CachedEntries:
    """``all_entries`` read at most every ``ttl`` seconds: analytics match every plate against the lists, and
    lists change in the console while cameras run."""

    def __init__(self, store: PlateListStore, ttl: float = 5.0):
        self.store, self.ttl = store, ttl
        self._entries: list[ListEntry] = []
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def __call__(self) -> list[ListEntry]:
        with self._lock:
            if time.monotonic() - self._read_at >= self.ttl:
                try:
                    self._entries = self.store.all_entries()
                except Exception as exc:  # keep matching against the last lists read
                    log.warning("cannot read plate lists: %s", exc)
                self._read_at = time.monotonic()
            return self._entries
