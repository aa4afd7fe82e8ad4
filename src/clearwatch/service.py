"""The running system: cameras → recorders → index, cameras → analytics → events, plus retention and health."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

from clearwatch.analytics import CameraAnalytics, Detector, FrameDecoder, ModelError, camera_settings, create_detector
from clearwatch.api import AppContext, WebServer, create_app
from clearwatch.config import Config
from clearwatch.config.analytics import ObjectsConfig
from clearwatch.events import EventService
from clearwatch.faces.recognizer import FaceRecognizer
from clearwatch.identity import Cipher, Registry, load_key
from clearwatch.recording import (
    IndexWriter,
    Recorder,
    Retention,
    RetentionPolicy,
    RetentionScheduler,
    reconcile,
)
from clearwatch.sources import Camera, HealthSnapshot
from clearwatch.storage import CameraStatusStore, Database, HoldStore, SegmentIndex

log = logging.getLogger(__name__)
STATUS_INTERVAL = 2.0


@dataclass
class CameraUnit:
    camera: Camera
    recorder: Recorder | None
    decoder: FrameDecoder | None = None
    detect_camera: Camera | None = None  # the sub-stream, when analytics have their own
    analytics: CameraAnalytics | None = None


def retention_policy(config: Config) -> RetentionPolicy:
    return RetentionPolicy(
        default_days=config.retention.days,
        camera_days={name: config.record_for(name).retention_days for name in config.cameras},
        max_bytes=config.storage.max_size,
        min_free_bytes=config.storage.min_free,
    )


class Service:
    def __init__(self, config: Config, db: Database | None = None, web: bool | None = None):
        self.config = config
        self.db = db or Database(config.database_url)
        self.root = config.recordings_dir
        self.index = SegmentIndex(self.db)
        self.holds = HoldStore(self.db)
        self.status = CameraStatusStore(self.db)
        self.index_writer = IndexWriter(self.index)
        self.retention = Retention(self.root, self.index, self.holds, retention_policy(config))
        self.scheduler = RetentionScheduler(self.retention, config.retention.interval)
        self.events = EventService(config, self.db)
        self.events.motion_listeners.append(self._on_motion)
        self.events.activity_listeners.append(self._on_activity)
        self.units: dict[str, CameraUnit] = {}
        self._detectors: dict[tuple[object, ...], Detector | None] = {}
        self.model_errors: dict[str, str] = {}
        self.registry: Registry | None = None
        self.web_enabled = config.web.enabled if web is None else web
        self.web: WebServer | None = None
        self.context = AppContext.for_config(config, self.db)
        self.context.event_service = self.events
        self.context.health = self.health
        self.context.analytics_summary = self.analytics_summary
        self.context.metrics = self.metrics
        self._stop = threading.Event()
        self.started = False
        self._status_thread = threading.Thread(target=self._status_loop, name="camera-status", daemon=True)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.db.migrate()
        self._open_registry()
        reconcile(self.root, self.index)
        self.index_writer.start()
        for name, cam_cfg in self.config.cameras.items():
            if not cam_cfg.enabled:
                continue
            camera = Camera(name, cam_cfg)
            settings = self.config.record_for(name)
            recorder = None
            if settings.enabled:
                recorder = Recorder(name, settings, self.root, self.index_writer, camera.health,
                                    on_disk_full=self.scheduler.run_soon)
                camera.add_sink(recorder)
            unit = self.units[name] = CameraUnit(camera, recorder)
            detect = self.config.detect_for(name)
            if detect.enabled or settings.mode in ("motion", "events"):
                unit.analytics = CameraAnalytics(name, camera_settings(self.config, name), self._detector(name),
                                                 self.events, self._face_recognizer(name))
                unit.decoder = FrameDecoder(name, self._consumer(name, unit.analytics), fps=detect.fps,
                                            width=detect.width, on_gap=unit.analytics.interrupted)
                if cam_cfg.detect_url:
                    unit.detect_camera = Camera(name, cam_cfg.detect_source(), [unit.decoder])
                else:
                    camera.add_sink(unit.decoder)
        self.status.forget_except(self.units)
        self.events.start()
        for unit in self.units.values():
            if unit.decoder is not None:
                unit.decoder.start()
            if unit.detect_camera is not None:
                unit.detect_camera.start()
            unit.camera.start()
        self.scheduler.start()
        self._status_thread.start()
        self.context.registry = self.registry
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

    def _detector(self, camera: str) -> Detector | None:
        """One detector per distinct model setting, shared by cameras (onnxruntime sessions are thread-safe)."""
        cfg: ObjectsConfig = self.config.objects_for(camera)
        if not cfg.enabled or not self.config.detect_for(camera).enabled:
            return None
        key = (cfg.detector, cfg.model, cfg.sha256, cfg.input_size, cfg.threads)
        if key not in self._detectors:
            try:
                self._detectors[key] = create_detector(cfg.detector, cfg.model, cfg.sha256, cfg.input_size,
                                                       cfg.threads)
            except ModelError as exc:
                log.error("object detection is off: %s. Cameras still record and detect motion.", exc)
                self._detectors[key] = None
        detector = self._detectors[key]
        if detector is None:
            self.model_errors[camera] = "object detection unavailable: model missing or invalid (see the log)"
        return detector

    def _consumer(self, camera: str, analytics: CameraAnalytics):  # type: ignore[no-untyped-def]
        live = self.context.live

        def consume(frame):  # type: ignore[no-untyped-def]
            live.publish(camera, frame.image, frame.time)  # a reference: viewers encode only what they watch
            analytics.process(frame)
        return consume

    @property
    def web_port(self) -> int | None:
        if self.web is None or not self.web.server.servers:
            return None
        return int(self.web.server.servers[0].sockets[0].getsockname()[1])

    def analytics_summary(self) -> dict[str, dict[str, object]]:
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

    def _open_registry(self) -> None:
        """Open the registry when a key is configured. A camera that recognises faces needs it: without the
        key nothing starts (biometrics are never processed unsealed)."""
        ident = self.config.identity
        needed = any(c.enabled and self.config.faces_for(n).enabled for n, c in self.config.cameras.items())
        if not needed and ident.key_file is None and not os.environ.get(ident.key_env):
            return
        registry = Registry(self.db, Cipher(load_key(ident.key_file, ident.key_env)),
                            min_quality=ident.min_enrol_quality, operating_point=ident.operating_point,
                            exact_below=ident.exact_search_below)
        registry.start()
        self.registry = registry

    def _face_recognizer(self, camera: str) -> FaceRecognizer | None:
        cfg = self.config.faces_for(camera)
        if not cfg.enabled or self.registry is None:
            return None
        return FaceRecognizer(self.registry, cfg)

    def _on_motion(self, camera: str, t: float) -> None:
        unit = self.units.get(camera)
        if unit is not None and unit.recorder is not None and unit.recorder.settings.mode == "motion":
            unit.recorder.trigger(t)

    def _on_activity(self, camera: str, t: float) -> None:
        unit = self.units.get(camera)
        if unit is not None and unit.recorder is not None and unit.recorder.settings.mode == "events":
            unit.recorder.trigger(t)

    def health(self) -> list[HealthSnapshot]:
        return [u.camera.health.snapshot() for u in self.units.values()]

    def _write_status(self) -> None:
        self.status.write(
            {k: v for k, v in snap.as_dict().items()} for snap in self.health()
        )

    def _status_loop(self) -> None:
        next_expiry = time.monotonic()
        while not self._stop.wait(STATUS_INTERVAL):
            try:
                self._write_status()
            except Exception as exc:
                log.warning("cannot store camera status: %s", exc)
            if time.monotonic() >= next_expiry:
                next_expiry = time.monotonic() + self.config.retention.interval
                try:
                    self.events.expire()
                except Exception as exc:
                    log.warning("cannot expire old events: %s", exc)

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        if self.web is not None:
            self.web.stop()
            self.web = None
        for unit in self.units.values():
            unit.camera.stop()
            if unit.detect_camera is not None:
                unit.detect_camera.stop()
        for unit in self.units.values():
            unit.camera.join(timeout)
            if unit.camera.is_alive():
                log.warning("%s: camera thread did not stop in time", unit.camera.camera)
            elif unit.recorder is not None:
                unit.recorder.close()
            unit.camera.health.recording = "off"
            if unit.detect_camera is not None:
                unit.detect_camera.join(timeout)
            if unit.decoder is not None:
                unit.decoder.stop()
        for unit in self.units.values():
            if unit.decoder is not None and unit.analytics is not None:
                unit.decoder.join(timeout)
                if not unit.decoder.is_alive():
                    unit.analytics.finish()  # end open events on the analytics thread's behalf
        self.events.stop()
        self.scheduler.stop()
        self.index_writer.stop(timeout)
        try:
            self._write_status()
        except Exception as exc:
            log.warning("cannot store final camera status: %s", exc)
        self.context.audit.close()
        self.db.dispose()
