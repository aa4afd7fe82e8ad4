"""The service: builds its parts, starts them in order (database, registry, index, cameras, jobs, web) and
stops them in reverse. Each part does one job; this file only sequences them."""

from __future__ import annotations

import logging
import os

from clearwatch.alarms.engine import AlarmEngine
from clearwatch.analytics.pipeline import AnalyticsSummary
from clearwatch.api.app import WebServer, create_app
from clearwatch.api.context import AppContext
from clearwatch.api.live import LiveHub
from clearwatch.config import Config
from clearwatch.events import EventService
from clearwatch.faces.recognizer import FaceRecognizer
from clearwatch.federation import SiteLink
from clearwatch.governance import AuditLog, Users
from clearwatch.governance.checkpoints import Checkpointer
from clearwatch.governance.retention import DataRetention
from clearwatch.governance.signing import installation_signer
from clearwatch.identity import FaceRegistry, open_face_registry
from clearwatch.recording import IndexWriter, Retention, RetentionScheduler, reconcile, retention_policy
from clearwatch.service.detectors import DetectorCache, PlateReaders
from clearwatch.service.periodic import Periodic
from clearwatch.service.units import CameraUnit, build_unit
from clearwatch.sources import HealthSnapshot
from clearwatch.storage import CameraStatusStore, Database, EventStore, HoldStore, SegmentIndex
from clearwatch.storage.plate_lists import CachedEntries, PlateListStore

log = logging.getLogger(__name__)
STATUS_INTERVAL = 2.0
ALARM_INTERVAL = 2.0  # offline cameras and escalations are checked this often


def needs_face_registry(config: Config) -> bool:
    """A camera that recognises faces needs the registry, and so its key: without it nothing starts (biometrics
    are never processed unsealed). Otherwise it is opened when a key is configured, for the console."""
    ident = config.identity
    return (any(c.enabled and c.faces.enabled for c in config.cameras.values())
            or ident.key_file is not None or bool(os.environ.get(ident.key_env)))


class Service:
    def __init__(self, config: Config, db: Database | None = None, web: bool | None = None):
        self.config = config
        self.db = db or Database(config.database_url)
        self.root = config.recordings_dir
        self.index = SegmentIndex(self.db)
        self.status = CameraStatusStore(self.db)
        self.index_writer = IndexWriter(self.index)
        self.retention = Retention(self.root, self.index, HoldStore(self.db), retention_policy(config))
        self.scheduler = RetentionScheduler(self.retention, config.retention.interval)
        self.events = EventService(config, self.db)
        self.audit = AuditLog(self.db)  # one trail writer for the desk and the console (appends are grouped)
        self.alarms = AlarmEngine(config, self.db, queue=self.events.queue, audit=self.audit)
        # signs exports, receipts and audit checkpoints; made in the data directory on first start if none is set
        self.signer = installation_signer(config)
        self.checkpoints = Checkpointer(config, self.db, self.signer, self.events.queue)
        self.data_retention = DataRetention(config, self.db, trim_audit=self.checkpoints.trim)
        self.events.listeners.append(self.alarms.on_update)
        self.detectors = DetectorCache()
        self.plate_readers = PlateReaders()
        self.plate_lists = CachedEntries(PlateListStore(self.db))
        self.live = LiveHub({n: c.privacy_masks for n, c in config.cameras.items() if c.privacy_masks})
        self.units: dict[str, CameraUnit] = {}
        self.site_link = self._site_link() if config.site.nats is not None else None
        self.registry: FaceRegistry | None = None
        self.context: AppContext | None = None
        self.web_enabled = config.web.enabled if web is None else web
        self.web: WebServer | None = None
        self.jobs = [Periodic("camera-status", STATUS_INTERVAL, self._write_status),
                     Periodic("event-expiry", config.retention.interval, self._expire, first_now=True),
                     Periodic("alarms", ALARM_INTERVAL, self._alarm_checks),
                     Periodic("audit-checkpoint", config.governance.checkpoint_interval, self.checkpoints.make)]
        self.started = False

    def _site_link(self) -> SiteLink:
        from clearwatch.events.outbox import Dispatcher
        from clearwatch.federation import SiteLink, SiteTransport

        link = SiteLink(self.config, self.db, audit=self.audit, outbox=self.events.outbox, health=self.health,
                        live=self.live, registry=lambda: self.registry, on_lag=self._link_lagging)
        self.events.dispatchers.append(Dispatcher(self.events.outbox, SiteTransport(link)))
        return link

    def _link_lagging(self, seconds: float) -> None:
        """The central node has not taken this site's oldest message for a long time: past the stream's max age
        it would be lost, so the desk hears of it well before."""
        from datetime import UTC, datetime

        from clearwatch.storage.alarms import Raised

        assert self.config.site.nats is not None
        keep = self.config.site.nats.stream_max_age / 3600
        self.alarms.raise_(Raised(
            rule="site-link", kind="offline", camera=None, priority=2, at=datetime.now(UTC),
            title=f"Central node has not taken this site's messages for {seconds / 3600:.1f} h "
                  f"(the site keeps them {keep:.0f} h)"))

    @property
    def model_errors(self) -> dict[str, str]:
        return {**self.detectors.errors, **self.plate_readers.errors}

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.db.migrate()
        if needs_face_registry(self.config):
            self.registry = open_face_registry(self.config, self.db)
        reconcile(self.root, self.index)
        self.index_writer.start()
        for cam in self.config.cameras.values():
            if cam.enabled:
                faces = FaceRecognizer(self.registry, cam.faces) if cam.faces.enabled and self.registry else None
                self.units[cam.name] = build_unit(
                    cam, recordings=self.root, index_writer=self.index_writer,
                    on_disk_full=self.scheduler.run_soon, detectors=self.detectors, sink=self.events, faces=faces,
                    live=self.live, plates=self.plate_readers.watcher_for(cam), plate_lists=self.plate_lists)
        self.status.forget_except(self.units)
        self.events.start()
        if self.site_link is not None:
            self.site_link.start()
        for unit in self.units.values():
            unit.start()
        self.scheduler.start()
        for job in self.jobs:
            job.start()
        self.context = AppContext(
            config=self.config, db=self.db, users=Users(self.db), audit=self.audit, index=self.index,
            events=EventStore(self.db), alarms=self.alarms, live=self.live, event_service=self.events,
            registry=self.registry, health=self.health, analytics_summary=self.analytics_summary, metrics=self.metrics)
        if self.web_enabled:
            self.web = WebServer(create_app(self.context), self.config.web.host, self.config.web.port)
            try:
                self.web.start()
            except OSError:
                self.stop()
                raise
            log.info("web console on http://%s:%s/", self.config.web.host, self.web_port)
        self.started = True
        log.info("clearwatch running: %d camera(s), recordings in %s, database %s",
                 len(self.units), self.root, self.db.safe_url)

    @property
    def web_port(self) -> int | None:
        return self.web.bound_port if self.web is not None else None

    def analytics_summary(self) -> dict[str, AnalyticsSummary]:
        return {n: u.analytics.summary() for n, u in self.units.items() if u.analytics is not None}

    def metrics(self) -> dict[str, list[tuple[dict[str, str], float]]]:
        out: dict[str, list[tuple[dict[str, str], float]]] = {
            "detector_seconds_total": [], "analysed_frames_total": [], "analytics_queue_depth": [],
            "analytics_dropped_total": []}
        for name, unit in self.units.items():
            if unit.analytics is not None:
                out["detector_seconds_total"].append(({"camera": name}, round(unit.analytics.times.detect, 3)))
                out["analysed_frames_total"].append(({"camera": name}, unit.analytics.times.frames))
            if unit.decoder is not None:
                out["analytics_queue_depth"].append(({"camera": name}, unit.decoder.queue_depth))
                out["analytics_dropped_total"].append(({"camera": name}, unit.decoder.dropped))
        out["outbox_pending"] = [({"target": t}, n) for (t, st), n in self.events.outbox.counts().items()
                                 if st == "pending"]
        return out

    def health(self) -> list[HealthSnapshot]:
        return [u.camera.health.snapshot() for u in self.units.values()]

    def _expire(self) -> None:
        self.data_retention.run()

    def _alarm_checks(self) -> None:
        self.alarms.check_health(self.health())
        self.alarms.escalate()

    def _write_status(self) -> None:
        self.status.write(self.health())

    def stop(self, timeout: float = 15.0) -> None:
        for job in self.jobs:
            job.stop()
        if self.web is not None:
            self.web.stop()
            self.web = None
        for unit in self.units.values():
            unit.stop_sources()
        for unit in self.units.values():
            unit.join(timeout)
        for unit in self.units.values():
            unit.finish_analytics(timeout)
        self.events.stop()
        if self.site_link is not None:
            self.site_link.stop()
        self.scheduler.stop()
        self.index_writer.stop(timeout)
        try:
            self._write_status()
        except Exception as exc:
            log.warning("cannot store final camera status: %s", exc)
        self.audit.close()
        self.db.dispose()
