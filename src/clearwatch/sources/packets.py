"""Normalise demuxed packets into whole, timestamped access units."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import av


@dataclass(slots=True)
class StreamPacket:
    """One video access unit with continuous timestamps and its wall-clock time.

    ``pts``/``dts``/``duration`` are in ``time_base`` and increase across reconnect-free loops of a
    file source. ``data`` is the packet itself or merged bytes; consumers must not mutate it.
    """

    data: av.Packet | bytes
    pts: int
    dts: int
    duration: int
    keyframe: bool
    time_base: Fraction
    wall: float

    def __len__(self) -> int:
        return self.data.size if isinstance(self.data, av.Packet) else len(self.data)


class AccessUnitAssembler:
    """Merge packets sharing a timestamp (multi-slice frames) and fill in missing timestamps.

    RTSP depacketisers sometimes emit one packet per slice, or a first packet with no timestamp;
    an MP4 muxer needs exactly one packet per strictly increasing DTS.
    """

    def __init__(self, default_duration: int):
        self.default_duration = max(1, default_duration)
        self._pending: list[av.Packet] = []
        self._pending_ts: tuple[int, int] | None = None  # (pts, dts)
        self._last_dts: int | None = None
        self._last_duration = self.default_duration

    def push(self, packet: av.Packet) -> tuple[list[av.Packet], int, int, int, bool] | None:
        """Feed a packet; returns a completed unit (packets, pts, dts, duration, keyframe) or None."""
        dts = packet.dts if packet.dts is not None else packet.pts
        pts = packet.pts if packet.pts is not None else dts
        if dts is None:
            if self._pending and self._pending_ts is not None:
                # continuation of the pending unit without its own stamp: part of the same frame
                self._pending.append(packet)
                return None
            if self._last_dts is not None and not self._pending:
                step = self._last_duration
                self._pending = [packet]
                self._pending_ts = (self._last_dts + step, self._last_dts + step)
                return None
            self._pending.append(packet)
            return None
        if self._pending and self._pending_ts is None:
            # stamp a leading unstamped unit from the one after it
            step = packet.duration or self._last_duration
            self._pending_ts = (pts - step, dts - step)
        if self._pending and self._pending_ts is not None and self._pending_ts[1] == dts:
            self._pending.append(packet)
            return None
        done = self._flush(next_dts=dts)
        self._pending = [packet]
        self._pending_ts = (pts, dts)
        return done

    def _flush(self, next_dts: int | None) -> tuple[list[av.Packet], int, int, int, bool] | None:
        if not self._pending or self._pending_ts is None:
            return None
        pts, dts = self._pending_ts
        if self._last_dts is not None and dts <= self._last_dts:
            # out-of-order or repeated: drop rather than corrupt the recording
            self._pending, self._pending_ts = [], None
            return None
        if next_dts is not None and next_dts > dts:
            duration = next_dts - dts
        else:
            duration = self._pending[0].duration or self._last_duration
        self._last_dts, self._last_duration = dts, duration
        keyframe = any(p.is_keyframe for p in self._pending)
        unit = (self._pending, pts, dts, duration, keyframe)
        self._pending, self._pending_ts = [], None
        return unit

    def flush(self) -> tuple[list[av.Packet], int, int, int, bool] | None:
        return self._flush(next_dts=None)


def unit_data(packets: list[av.Packet]) -> av.Packet | bytes:
    if len(packets) == 1:
        return packets[0]
    return b"".join(bytes(p) for p in packets)
