"""Index updates off the camera threads: recording never waits for the database."""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from clearwatch.storage import SegmentIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SegmentOpened:
    camera: str
    start: float
    path: str
    codec: str | None
    width: int | None
    height: int | None


@dataclass(frozen=True)
class SegmentClosed:
    path: str
    end: float
    duration: float
    size: int


@dataclass(frozen=True)
class SegmentDiscarded:
    path: str


Op = SegmentOpened | SegmentClosed | SegmentDiscarded


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class IndexWriter(threading.Thread):
    """Applies segment index operations in order; retries while the database is unavailable."""

    def __init__(self, index: SegmentIndex, retry_seconds: float = 1.0):
        super().__init__(name="index-writer", daemon=True)
        self.index = index
        self.retry_seconds = retry_seconds
        self._q: queue.Queue[Op | None] = queue.Queue()
        self._stopping = threading.Event()
        self.failures = 0

    def submit(self, op: Op) -> None:
        self._q.put(op)

    def pending(self) -> int:
        return self._q.qsize()

    def run(self) -> None:
        while True:
            op = self._q.get()
            if op is None:
                return
            while True:
                try:
                    self._apply(op)
                    break
                except Exception as exc:
                    self.failures += 1
                    log.warning("index update failed, retrying: %s", exc)
                    if self._stopping.wait(self.retry_seconds) and self.failures > 10:
                        log.error("giving up on index update %s; start-up reconciliation will fix it", op)
                        break
            self._q.task_done()

    def _apply(self, op: Op) -> None:
        if isinstance(op, SegmentOpened):
            self.index.open(op.camera, _dt(op.start), op.path, op.codec, op.width, op.height)
        elif isinstance(op, SegmentClosed):
            self.index.close(op.path, _dt(op.end), op.duration, op.size)
        elif isinstance(op, SegmentDiscarded):
            self.index.delete_paths([op.path])

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is in the database."""
        done = threading.Event()

        def waiter() -> None:
            self._q.join()
            done.set()

        threading.Thread(target=waiter, daemon=True).start()
        return done.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        self._stopping.set()
        self._q.put(None)
        self.join(timeout)
