"""Camera health as last written by the running service."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select

from clearwatch.storage.database import Database
from clearwatch.storage.models import CameraStatus


class CameraStatusStore:
    def __init__(self, db: Database):
        self.db = db

    def write(self, rows: Iterable[dict[str, Any]]) -> None:
        now = datetime.now(UTC)
        with self.db.session() as s:
            for row in rows:
                existing = s.get(CameraStatus, row["camera"])
                if existing is None:
                    s.add(CameraStatus(updated_at=now, **row))
                else:
                    for k, v in row.items():
                        setattr(existing, k, v)
                    existing.updated_at = now

    def read(self) -> list[CameraStatus]:
        with self.db.session() as s:
            return list(s.scalars(select(CameraStatus).order_by(CameraStatus.camera)))

    def forget_except(self, cameras: Iterable[str]) -> None:
        keep = list(cameras)
        with self.db.session() as s:
            s.execute(delete(CameraStatus).where(CameraStatus.camera.not_in(keep)))
