"""Live view: the newest decoded frame of each camera, handed to whoever watches (MJPEG)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from clearwatch.recording.live_mp4 import LiveMp4


@dataclass(frozen=True)
class LiveJpeg:
    seq: int  # the frame's number on its camera: the same picture twice has the same one
    time: float
    data: bytes


@dataclass
class LiveFrame:
    image: np.ndarray
    time: float  # camera wall clock of the frame
    seq: int


class LiveHub:
    """Analytics threads publish frames here (a reference, no copy); viewers encode only what they send."""

    def __init__(self, masks: dict[str, list[list[tuple[float, float]]]] | None = None) -> None:
        self._frames: dict[str, LiveFrame] = {}
        self._lock = threading.Lock()
        self._jpeg: dict[tuple[str, bool], LiveJpeg] = {}  # one encode per frame and variant, however many viewers
        self.masks = masks or {}  # camera → privacy mask polygons
        self._watchers: dict[str, list[Callable[[], None]]] = {}
        self._feeds: dict[tuple[str, str], LiveMp4] = {}  # (camera, "main" | "sub") → its own packets as fMP4

    def add_feed(self, feed: LiveMp4) -> None:
        with self._lock:
            self._feeds[(feed.camera, feed.stream)] = feed

    def feed(self, camera: str, stream: str = "main") -> LiveMp4 | None:
        with self._lock:
            return self._feeds.get((camera, stream))

    def publish(self, camera: str, image: np.ndarray, t: float) -> None:
        with self._lock:
            prev = self._frames.get(camera)
            self._frames[camera] = LiveFrame(image, t, prev.seq + 1 if prev else 1)
            watchers = list(self._watchers.get(camera, ()))
        for notify in watchers:
            try:
                notify()
            except RuntimeError:  # the viewer's event loop is gone (server stopping): forget it
                with self._lock:
                    left = self._watchers.get(camera, [])
                    if notify in left:
                        left.remove(notify)

    def watch(self, camera: str, notify: Callable[[], None]) -> Callable[[], None]:
        """Call ``notify`` (on the publishing thread: it must only hand over) on every new frame of
        ``camera``, so viewers send frames as they come instead of polling. Returns the unsubscribe."""
        with self._lock:
            self._watchers.setdefault(camera, []).append(notify)

        def unwatch() -> None:
            with self._lock:
                left = self._watchers.get(camera, [])
                if notify in left:
                    left.remove(notify)
                if not left:
                    self._watchers.pop(camera, None)
        return unwatch

    def latest(self, camera: str) -> LiveFrame | None:
        with self._lock:
            return self._frames.get(camera)

    def jpeg(self, camera: str, quality: int = 80, masked: bool = False) -> LiveJpeg | None:
        """The newest frame as JPEG; ``masked``: with the camera's privacy masks burned in."""
        frame = self.latest(camera)
        if frame is None:
            return None
        polygons = self.masks.get(camera) if masked else None
        key = (camera, bool(polygons))
        cached = self._jpeg.get(key)
        if cached is not None and cached.seq == frame.seq:
            return cached
        image = frame.image
        if polygons:
            from clearwatch.governance.masks import mask_image

            image = mask_image(image, polygons)
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            return None
        self._jpeg[key] = got = LiveJpeg(frame.seq, frame.time, buf.tobytes())
        return got
