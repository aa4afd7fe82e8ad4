"""Per-camera recorder: continuous, or triggered (motion / events) with pre- and post-roll."""

from __future__ import annotations

import errno
import heapq
import logging
import shutil
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import av

from clearwatch.config.camera import RecordConfig
from clearwatch.recording.index_writer import IndexWriter, SegmentClosed, SegmentDiscarded, SegmentOpened
from clearwatch.recording.layout import relative, segment_path
from clearwatch.recording.repair import complete_prefix, probe, repair
from clearwatch.recording.writer import SegmentWriter
from clearwatch.sources.audio import AudioTrack
from clearwatch.sources.health import CameraHealth
from clearwatch.sources.packets import StreamPacket

log = logging.getLogger(__name__)
RETRY_AFTER_ERROR = 5.0
AUDIO_AHEAD = 2.0  # seconds of sound kept for the next segment's start


def _is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and (exc.errno in (errno.ENOSPC, errno.EDQUOT) or "No space" in str(exc))


def _no_space_left(path: Path) -> bool:
    try:
        return shutil.disk_usage(path.parent).free < 1_000_000
    except OSError:
        return False


class Recorder:
    """A PacketSink (and AudioSink) that cuts packets into segments and reports them to the index.

    Runs on the camera thread: only file writes happen here, the database is updated by IndexWriter.
    """

    def __init__(
        self,
        camera: str,
        settings: RecordConfig,
        root: Path,
        index: IndexWriter,
        health: CameraHealth,
        on_disk_full: Callable[[], None] | None = None,
    ):
        self.camera = camera
        self.settings = settings
        self.root = root
        self.index = index
        self.health = health
        self.on_disk_full = on_disk_full
        self.triggered = settings.mode != "continuous"
        self._template: av.video.stream.VideoStream | None = None
        self._audio: AudioTrack | None = None
        self._writer: SegmentWriter | None = None
        self._retry_at = 0.0
        self._trigger_until = 0.0
        self._gops: deque[list[StreamPacket]] = deque()  # pre-roll buffer, whole GOPs
        # cameras send sound a little ahead of the pictures: what came before a segment's first keyframe belongs in it
        self._recent_audio: deque[StreamPacket] = deque()
        self.dropped = 0
        self.segments = 0
        health.recording = "idle" if self.triggered else "waiting"

    # trigger API (any thread) ---------------------------------------------------------------------

    def trigger(self, until: float | None = None) -> None:
        """Record (with pre-roll) until ``until`` plus post-roll; events and motion call this."""
        end = (until if until is not None else time.time()) + self.settings.post_roll
        if end > self._trigger_until:
            self._trigger_until = end

    # PacketSink -------------------------------------------------------------------------------------

    def on_connect(self, stream: av.video.stream.VideoStream) -> None:
        self._template = stream

    def on_audio_connect(self, track: AudioTrack) -> None:
        self._audio = track

    def on_audio(self, sp: StreamPacket) -> None:
        """Sound goes where the pictures go: into the open segment, or the pre-roll's current GOP."""
        self._recent_audio.append(sp)
        while self._recent_audio[0].wall < sp.wall - AUDIO_AHEAD:
            self._recent_audio.popleft()
        if self._writer is not None:
            self._write(sp)
        elif self.triggered and self._gops:
            self._gops[-1].append(sp)

    def on_disconnect(self) -> None:
        self._close()
        self._gops.clear()
        self._template = None
        self._audio = None
        self._recent_audio.clear()
        if self.health.recording not in ("error",):
            self.health.recording = "idle" if self.triggered else "waiting"

    def on_packet(self, sp: StreamPacket) -> None:
        if self.triggered:
            self._on_triggered(sp)
        else:
            self._on_continuous(sp)

    def close(self) -> None:
        self._close()

    # ------------------------------------------------------------------------------------------------

    def _on_continuous(self, sp: StreamPacket) -> None:
        w = self._writer
        if w is not None and sp.keyframe and (sp.dts - w.first_dts) * sp.time_base >= self.settings.segment_seconds:
            self._close()
            w = None
        if w is None:
            if time.monotonic() < self._retry_at:
                self.dropped += 1  # not recorded while the disk is failing
                return
            if not sp.keyframe:
                return
            self._start([sp], list(self._recent_audio))
            return
        self._write(sp)

    def _on_triggered(self, sp: StreamPacket) -> None:
        active = sp.wall <= self._trigger_until
        if self._writer is not None:
            if not active:
                self._close()
                self.health.recording = "idle"
            else:
                self._on_continuous(sp)
                return
        # idle: keep whole GOPs covering the pre-roll
        if sp.keyframe or not self._gops:
            if not sp.keyframe:
                return  # cannot start a GOP without a keyframe
            self._gops.append([sp])
        else:
            self._gops[-1].append(sp)
        cutoff = sp.wall - self.settings.pre_roll
        while len(self._gops) >= 2 and self._gops[1][0].wall <= cutoff:
            self._gops.popleft()
        if active and time.monotonic() >= self._retry_at:
            # the kept GOPs, with their sound and the sound that came ahead of them
            video = [p for gop in self._gops for p in gop if not p.audio]
            sound = {p.pts: p for gop in self._gops for p in gop if p.audio}
            sound.update((p.pts, p) for p in self._recent_audio)
            self._gops.clear()
            self._start(video, sorted(sound.values(), key=lambda p: p.pts))

    def _start(self, video: list[StreamPacket], sound: list[StreamPacket]) -> None:
        """Open a segment at ``video[0]`` (a keyframe) and write ``video`` with ``sound`` (in time order) merged in
        by time: cameras send sound a little ahead of the pictures, so some that came before the keyframe belongs
        after it (the writer keeps what falls inside the segment, once)."""
        if not video or not self._open(video[0]):
            return
        for p in heapq.merge(video, sound, key=lambda p: p.dts * p.time_base):
            if self._writer is None:
                break
            self._write(p)

    def _open(self, first: StreamPacket) -> bool:
        if self._template is None:
            return False
        path = segment_path(self.root, self.camera, first.wall)
        try:
            self._writer = SegmentWriter(path, self._template, self.camera, first, self._audio)
        except Exception as exc:
            self._failed(exc, path, None)
            return False
        w = self._writer
        self.index.submit(SegmentOpened(self.camera, first.wall, relative(self.root, path), w.codec, w.width, w.height))
        self.health.recording = "recording"
        return True

    def _write(self, sp: StreamPacket) -> None:
        w = self._writer
        assert w is not None
        try:
            w.write(sp)
        except Exception as exc:
            self._failed(exc, w.path, w)

    def _close(self) -> None:
        w = self._writer
        if w is None:
            return
        self._writer = None
        try:
            w.close()
        except Exception as exc:
            self._failed(exc, w.path, w, closing=True)
            return
        size = w.path.stat().st_size
        if complete_prefix(w.path)[0] < size:
            # FFmpeg can swallow a failed write (its I/O error is sticky, not raised): trust the file, not close()
            self._salvage(w)
            self._failed(OSError(errno.EIO, "the file on disk is incomplete"), w.path, None)
            return
        self.index.submit(SegmentClosed(relative(self.root, w.path), w.end_wall, w.duration, size))
        self.segments += 1

    def _failed(self, exc: BaseException, path: Path, w: SegmentWriter | None, closing: bool = False) -> None:
        """Write failure (disk full, I/O error): keep what is on disk consistent, retry later."""
        self._writer = None
        self._retry_at = time.monotonic() + RETRY_AFTER_ERROR
        disk_full = _is_disk_full(exc) or _no_space_left(path)
        reason = "disk full" if disk_full else "write error"
        detail = getattr(exc, "strerror", None) or str(exc)
        if w is not None:
            w.abort()
            self._salvage(w)
        elif path.exists() and path.stat().st_size == 0:
            path.unlink(missing_ok=True)
        self.health.recording = "error"
        self.health.error(f"recording stopped: {reason} ({detail}) writing {path.name}; retrying")
        log.error("%s: recording %s: %s (%s)", self.camera, reason, detail, path)
        if disk_full and self.on_disk_full is not None:
            self.on_disk_full()

    def _salvage(self, w: SegmentWriter) -> None:
        rel = relative(self.root, w.path)
        try:
            repair(w.path)
            found = probe(w.path)
        except OSError:
            found = None
        if found is None:
            w.path.unlink(missing_ok=True)
            self.index.submit(SegmentDiscarded(rel))
            return
        self.index.submit(SegmentClosed(rel, w.start_wall + found.duration, found.duration, found.size))
        self.segments += 1
