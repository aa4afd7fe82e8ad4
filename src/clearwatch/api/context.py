"""What the API needs from the running system, gathered in one object (the service fills it in)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clearwatch.api.live import LiveHub
from clearwatch.config import Config
from clearwatch.events import EventService
from clearwatch.governance import AuditLog, Users
from clearwatch.identity import Registry
from clearwatch.sources import HealthSnapshot
from clearwatch.storage import Database, EventStore, SegmentIndex


@dataclass
class AppContext:
    config: Config
    db: Database
    users: Users
    audit: AuditLog
    index: SegmentIndex
    events: EventStore
    live: LiveHub = field(default_factory=LiveHub)
    event_service: EventService | None = None
    registry: Registry | None = None
    health: Callable[[], list[HealthSnapshot]] = lambda: []
    analytics_summary: Callable[[], dict[str, dict[str, Any]]] = lambda: {}
    metrics: Callable[[], dict[str, Any]] = lambda: {}

    @property
    def recordings_dir(self) -> Path:
        return self.config.recordings_dir

    @property
    def snapshots_dir(self) -> Path:
        return self.config.data_dir / "snapshots"

    @property
    def cameras(self) -> list[str]:
        return list(self.config.cameras)

    @classmethod
    def for_config(cls, config: Config, db: Database | None = None) -> AppContext:
        db = db or Database(config.database_url)
        return cls(config=config, db=db, users=Users(db), audit=AuditLog(db), index=SegmentIndex(db),
                   events=EventStore(db))
