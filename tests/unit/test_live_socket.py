"""The live view's direct path on a real TCP connection: the camera thread's writes are whole WebSocket messages in
order (read back by the websockets library's own parser), a socket that takes nothing makes the viewer skip to a
keyframe without ever cutting a message, frames offered while the opening goes out follow it, and a broken or
closed connection ends the viewer."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from clearwatch.api.live_socket import SocketViewer, frame_header
from clearwatch.recording.live_mp4 import AUDIO, VIDEO


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A loopback TCP connection with small buffers (the sender's end non-blocking, as the server's is)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        viewer_end = socket.create_connection(server.getsockname())
        viewer_end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16_384)
        camera_end, _ = server.accept()
    camera_end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16_384)
    camera_end.setblocking(False)
    yield camera_end, viewer_end
    camera_end.close()
    viewer_end.close()


def _read_all(sock: socket.socket, timeout: float = 0.5) -> bytes:
    sock.settimeout(timeout)
    out = bytearray()
    try:
        while chunk := sock.recv(1 << 20):
            out += chunk
    except TimeoutError:
        pass
    return bytes(out)


def _messages(data: bytes) -> tuple[list[bytes], int]:
    """The whole binary messages in ``data`` and how many bytes were left over (a message cut short)."""
    reader = StreamReader()
    reader.feed_data(data)
    out: list[bytes] = []
    while True:
        parser = Frame.parse(reader.read_exact, mask=False)
        try:
            next(parser)
        except StopIteration as done:
            frame: Frame = done.value
            assert frame.fin and frame.opcode is Opcode.BINARY
            out.append(bytes(frame.data))
            continue
        return out, len(reader.buffer)


def _fragment(n: int, size: int) -> bytes:
    return n.to_bytes(4, "big") * (size // 4)


@pytest.mark.parametrize("size", [0, 125, 126, 65_535, 65_536, 300_000])
def test_frame_headers_parse_back_at_every_length_boundary(size: int) -> None:
    body = bytes(range(256)) * (size // 256) + bytes(size % 256)
    messages, left = _messages(frame_header(size) + body)
    assert messages == [body] and left == 0


def test_frames_offered_before_release_follow_the_opening_then_come_as_written(
        pair: tuple[socket.socket, socket.socket]) -> None:
    camera_end, viewer_end = pair
    viewer = SocketViewer(lambda: None, max_behind=10_000_000)
    viewer.offer(_fragment(1, 400), True)
    viewer.offer(_fragment(2, 400), False)
    camera_end.sendall(frame_header(5) + b"hello")  # the opening, through the ASGI stack
    viewer.release(camera_end.dup())
    viewer.offer(_fragment(3, 400), False)
    messages, left = _messages(_read_all(viewer_end))
    assert messages == [b"hello", _fragment(1, 400), _fragment(2, 400), _fragment(3, 400)] and left == 0
    assert viewer.dropped == 0 and viewer.ended is None and not viewer.close()


def test_sound_messages_carry_their_track(pair: tuple[socket.socket, socket.socket]) -> None:
    camera_end, viewer_end = pair
    viewer = SocketViewer(lambda: None, max_behind=10_000_000, audio=True)
    viewer.release(camera_end.dup())
    viewer.offer(b"picture", True, VIDEO)
    viewer.offer(b"sound", False, AUDIO)
    messages, _ = _messages(_read_all(viewer_end))
    assert messages == [bytes([VIDEO]) + b"picture", bytes([AUDIO]) + b"sound"]
    deaf = SocketViewer(lambda: None, max_behind=10_000_000)
    deaf.offer(b"sound", False, AUDIO)
    assert not deaf.queue, "a viewer that did not ask for the sound gets none"


def test_a_viewer_whose_socket_takes_nothing_skips_to_a_keyframe_in_whole_messages(
        pair: tuple[socket.socket, socket.socket]) -> None:
    camera_end, viewer_end = pair
    viewer = SocketViewer(lambda: None, max_behind=200_000)
    viewer.release(camera_end.dup())
    offered = [_fragment(n, 20_000) for n in range(200)]
    for n, fragment in enumerate(offered):  # keyframe every 10 frames; the viewer reads nothing meanwhile
        viewer.offer(fragment, n % 10 == 0)
    assert viewer.dropped > 0 and viewer.ended is None
    assert viewer.queued <= 200_000, "what waits for the socket stays bounded"
    viewer.offer(_fragment(999, 100), True)
    got: list[bytes] = []
    data = b""
    for _ in range(100):  # read as a recovering viewer would; the camera's next frames flush the rest
        data += _read_all(viewer_end, 0.05)
        viewer.offer(_fragment(1000, 100), False)
        if not viewer.queue and not viewer.mid_message:
            break
    data += _read_all(viewer_end, 0.2)
    got, left = _messages(data)
    assert left == 0, "no message was cut"
    indices = [int.from_bytes(m[:4], "big") for m in got]
    assert indices == sorted(indices), "in order"
    first_gap = next(i for i in range(1, len(indices)) if indices[i] != indices[i - 1] + 1)
    assert indices[first_gap] % 10 == 0 or indices[first_gap] >= 999, "after a gap the next frame is a keyframe"
    assert all(m == offered[i] for m, i in zip(got, indices, strict=True) if i < 200), "each frame as offered"


def test_a_closed_connection_ends_the_viewer_and_closing_mid_message_says_so(
        pair: tuple[socket.socket, socket.socket]) -> None:
    camera_end, viewer_end = pair
    viewer = SocketViewer(lambda: None, max_behind=10_000_000)
    viewer.release(camera_end.dup())
    for n in range(20):  # more than the buffers hold: a message stays half-written
        viewer.offer(_fragment(n, 50_000), n == 0)
    assert viewer.mid_message and viewer.close(), "closing now cuts a message"
    viewer.offer(_fragment(21, 10), True)
    assert not viewer.queue, "nothing is taken after close"

    broken = SocketViewer(lambda: None, max_behind=10_000_000)
    other = camera_end.dup()
    broken.release(other)
    viewer_end.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    viewer_end.close()  # reset: the browser's tab was killed
    woken: list[bool] = []
    broken.notify = lambda: woken.append(True)
    for n in range(50):
        broken.offer(_fragment(n, 1000), True)
        broken.wake()
        if broken.ended is not None:
            break
    assert broken.ended is not None and "connection" in broken.ended and woken
