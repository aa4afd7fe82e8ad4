"""Per-camera health, updated by the camera thread and read by everyone else."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class CameraState(StrEnum):
    STARTING = "starting"
    CONNECTING = "connecting"
    STREAMING = "streaming"
    STALLED = "stalled"
    RECONNECTING = "reconnecting"
    FINISHED = "finished"
    STOPPED = "stopped"


def _utc(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


OFFLINE = "offline"  # not running: never started, or the service that ran it has stopped reporting


@dataclass
class HealthSnapshot:
    """A camera's health: the one shape the service, the status table, the CLI and the API all use."""

    camera: str
    state: str
    recording: str = "off"
    fps_in: float = 0.0
    last_frame_at: datetime | None = None
    connected_since: datetime | None = None
    reconnects: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    sound: str | None = None  # the sound being recorded ("aac 16000 Hz"); None: none
    updated_at: datetime | None = None  # when the service last reported it (None: live, from this process)

    @classmethod
    def offline(cls, camera: str) -> HealthSnapshot:
        return cls(camera, OFFLINE)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def health_of(cameras: Iterable[str], snapshots: Iterable[HealthSnapshot]) -> list[HealthSnapshot]:
    """One snapshot per camera in ``cameras`` order; a camera nobody reports on is offline."""
    known = {h.camera: h for h in snapshots}
    return [known.get(name) or HealthSnapshot.offline(name) for name in cameras]


@dataclass
class CameraHealth:
    camera: str
    state: CameraState = CameraState.STARTING
    recording: str = "off"
    reconnects: int = 0
    last_frame: float | None = None
    connected_since: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    sound: str | None = None
    _arrivals: deque[float] = field(default_factory=lambda: deque(maxlen=256))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def frame(self, now: float) -> None:
        # called per packet: keep it cheap (no lock; deque.append is atomic)
        self.last_frame = now
        self._arrivals.append(now)

    def set_state(self, state: CameraState) -> None:
        with self._lock:
            self.state = state
            if state is CameraState.STREAMING:
                self.connected_since = time.time()
            else:
                self.connected_since = None

    def error(self, message: str) -> None:
        with self._lock:
            self.last_error = message
            self.last_error_at = time.time()

    def fps(self, now: float | None = None, window: float = 5.0) -> float:
        now = now or time.time()
        recent = [t for t in list(self._arrivals) if now - t <= window]
        if len(recent) < 2:
            return 0.0
        span = max(now - recent[0], recent[-1] - recent[0])
        return round(len(recent) / span, 2) if span > 0 else 0.0

    def snapshot(self) -> HealthSnapshot:
        with self._lock:
            return HealthSnapshot(
                camera=self.camera,
                state=str(self.state),
                recording=self.recording,
                fps_in=self.fps(),
                last_frame_at=_utc(self.last_frame),
                connected_since=_utc(self.connected_since),
                reconnects=self.reconnects,
                last_error=self.last_error,
                last_error_at=_utc(self.last_error_at),
                sound=self.sound,
            )
