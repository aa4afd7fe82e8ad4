"""Cheap motion detection on a small grey picture: the gate in front of everything expensive."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

import av
import numpy as np

from clearwatch.sources.packets import StreamPacket


class MotionDetector(threading.Thread):
    """A packet sink that decodes on its own thread and reports motion as ``on_motion(wall_time)``.

    The queue is bounded: under load packets are dropped (and decoding resumes at the next keyframe)
    rather than slowing the camera thread, so recording is never held up by analysis.
    """

    def __init__(self, camera: str, on_motion: Callable[[float], None], *, width: int = 160, fps: float = 5.0,
                 pixel_threshold: int = 25, min_area: float = 0.004, queue_size: int = 64):
        super().__init__(name=f"motion-{camera}", daemon=True)
        self.camera = camera
        self.on_motion = on_motion
        self.width = width
        self.interval = 1.0 / fps
        self.pixel_threshold = pixel_threshold
        self.min_area = min_area
        self._q: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=queue_size)
        self._resync = False
        self.dropped = 0
        self.frames_analysed = 0
        self.motion_frames = 0

    # PacketSink (camera thread) --------------------------------------------------------------------

    def on_connect(self, stream: av.video.stream.VideoStream) -> None:
        cc = stream.codec_context
        self._put(("connect", (cc.name, cc.extradata)), force=True)

    def on_packet(self, sp: StreamPacket) -> None:
        if self._resync and not sp.keyframe:
            self.dropped += 1
            return
        self._resync = False
        if not self._put(("packet", sp)):
            self.dropped += 1
            self._resync = True  # a gap in the H.264 stream: wait for the next keyframe

    def on_disconnect(self) -> None:
        self._put(("disconnect", None), force=True)

    def stop(self) -> None:
        self._put(("stop", None), force=True)

    def _put(self, item: tuple[str, object], force: bool = False) -> bool:
        try:
            if force:
                self._q.put(item, timeout=1.0)
            else:
                self._q.put_nowait(item)
            return True
        except queue.Full:
            return False

    # decoder thread ----------------------------------------------------------------------------------

    def run(self) -> None:
        ctx: av.codec.context.CodecContext | None = None
        background: np.ndarray | None = None
        last = 0.0
        while True:
            kind, payload = self._q.get()
            if kind == "stop":
                return
            if kind == "connect":
                name, extradata = payload  # type: ignore[misc]
                ctx = av.CodecContext.create(name, "r")
                if extradata:
                    ctx.extradata = extradata
                background = None
                continue
            if kind == "disconnect" or ctx is None:
                ctx = None
                continue
            sp: StreamPacket = payload  # type: ignore[assignment]
            try:
                frames = ctx.decode(av.Packet(sp.data))
            except av.error.FFmpegError:
                continue  # a damaged packet; the decoder recovers at the next keyframe
            for frame in frames:
                if sp.wall - last < self.interval:
                    continue
                last = sp.wall
                height = max(2, round(frame.height * self.width / frame.width)) & ~1
                grey = frame.to_ndarray(format="gray", width=self.width, height=height).astype(np.float32)
                if background is None:
                    background = grey
                    continue
                changed = np.abs(grey - background) > self.pixel_threshold
                # slow background update: stationary changes fade in, moving things stand out
                background += 0.2 * (grey - background)
                self.frames_analysed += 1
                if changed.mean() >= self.min_area:
                    self.motion_frames += 1
                    self.on_motion(sp.wall)
