"""Live video at the camera's own quality: its packets as fragmented MP4 over a WebSocket, for Media Source
Extensions in the browser. No decoding or encoding on the server.

The first message is text (JSON): either how to play the stream (``codec``, ``width``, ``height``) or why it
cannot be played this way (``fallback``: an H.265 camera, a camera with privacy masks for a role that may not see
past them — masks are burned in only on the MJPEG picture —, a disconnected camera). Then binary messages: the
init segment, the fragments of the current GOP, and a fragment per frame as they come. A viewer that cannot keep
up skips to the next keyframe; the socket closes with 1012 when the camera reconnects (a new stream)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Literal

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect

from clearwatch.api.security import ctx, privacy_masks, unmasked, ws_principal
from clearwatch.governance import Perm

router = APIRouter(prefix="/api", tags=["cameras"])
SEND_TIMEOUT = 10.0  # a viewer whose socket takes no data for this long is let go
RESTART = 1012  # "service restart": the stream changed; open it again


@router.websocket("/cameras/{camera}/live.ws")
async def live_video(ws: WebSocket, camera: str, stream: Literal["main", "sub", "auto"] = Query("main")) -> None:
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

    joined = feed.join(wake) if feed is not None and not why else None
    if joined is None:
        await ws.send_json({"fallback": why or (feed.unplayable if feed is not None else "") or "not playable"})
        await ws.close()
        return
    opening, viewer = joined
    assert feed is not None
    started = time.monotonic()
    c.audit.append(p.actor, "footage.live", camera, {"stream": stream, "video": opening.codec})
    if masks:
        c.audit.append(p.actor, "footage.unmask", camera, {"live": True})
    closed = asyncio.ensure_future(_until_closed(ws))
    try:
        await ws.send_json({"codec": opening.codec, "width": opening.width, "height": opening.height,
                            "stream": stream})
        await ws.send_bytes(opening.init)
        for fragment in opening.gop:
            await ws.send_bytes(fragment)
        while not closed.done():
            waiting = asyncio.ensure_future(fresh.wait())
            await asyncio.wait({waiting, closed}, timeout=5.0, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            fresh.clear()
            ready = viewer.take()
            if ready:  # what piled up while the last send went out, as one message (MSE takes any run of boxes)
                await asyncio.wait_for(ws.send_bytes(b"".join(ready)), SEND_TIMEOUT)
            if viewer.ended is not None:
                if viewer.ended != "left":
                    await ws.close(code=RESTART, reason=viewer.ended[:120])
                break
    except (WebSocketDisconnect, TimeoutError, RuntimeError, OSError):
        pass  # gone, or too slow to take anything for SEND_TIMEOUT
    finally:
        closed.cancel()
        feed.leave(viewer)
        with contextlib.suppress(Exception):
            await ws.close()
        c.audit.append(p.actor, "footage.live_end", camera,
                       {"stream": stream, "seconds": round(time.monotonic() - started, 1),
                        "skipped_frames": viewer.dropped})


async def _until_closed(ws: WebSocket) -> None:
    """Read (and ignore) what the browser sends until it closes: that is how a closed socket is noticed."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while (await ws.receive())["type"] != "websocket.disconnect":
            pass
