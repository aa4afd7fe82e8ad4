"""Analyse a video file as fast as it decodes: the ``analyze`` command, tests and benchmarks use this."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from clearwatch.analytics.detectors import Detector
from clearwatch.analytics.frames import VideoFileError, iter_file_frames
from clearwatch.analytics.machinery import HourStats
from clearwatch.analytics.pipeline import AnalyticsSink, CameraAnalytics, FaceLooker, StageTimes
from clearwatch.analytics.plate_events import PlateLooker
from clearwatch.config.camera import CameraConfig
from clearwatch.events.model import CounterDelta, Event, EventUpdate

if TYPE_CHECKING:
    from clearwatch.plates.lists import ListEntry


@dataclass
class CollectingSink:
    """Keeps everything in memory; writes snapshots under ``snapshots_dir`` when given."""

    snapshots_dir: Path | None = None
    on_end: Callable[[Event], None] | None = None
    updates: list[EventUpdate] = field(default_factory=list)
    ended: list[Event] = field(default_factory=list)
    machines: dict[str, dict[str, object]] = field(default_factory=dict)
    counters: dict[str, tuple[int, int]] = field(default_factory=dict)
    stats: dict[tuple[str, str, float], HourStats] = field(default_factory=dict)

    def on_event(self, update: EventUpdate, snapshot: bytes | None) -> None:
        self.updates.append(update)
        ev = update.event
        if self.snapshots_dir is None:
            ev.snapshot = ev.face_snapshot = None
        else:
            files = dict(update.files)
            if snapshot is not None and ev.snapshot:
                files[ev.snapshot] = snapshot
            for rel, blob in files.items():
                path = self.snapshots_dir / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(blob)
        if update.type == "end":
            self.ended.append(ev)
            if self.on_end is not None:
                self.on_end(ev)

    def on_machine(self, camera: str, machine: str, state: dict[str, object]) -> None:
        self.machines[machine] = state

    def on_counter(self, delta: CounterDelta) -> None:
        self.counters[delta.name] = (delta.total_in, delta.total_out)

    def add_stats(self, camera: str, pending: dict[tuple[str, str, float], HourStats]) -> None:
        for key, h in pending.items():
            mine = self.stats.setdefault(key, HourStats())
            for state, seconds in h.seconds.items():
                mine.seconds[state] += seconds
            mine.starts += h.starts
            mine.stops += h.stops
            mine.count_in += h.count_in
            mine.count_out += h.count_out


@dataclass
class AnalysisResult:
    frames: int
    video_seconds: float
    cpu_seconds: float
    wall_seconds: float
    peak_rss_mb: float
    times: StageTimes
    analytics: CameraAnalytics
    error: VideoFileError | None = None

    @property
    def cpu_per_video_second(self) -> float:
        return self.cpu_seconds / self.video_seconds if self.video_seconds else 0.0


def analyze_file(path: Path, camera: CameraConfig, detector: Detector | None, sink: AnalyticsSink, *,
                 start_wall: float = 0.0,
                 progress: Callable[[float, float], None] | None = None,
                 faces: FaceLooker | None = None, plates: PlateLooker | None = None,
                 plate_lists: Callable[[], list[ListEntry]] | None = None) -> AnalysisResult:
    """Run ``camera``'s pipeline over ``path`` at its detect rate and size. Times in events are ``start_wall``
    + seconds into the file.

    A file that breaks off part-way still yields the events found up to the break; the error is returned
    in ``result.error`` (and a file that cannot be opened at all raises VideoFileError).
    """
    analytics = CameraAnalytics(camera, detector, sink, faces, plates=plates, plate_lists=plate_lists)
    fps = camera.detect.fps
    cpu0, wall0 = time.process_time(), time.monotonic()
    frames, last_t = 0, 0.0
    error: VideoFileError | None = None
    try:
        for frame in iter_file_frames(path, camera.name, fps, camera.detect.width, start_wall, progress=progress,
                                      skip_deblocking=camera.detect.skip_deblocking):
            analytics.process(frame)
            frames += 1
            last_t = frame.time
    except VideoFileError as exc:
        if frames == 0:
            raise
        error = exc
    analytics.finish(last_t)
    return AnalysisResult(
        frames=frames,
        video_seconds=last_t - start_wall + 1.0 / fps if frames else 0.0,
        cpu_seconds=time.process_time() - cpu0,
        wall_seconds=time.monotonic() - wall0,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        times=analytics.times,
        analytics=analytics,
        error=error,
    )
