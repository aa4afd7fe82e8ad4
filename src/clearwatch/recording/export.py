"""Export a time range of one camera as a single MP4: segments joined without re-encoding."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av

from clearwatch.errors import ClearwatchError, NoFootageError
from clearwatch.recording.writer import SoundPlacer
from clearwatch.sources.packets import Packet
from clearwatch.storage import HoldStore, Segment, SegmentIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    start: datetime
    end: datetime
    segments: int
    packets: int
    bytes: int
    gaps: float  # seconds without footage inside the exported span
    audio_packets: int = 0  # the camera's sound, where it was recorded

    @property
    def duration(self) -> float:
        return (self.end - self.start).total_seconds()


def _fmt(t: datetime) -> str:
    return t.isoformat(timespec="seconds").replace("+00:00", "Z")


def export_range(
    root: Path,
    index: SegmentIndex,
    holds: HoldStore,
    camera: str,
    start: datetime,
    end: datetime,
    out: Path,
    requested_by: str = "cli",
    progress: Callable[[int, int], None] | None = None,
) -> ExportResult:
    """Write [start, end) of ``camera`` to ``out``. It begins at the keyframe at or before ``start``.

    Output timestamps follow wall-clock time from the first exported frame, so a gap in the
    footage stays a gap in the file. The footage is held against retention while it is copied.
    """
    if end <= start:
        raise ClearwatchError("the end of the export range must be after its start")
    segments = [s for s in index.list(camera, start, end) if (root / s.path).is_file()]
    if not segments:
        raise NoFootageError(f"no footage from camera {camera!r} between {_fmt(start)} and {_fmt(end)}")
    if out.suffix.lower() != ".mp4":
        raise ClearwatchError(f"export file must end in .mp4: {out}")
    if out.exists() and out.is_dir():
        raise ClearwatchError(f"{out} is a directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    hold_id = holds.add("export", camera, start, end, f"export to {out.name}", requested_by)
    try:
        result = _join(root, segments, start, end, tmp, progress)
        os.replace(tmp, out)
        return ExportResult(out, result.start, result.end, len(segments), result.packets, out.stat().st_size,
                            result.gaps, result.audio_packets)
    finally:
        tmp.unlink(missing_ok=True)
        holds.remove(hold_id)


@dataclass
class _Joined:
    start: datetime
    end: datetime
    packets: int
    gaps: float
    audio_packets: int


class _Sound:
    """The audio track of an export: packets from each segment placed by wall-clock time like the video's."""

    def __init__(self, output: av.container.OutputContainer, template: av.audio.stream.AudioStream):
        stream = output.add_stream_from_template(template)
        self.time_base: Fraction = template.time_base or Fraction(1, template.codec_context.sample_rate or 8000)
        stream.time_base = self.time_base
        self.placer = SoundPlacer(stream)  # from the export's first frame
        self.packets = 0

    def mux(self, output: av.container.OutputContainer, pkt: Packet, wall: datetime, t0: datetime) -> None:
        pts = round((wall - t0).total_seconds() / self.time_base)
        if self.placer.takes(pts):  # not: overlapping segments, whose earlier sound is kept
            output.mux(self.placer.put(pkt, pts, self.time_base))
            self.packets += 1


def _join(root: Path, segments: list[Segment], start: datetime, end: datetime, tmp: Path,
          progress: Callable[[int, int], None] | None) -> _Joined:
    output = av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"})
    out_stream = None
    out_tb: Fraction | None = None
    sound: _Sound | None = None
    t0: datetime | None = None
    last_dts = -1
    last_end: datetime | None = None
    gaps = 0.0
    packets = 0
    params: tuple[str, int, int] | None = None
    first_key = _start_keyframe(root, segments, start)
    try:
        for i, seg in enumerate(segments):
            with av.open(str(root / seg.path)) as src:
                stream = src.streams.video[0]
                cc = stream.codec_context
                audio = src.streams.audio[0] if src.streams.audio else None
                if params is None:
                    params = (cc.name, cc.width, cc.height)
                    out_stream = output.add_stream_from_template(stream)
                    out_tb = _time_base(stream)
                    out_stream.time_base = out_tb
                    output.metadata["title"] = seg.camera
                    if audio is not None:  # sound is exported when the first segment has it
                        sound = _Sound(output, audio)
                elif (cc.name, cc.width, cc.height) != params:
                    raise ClearwatchError(
                        f"the camera changed format at {_fmt(seg.start)} ({params[0]} {params[1]}x{params[2]} → "
                        f"{cc.name} {cc.width}x{cc.height}); export the two parts separately"
                    )
                tb = _time_base(stream)
                seg_first: int | None = None
                demuxed = (stream, audio) if sound is not None and audio is not None else (stream,)
                for pkt in src.demux(demuxed):
                    if pkt.dts is None or pkt.size == 0:
                        continue
                    if pkt.stream.type == "audio":
                        if sound is not None and seg_first is not None and t0 is not None and pkt.pts is not None:
                            at = seg.start + timedelta(seconds=float(pkt.pts * sound.time_base - seg_first * tb))
                            if t0 <= at < end:
                                sound.mux(output, pkt, at, t0)
                        continue
                    if seg_first is None:
                        seg_first = pkt.dts
                    wall = seg.start + timedelta(seconds=float((pkt.dts - seg_first) * tb))
                    if wall >= end:
                        break
                    if t0 is None:
                        if wall < first_key or not pkt.is_keyframe:
                            continue
                        t0 = wall
                    if last_end is not None and wall - last_end > timedelta(seconds=1):
                        gaps += (wall - last_end).total_seconds()
                    assert out_tb is not None and out_stream is not None
                    dts = round((wall - t0).total_seconds() / out_tb)
                    if dts <= last_dts:
                        continue  # overlapping segments: keep the earlier frame
                    pts = dts + round((pkt.pts - pkt.dts) * tb / out_tb) if pkt.pts is not None else dts
                    pkt.stream = out_stream
                    pkt.time_base = out_tb
                    pkt.dts, pkt.pts = dts, pts
                    output.mux(pkt)
                    last_dts = dts
                    last_end = wall + timedelta(seconds=float((pkt.duration or 0) * tb))
                    packets += 1
            if progress:
                progress(i + 1, len(segments))
        if t0 is None or last_end is None:
            raise NoFootageError("no keyframe in the requested range")
        if out_stream is not None:
            output.metadata["creation_time"] = _fmt(t0)
    finally:
        output.close()
    return _Joined(t0, last_end, packets, gaps, sound.packets if sound is not None else 0)


def _start_keyframe(root: Path, segments: list[Segment], start: datetime) -> datetime:
    """Wall time of the last keyframe at or before ``start`` (or the first keyframe after it)."""
    best: datetime | None = None
    for seg in segments:
        if seg.start > start and best is not None:
            break
        with av.open(str(root / seg.path)) as src:
            stream = src.streams.video[0]
            first: int | None = None
            for pkt in src.demux(stream):
                if pkt.dts is None or pkt.size == 0:
                    continue
                first = pkt.dts if first is None else first
                if not pkt.is_keyframe:
                    continue
                wall = seg.start + timedelta(seconds=float((pkt.dts - first) * _time_base(stream)))
                if wall <= start or best is None:
                    best = wall
                if wall > start:
                    break
    return best or segments[0].start


def _time_base(stream: av.video.stream.VideoStream) -> Fraction:
    if stream.time_base is None:  # a recording of ours always has one
        raise ClearwatchError(f"{stream.container.name}: the video stream has no time base")
    return stream.time_base
