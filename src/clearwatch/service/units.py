"""Wiring one camera: source → recorder, and source (or its sub-stream) → frame decoder → analytics → events.
The analytics trigger the recorder themselves when it records on motion or events."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from clearwatch.analytics.frames import Frame, FrameDecoder
from clearwatch.analytics.pipeline import AnalyticsSink, CameraAnalytics, FaceLooker
from clearwatch.analytics.plate_events import PlateLooker
from clearwatch.api.live import LiveHub
from clearwatch.config import CameraConfig
from clearwatch.recording import IndexWriter, Recorder
from clearwatch.recording.live_mp4 import LiveMp4
from clearwatch.service.detectors import DetectorCache
from clearwatch.sources import Camera

if TYPE_CHECKING:
    from clearwatch.plates.lists import ListEntry

log = logging.getLogger(__name__)


@dataclass
class CameraUnit:
    camera: Camera
    recorder: Recorder | None
    decoder: FrameDecoder | None = None
    detect_camera: Camera | None = None  # the sub-stream, when analytics have their own
    analytics: CameraAnalytics | None = None

    def start(self) -> None:
        if self.decoder is not None:
            self.decoder.start()
        if self.detect_camera is not None:
            self.detect_camera.start()
        self.camera.start()

    def stop_sources(self) -> None:
        self.camera.stop()
        if self.detect_camera is not None:
            self.detect_camera.stop()

    def join(self, timeout: float) -> None:
        """Wait for the sources, close the recording, then drain analytics and end what they left open."""
        self.camera.join(timeout)
        if self.camera.is_alive():
            log.warning("%s: camera thread did not stop in time", self.camera.camera)
        elif self.recorder is not None:
            self.recorder.close()
        self.camera.health.recording = "off"
        if self.detect_camera is not None:
            self.detect_camera.join(timeout)
        if self.decoder is not None:
            self.decoder.stop()

    def finish_analytics(self, timeout: float) -> None:
        if self.decoder is not None and self.analytics is not None:
            self.decoder.join(timeout)
            if not self.decoder.is_alive():
                self.analytics.finish()  # on the analytics thread's behalf, now that it is gone


def build_unit(cam: CameraConfig, *, recordings: Path, index_writer: IndexWriter, on_disk_full: Callable[[], None],
               detectors: DetectorCache, sink: AnalyticsSink, faces: FaceLooker | None, live: LiveHub,
               plates: PlateLooker | None = None, plate_lists: Callable[[], list[ListEntry]] | None = None
               ) -> CameraUnit:
    camera = Camera(cam)
    live_main = LiveMp4(cam.name, "main")
    camera.add_sink(live_main)
    live.add_feed(live_main)
    recorder = None
    if cam.record.enabled:
        recorder = Recorder(cam.name, cam.record, recordings, index_writer, camera.health, on_disk_full=on_disk_full)
        camera.add_sink(recorder)
    unit = CameraUnit(camera, recorder)
    if not cam.analysed:
        return unit
    analytics = CameraAnalytics(cam, detectors.for_camera(cam), sink, faces,
                                record_trigger=recorder.trigger if recorder is not None else None,
                                plates=plates, plate_lists=plate_lists)

    def consume(frame: Frame) -> None:
        live.publish(cam.name, frame.image, frame.time)  # a reference: viewers encode only what they watch
        analytics.process(frame)

    unit.analytics = analytics
    unit.decoder = FrameDecoder(cam.name, consume, fps=cam.detect.fps, width=cam.detect.width,
                                on_gap=analytics.interrupted, skip_deblocking=cam.detect.skip_deblocking)
    if cam.detect_url:
        live_sub = LiveMp4(cam.name, "sub")
        live.add_feed(live_sub)
        unit.detect_camera = Camera(cam.detect_source(), [unit.decoder, live_sub])
    else:
        camera.add_sink(unit.decoder)
    return unit
