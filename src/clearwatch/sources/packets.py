"""Normalise demuxed packets into whole, timestamped access units."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, cast

import av

if TYPE_CHECKING:
    Packet = av.Packet[Any]  # generic in the stubs only
else:
    Packet = av.Packet


@dataclass(slots=True)
class StreamPacket:
    """One video access unit (or, with ``audio``, one packet of the camera's sound) with continuous timestamps and
    its wall-clock time.

    ``pts``/``dts``/``duration`` are in ``time_base`` and increase across reconnect-free loops of a
    file source; a camera's audio and video timestamps share one clock (in seconds). ``data`` is the packet itself
    or merged bytes; consumers must not mutate it.
    """

    data: Packet | bytes
    pts: int
    dts: int
    duration: int
    keyframe: bool
    time_base: Fraction
    wall: float
    audio: bool = False

    def __len__(self) -> int:
        return self.data.size if isinstance(self.data, av.Packet) else len(self.data)


@dataclass(frozen=True, slots=True)
class AccessUnit:
    """The packets of one frame (several when it came in slices), with its timestamps."""

    packets: list[Packet]
    pts: int
    dts: int
    duration: int
    keyframe: bool

    @property
    def data(self) -> Packet | bytes:
        return self.packets[0] if len(self.packets) == 1 else b"".join(bytes(p) for p in self.packets)


class AccessUnitAssembler:
    """Merge packets sharing a timestamp (multi-slice frames) and fill in missing timestamps.

    RTSP depacketisers sometimes emit one packet per slice, or a first packet with no timestamp;
    an MP4 muxer needs exactly one packet per strictly increasing DTS.
    """

    def __init__(self, default_duration: int):
        self.default_duration = max(1, default_duration)
        self._pending: list[Packet] = []
        self._pending_ts: tuple[int, int] | None = None  # (pts, dts)
        self._last_dts: int | None = None
        self._last_duration = self.default_duration

    def push(self, packet: Packet) -> AccessUnit | None:
        """Feed a packet; returns the unit it completed, if any."""
        dts = packet.dts if packet.dts is not None else packet.pts
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
        pts = packet.pts if packet.pts is not None else dts
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

    def _flush(self, next_dts: int | None) -> AccessUnit | None:
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
        unit = AccessUnit(self._pending, pts, dts, duration, keyframe)
        self._pending, self._pending_ts = [], None
        return unit

    def flush(self) -> AccessUnit | None:
        return self._flush(next_dts=None)


def as_packet(data: Packet | bytes) -> Packet:
    """A packet to hand to a decoder or muxer: the demuxed one itself, or one holding merged bytes."""
    # av.Packet copies from any buffer, a packet included; its stub admits only bytes
    return av.Packet(cast(bytes, data))
