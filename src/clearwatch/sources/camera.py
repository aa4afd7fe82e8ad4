"""A camera: one thread that connects, demuxes, and hands packets to its sinks. Decoding is a sink's job."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from fractions import Fraction
from typing import Protocol, runtime_checkable

import av
import av.error

from clearwatch.config.camera import CameraConfig
from clearwatch.sources.audio import AudioStamper, AudioTrack, audio_track
from clearwatch.sources.health import CameraHealth, CameraState
from clearwatch.sources.packets import AccessUnitAssembler, StreamPacket
from clearwatch.sources.urls import redact_url, scrub

log = logging.getLogger(__name__)


class PacketSink(Protocol):
    """Receives a camera's video packets on the camera thread; must return quickly."""

    def on_connect(self, stream: av.video.stream.VideoStream) -> None: ...
    def on_packet(self, packet: StreamPacket) -> None: ...
    def on_disconnect(self) -> None: ...


@runtime_checkable
class AudioSink(Protocol):
    """A sink that also takes the camera's sound, when its ``record.audio`` is on and it sends some. The track is
    given before ``on_connect``; ``on_disconnect`` ends it too."""

    def on_audio_connect(self, track: AudioTrack) -> None: ...
    def on_audio(self, packet: StreamPacket) -> None: ...


class StreamEnded(Exception):
    """A live source ended its stream: for a camera that is a disconnect, not the end."""


class Stalled(Exception):
    pass


def _open_options(cfg: CameraConfig) -> dict[str, str]:
    url = cfg.url.lower()
    opts: dict[str, str] = {}
    if url.startswith(("rtsp://", "rtsps://")):
        opts["rtsp_transport"] = "tcp"
        opts["timeout"] = str(int(cfg.stall_timeout * 1_000_000))  # socket I/O timeout, µs
    elif url.startswith(("http://", "https://")):
        opts["rw_timeout"] = str(int(cfg.stall_timeout * 1_000_000))
    return opts


def _read_timeout(cfg: CameraConfig, options: dict[str, str]) -> float | None:
    """PyAV's own timeout while streaming, where FFmpeg has none of its own for the protocol. PyAV checks it in an
    interrupt callback that takes the GIL: FFmpeg calls it at every socket read, three for each RTP packet over
    TCP, and each call waited for the frame thread to let go of the GIL (~1,000 hand-offs a second per camera)."""
    if cfg.is_file or "timeout" in options or "rw_timeout" in options:
        return None
    return cfg.stall_timeout


def describe_error(exc: BaseException, url: str) -> str:
    """A one-line reason without the camera password."""
    if isinstance(exc, av.error.FFmpegError):
        reason = exc.strerror or str(exc)
        if isinstance(exc, av.error.HTTPNotFoundError) or "404" in reason:
            reason = "the server has no stream at this path (404 Not Found)"
        elif isinstance(exc, av.error.HTTPUnauthorizedError) or "401" in reason:
            reason = "the camera refused the credentials (401 Unauthorized)"
        elif "Connection refused" in reason:
            reason = "connection refused (is the camera or its RTSP service running?)"
        elif isinstance(exc, av.error.ExitError | av.error.TimeoutError) or "timed out" in reason.lower():
            reason = "timed out waiting for the camera"
        return scrub(reason, url)
    if isinstance(exc, OSError) and exc.strerror:
        return scrub(exc.strerror, url)
    return scrub(str(exc) or type(exc).__name__, url)


class Camera(threading.Thread):
    """Runs one camera until ``stop()``: connect, stream, and on any loss reconnect with backoff."""

    def __init__(self, cfg: CameraConfig, sinks: Sequence[PacketSink] = ()):
        name = cfg.name
        super().__init__(name=f"camera-{name}", daemon=True)
        self.camera = name
        self.cfg = cfg
        self.sinks = list(sinks)
        self.health = CameraHealth(name)
        self.safe_url = redact_url(cfg.url)
        self._stopping = threading.Event()
        self.packets = 0
        self._audio_sinks: list[AudioSink] = []
        self._said_no_audio = False

    def add_sink(self, sink: PacketSink) -> None:
        self.sinks.append(sink)

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        delay = self.cfg.reconnect.initial_delay
        first = True
        while not self._stopping.is_set():
            if not first:
                self.health.reconnects += 1
            first = False
            started = time.monotonic()
            try:
                self._session()
                if self.cfg.is_file and not self.cfg.loop:
                    self.health.set_state(CameraState.FINISHED)
                    log.info("%s: end of file", self.camera)
                    return
            except Stalled as exc:
                self.health.set_state(CameraState.STALLED)
                self.health.error(str(exc))
                log.warning("%s: stalled: %s", self.camera, exc)
            except StreamEnded as exc:
                self.health.error(str(exc))
                log.warning("%s: %s", self.camera, exc)
            except Exception as exc:  # a camera must never take the process down
                message = describe_error(exc, self.cfg.url)
                repeated = message == self.health.last_error
                last = self.health.last_frame
                if (self.health.state is CameraState.STREAMING and last is not None
                        and time.time() - last >= 0.8 * self.cfg.stall_timeout):
                    self.health.set_state(CameraState.STALLED)
                    message = f"no video for {time.time() - last:.1f} s ({message})"
                self.health.error(message)
                if isinstance(exc, av.error.FFmpegError | OSError | ValueError):
                    # the same failure on every retry is logged once, not every few seconds
                    (log.debug if repeated else log.warning)("%s: %s (%s)", self.camera, message, self.safe_url)
                else:
                    log.exception("%s: unexpected error: %s", self.camera, message)
            if self._stopping.is_set():
                break
            # a connection that streamed for a while starts the backoff afresh
            if time.monotonic() - started > 30:
                delay = self.cfg.reconnect.initial_delay
            if self.health.state is not CameraState.STALLED:
                self.health.set_state(CameraState.RECONNECTING)
            self._stopping.wait(delay)
            delay = min(delay * 2, self.cfg.reconnect.max_delay)
        self.health.set_state(CameraState.STOPPED)

    # ------------------------------------------------------------------------------------------------

    def _session(self) -> None:
        if self.health.state is not CameraState.STALLED:  # a stall stays visible until video returns
            self.health.set_state(CameraState.CONNECTING)
        source = str(self.cfg.file_path) if self.cfg.is_file else self.cfg.url
        options = _open_options(self.cfg)
        container = av.open(
            source,
            options=options,
            timeout=(self.cfg.open_timeout, _read_timeout(self.cfg, options)),
        )
        connected = False
        try:
            if not container.streams.video:
                raise ValueError("the source has no video stream")
            stream = container.streams.video[0]
            if stream.codec_context.name not in ("h264", "hevc", "mjpeg", "mpeg4", "av1", "vp9"):
                log.warning("%s: codec %s may not be recordable in MP4", self.camera, stream.codec_context.name)
            audio = self._audio(container, stream)
            self._audio_sinks = []
            if audio is not None:
                self._audio_sinks = [s for s in self.sinks if isinstance(s, AudioSink)]
                for audio_sink in self._audio_sinks:
                    audio_sink.on_audio_connect(audio[0])
            for sink in self.sinks:
                sink.on_connect(stream)
            connected = True
            self.health.set_state(CameraState.STREAMING)
            log.info(
                "%s: streaming %s %dx%d from %s", self.camera, stream.codec_context.name,
                stream.codec_context.width, stream.codec_context.height, self.safe_url,
            )
            self._pump(container, stream, audio[1] if audio is not None else None)
        finally:
            with contextlib.suppress(Exception):
                container.close()
            if connected:
                for sink in self.sinks:
                    try:
                        sink.on_disconnect()
                    except Exception:
                        log.exception("%s: sink failed on disconnect", self.camera)

    def _audio(self, container: av.container.InputContainer, video: av.video.stream.VideoStream
               ) -> tuple[AudioTrack, AudioStamper] | None:
        """The camera's sound, when it is to be recorded and the camera sends some that can be."""
        self.health.sound = None
        if not self.cfg.record.audio:
            return None
        stream = container.streams.audio[0] if container.streams.audio else None
        track, converter, why = audio_track(stream) if stream is not None else (None, None, "it sends none")
        if stream is None or track is None:
            if not self._said_no_audio:  # once, not at every reconnect
                log.warning("%s: record.audio is on, but no sound is recorded: %s", self.camera, why)
                self._said_no_audio = True
            return None
        self.health.sound = f"{stream.codec_context.name} {track.sample_rate} Hz" + (
            " as AAC" if converter is not None else "")
        log.info("%s: recording sound: %s", self.camera, self.health.sound)
        return track, AudioStamper(stream, converter, video.time_base or Fraction(1, 90000))

    def _pump(self, container: av.container.InputContainer, stream: av.video.stream.VideoStream,
              audio: AudioStamper | None = None) -> None:
        tb: Fraction = stream.time_base or Fraction(1, 90000)
        rate = stream.average_rate or stream.guessed_rate or 25
        default_duration = max(1, round(1 / (float(rate) * tb)))
        assembler = AccessUnitAssembler(default_duration)
        is_file = self.cfg.is_file
        loop_offset = 0  # added to file timestamps so a looping file stays monotonic
        anchor: tuple[float, int] | None = None  # (wall, dts) of the first unit of this connection
        last_dts: int | None = None
        last_duration = default_duration
        stall = self.cfg.stall_timeout
        last_arrival = time.monotonic()

        streams = (stream, *container.streams.audio[:1]) if audio is not None else (stream,)
        while not self._stopping.is_set():
            for packet in container.demux(streams):
                if self._stopping.is_set():
                    return
                if packet.size == 0:
                    continue
                now_mono = time.monotonic()
                if now_mono - last_arrival > stall and not is_file:  # sound alone does not keep a camera up
                    raise Stalled(f"no video for {now_mono - last_arrival:.1f} s")
                if audio is not None and packet.stream.type == "audio":
                    for sp in audio.stamp(packet, anchor, loop_offset):
                        self._deliver_audio(sp)
                    continue
                last_arrival = now_mono
                unit = assembler.push(packet)
                if unit is None:
                    continue
                pts, dts, duration = unit.pts + loop_offset, unit.dts + loop_offset, unit.duration
                if anchor is None:
                    anchor = (time.time(), dts)
                wall = anchor[0] + float((pts - anchor[1]) * tb)
                if is_file:
                    ahead = wall - time.time()
                    if ahead > 0 and self._stopping.wait(ahead):
                        return
                else:
                    now = time.time()
                    if abs(wall - now) > 3.0:
                        # camera clock and ours drifted apart (or the stream paused): re-anchor
                        anchor = (now - float((pts - dts) * tb), dts)
                        wall = now
                self._deliver(StreamPacket(unit.data, pts, dts, duration, unit.keyframe, tb, wall))
                last_dts, last_duration = dts, duration
            if not is_file:
                raise StreamEnded("the stream ended (camera closed the connection)")
            # end of file: emit the held-back last unit, then loop or finish
            unit = assembler.flush()
            if unit is not None:
                pts, dts, duration = unit.pts + loop_offset, unit.dts + loop_offset, unit.duration
                wall = (anchor[0] if anchor else time.time()) + float((pts - (anchor[1] if anchor else dts)) * tb)
                self._deliver(StreamPacket(unit.data, pts, dts, duration, unit.keyframe, tb, wall))
                last_dts, last_duration = dts, duration
            if not self.cfg.loop or last_dts is None:
                return
            container.seek(0, stream=stream)
            first_dts = self._first_dts(container, stream)
            loop_offset = last_dts + last_duration - first_dts
            container.seek(0, stream=stream)
            assembler = AccessUnitAssembler(default_duration)

    @staticmethod
    def _first_dts(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> int:
        for packet in container.demux(stream):
            if packet.dts is not None:
                return int(packet.dts)
        return 0

    def _deliver_audio(self, sp: StreamPacket) -> None:
        for sink in self._audio_sinks:
            try:
                sink.on_audio(sp)
            except Exception:
                log.exception("%s: audio sink %s failed", self.camera, type(sink).__name__)

    def _deliver(self, sp: StreamPacket) -> None:
        self.packets += 1
        self.health.frame(time.time())
        for sink in self.sinks:
            try:
                sink.on_packet(sp)
            except Exception:
                # a failing consumer (say, a full disk) must not stop the stream for the others
                log.exception("%s: packet sink %s failed", self.camera, type(sink).__name__)
