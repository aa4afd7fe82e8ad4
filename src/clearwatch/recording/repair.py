"""Make a fragmented MP4 cut short by a crash consistent again, and measure what it holds."""

from __future__ import annotations

import logging
import os
import struct
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import av

from clearwatch.recording.writer import START_TAG

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SegmentProbe:
    duration: float
    packets: int
    size: int
    codec: str | None
    width: int | None
    height: int | None
    start: datetime | None  # from the metadata the writer stored


def complete_prefix(path: Path) -> tuple[int, bool]:
    """Byte length of the file up to its last complete fragment, and whether it has a moov box."""
    size = path.stat().st_size
    good = 0
    has_moov = False
    pending_moof = False
    with path.open("rb") as f:
        pos = 0
        while pos + 8 <= size:
            f.seek(pos)
            header = f.read(16)
            box_size, kind = struct.unpack(">I4s", header[:8])
            header_len = 8
            if box_size == 1:
                if len(header) < 16:
                    break
                box_size = struct.unpack(">Q", header[8:16])[0]
                header_len = 16
            elif box_size == 0:
                box_size = size - pos
            if box_size < header_len or pos + box_size > size:
                break  # the box that was being written when the process died
            pos += box_size
            if kind == b"moov":
                has_moov = True
                good = pos
            elif kind == b"moof":
                pending_moof = True
            elif kind == b"mdat":
                if pending_moof:
                    good = pos
                pending_moof = False
            elif not pending_moof:
                good = pos
    return good, has_moov


def repair(path: Path) -> bool:
    """Truncate a torn fragmented MP4 after its last complete fragment. Returns True if it changed."""
    good, has_moov = complete_prefix(path)
    size = path.stat().st_size
    if not has_moov:
        return False
    if good < size:
        with path.open("r+b") as f:
            f.truncate(good)
            f.flush()
            os.fsync(f.fileno())
        log.info("repaired %s: cut %d torn bytes", path, size - good)
        return True
    return False


def probe(path: Path) -> SegmentProbe | None:
    """Read every packet header of a segment; None when it holds no playable video."""
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                return None
            s = c.streams.video[0]
            tb = s.time_base
            first: int | None = None
            end: int | None = None
            n = 0
            for p in c.demux(s):
                if p.dts is None or p.size == 0:
                    continue
                ts = p.pts if p.pts is not None else p.dts
                first = ts if first is None else min(first, ts)
                end = max(end or ts, ts + (p.duration or 0))
                n += 1
            if n == 0 or first is None or end is None or tb is None:
                return None
            start = None
            comment = c.metadata.get("comment", "")
            if comment.startswith(START_TAG):
                try:
                    start = datetime.fromisoformat(comment[len(START_TAG):])
                except ValueError:
                    start = None
            cc = s.codec_context
            return SegmentProbe(
                duration=float((end - first) * tb), packets=n, size=path.stat().st_size,
                codec=cc.name, width=cc.width, height=cc.height, start=start,
            )
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        log.warning("cannot read segment %s: %s", path, exc)
        return None
