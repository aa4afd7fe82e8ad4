"""Camera health as last written by the running service, for other processes (the CLI) to read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import delete, select

from clearwatch.sources.health import OFFLINE, HealthSnapshot
from clearwatch.storage.database import Database
from clearwatch.storage.models import CameraStatus

FIELDS = ("state", "recording", "fps_in", "last_frame_at", "connected_since", "reconnects", "last_error",
          "last_error_at", "sound")


class CameraStatusStore:
    def __init__(self, db: Database):
        self.db = db

    def write(self, snapshots: Iterable[HealthSnapshot]) -> None:
        now = datetime.now(UTC)
        with self.db.session() as s:
            for snap in snapshots:
                row = s.get(CameraStatus, snap.camera)
                if row is None:
                    row = CameraStatus(camera=snap.camera)
                    s.add(row)
                for k in FIELDS:
                    setattr(row, k, getattr(snap, k))
                row.updated_at = now

    def read(self, stale_after: float | None = None) -> list[HealthSnapshot]:
        """What was reported; a camera whose report is older than ``stale_after`` seconds is offline (its
        service is gone), unless it had stopped cleanly."""
        now = datetime.now(UTC)
        with self.db.session() as s:
            rows = list(s.scalars(select(CameraStatus).order_by(CameraStatus.camera)))
            snaps = [HealthSnapshot(r.camera, updated_at=r.updated_at, **{k: getattr(r, k) for k in FIELDS})
                     for r in rows]
        if stale_after is None:
            return snaps
        return [replace(h, state=OFFLINE) if h.state != "stopped" and h.updated_at is not None
                and (now - h.updated_at).total_seconds() > stale_after else h for h in snaps]

    def forget_except(self, cameras: Iterable[str]) -> None:
        keep = list(cameras)
        with self.db.session() as s:
            s.execute(delete(CameraStatus).where(CameraStatus.camera.not_in(keep)))
