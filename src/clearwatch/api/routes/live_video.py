"""Live video at the camera's own quality: its packets as fragmented MP4 over a WebSocket, for Media Source
Extensions in the browser. No decoding or encoding on the server.

The first message is text (JSON): either how to play the stream (``codec``, ``width``, ``height``) or why it
cannot be played this way (``fallback``: an H.265 camera, a camera with privacy masks for a role that may not see
past them — masks are burned in only on the MJPEG picture —, a disconnected camera; ``retry`` true when that passes
by itself, so the page asks again). Then binary messages: the
init segment, the fragments of the current GOP, and a fragment per frame as they come. A viewer that cannot keep
up skips to the next keyframe; the socket closes with 1012 when the camera reconnects (a new stream).

Sound only on request (``audio=true``) and only from cameras whose ``record.audio`` is on: the JSON then names its
codec (``audio``) and the seconds to add to its times (``audio_offset``, the SourceBuffer's ``timestampOffset``),
and every binary message starts with a byte saying its track (0 the pictures, 1 the sound; each track is its own
fMP4 stream for its own SourceBuffer). The audit record says whether the viewer took the sound.

After the opening, the camera's thread writes the frames to the viewer's socket itself where the web server allows
it (``live_socket``); the messages are the same either way."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Literal

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect

from clearwatch.api.live_socket import SocketViewer, direct_transport, drained, own_socket
from clearwatch.api.security import ctx, privacy_masks, unmasked, ws_principal
from clearwatch.governance import Perm
from clearwatch.recording.live_mp4 import AUDIO, VIDEO, Viewer

router = APIRouter(prefix="/api", tags=["cameras"])
SEND_TIMEOUT = 10.0  # a viewer whose socket takes no data for this long is let go
RESTART = 1012  # "service restart": the stream changed; open it again


@router.websocket("/cameras/{camera}/live.ws")
async def live_video(ws: WebSocket, camera: str, stream: Literal["main", "sub", "auto"] = Query("main"),
                     audio: bool = Query(False)) -> None:
    """``auto`` (the grid): the sub-stream where the camera has one, else the main stream."""
    c = ctx(ws)
    p = ws_principal(c, ws)
    if p is None:
        await ws.close(code=4401, reason="not logged in")
        return
    if not p.can(Perm.LIVE) or camera not in c.config.cameras or not p.sees(camera):
        await ws.close(code=4403, reason=f"camera {camera!r} is not yours to watch")
        return
    await ws.accept()
    if stream == "auto":
        stream = "sub" if c.live.feed(camera, "sub") is not None else "main"
    feed = c.live.feed(camera, stream)
    masks = privacy_masks(c, camera)
    if masks and not unmasked(p, c, camera):
        why = "this camera has privacy masks, which are burned into the MJPEG picture only"
    elif feed is None:
        why = f"no {stream} stream of this camera runs in this process"
    else:
        why = ""
    loop = asyncio.get_running_loop()
    fresh = asyncio.Event()

    def wake() -> None:  # on the camera thread
        loop.call_soon_threadsafe(fresh.set)

    transport = direct_transport(ws)
    kind = SocketViewer if transport is not None else Viewer
    joined = feed.join(wake, audio, kind) if feed is not None and not why else None
    if joined is None:
        await ws.send_json({"fallback": why or (feed.unplayable if feed is not None else "") or "not playable",
                            "retry": not why and feed is not None and not feed.connected})
        await ws.close()
        return
    opening, viewer = joined
    assert feed is not None
    started = time.monotonic()
    sound = opening.audio_codec is not None
    detail = {"stream": stream, "video": opening.codec}
    c.audit.append(p.actor, "footage.live", camera, {**detail, "audio": opening.audio_codec} if sound else detail)
    if masks:
        c.audit.append(p.actor, "footage.unmask", camera, {"live": True})
    closed = asyncio.ensure_future(_until_closed(ws, fresh))
    try:
        info: dict[str, object] = {"codec": opening.codec, "width": opening.width, "height": opening.height,
                                   "stream": stream}
        if audio:
            info["audio"] = opening.audio_codec  # null: the camera's sound is not served
            if sound:
                info["audio_offset"] = opening.audio_offset
        await ws.send_json(info)
        if sound:
            await ws.send_bytes(bytes([VIDEO]) + opening.init)
            await ws.send_bytes(bytes([AUDIO]) + opening.audio_init)
        else:
            await ws.send_bytes(opening.init)
        for message in _messages(opening.gop, sound):
            await ws.send_bytes(message)
        if isinstance(viewer, SocketViewer) and transport is not None:
            await drained(transport, SEND_TIMEOUT)
            viewer.release(own_socket(transport))  # from here the camera thread writes the frames
            while not closed.done() and viewer.ended is None:
                await fresh.wait()
                fresh.clear()
        else:
            await _send_as_woken(ws, viewer, closed, fresh, sound)
        if viewer.ended not in (None, "left") and not closed.done():
            assert viewer.ended is not None
            if isinstance(viewer, SocketViewer) and viewer.close():
                _abort(transport)  # cut off inside a message: no close frame can follow
            else:
                await ws.close(code=RESTART, reason=viewer.ended[:120])
    except (WebSocketDisconnect, TimeoutError, RuntimeError, OSError):
        pass  # gone, or too slow to take anything for SEND_TIMEOUT
    finally:
        closed.cancel()
        feed.leave(viewer)
        if isinstance(viewer, SocketViewer) and viewer.close():
            _abort(transport)
        with contextlib.suppress(Exception):
            await ws.close()
        c.audit.append(p.actor, "footage.live_end", camera,
                       {"stream": stream, "seconds": round(time.monotonic() - started, 1),
                        "skipped_frames": viewer.dropped, **({"audio": True} if sound else {})})


async def _send_as_woken(ws: WebSocket, viewer: Viewer, closed: asyncio.Future[None], fresh: asyncio.Event,
                         sound: bool) -> None:
    """The ASGI path: per frame no task, no future — only the event the camera thread sets."""
    while not closed.done():
        await fresh.wait()
        fresh.clear()
        ready = viewer.take()
        if ready:
            async with asyncio.timeout(SEND_TIMEOUT):
                for message in _messages(ready, sound):
                    await ws.send_bytes(message)
        if viewer.ended is not None:
            return


def _abort(transport: asyncio.Transport | None) -> None:
    if transport is not None:
        with contextlib.suppress(Exception):
            transport.abort()


def _messages(fragments: list[tuple[int, bytes]], sound: bool) -> list[bytes]:
    """What piled up while the last send went out, as one message per track (MSE takes any run of boxes)."""
    if not sound:
        return [b"".join(f for _, f in fragments)] if fragments else []
    out = []
    for track in (VIDEO, AUDIO):
        data = b"".join(f for t, f in fragments if t == track)
        if data:
            out.append(bytes([track]) + data)
    return out


async def _until_closed(ws: WebSocket, fresh: asyncio.Event) -> None:
    """Read (and ignore) what the browser sends until it closes: that is how a closed socket is noticed (and the
    sender woken to see it)."""
    try:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while (await ws.receive())["type"] != "websocket.disconnect":
                pass
    finally:
        fresh.set()
