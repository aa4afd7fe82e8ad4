"""A camera's sound as the recorder, exports and live viewers mux it: AAC and Opus as the camera sent them, G.711
converted to AAC once per camera (MP4 cannot carry G.711). Only when the camera's ``record.audio`` is on."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av

from clearwatch.sources.packets import StreamPacket

log = logging.getLogger(__name__)
PASSED = {"aac", "opus"}
CONVERTED = {"pcm_mulaw", "pcm_alaw"}
AAC_FRAME = 1024  # samples in an AAC-LC frame


def mse_audio_codec(codec: str, extradata: bytes | None) -> str | None:
    """The codec string Media Source Extensions take for an audio track (``mp4a.40.N``: AAC with its object type,
    from the AudioSpecificConfig; ``opus``), or None for one a browser cannot be given."""
    if codec == "opus":
        return "opus"
    if codec != "aac":
        return None
    if not extradata:
        return "mp4a.40.2"  # AAC-LC: what cameras send, and what G.711 is converted to
    kind = extradata[0] >> 3
    if kind == 31 and len(extradata) >= 2:  # escape: 32 + the next six bits
        kind = 32 + (((extradata[0] & 0x07) << 3) | (extradata[1] >> 5))
    return f"mp4a.40.{kind}"


@dataclass(frozen=True)
class AudioTrack:
    """How a camera's sound is muxed: the camera's own stream as a template (passed through), or the settings of
    the AAC it is converted to."""

    codec: str  # as muxed: "aac" or "opus"
    sample_rate: int
    layout: str
    time_base: Fraction
    mse_codec: str | None
    template: av.audio.stream.AudioStream | None = None

    def add_to(self, out: Any) -> av.audio.stream.AudioStream:
        """A stream for this track in an output container (PyAV's ``OutputContainer``)."""
        if self.template is not None:
            stream: av.audio.stream.AudioStream = out.add_stream_from_template(self.template)
        else:
            # an AAC encoder with the converter's settings writes the same AudioSpecificConfig as the converter's own
            stream = out.add_stream("aac", rate=self.sample_rate, layout=self.layout)
        stream.time_base = self.time_base
        return stream


def audio_track(stream: av.audio.stream.AudioStream) -> tuple[AudioTrack | None, G711ToAac | None, str | None]:
    """The track a camera's audio stream is muxed as, the converter it needs, and why it cannot be used if not."""
    cc = stream.codec_context
    name = cc.name
    if name in PASSED:
        if stream.time_base is None or not cc.sample_rate:
            return None, None, f"its {name} audio does not say its sample rate"
        return AudioTrack(name, cc.sample_rate, cc.layout.name, stream.time_base,
                          mse_audio_codec(name, cc.extradata), stream), None, None
    if name in CONVERTED:
        converter = G711ToAac(stream)
        return converter.track, converter, None
    return None, None, f"its audio is {name}, which is neither kept (AAC, Opus) nor converted (G.711)"


class G711ToAac:
    """Decode G.711 and encode AAC-LC at the same rate, mono; packet timestamps stay on the camera's clock."""

    def __init__(self, stream: av.audio.stream.AudioStream):
        rate = stream.codec_context.sample_rate or 8000
        self.decoder = av.CodecContext.create(stream.codec_context.name, "r")
        self.decoder.sample_rate = rate  # type: ignore[attr-defined]
        # as the camera sends it (the resampler makes it mono)
        self.decoder.layout = stream.codec_context.layout.name or "mono"  # type: ignore[attr-defined]
        self.encoder = av.CodecContext.create("aac", "w")
        enc: Any = self.encoder
        enc.sample_rate, enc.layout, enc.format = rate, "mono", "fltp"
        enc.time_base = Fraction(1, rate)
        enc.bit_rate = 32_000 if rate <= 16_000 else 64_000
        self.resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate, frame_size=AAC_FRAME)
        self.rate = rate
        self.track = AudioTrack("aac", rate, "mono", Fraction(1, rate), "mp4a.40.2")
        self._next: int | None = None  # the next sample's timestamp in 1/rate
        self._in_tb: Fraction = stream.time_base or Fraction(1, rate)

    def convert(self, pts: int, data: bytes, wall: float) -> Iterator[StreamPacket]:
        """AAC packets for one G.711 packet (``pts`` in the input's time base); fewer or more than one, since AAC
        frames are 1024 samples."""
        start = round(pts * self._in_tb * self.rate)
        if self._next is None or abs(start - self._next) > self.rate // 2:
            self._next = start  # the first packet, or a jump in the camera's clock: follow the camera
        for frame in self.decoder.decode(av.Packet(data)):  # type: ignore[attr-defined]
            for chunk in self.resampler.resample(frame):
                chunk.pts = self._next
                chunk.time_base = self.track.time_base
                self._next += chunk.samples
                for packet in self.encoder.encode(chunk):
                    if packet.pts is None:
                        continue
                    lag = float((self._next - packet.pts) / self.rate)
                    yield StreamPacket(packet, packet.pts, packet.pts, packet.duration or AAC_FRAME, True,
                                       self.track.time_base, wall - lag, audio=True)


class AudioStamper:
    """Puts a camera's audio packets on its video's clock: the same wall-clock anchor, the same shift when a file
    loops, and strictly rising timestamps (a repeated or out-of-order packet is dropped: MP4 needs them rising)."""

    def __init__(self, stream: av.audio.stream.AudioStream, converter: G711ToAac | None, video_tb: Fraction):
        self.time_base: Fraction = stream.time_base or Fraction(1, stream.codec_context.sample_rate or 8000)
        self.video_tb = video_tb
        self.converter = converter
        self._last: int | None = None

    def stamp(self, packet: Any, anchor: tuple[float, int] | None, loop_offset: int) -> Iterator[StreamPacket]:
        """The packets to hand on for one demuxed audio packet (none before the first video frame)."""
        if anchor is None or packet.pts is None or packet.size == 0:
            return
        pts = packet.pts + round(loop_offset * self.video_tb / self.time_base)
        if self._last is not None and pts <= self._last:
            return
        self._last = pts
        wall = anchor[0] + float(pts * self.time_base - anchor[1] * self.video_tb)
        if self.converter is not None:
            yield from self.converter.convert(pts, bytes(packet), wall)
        else:
            yield StreamPacket(packet, pts, pts, packet.duration or 0, True, self.time_base, wall, audio=True)
