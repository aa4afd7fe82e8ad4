"""Write one segment: packets remuxed (never re-encoded) into fragmented MP4."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av

from clearwatch.sources.packets import StreamPacket, as_packet

# Fragmented MP4 with a fragment per keyframe and at least every second: a file cut short by a
# crash or power loss is still playable up to its last complete fragment.
FRAGMENT_OPTIONS = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof",
    "frag_duration": "1000000",
    "flush_packets": "1",
}
START_TAG = "clearwatch-start="


class SegmentWriter:
    def __init__(self, path: Path, template: av.video.stream.VideoStream, camera: str, first: StreamPacket):
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
        except Exception:
            self._container.close()
            raise
        cc = template.codec_context
        self.codec, self.width, self.height = cc.name, cc.width, cc.height

    def write(self, sp: StreamPacket) -> None:
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
