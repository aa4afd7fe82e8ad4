"""Decode once, small: the picture every analytic of a camera shares, at the configured fps and width."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import av
import av.error
import numpy as np

from clearwatch.errors import ClearwatchError
from clearwatch.sources.packets import StreamPacket, as_packet

log = logging.getLogger(__name__)


class VideoFileError(ClearwatchError):
    """A video file cannot be analysed (missing, not video, damaged or cut short)."""


@dataclass
class Frame:
    camera: str
    time: float  # wall clock, seconds since the epoch
    index: int  # analysed frames so far
    image: np.ndarray  # BGR uint8 at detect size

    @property
    def size(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[0]


def detect_size(width: int, height: int, target_width: int) -> tuple[int, int]:
    """Downscale only (never up), even dimensions for the colour converter."""
    w = min(target_width, width)
    h = max(2, round(height * w / width))
    return w & ~1, h & ~1


def frame_bgr(frame: av.VideoFrame, size: tuple[int, int]) -> np.ndarray:
    """``frame`` as a BGR picture of ``size`` (width, height)."""
    # one thread: left to choose, swscale starts a pool of threads for every frame (each decoded frame brings its
    # own converter), which cost more than the conversion — 1080p to 640x360 took 3.3–3.6 ms instead of 1.3–1.6
    if (frame.width, frame.height) == size:
        return frame.to_ndarray(format="bgr24", threads=1)
    # swscale's area averaging, converting and scaling in one pass, is the cheapest way down that does not alias:
    # 1080p to 640x360 in 0.8 ms (its bilinear 1.1), vtest's 768x576 to 640x480 in 0.5-0.6 ms (converting whole
    # and OpenCV's bilinear resize 0.8-1.0)
    return frame.to_ndarray(format="bgr24", width=size[0], height=size[1], threads=1, interpolation="AREA")


# FFmpeg's name for "skip the loop filter on every frame that is not intra-coded"
DEBLOCK_SKIP = {"skip_loop_filter": "nointra"}
DEBLOCK_CODECS = ("h264", "hevc")


def decoder_options(codec: str, skip_deblocking: bool) -> dict[str, str]:
    """Decoder options for the analytics picture of a ``codec`` stream."""
    return dict(DEBLOCK_SKIP) if skip_deblocking and codec in DEBLOCK_CODECS else {}


class FrameSampler:
    """Keeps frames at most ``fps`` apart by their timestamps, whatever the source rate."""

    def __init__(self, fps: float):
        self.interval = 1.0 / fps
        self.next_at: float | None = None

    def take(self, t: float) -> bool:
        if self.next_at is not None and t < self.next_at - 1e-6:
            return False
        # step from the schedule, not from t, so 10 fps sampled at 5 fps gives exactly every second frame
        self.next_at = t + self.interval if self.next_at is None or t - self.next_at > self.interval \
            else self.next_at + self.interval
        return True


def iter_file_frames(path: Path, camera: str, fps: float, width: int, start_wall: float = 0.0,
                     progress: Callable[[float, float], None] | None = None,
                     skip_deblocking: bool = False) -> Iterator[Frame]:
    """Every frame of a file at ``fps``, as fast as it decodes. ``time`` is ``start_wall`` + media time.

    Raises VideoFileError for a file that is missing, holds no video, or breaks off.
    """
    if not path.is_file():
        raise VideoFileError(f"{path}: file not found")
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise VideoFileError(f"{path}: not a readable video file ({exc.strerror or exc})") from None
    with container:
        if not container.streams.video:
            raise VideoFileError(f"{path}: the file has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.options = decoder_options(stream.codec_context.name, skip_deblocking)
        tb = float(stream.time_base or 0) or 1 / 90000
        duration = (float(stream.duration * stream.time_base) if stream.duration and stream.time_base
                    else (container.duration / 1e6 if container.duration else 0.0))
        if stream.frames and stream.average_rate:
            # an AVI cut short still announces its full frame count in the header
            duration = max(duration, stream.frames / float(stream.average_rate))
        sampler = FrameSampler(fps)
        size: tuple[int, int] | None = None
        index, last_t = 0, 0.0
        try:
            for frame in container.decode(stream):
                t = (frame.pts * tb) if frame.pts is not None else last_t + 1 / max(fps, 1)
                last_t = t
                if not sampler.take(t):
                    continue
                if size is None:
                    size = detect_size(frame.width, frame.height, width)
                image = frame_bgr(frame, size)
                yield Frame(camera, start_wall + t, index, image)
                index += 1
                if progress is not None:
                    progress(t, duration)
        except av.error.FFmpegError as exc:
            raise VideoFileError(f"{path}: the video is damaged at {last_t:.1f} s ({exc.strerror or exc})") from None
        if index == 0:
            raise VideoFileError(f"{path}: no frame could be decoded (damaged or not a video)")
        # a cut-off file decodes cleanly up to the cut: compare with what its header promised
        if duration and last_t < duration - max(2.0, 0.05 * duration):
            raise VideoFileError(f"{path}: the video ends at {last_t:.1f} s but its header says {duration:.1f} s "
                                 "(the file is truncated)")


@dataclass(frozen=True)
class _Connect:
    codec: str
    extradata: bytes | None


@dataclass(frozen=True)
class _Disconnect:
    pass


@dataclass(frozen=True)
class _Stop:
    pass


_Message = _Connect | _Disconnect | _Stop | StreamPacket


class FrameDecoder(threading.Thread):
    """A camera packet sink that decodes on its own thread and hands sampled frames to ``consumer``.

    Its queue is bounded: under load packets are dropped (decoding resumes at the next keyframe)
    rather than slowing the camera thread, so recording is never held up by analytics. ``on_gap`` is
    called on the decoder thread, in order with the frames, when the camera drops after frames came.
    """

    def __init__(self, camera: str, consumer: Callable[[Frame], None], *, fps: float, width: int,
                 queue_size: int = 120, on_gap: Callable[[], None] | None = None, skip_deblocking: bool = False):
        super().__init__(name=f"frames-{camera}", daemon=True)
        self.camera = camera
        self.consumer = consumer
        self.on_gap = on_gap
        self.fps = fps
        self.width = width
        self.skip_deblocking = skip_deblocking
        self._q: queue.Queue[_Message] = queue.Queue(maxsize=queue_size)
        self._resync = False
        self.dropped = 0
        self.frames = 0

    # PacketSink (camera thread) --------------------------------------------------------------------

    def on_connect(self, stream: av.video.stream.VideoStream) -> None:
        cc = stream.codec_context
        self._put(_Connect(cc.name, cc.extradata), force=True)

    def on_packet(self, sp: StreamPacket) -> None:
        if self._resync and not sp.keyframe:
            self.dropped += 1
            return
        self._resync = False
        if not self._put(sp):
            self.dropped += 1
            self._resync = True  # a gap in the stream: wait for the next keyframe

    def on_disconnect(self) -> None:
        self._put(_Disconnect(), force=True)

    def stop(self) -> None:
        self._put(_Stop(), force=True)

    @property
    def queue_depth(self) -> int:
        return self._q.qsize()

    def _put(self, item: _Message, force: bool = False) -> bool:
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
        ctx: av.VideoCodecContext | None = None
        sampler = FrameSampler(self.fps)
        size: tuple[int, int] | None = None
        while True:
            msg = self._q.get()
            if isinstance(msg, _Stop):
                return
            if isinstance(msg, _Connect):
                ctx = cast(av.VideoCodecContext, av.CodecContext.create(msg.codec, "r"))
                ctx.options = decoder_options(msg.codec, self.skip_deblocking)
                if msg.extradata:
                    ctx.extradata = msg.extradata
                size = None
                continue
            if isinstance(msg, _Disconnect) or ctx is None:
                if isinstance(msg, _Disconnect) and size is not None and self.on_gap is not None:
                    try:
                        self.on_gap()
                    except Exception:
                        log.exception("%s: analytics failed to close up after a disconnect", self.camera)
                ctx, size = None, None
                continue
            sp = msg
            try:
                decoded = ctx.decode(as_packet(sp.data))
            except av.error.FFmpegError:
                continue  # a damaged packet; the decoder recovers at the next keyframe
            for frame in decoded:
                if not sampler.take(sp.wall):
                    continue
                if size is None:
                    size = detect_size(frame.width, frame.height, self.width)
                image = frame_bgr(frame, size)
                try:
                    self.consumer(Frame(self.camera, sp.wall, self.frames, image))
                except Exception:
                    log.exception("%s: analytics failed on a frame; continuing", self.camera)
                self.frames += 1
