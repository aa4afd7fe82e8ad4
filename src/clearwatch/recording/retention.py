"""Retention: delete the oldest footage by age per camera and by quota, never what is held or being written."""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from clearwatch.config import Config
from clearwatch.storage import Hold, HoldStore, Segment, SegmentIndex, held

log = logging.getLogger(__name__)


@dataclass
class RetentionPolicy:
    default_days: float
    camera_days: dict[str, float] = field(default_factory=dict)
    max_bytes: int | None = None
    min_free_bytes: int = 0


@dataclass
class RetentionReport:
    deleted_by_age: int = 0
    deleted_by_quota: int = 0
    freed_bytes: int = 0
    kept_held: int = 0
    over_quota_bytes: int = 0

    @property
    def deleted(self) -> int:
        return self.deleted_by_age + self.deleted_by_quota


def disk_free(path: Path) -> int:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free


def retention_policy(config: Config) -> RetentionPolicy:
    """The configured policy: each camera's resolved ``record.retention_days``, the quota and free space."""
    return RetentionPolicy(
        default_days=config.retention.days,
        camera_days={name: cam.record.retention_days for name, cam in config.cameras.items()},
        max_bytes=config.storage.max_size,
        min_free_bytes=config.storage.min_free,
    )


class Retention:
    def __init__(self, root: Path, index: SegmentIndex, holds: HoldStore, policy: RetentionPolicy,
                 free_bytes: Callable[[Path], int] = disk_free):
        self.root = root
        self.index = index
        self.holds = holds
        self.policy = policy
        self.free_bytes = free_bytes
        self._lock = threading.Lock()

    def run_once(self, now: datetime | None = None) -> RetentionReport:
        with self._lock:
            now = now or datetime.now(UTC)
            report = RetentionReport()
            holds = self.holds.active(now)
            cameras = set(self.index.cameras()) | set(self.policy.camera_days)
            for camera in sorted(cameras):
                days = self.policy.camera_days.get(camera, self.policy.default_days)
                cutoff = now - timedelta(days=days)
                for seg in self._candidates(camera, cutoff, holds, report):
                    report.deleted_by_age += self._delete(seg, report)
            self._enforce_quota(holds, report)
            if report.deleted:
                log.info("retention: deleted %d segments (%d by age, %d by quota), freed %d bytes",
                         report.deleted, report.deleted_by_age, report.deleted_by_quota, report.freed_bytes)
            return report

    def _candidates(self, camera: str | None, before: datetime | None, holds: list[Hold],
                    report: RetentionReport) -> list[Segment]:
        out = []
        for seg in self.index.oldest_complete(camera, before=before, limit=100_000):
            if held(holds, seg.camera, seg.start, seg.end):
                report.kept_held += 1
                continue
            out.append(seg)
        return out

    def _enforce_quota(self, holds: list[Hold], report: RetentionReport) -> None:
        total = self.index.total_bytes()
        free = self.free_bytes(self.root)
        max_bytes = self.policy.max_bytes

        def over() -> bool:
            return (max_bytes is not None and total > max_bytes) or free < self.policy.min_free_bytes

        if not over():
            return
        while over():
            batch = self._candidates(None, None, holds, RetentionReport())[:200]
            if not batch:
                report.over_quota_bytes = max(total - (max_bytes or total), self.policy.min_free_bytes - free)
                log.warning("retention: over quota by %d bytes but nothing more may be deleted "
                            "(held or being written)", report.over_quota_bytes)
                return
            for seg in batch:
                if not over():
                    break
                freed = seg.bytes
                report.deleted_by_quota += self._delete(seg, report)
                total -= freed
                free += freed

    def _delete(self, seg: Segment, report: RetentionReport) -> int:
        path = self.root / seg.path
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.error("retention: cannot delete %s: %s", path, exc.strerror)
            return 0
        # file first, then row: a crash in between leaves a row without a file, which reconcile drops
        self.index.delete_ids([seg.id])
        report.freed_bytes += seg.bytes
        for folder in (path.parent, path.parent.parent):
            try:
                os.rmdir(folder)
            except OSError:
                break
        return 1


class RetentionScheduler(threading.Thread):
    def __init__(self, retention: Retention, interval: float):
        super().__init__(name="retention", daemon=True)
        self.retention = retention
        self.interval = interval
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self.last_report: RetentionReport | None = None

    def run_soon(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.last_report = self.retention.run_once()
            except Exception:
                log.exception("retention run failed; will try again")
            self._wake.wait(self.interval)
            self._wake.clear()
