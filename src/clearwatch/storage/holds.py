"""Evidence holds and export holds: footage that retention must not delete."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, or_, select

from clearwatch.storage.database import Database, rowcount
from clearwatch.storage.models import Hold


class HoldStore:
    def __init__(self, db: Database):
        self.db = db

    def add(self, kind: str, camera: str | None, start: datetime, end: datetime, reason: str,
            created_by: str, expires_at: datetime | None = None) -> int:
        if end <= start:
            raise ValueError("a hold must end after it starts")
        with self.db.session() as s:
            hold = Hold(kind=kind, camera=camera, start=start, end=end, reason=reason, created_by=created_by,
                        created_at=datetime.now(UTC), expires_at=expires_at)
            s.add(hold)
            s.flush()
            return hold.id

    def remove(self, hold_id: int) -> bool:
        with self.db.session() as s:
            return bool(rowcount(s.execute(delete(Hold).where(Hold.id == hold_id))))

    def active(self, now: datetime | None = None) -> list[Hold]:
        now = now or datetime.now(UTC)
        with self.db.session() as s:
            q = select(Hold).where(or_(Hold.expires_at.is_(None), Hold.expires_at > now)).order_by(Hold.id)
            return list(s.scalars(q))


def held(holds: list[Hold], camera: str, start: datetime, end: datetime) -> bool:
    return any((h.camera is None or h.camera == camera) and h.start < end and h.end > start for h in holds)
