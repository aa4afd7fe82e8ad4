"""Clips with sound for the audio tests: the street clip's video (remuxed) with a beep of ``BEEP_HZ`` for
``BEEP_SECONDS`` at the start of every second of the clip, so that a recording or an export can be checked for
the tone, for its length and for its sync with the pictures (a keyframe falls on a whole second)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

BEEP_HZ = 880.0
BEEP_SECONDS = 0.2
RATES = {"aac": 16000, "libopus": 48000, "pcm_mulaw": 8000}


def tone(rate: int, seconds: float) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    on = (t % 1.0) < BEEP_SECONDS
    return (0.5 * np.sin(2 * np.pi * BEEP_HZ * t) * on).astype(np.float32)


def with_sound(video: Path, out: Path, codec: str, seconds: float = 40.0) -> Path:
    """``video``'s first ``seconds`` with a beeping track in ``codec`` (aac, libopus, or pcm_mulaw in a MOV)."""
    rate = RATES[codec]
    tmp = out.with_name(out.name + ".part")
    with av.open(str(video)) as src, av.open(str(tmp), "w", format="mov" if codec == "pcm_mulaw" else "mp4") as dst:
        vin = src.streams.video[0]
        vout = dst.add_stream_from_template(vin)
        aout = dst.add_stream(codec, rate=rate, layout="mono")
        aout.time_base = Fraction(1, rate)
        cc = aout.codec_context
        fmt = cc.format.name if cc.format is not None else "fltp"
        size = cc.frame_size or 1024
        samples = tone(rate, seconds)
        frames = []
        for at in range(0, len(samples), size):
            chunk = samples[at:at + size]
            data = chunk[None] if fmt in ("flt", "fltp") else (chunk * 32767).astype(np.int16)[None]
            frame = av.AudioFrame.from_ndarray(data, format=fmt, layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = rate, at, Fraction(1, rate)
            frames.append(frame)
        audio = iter(frames)
        pending = next(audio, None)
        tb = vin.time_base or Fraction(1, 90000)
        for pkt in src.demux(vin):
            if pkt.dts is None or pkt.size == 0:
                continue
            if pkt.dts * tb >= seconds:
                break
            while pending is not None and pending.pts is not None and pending.pts / rate <= pkt.dts * tb:
                dst.mux(aout.encode(pending))
                pending = next(audio, None)
            pkt.stream = vout
            dst.mux(pkt)
        while pending is not None:
            dst.mux(aout.encode(pending))
            pending = next(audio, None)
        dst.mux(aout.encode(None))
    tmp.replace(out)
    return out


def sound_of(path: Path) -> tuple[str | None, np.ndarray, np.ndarray]:
    """The audio codec of a file, and its loudness in 10 ms steps with each step's time, placed by the decoded
    frames' timestamps as a player places them; (None, [], []) without audio."""
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return None, np.zeros(0), np.zeros(0)
        s = c.streams.audio[0]
        loud, times = [], []
        for frame in c.decode(s):
            data = frame.to_ndarray()[:1].reshape(-1)  # the first channel
            x = data / 32768.0 if data.dtype == np.int16 else data.astype(np.float64)
            win = max(1, frame.sample_rate // 100)
            n = len(x) // win
            loud.append(np.sqrt((x[: n * win].reshape(n, win) ** 2).mean(axis=1)))
            times.append((frame.time or 0.0) + np.arange(n) * win / frame.sample_rate)
        return s.codec_context.name, np.concatenate(loud), np.concatenate(times)


def beep_onsets(loud: np.ndarray, times: np.ndarray) -> list[float]:
    """Times at which a beep starts: where the loudness first rises above half its peak. Not in the first 150 ms:
    a decoder starting mid-beep (a segment's start) ramps up over its first frame, which is no beep's start."""
    on = loud > 0.5 * loud.max()
    rises = np.flatnonzero(on[1:] & ~on[:-1]) + 1
    return [float(times[i]) for i in rises if times[i] > times[0] + 0.15]


def peak_hz(path: Path, seconds: float = 2.0) -> float:
    """The strongest frequency of the first ``seconds`` of a file's sound."""
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        parts: list[np.ndarray] = []
        for frame in c.decode(s):
            parts.append(frame.to_ndarray()[:1].reshape(-1).astype(np.float64))
            rate = frame.sample_rate
            if sum(len(p) for p in parts) >= seconds * rate:
                break
    x = np.concatenate(parts)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[int(np.argmax(spectrum))])
