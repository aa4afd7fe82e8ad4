"""``clearwatch central``: the central node. No cameras: it sources every site's stream into its own database
and serves one console and API over all sites; footage stays at the sites and is fetched on demand."""

from __future__ import annotations

import logging

from clearwatch.alarms.engine import AlarmEngine
from clearwatch.api.app import WebServer, create_app
from clearwatch.api.context import AppContext
from clearwatch.config import Config
from clearwatch.federation import CentralNode
from clearwatch.governance import AuditLog, Users
from clearwatch.governance.retention import DataRetention
from clearwatch.identity import open_face_registry
from clearwatch.service.core import needs_face_registry
from clearwatch.service.periodic import Periodic
from clearwatch.storage import Database, EventStore, SegmentIndex

log = logging.getLogger(__name__)


class CentralService:
    def __init__(self, config: Config, db: Database | None = None, web: bool | None = None):
        assert config.central is not None
        self.config = config
        self.db = db or Database(config.database_url)
        self.audit = AuditLog(self.db)
        self.node = CentralNode(config, self.db)
        self.retention = DataRetention(config, self.db)
        self.jobs = [Periodic("event-expiry", config.retention.interval, self.retention.run, first_now=True)]
        self.web_enabled = config.web.enabled if web is None else web
        self.web: WebServer | None = None
        self.context: AppContext | None = None
        self.started = False

    def start(self) -> None:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self.db.migrate()
        registry = open_face_registry(self.config, self.db) if needs_face_registry(self.config) else None
        self.node.start()
        for job in self.jobs:
            job.start()
        self.context = AppContext(
            config=self.config, db=self.db, users=Users(self.db), audit=self.audit, index=SegmentIndex(self.db),
            events=EventStore(self.db), alarms=AlarmEngine(self.config, self.db, audit=self.audit),
            registry=registry, central=self.node)
        if self.web_enabled:
            self.web = WebServer(create_app(self.context), self.config.web.host, self.config.web.port)
            try:
                self.web.start()
            except OSError:
                self.stop()
                raise
            log.info("central console on http://%s:%s/", self.config.web.host, self.web_port)
        self.started = True

    @property
    def web_port(self) -> int | None:
        return self.web.bound_port if self.web is not None else None

    def stop(self, timeout: float = 15.0) -> None:
        for job in self.jobs:
            job.stop()
        if self.web is not None:
            self.web.stop()
            self.web = None
        self.node.stop()
        self.audit.close()
        self.db.dispose()
