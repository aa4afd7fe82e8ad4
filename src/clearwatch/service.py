"""The running system: cameras → recorders → index, plus retention and health reporting."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from clearwatch.analytics import MotionDetector
from clearwatch.config import Config
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
    motion: MotionDetector | None = None


def retention_policy(config: Config) -> RetentionPolicy:
    return RetentionPolicy(
        default_days=config.retention.days,
        camera_days={name: config.record_for(name).retention_days for name in config.cameras},
        max_bytes=config.storage.max_size,
        min_free_bytes=config.storage.min_free,
    )


class Service:
    def __init__(self, config: Config, db: Database | None = None):
        self.config = config
        self.db = db or Database(config.database_url)
        self.root = config.recordings_dir
        self.index = SegmentIndex(self.db)
        self.holds = HoldStore(self.db)
        self.status = CameraStatusStore(self.db)
        self.index_writer = IndexWriter(self.index)
        self.retention = Retention(self.root, self.index, self.holds, retention_policy(config))
        self.scheduler = RetentionScheduler(self.retention, config.retention.interval)
        self.units: dict[str, CameraUnit] = {}
        self._stop = threading.Event()
        self.started = False
        self._status_thread = threading.Thread(target=self._status_loop, name="camera-status", daemon=True)

    def start(self) -> None:
        self.started = True
        self.root.mkdir(parents=True, exist_ok=True)
        self.db.migrate()
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
            motion = None
            if recorder is not None and settings.mode == "motion":
                motion = MotionDetector(name, on_motion=recorder.trigger)
                camera.add_sink(motion)
            self.units[name] = CameraUnit(camera, recorder, motion)
        self.status.forget_except(self.units)
        for unit in self.units.values():
            if unit.motion is not None:
                unit.motion.start()
            unit.camera.start()
        self.scheduler.start()
        self._status_thread.start()
        log.info("clearwatch running: %d camera(s), recordings in %s, database %s",
                 len(self.units), self.root, self.db.safe_url)

    def health(self) -> list[HealthSnapshot]:
        return [u.camera.health.snapshot() for u in self.units.values()]

    def _write_status(self) -> None:
        self.status.write(
            {k: v for k, v in snap.as_dict().items()} for snap in self.health()
        )

    def _status_loop(self) -> None:
        while not self._stop.wait(STATUS_INTERVAL):
            try:
                self._write_status()
            except Exception as exc:
                log.warning("cannot store camera status: %s", exc)

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        for unit in self.units.values():
            unit.camera.stop()
        for unit in self.units.values():
            unit.camera.join(timeout)
            if unit.camera.is_alive():
                log.warning("%s: camera thread did not stop in time", unit.camera.camera)
            elif unit.recorder is not None:
                unit.recorder.close()
            unit.camera.health.recording = "off"
            if unit.motion is not None:
                unit.motion.stop()
        self.scheduler.stop()
        self.index_writer.stop(timeout)
        try:
            self._write_status()
        except Exception as exc:
            log.warning("cannot store final camera status: %s", exc)
        self.db.dispose()
