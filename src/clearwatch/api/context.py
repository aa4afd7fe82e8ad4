"""What the API needs from the running system, gathered in one object, built complete by whoever serves the API
(the service, or a console over a database with no cameras running)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clearwatch.alarms.engine import AlarmEngine
from clearwatch.analytics.pipeline import AnalyticsSummary
from clearwatch.api.live import LiveHub
from clearwatch.config import Config
from clearwatch.events import EventService
from clearwatch.federation import CentralNode
from clearwatch.governance import AuditLog, Users
from clearwatch.identity import FaceRegistry
from clearwatch.sources.health import HealthSnapshot, health_of
from clearwatch.storage import Database, EventStore, SegmentIndex

if TYPE_CHECKING:
    from clearwatch.identity.fingers import FingerRegistry


def _no_health() -> list[HealthSnapshot]:
    return []


def _nothing() -> dict[str, Any]:
    return {}


def _no_summary() -> dict[str, AnalyticsSummary]:
    return {}


@dataclass(frozen=True)
class AppContext:
    config: Config
    db: Database
    users: Users
    audit: AuditLog
    index: SegmentIndex
    events: EventStore
    alarms: AlarmEngine
    live: LiveHub = field(default_factory=LiveHub)
    event_service: EventService | None = None  # None: no cameras run in this process
    registry: FaceRegistry | None = None  # None: no key configured
    health: Callable[[], list[HealthSnapshot]] = _no_health
    analytics_summary: Callable[[], dict[str, AnalyticsSummary]] = _no_summary
    metrics: Callable[[], dict[str, Any]] = _nothing
    central: CentralNode | None = None  # set at the central node: the sites it sources
    _fingers: list[FingerRegistry] = field(default_factory=list, repr=False)  # made on first use
    _fingers_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fingers(self) -> FingerRegistry | None:
        """The registry's fingerprints (under the same key as its faces), loaded on first use; None without a key."""
        if self.registry is None:
            return None
        with self._fingers_lock:
            if not self._fingers:
                from clearwatch.identity.fingers import FingerRegistry

                point = "1e-4" if self.config.identity.operating_point == "1e-4" else "1e-3"
                reg = FingerRegistry(self.db, self.registry.cipher, point)
                reg.start()
                self._fingers.append(reg)
            return self._fingers[0]

    @property
    def is_central(self) -> bool:
        return self.central is not None

    @property
    def recordings_dir(self) -> Path:
        return self.config.recordings_dir

    @property
    def snapshots_dir(self) -> Path:
        return self.config.snapshots_dir

    @property
    def cameras(self) -> list[str]:
        return list(self.config.cameras)

    def camera_health(self, cameras: list[str]) -> list[HealthSnapshot]:
        """Health of ``cameras`` in that order; one this process does not run is offline."""
        return health_of(cameras, self.health())

    @classmethod
    def for_config(cls, config: Config, db: Database | None = None) -> AppContext:
        """A console over ``config``'s database with no cameras running in this process."""
        db = db or Database(config.database_url)
        audit = AuditLog(db)
        return cls(config=config, db=db, users=Users(db), audit=audit, index=SegmentIndex(db),
                   events=EventStore(db), alarms=AlarmEngine(config, db, audit=audit))
