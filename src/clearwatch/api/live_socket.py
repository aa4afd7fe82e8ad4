"""Live video's direct path: once the WebSocket handshake and the opening (JSON, init segment, current GOP) have
gone out through the ASGI stack, the camera's thread writes each fragment to the viewer's socket itself, framed as
a WebSocket binary message.

Why: through the ASGI stack every frame wakes the event loop and passes uvicorn's and Starlette's send machinery —
on a small VM ~0.010 CPU-s per viewer-second at 25 fps whatever the frame's size, twice what a viewer may cost. The
camera thread is awake for the packet anyway; one non-blocking ``sendmsg`` per viewer costs a fraction of that.

Taken only where it is safe, else the ASGI path serves the viewer: uvicorn's sans-I/O WebSocket protocol (what the
pinned uvicorn runs), plain TCP (TLS bytes must pass the transport's encryption), no keepalive pings (the transport
would write a ping into the middle of a frame; the web server switches them off: a dead viewer is found by its
socket not taking data) and no compression negotiated. The event loop still reads the socket: the browser's close
is answered there as before."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from clearwatch.recording.live_mp4 import AUDIO, VIDEO, Viewer

BATCH = 64  # buffers per sendmsg (well under IOV_MAX)


def frame_header(size: int) -> bytes:
    """RFC 6455 header of an unmasked, final, binary message of ``size`` bytes (a server never masks)."""
    if size < 126:
        return bytes((0x82, size))
    if size < 1 << 16:
        return struct.pack("!BBH", 0x82, 126, size)
    return struct.pack("!BBQ", 0x82, 127, size)


def direct_transport(ws: Any) -> asyncio.Transport | None:
    """The socket's transport under a Starlette WebSocket when the direct path is safe on it, else None."""
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    except ImportError:
        return None
    protocol = getattr(getattr(ws, "_receive", None), "__self__", None)  # uvicorn hands the app its bound methods
    if not isinstance(protocol, WebSocketsSansIOProtocol) or protocol.ping_interval:
        return None
    if getattr(protocol.conn, "extensions", None):  # e.g. permessage-deflate: frames would need compressing
        return None
    transport = protocol.transport
    if (transport is None or transport.is_closing() or transport.get_extra_info("sslcontext") is not None
            or transport.get_extra_info("socket") is None):
        return None
    return transport


async def drained(transport: asyncio.Transport, timeout: float) -> None:
    """Until the transport has handed all it holds to the kernel: nothing of the opening may be overtaken."""
    async with asyncio.timeout(timeout):
        while transport.get_write_buffer_size():
            await asyncio.sleep(0.005)


def own_socket(transport: asyncio.Transport) -> socket.socket:
    """A socket of our own on the transport's connection (a duplicate descriptor, non-blocking like the original)."""
    raw = transport.get_extra_info("socket")
    if raw is None or transport.is_closing() or raw.fileno() < 0:
        raise OSError("the viewer's connection closed")
    sock = socket.socket(fileno=os.dup(raw.fileno()))
    sock.setblocking(False)
    return sock


@dataclass
class SocketViewer(Viewer):
    """A viewer whose fragments the camera thread writes to its socket. Until ``release`` (while the opening goes
    out through the ASGI stack) it queues like any viewer. Frames the socket cannot take yet wait: those handed to
    the socket in one go are finished before anything else, and what queues behind them is bounded by
    ``max_behind`` as a queued viewer's frames are — whole messages not yet begun are skipped, never part of one."""

    _sock: socket.socket | None = field(default=None, repr=False)
    # buffers committed to the socket, in order, each with whether a message starts with it
    _out: deque[tuple[memoryview, bool]] = field(default_factory=deque, repr=False)
    _closed: bool = False

    def release(self, sock: socket.socket) -> None:
        with self.lock:
            if self._closed:
                sock.close()
                return
            self._sock = sock
            self._flush()

    def offer(self, fragment: bytes, keyframe: bool, track: int = VIDEO) -> None:
        if track == AUDIO and not self.audio:
            return
        with self.lock:
            if self._closed:
                return
            self._queue(fragment, keyframe, track)
            if self._sock is not None:
                self._flush()

    def wake(self) -> None:
        if self._sock is None or self.ended is not None:  # the direct path wakes its sender only to end it
            super().wake()

    @property
    def mid_message(self) -> bool:
        """Whether the socket has taken part of a message and waits for the rest."""
        with self.lock:
            return self._mid_message()

    def _mid_message(self) -> bool:
        return bool(self._out) and not self._out[0][1]

    def close(self) -> bool:
        """Stop writing and let go of the socket; True when a message was left half-written (the connection can
        only be dropped then, not closed with a close frame)."""
        with self.lock:
            self._closed = True
            cut = self._mid_message()
            self._out.clear()
            self.queue.clear()
            self.queued = 0
            sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        return cut

    def _flush(self) -> None:
        """Write what the socket takes now, without waiting (held: ``lock``)."""
        assert self._sock is not None
        while True:
            if not self._out:
                if not self.queue:
                    self.read_at = time.monotonic()  # caught up
                    return
                for track, fragment in self.queue:
                    body = len(fragment) + self.audio
                    head = frame_header(body) + bytes([track]) if self.audio else frame_header(body)
                    self._out.append((memoryview(head), True))
                    self._out.append((memoryview(fragment), False))
                self.queue.clear()
                self.queued = 0
            batch = [self._out[i][0] for i in range(min(BATCH, len(self._out)))]
            try:
                sent = self._sock.sendmsg(batch)
            except BlockingIOError:
                return
            except OSError as exc:
                self.ended = self.ended or f"the connection broke ({exc.strerror or exc})"
                self._out.clear()
                return
            if sent:
                self.read_at = time.monotonic()
            full = sent == sum(len(b) for b in batch)
            while sent:
                part = self._out[0][0]
                if sent < len(part):
                    self._out[0] = (part[sent:], False)
                    break
                sent -= len(part)
                self._out.popleft()
            if not full:  # the socket's buffer is full: the rest waits for the next frame
                return
