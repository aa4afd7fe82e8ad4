"""The camera's own packets as fragmented MP4 for live viewers: no decoding, no encoding, one muxer per stream
however many watch.

A fragment per frame (the recorder's fragment per keyframe would add a whole GOP of delay). FFmpeg writes a frame's
fragment when the next frame arrives, so a fragment leaves one frame interval after its frame. The fragments since
the last keyframe are kept, so a new viewer starts decoding at once. A viewer that falls behind by more than
``max_behind`` bytes skips to the next keyframe — a gap, never a growing delay, and never a slower camera; one that
has not read for ``give_up`` seconds is let go.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import av

from clearwatch.recording.writer import SoundPlacer
from clearwatch.sources.audio import AudioTrack
from clearwatch.sources.packets import StreamPacket, as_packet

log = logging.getLogger(__name__)
LIVE_OPTIONS = {"movflags": "empty_moov+default_base_moof+frag_every_frame", "flush_packets": "1"}
MAX_GOP_BYTES = 32_000_000  # a camera with a very long GOP: keep no more than this for new viewers
VIDEO, AUDIO = 0, 1  # the track a fragment belongs to


class _Chunks:
    """Where the muxer writes: collected until taken (no seeking: fragmented MP4 never goes back)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def avc_codec(extradata: bytes | None) -> str | None:
    """The MSE codec string of an H.264 stream (``avc1.PPCCLL``: profile, constraints, level) from its SPS: in an
    avcC record (MP4 files) or Annex B start-code form (RTSP's sprop-parameter-sets)."""
    if not extradata or len(extradata) < 4:
        return None
    if extradata[0] == 1:  # avcC
        return "avc1." + extradata[1:4].hex()
    for part in extradata.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01"):
        if len(part) >= 4 and part[0] & 0x1F == 7:  # the SPS: profile_idc, constraint flags, level_idc follow
            return "avc1." + part[1:4].hex()
    return None


@dataclass
class Viewer:
    """One viewer's queue; ``notify`` wakes its sender (it runs on the camera thread: it must only hand over)."""

    notify: Callable[[], None]
    max_behind: int
    audio: bool = False  # whether this viewer takes the sound too
    queue: deque[tuple[int, bytes]] = field(default_factory=deque)
    queued: int = 0
    skipping: bool = False
    dropped: int = 0
    read_at: float = field(default_factory=time.monotonic)
    ended: str | None = None  # why the feed let this viewer go (a reconnect, a stop)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def offer(self, fragment: bytes, keyframe: bool, track: int = VIDEO) -> None:
        if track == AUDIO and not self.audio:
            return
        with self.lock:
            self._queue(fragment, keyframe, track)

    def _queue(self, fragment: bytes, keyframe: bool, track: int) -> None:
        """Queue the fragment, or skip it: falling behind by more than ``max_behind`` bytes drops what is queued
        and what comes until the next keyframe (held: ``lock``)."""
        if self.skipping and (track == AUDIO or not keyframe):
            self.dropped += track == VIDEO
            return
        if self.queued + len(fragment) > self.max_behind:
            self.queue.clear()
            self.queued, self.skipping = 0, True
            self.dropped += 1
            return
        self.skipping = False
        self.queue.append((track, fragment))
        self.queued += len(fragment)

    def wake(self) -> None:
        try:
            self.notify()
        except RuntimeError:  # the viewer's event loop is gone (the web server stopped)
            self.ended = self.ended or "the web server stopped"

    def take(self) -> list[tuple[int, bytes]]:
        """The fragments queued since the last take, each with its track, in order."""
        with self.lock:
            out = list(self.queue)
            self.queue.clear()
            self.queued = 0
            self.read_at = time.monotonic()
            return out


@dataclass(frozen=True)
class Opening:
    """What a new viewer gets first: how to play the stream, its init segment and the current GOP."""

    codec: str
    width: int
    height: int
    init: bytes
    gop: list[tuple[int, bytes]]
    audio_codec: str | None = None  # for a viewer that asked for the sound, when the camera's is served
    audio_init: bytes = b""
    audio_offset: float = 0.0  # seconds to add to the sound's times (MSE: the SourceBuffer's timestampOffset)


class LiveMp4:
    """A camera's PacketSink (and AudioSink): remuxes its packets into per-frame fMP4 fragments and fans them out."""

    def __init__(self, camera: str, stream: str = "main", max_behind: int = 8_000_000, give_up: float = 10.0):
        self.camera = camera
        self.stream = stream
        self.max_behind = max_behind
        self.give_up = give_up
        self._lock = threading.Lock()
        self._viewers: list[Viewer] = []
        self._out: Any = None  # av OutputContainer
        self._vstream: Any = None
        self._chunks = _Chunks()
        self._init: bytes | None = None
        self._codec: str | None = None
        self.unplayable: str | None = "the camera is not connected"  # why a browser cannot play it, when so
        self.connected = False  # a stream of the camera's is open now (when not, whatever stops it is passing)
        self._size = (0, 0)
        self._gop: list[tuple[int, bytes]] = []
        self._gop_bytes = 0
        self._gop_whole = False  # the kept fragments start at a keyframe
        self._first_dts: int | None = None
        self._held_key = False  # whether the frame FFmpeg holds (its fragment comes with the next) is a keyframe
        self._track: AudioTrack | None = None
        self._aout: Any = None  # the sound's own muxer: MSE takes each track in its own SourceBuffer
        self._astream: Any = None
        self._achunks = _Chunks()
        self._audio_init = b""
        self._sound: SoundPlacer | None = None  # from the first frame viewers get
        # FFmpeg starts a fragmented track that was set up before its first packet at time 0, whatever that
        # packet's time: the sound's times are off by its first packet's, which viewers are told to add back
        self._audio_zero: float | None = None

    # the camera thread ----------------------------------------------------------------------------

    def on_connect(self, stream: av.video.stream.VideoStream) -> None:
        self._close_muxer("the camera reconnected")
        self.connected = True
        cc = stream.codec_context
        if cc.name != "h264":
            self.unplayable = f"the camera sends {cc.name.upper()}, which browsers here cannot play as it is"
            return
        codec = avc_codec(cc.extradata)
        if codec is None:
            self.unplayable = "the camera's H.264 stream does not describe its parameters (no SPS in its description)"
            return
        out = None
        try:  # the camera thread connects its sinks: a failure here must not keep the recorder from the stream
            out = av.open(self._chunks, "w", format="mp4", options=LIVE_OPTIONS)
            vs = out.add_stream_from_template(stream)
            vs.time_base = stream.time_base
            out.start_encoding()
        except Exception as exc:
            if out is not None:
                with contextlib.suppress(Exception):
                    out.close()
            self._chunks.take()
            self.unplayable = f"cannot repackage the stream: {exc}"
            log.warning("%s: live MP4: %s", self.camera, self.unplayable)
            return
        init = self._chunks.take()
        self._open_audio()
        with self._lock:
            self._out, self._vstream = out, vs
            self._init, self._codec, self._size = init, codec, (cc.width, cc.height)
            self._gop, self._gop_bytes, self._gop_whole, self._first_dts, self._held_key = [], 0, False, None, False
            self.unplayable = None

    def on_audio_connect(self, track: AudioTrack) -> None:
        self._track = track

    def _open_audio(self) -> None:
        track = self._track
        if track is None or track.mse_codec is None:
            return
        aout = None
        try:
            aout = av.open(self._achunks, "w", format="mp4", options=LIVE_OPTIONS)
            self._astream = track.add_to(aout)
            aout.start_encoding()
        except Exception as exc:  # pictures without sound rather than no pictures
            if aout is not None:
                with contextlib.suppress(Exception):
                    aout.close()
            self._achunks.take()
            log.warning("%s: live MP4: cannot repackage the sound: %s", self.camera, exc)
            return
        self._aout, self._audio_init = aout, self._achunks.take()
        self._sound, self._audio_zero = None, None

    def on_packet(self, sp: StreamPacket) -> None:
        out = self._out
        if out is None:
            return
        if self._first_dts is None:
            if not sp.keyframe:
                return  # a viewer can only start at a keyframe
            self._first_dts = sp.dts
            if self._track is not None and self._astream is not None:
                self._sound = SoundPlacer(self._astream, sp.dts * sp.time_base / self._track.time_base)
        pkt = as_packet(sp.data)
        pkt.time_base = sp.time_base
        pkt.pts, pkt.dts = sp.pts - self._first_dts, sp.dts - self._first_dts
        pkt.duration = sp.duration
        pkt.is_keyframe = sp.keyframe
        pkt.stream = self._vstream
        try:
            out.mux(pkt)
        except av.error.FFmpegError as exc:  # a broken packet: the next keyframe starts afresh
            log.debug("%s: live MP4 dropped a packet: %s", self.camera, exc)
            self._chunks.take()
            return
        fragment = self._chunks.take()
        keyframe, self._held_key = self._held_key, sp.keyframe
        if fragment:
            self._publish(fragment, keyframe)

    def on_audio(self, sp: StreamPacket) -> None:
        aout, sound = self._aout, self._sound
        pkt = sound.place(sp) if aout is not None and sound is not None else None
        if pkt is None:
            return
        at = float((pkt.pts or 0) * sp.time_base)
        try:
            aout.mux(pkt)
        except av.error.FFmpegError as exc:
            log.debug("%s: live MP4 dropped a sound packet: %s", self.camera, exc)
            self._achunks.take()
            return
        if self._audio_zero is None:
            self._audio_zero = at
        fragment = self._achunks.take()
        if fragment:
            self._publish(fragment, False, AUDIO)

    def on_disconnect(self) -> None:
        self._close_muxer("the camera disconnected")
        self._track = None
        self.connected = False
        self.unplayable = "the camera is not connected"

    def _publish(self, fragment: bytes, keyframe: bool, track: int = VIDEO) -> None:
        now = time.monotonic()
        with self._lock:
            if keyframe and track == VIDEO:
                self._gop, self._gop_bytes, self._gop_whole = [], 0, True
            if self._gop_whole and self._gop_bytes + len(fragment) <= MAX_GOP_BYTES:
                self._gop.append((track, fragment))
                self._gop_bytes += len(fragment)
            else:  # too long a GOP to keep: new viewers wait for the next keyframe
                self._gop, self._gop_bytes, self._gop_whole = [], 0, False
            viewers = list(self._viewers)
        for v in viewers:
            if now - v.read_at > self.give_up:
                self.leave(v, f"not read for {self.give_up:.0f} s")
                continue
            v.offer(fragment, keyframe, track)
            v.wake()
            if v.ended is not None:
                self.leave(v, v.ended)

    def _close_muxer(self, why: str) -> None:
        with self._lock:
            out, self._out, self._vstream = self._out, None, None
            aout, self._aout, self._astream, self._audio_init = self._aout, None, None, b""
            self._init, self._codec, self._gop, self._gop_bytes = None, None, [], 0
            viewers, self._viewers = self._viewers, []
        for v in viewers:  # a new init segment is a new stream for the browser: viewers start over
            v.ended = why
            v.wake()
        for muxer, chunks in ((out, self._chunks), (aout, self._achunks)):
            if muxer is None:
                continue
            try:
                muxer.close()
            except Exception as exc:  # what FFmpeg writes at the end of a live stream is not needed
                log.debug("%s: closing the live muxer: %s", self.camera, exc)
            chunks.take()

    # viewers (any thread) ----------------------------------------------------------------------------

    def join(self, notify: Callable[[], None], audio: bool = False,
             kind: type[Viewer] = Viewer) -> tuple[Opening, Viewer] | None:
        """Start watching: the opening and the viewer's queue (a ``kind``), or None while the stream cannot be
        played. With ``audio``, the sound too when the camera's is served (the opening says so)."""
        with self._lock:
            if self._init is None or self._codec is None:
                return None
            sound = audio and self._aout is not None and self._track is not None and self._audio_zero is not None
            # without the GOP from its keyframe, a viewer starts at the next keyframe
            v = kind(notify, self.max_behind, audio=sound, skipping=not self._gop)
            self._viewers.append(v)
            gop = [f for f in self._gop if sound or f[0] == VIDEO]
            if not sound:
                return Opening(self._codec, *self._size, self._init, gop), v
            assert self._track is not None and self._audio_zero is not None
            return Opening(self._codec, *self._size, self._init, gop, self._track.mse_codec, self._audio_init,
                           self._audio_zero), v

    def leave(self, viewer: Viewer, why: str = "left") -> None:
        with self._lock:
            if viewer in self._viewers:
                self._viewers.remove(viewer)
        if viewer.ended is None:
            viewer.ended = why
            viewer.wake()

    @property
    def viewers(self) -> int:
        with self._lock:
            return len(self._viewers)

    def watching(self) -> list[Viewer]:
        with self._lock:
            return list(self._viewers)
