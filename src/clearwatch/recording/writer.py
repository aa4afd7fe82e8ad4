"""Write one segment: packets remuxed (never re-encoded) into fragmented MP4."""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av

from clearwatch.sources.audio import AudioTrack
from clearwatch.sources.packets import Packet, StreamPacket, as_packet

log = logging.getLogger(__name__)

# Fragmented MP4 with a fragment per keyframe and at least every second: a file cut short by a
# crash or power loss is still playable up to its last complete fragment.
FRAGMENT_OPTIONS = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof",
    "frag_duration": "1000000",
    "flush_packets": "1",
    # with sound, FFmpeg holds packets back to interleave the two tracks: never more than a second of them
    "max_interleave_delta": "1000000",
}
START_TAG = "clearwatch-start="


class SoundPlacer:
    """Puts a camera's sound packets on a muxer's clock, which starts at ``origin`` (the first frame's time on the
    sound's clock): none from before it, none twice (MP4 needs each track's times rising)."""

    def __init__(self, stream: av.audio.stream.AudioStream, origin: Fraction = Fraction(0)):
        self.stream, self.origin = stream, origin
        self.last = -1  # so nothing from before the origin is taken either

    def place(self, sp: StreamPacket) -> Packet | None:
        """A camera's packet (its ``pts`` on the sound's clock), or None when it is not to be muxed."""
        pts = round(sp.pts - self.origin)
        if not self.takes(pts):
            return None
        pkt = as_packet(sp.data)
        pkt.duration = sp.duration
        return self.put(pkt, pts, sp.time_base)

    def takes(self, pts: int) -> bool:
        return pts > self.last

    def put(self, pkt: Packet, pts: int, time_base: Fraction) -> Packet:
        """``pkt`` at ``pts`` (from the origin, ``takes(pts)`` true) on this stream."""
        self.last = pts
        pkt.time_base = time_base
        pkt.pts = pkt.dts = pts
        pkt.stream = self.stream
        return pkt


class SegmentWriter:
    def __init__(self, path: Path, template: av.video.stream.VideoStream, camera: str, first: StreamPacket,
                 audio: AudioTrack | None = None):
        self.path = path
        self.start_wall = first.wall
        self.first_dts = first.dts
        self.time_base: Fraction = first.time_base
        self.last_end_dts = first.dts
        self.packets = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(path), "w", format="mp4", options=FRAGMENT_OPTIONS)
        try:
            start = datetime.fromtimestamp(first.wall, UTC)
            self._container.metadata["title"] = camera
            self._container.metadata["comment"] = START_TAG + start.isoformat(timespec="microseconds")
            self._stream = self._container.add_stream_from_template(template)
            self._stream.time_base = self.time_base
            self._sound = self._add_sound(audio, first) if audio is not None else None
        except Exception:
            self._container.close()
            raise
        cc = template.codec_context
        self.codec, self.width, self.height = cc.name, cc.width, cc.height
        self.audio_packets = 0

    def _add_sound(self, audio: AudioTrack, first: StreamPacket) -> SoundPlacer | None:
        try:
            stream = audio.add_to(self._container)
        except Exception as exc:  # the pictures are recorded without it rather than not at all
            log.warning("%s: recording without sound: %s cannot be put in MP4 (%s)", self.path.name, audio.codec, exc)
            return None
        return SoundPlacer(stream, first.dts * self.time_base / audio.time_base)

    def write(self, sp: StreamPacket) -> None:
        if sp.audio:
            self._write_audio(sp)
            return
        pkt = as_packet(sp.data)
        pkt.time_base = sp.time_base
        pkt.pts = sp.pts - self.first_dts
        pkt.dts = sp.dts - self.first_dts
        pkt.duration = sp.duration
        pkt.is_keyframe = sp.keyframe
        pkt.stream = self._stream
        self._container.mux(pkt)
        self.last_end_dts = sp.dts + sp.duration
        self.packets += 1

    def _write_audio(self, sp: StreamPacket) -> None:
        pkt = self._sound.place(sp) if self._sound is not None else None
        if pkt is not None:
            self._container.mux(pkt)
            self.audio_packets += 1

    @property
    def duration(self) -> float:
        return float((self.last_end_dts - self.first_dts) * self.time_base)

    @property
    def end_wall(self) -> float:
        return self.start_wall + self.duration

    def close(self) -> None:
        self._container.close()

    def abort(self) -> None:
        """Close after a write error; the file may be cut short (repair() makes it consistent)."""
        with contextlib.suppress(Exception):
            self._container.close()
