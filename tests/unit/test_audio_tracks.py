"""A camera's sound on made-up packets: the codec string browsers are given, G.711 converted to AAC on the camera's
clock, audio placed on the video's clock, and a recorder putting sound where the pictures go."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from clearwatch.config.camera import RecordConfig
from clearwatch.media import write_clip
from clearwatch.recording import Recorder
from clearwatch.sources.audio import AudioStamper, AudioTrack, G711ToAac, mse_audio_codec
from clearwatch.sources.health import CameraHealth
from clearwatch.sources.packets import StreamPacket

RATE = 8000
WALL = 1_700_000_000.0  # when the made-up camera's first frame was taken


@pytest.mark.parametrize(("codec", "extradata", "expected"), [
    ("aac", bytes([0x14, 0x08]), "mp4a.40.2"),  # AAC-LC, 16 kHz mono
    ("aac", bytes([0x2B, 0x92, 0x08, 0x00]), "mp4a.40.5"),  # HE-AAC
    ("aac", bytes([0xF8, 0x40, 0x00]), "mp4a.40.34"),  # object type escape: 32 + 2
    ("aac", None, "mp4a.40.2"),
    ("opus", b"OpusHead", "opus"),
    ("pcm_mulaw", None, None),
])
def test_the_codec_string_browsers_are_given(codec: str, extradata: bytes | None, expected: str | None) -> None:
    assert mse_audio_codec(codec, extradata) == expected


def _mulaw_stream(tmp: Path, seconds: float = 2.0) -> tuple[Any, list[Any]]:
    """A G.711 µ-law stream of an 880 Hz tone, as a camera's RTSP stream hands it over (160-sample packets)."""
    path = tmp / "g711.mov"
    with av.open(str(path), "w", format="mov") as out:
        s = out.add_stream("pcm_mulaw", rate=RATE, layout="mono")
        t = np.arange(round(RATE * seconds)) / RATE
        tone = (0.5 * np.sin(2 * np.pi * 880 * t) * 32767).astype(np.int16)
        for at in range(0, len(tone), 160):
            frame = av.AudioFrame.from_ndarray(tone[None, at:at + 160], format="s16", layout="mono")
            frame.sample_rate, frame.pts = RATE, at
            out.mux(s.encode(frame))
    c = av.open(str(path))
    return c.streams.audio[0], [p for p in c.demux(c.streams.audio[0]) if p.size]


def test_g711_becomes_aac_on_the_cameras_clock(tmp_path: Path) -> None:
    stream, packets = _mulaw_stream(tmp_path)
    conv = G711ToAac(stream)
    assert conv.track.codec == "aac" and conv.track.mse_codec == "mp4a.40.2" and conv.track.sample_rate == RATE
    start = 40_000  # the camera's clock does not start at 0
    out: list[StreamPacket] = []
    for p in packets:
        out += conv.convert(start + p.pts, bytes(p), 100.0 + float(p.pts * p.time_base))
    pts = [sp.pts for sp in out]
    assert all(b > a for a, b in itertools.pairwise(pts)) and all(sp.audio and sp.keyframe for sp in out)
    assert abs(pts[0] - start) <= 2048, "the AAC starts where the G.711 did (give or take the encoder's delay)"
    # all of it but what the encoder still holds: its look-ahead (two frames) and a part-filled frame
    assert 2.0 - 3 * 1024 / RATE < (pts[-1] - pts[0]) / RATE <= 2.0
    # the AAC decodes to the same tone
    dec: Any = av.CodecContext.create("aac", "r")
    dec.extradata = conv.encoder.extradata  # the AudioSpecificConfig a muxer writes beside the packets
    samples = np.concatenate([f.to_ndarray()[0] for sp in out for f in dec.decode(sp.data)])
    spectrum = np.abs(np.fft.rfft(samples))
    assert np.fft.rfftfreq(len(samples), 1 / RATE)[int(np.argmax(spectrum))] == pytest.approx(880, abs=10)
    # a jump in the camera's clock is followed, not smoothed over
    later: list[StreamPacket] = []
    for p in packets:
        later += conv.convert(start + 10 * RATE + p.pts, bytes(p), 200.0 + float(p.pts * p.time_base))
    assert later[-1].pts > start + 11 * RATE and all(b.pts > a.pts for a, b in itertools.pairwise(later))


class _Packet:
    def __init__(self, pts: int | None, size: int = 10):
        self.pts, self.size, self.duration = pts, size, 1024

    def __bytes__(self) -> bytes:
        return b"\0" * self.size


def test_sound_is_put_on_the_videos_clock() -> None:
    stream: Any = type("S", (), {"time_base": Fraction(1, 16000), "codec_context": None})()
    stamper = AudioStamper(stream, None, Fraction(1, 90000))
    assert list(stamper.stamp(_Packet(0), None, 0)) == [], "nothing before the first frame"
    anchor = (1000.0, 90000)  # the first frame: dts 1 s, shown at wall 1000
    [a] = stamper.stamp(_Packet(32000), anchor, 0)  # 2 s on the sound's clock
    assert a.audio and a.pts == 32000 and a.wall == pytest.approx(1001.0)
    assert list(stamper.stamp(_Packet(32000), anchor, 0)) == [], "a repeated packet is dropped"
    assert list(stamper.stamp(_Packet(16000), anchor, 0)) == [], "so is one from the past"
    # a looping file: the video moved on by 10 s, the sound's clock starts again and is moved on as much
    [b] = stamper.stamp(_Packet(0), anchor, 900000)
    assert b.pts == 160000 and b.wall == pytest.approx(1009.0)


class _Index:
    def __init__(self) -> None:
        self.ops: list[Any] = []

    def submit(self, op: Any) -> None:
        self.ops.append(op)


def _record(tmp: Path, settings: RecordConfig, trigger_at: float | None = None) -> list[Path]:
    """Feed a recorder 3 s of pictures (10 fps, a keyframe a second) and 3.8 s of AAC that runs 0.2 s ahead of
    them, as cameras send it; with ``trigger_at``, an event at that second. Returns the segments written."""
    clip = write_clip(tmp / "v.mp4", [np.full((64, 64, 3), i * 8, np.uint8) for i in range(30)], fps=10,
                      gop_seconds=1)
    index: Any = _Index()
    rec = Recorder("cam", settings, tmp / "rec", index, CameraHealth("cam"))
    enc: Any = av.CodecContext.create("aac", "w")
    enc.sample_rate, enc.layout, enc.format, enc.time_base = 16000, "mono", "fltp", Fraction(1, 16000)
    events: list[tuple[float, StreamPacket]] = []
    for i in range(60):
        f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        f.sample_rate, f.pts = 16000, i * 1024
        for p in enc.encode(f):
            pts = int(p.pts or 0) + 1024
            t = pts / 16000
            events.append((t - 0.2, StreamPacket(p, pts, pts, 1024, True, Fraction(1, 16000), WALL + t, audio=True)))
    with av.open(str(clip)) as src:
        video = src.streams.video[0]
        vtb = video.time_base or Fraction(1, 10)
        rec.on_audio_connect(AudioTrack("aac", 16000, "mono", Fraction(1, 16000), "mp4a.40.2"))
        rec.on_connect(video)
        for p in src.demux(video):
            if p.size:
                t = float(p.pts * vtb)
                events.append((t, StreamPacket(p, int(p.pts), int(p.dts), int(p.duration or 0), p.is_keyframe, vtb,
                                               WALL + t)))
        triggered = False
        for t, sp in sorted(events, key=lambda e: e[0]):
            if trigger_at is not None and not triggered and t >= trigger_at:
                rec.trigger(WALL + trigger_at)
                triggered = True
            (rec.on_audio if sp.audio else rec.on_packet)(sp)
        rec.close()
    return sorted((tmp / "rec").rglob("*.mp4"))


def _sound_starts(segment: Path) -> list[Fraction]:
    with av.open(str(segment)) as c:
        return [p.pts * p.time_base for p in c.demux(c.streams.audio[0]) if p.size and p.pts is not None]


def test_a_segment_gets_the_sound_that_arrived_just_before_its_first_keyframe(tmp_path: Path) -> None:
    segments = _record(tmp_path, RecordConfig(segment_seconds=2))
    assert len(segments) >= 2
    firsts = _sound_starts(segments[1])[:2]
    assert firsts[1] < Fraction(2, 10), f"the second segment's sound starts with it, not 0.2 s late: {firsts}"


def test_a_triggered_segment_has_the_sound_of_its_pre_roll(tmp_path: Path) -> None:
    segments = _record(tmp_path, RecordConfig(mode="events", pre_roll=1, post_roll=0.3), trigger_at=2.2)
    assert len(segments) == 1
    with av.open(str(segments[0])) as c:
        first_frame = next(p for p in c.demux(c.streams.video[0]) if p.size)
        assert first_frame.is_keyframe
    starts = _sound_starts(segments[0])
    # the pre-roll's GOP (from the keyframe at 1 s) and its sound from its start, none missing in between
    assert starts[1] < Fraction(2, 10), starts[:3]
    steps = {b - a for a, b in itertools.pairwise(starts[1:])}
    assert steps == {Fraction(1024, 16000)}, f"no gaps or repeats in the sound: {sorted(steps)}"
