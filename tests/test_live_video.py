"""Live video at the camera's own quality: the camera's H.264 packets as fragmented MP4 over a WebSocket, played
by Media Source Extensions — at 1920×1080 from a real RTSP server, shared by many viewers, a viewer that stops
reading let go without slowing the camera or the recorder, H.265 falling back to MJPEG with a note."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from clearwatch.governance import AuditLog, Users
from clearwatch.media import transcode_h264
from clearwatch.recording.live_mp4 import LiveMp4, Opening, Viewer, avc_codec
from clearwatch.service import Service
from clearwatch.sources.packets import StreamPacket
from tests.conftest import MEDIA_CACHE
from tests.support.helpers import make_config, wait_for
from tests.support.servers import RtspServer, rtsp_available

CHROMIUM = "/usr/bin/chromium"


def _feed(feed: LiveMp4, clip: Path, frames: int, on_frame: Callable[[int], object] | None = None) -> None:
    """Play ``frames`` packets of ``clip`` into ``feed`` as the camera thread would."""
    with av.open(str(clip)) as c:
        vs = c.streams.video[0]
        feed.on_connect(vs)
        n = 0
        for pkt in c.demux(vs):
            if pkt.dts is None or pkt.pts is None or pkt.size == 0:
                continue
            tb = vs.time_base or Fraction(1, 90000)
            feed.on_packet(StreamPacket(pkt, int(pkt.pts), int(pkt.dts), int(pkt.duration or 1), pkt.is_keyframe, tb,
                                        time.time()))
            n += 1
            if on_frame is not None:
                on_frame(n)
            if n >= frames:
                break


def _decode(data: bytes, tmp: Path) -> list[tuple[int, int, bool]]:
    path = tmp / f"live-{time.monotonic_ns()}.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as c:
        return [(f.width, f.height, bool(f.key_frame)) for f in c.decode(video=0)]


def _join_at(feed: LiveMp4, frame: int, joined: list[tuple[Opening, Viewer]],
             notify: Callable[[], None] = lambda: None) -> Callable[[int], None]:
    def on_frame(n: int) -> None:
        if n == frame:
            j = feed.join(notify)
            assert j is not None
            joined.append(j)
    return on_frame


def test_fragments_are_the_cameras_own_frames_and_a_new_viewer_starts_at_a_keyframe(
        h264_clip: Path, tmp_path: Path) -> None:
    feed = LiveMp4("gate")
    assert feed.join(lambda: None) is None, "nothing to watch before the camera connects"
    early: list[tuple[Opening, Viewer]] = []
    mid: list[tuple[Opening, Viewer]] = []
    # the clip has a keyframe every 2 s at 10 fps: frame 37 is inside a GOP
    at_1, at_37 = _join_at(feed, 1, early), _join_at(feed, 37, mid)
    _feed(feed, h264_clip, 60, on_frame=lambda n: (at_1(n), at_37(n)))
    opening, viewer = early[0]
    assert opening.codec.startswith("avc1.") and (opening.width, opening.height) == (768, 576)
    frames = _decode(b"".join([opening.init, *(f for _, f in opening.gop), *(f for _, f in viewer.take())]), tmp_path)
    # every frame but the one FFmpeg holds until the next arrives, at the camera's own size, none re-encoded
    assert len(frames) == 59 and {(w, h) for w, h, _ in frames} == {(768, 576)} and frames[0][2]
    m_open, m_viewer = mid[0]
    joined = _decode(b"".join([m_open.init, *(f for _, f in m_open.gop), *(f for _, f in m_viewer.take())]), tmp_path)
    assert joined[0][2], "a viewer joining mid-GOP gets the GOP from its keyframe: a picture at once"
    assert 20 < len(joined) < 59
    with av.open(str(h264_clip)) as c:
        assert opening.codec == avc_codec(c.streams.video[0].codec_context.extradata)


def test_a_viewer_that_falls_behind_skips_to_a_keyframe_and_one_that_stops_is_let_go(
        h264_clip: Path, tmp_path: Path) -> None:
    feed = LiveMp4("gate", max_behind=600_000, give_up=3600)  # more than a GOP, less than four
    woken = threading.Event()
    slow: list[tuple[Opening, Viewer]] = []
    # fed without the viewer reading: its queue stays bounded and it skips to keyframes
    _feed(feed, h264_clip, 80, on_frame=_join_at(feed, 1, slow, woken.set))
    opening, viewer = slow[0]
    assert woken.is_set() and viewer.queued <= 600_000 and viewer.dropped > 0
    frames = _decode(b"".join([opening.init, *(f for _, f in opening.gop), *(f for _, f in viewer.take())]), tmp_path)
    assert frames and frames[0][2], "what it reads after skipping starts at a keyframe: playable"
    assert len(frames) < 79
    # a viewer that has not read for give_up seconds is let go
    stale_feed = LiveMp4("gate", give_up=0.0)
    stale: list[tuple[Opening, Viewer]] = []
    _feed(stale_feed, h264_clip, 3, on_frame=_join_at(stale_feed, 1, stale))
    assert stale[0][1].ended is not None and stale_feed.viewers == 0


def test_an_h265_camera_is_not_offered_as_mse(tmp_path: Path) -> None:
    clip = _hevc_clip(tmp_path / "hevc.mp4")
    feed = LiveMp4("yard")
    with av.open(str(clip)) as c:
        feed.on_connect(c.streams.video[0])
    assert feed.join(lambda: None) is None and feed.unplayable is not None and "HEVC" in feed.unplayable


def _hevc_clip(path: Path, frames: int = 50) -> Path:
    with av.open(str(path), "w", format="mp4") as out:
        s = out.add_stream("libx265", rate=10, options={"preset": "ultrafast", "x265-params": "log-level=error"})
        s.width, s.height, s.pix_fmt = 320, 240, "yuv420p"
        for i in range(frames):
            img = np.full((240, 320, 3), 40, np.uint8)
            img[:, (i * 6) % 320:(i * 6) % 320 + 20] = 220  # something moves
            f = av.VideoFrame.from_ndarray(img, format="bgr24")
            f.pts, f.time_base = i, Fraction(1, 10)
            for pkt in s.encode(f):
                out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)
    return path


# --- a running service with a real 1080p RTSP camera ------------------------------------------------------------


@dataclass
class Live:
    svc: Service
    url: str
    token: str
    password: str


@pytest.fixture(scope="module")
def clip_1080p(vtest: Path) -> Path:
    clip = MEDIA_CACHE / "vtest-1080p25-60s.mp4"  # longer than the tests: no reconnect midway
    if not clip.exists():
        transcode_h264(vtest, clip, width=1920, height=1080, fps=25, gop_seconds=1.0, min_seconds=60)
    return clip


@pytest.fixture(scope="module")
def live(clip_1080p: Path, tmp_path_factory: pytest.TempPathFactory, output_dir: Path) -> Iterator[Live]:
    why = rtsp_available()
    if why:
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("live")
    hevc = _hevc_clip(tmp / "yard-hevc.mp4", 100)
    server = RtspServer({"gate": clip_1080p}, log_dir=output_dir)
    server.start()
    cfg = make_config(tmp / "data", {"gate": server.url("gate"), "yard": str(hevc)},
                      extra="record: {segment_seconds: 4}",
                      camera_extra="detect: {enabled: false}\nrecord: {mode: continuous}")
    svc = Service(cfg)
    svc.start()
    users = Users(svc.db)
    user, password = users.create("lena", "operator", None, None)
    token = users.create_token(user, "tests")
    assert svc.context is not None
    hub = svc.context.live
    assert wait_for(lambda: (f := hub.feed("gate")) is not None and f.unplayable is None, 30) is not None
    yield Live(svc, f"127.0.0.1:{svc.web_port}", token, password)
    svc.stop()
    server.stop()


def _connect(live: Live, camera: str, max_queue: int = 64, **headers: str) -> Any:
    from websockets.sync.client import connect

    h = {"Authorization": f"Bearer {live.token}", **headers}
    return connect(f"ws://{live.url}/api/cameras/{camera}/live.ws", additional_headers=h, max_size=2**24,
                   open_timeout=10, max_queue=max_queue)


def test_live_video_at_the_cameras_resolution_shared_by_many_viewers(live: Live, tmp_path: Path) -> None:
    gate = live.svc.units["gate"].camera
    packets_before, t0 = gate.packets, time.monotonic()
    with contextlib.ExitStack() as stack:
        readers = [stack.enter_context(_connect(live, "gate")) for _ in range(10)]
        stack.enter_context(_connect(live, "gate", max_queue=1))  # opens, then never reads
        assert live.svc.context is not None
        feed = live.svc.context.live.feed("gate")
        assert feed is not None and wait_for(lambda: feed.viewers == 11, 5) is not None
        # after the opening the camera thread writes each viewer's frames to its socket (not the event loop)
        assert {type(v).__name__ for v in feed.watching()} == {"SocketViewer"}
        hello = [json.loads(r.recv(timeout=10)) for r in readers]
        assert all(h["codec"].startswith("avc1.") and (h["width"], h["height"]) == (1920, 1080) for h in hello)
        got: list[list[bytes]] = [[] for _ in readers]
        let_go = None
        while time.monotonic() - t0 < 60 and (let_go is None or time.monotonic() - t0 < 12):
            for i, r in enumerate(readers):
                with contextlib.suppress(TimeoutError):
                    while True:
                        got[i].append(r.recv(timeout=0.01))
            if let_go is None and feed.viewers == 10:
                let_go = time.monotonic() - t0
        elapsed = time.monotonic() - t0
        rate = (gate.packets - packets_before) / elapsed
        assert rate > 22, f"the camera kept its 25 fps with 11 viewers: {rate:.1f}/s"
        assert let_go is not None and feed.viewers == 10, "the viewer that stopped reading was let go, the rest stay"
    frames = _decode(b"".join(got[0]), tmp_path)
    assert len(frames) > 20 * 12 and {(w, h) for w, h, _ in frames} == {(1920, 1080)} and frames[0][2]
    sizes = [sum(map(len, g)) for g in got]
    assert min(sizes) > 0.9 * max(sizes), f"every reader got (about) every frame: {sizes}"
    # the recorder went on meanwhile
    segs = live.svc.index.list("gate")
    assert segs and (segs[-1].end.timestamp() > time.time() - 6)
    assert wait_for(lambda: feed.viewers == 0, 5) is not None
    trail = AuditLog(live.svc.db).list(200, actor="lena")
    ends = [json.loads(r.detail) for r in trail if r.action == "footage.live_end"]
    assert len(ends) >= 11 and all(e["seconds"] >= 0 for e in ends) and max(e["seconds"] for e in ends) > 10
    assert sum(1 for r in trail if r.action == "footage.live" and "avc1" in r.detail) >= 11


def test_where_the_socket_cannot_be_written_directly_the_frames_go_through_the_asgi_stack(
        live: Live, tmp_path: Path) -> None:
    """The same app under a server that sends keepalive pings (the event loop would write them into the middle of
    a frame): the viewer is served the same messages through the ASGI stack."""
    import uvicorn
    from websockets.sync.client import connect

    assert live.svc.web is not None
    server = uvicorn.Server(uvicorn.Config(live.svc.web.app, host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="off", ws_ping_interval=20.0))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: server.started, 10) is not None
        port = server.servers[0].sockets[0].getsockname()[1]
        assert live.svc.context is not None
        feed = live.svc.context.live.feed("gate")
        assert feed is not None
        with connect(f"ws://127.0.0.1:{port}/api/cameras/gate/live.ws", max_size=2**24,
                     additional_headers={"Authorization": f"Bearer {live.token}"}, open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["width"] == 1920
            assert wait_for(lambda: feed.viewers >= 1, 5) is not None
            assert {type(v).__name__ for v in feed.watching()} == {"Viewer"}
            messages = [ws.recv(timeout=10) for _ in range(60)]
    finally:
        server.should_exit = True
        thread.join(5)
    assert all(isinstance(m, bytes) for m in messages)
    frames = _decode(b"".join(m for m in messages if isinstance(m, bytes)), tmp_path)
    assert len(frames) > 40 and frames[0][2] and {(w, h) for w, h, _ in frames} == {(1920, 1080)}


def test_refusals_and_the_h265_fallback(live: Live) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with pytest.raises(InvalidStatus):  # no credentials
        connect(f"ws://{live.url}/api/cameras/gate/live.ws", open_timeout=10).recv(timeout=5)
    import httpx

    r = httpx.post(f"http://{live.url}/api/auth/login", json={"username": "lena", "password": live.password})
    cookie = f"cw_session={r.cookies['cw_session']}"
    with pytest.raises(InvalidStatus):  # the console's session, but from another site's page
        connect(f"ws://{live.url}/api/cameras/gate/live.ws", open_timeout=10,
                additional_headers={"Origin": "https://evil.example", "Cookie": cookie}).recv(timeout=5)
    with connect(f"ws://{live.url}/api/cameras/gate/live.ws", open_timeout=10, max_size=2**24,
                 additional_headers={"Origin": f"http://{live.url}", "Cookie": cookie}) as ws:
        assert json.loads(ws.recv(timeout=10))["width"] == 1920, "the same session from the console's own page"
    with _connect(live, "yard") as ws:
        msg = json.loads(ws.recv(timeout=10))
    assert "HEVC" in msg["fallback"] and msg["retry"] is False, "a lasting reason: the page does not ask again"


def test_camera_page_plays_the_main_stream_in_chromium(live: Live, output_dir: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing: make test installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                               args=["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"])
        page = b.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"http://{live.url}/")
        page.wait_for_url("**/login")
        page.fill("input[name=username]", "lena")
        page.fill("input[name=password]", live.password)
        page.click("button[type=submit]")
        # the live grid's MJPEG pictures never finish loading: wait for the page, not its "load" event
        page.wait_for_url(f"http://{live.url}/", wait_until="domcontentloaded")
        # the grid: the camera's own stream (no sub-stream here: the main one), MJPEG for the H.265 camera
        page.wait_for_function("() => { const v = document.querySelector('video.live-video[data-camera=gate]');"
                               " return v && v.videoWidth === 1920 && v.currentTime > 0 }", timeout=20_000)
        page.wait_for_selector("[data-mode-for=yard] >> text=MJPEG fallback")
        assert page.is_visible("img.live[data-camera=yard]")
        assert not page.is_visible("video.live-video[data-camera=yard]")
        opened = time.monotonic()
        page.goto(f"http://{live.url}/cameras/gate", wait_until="domcontentloaded")
        page.wait_for_function("() => { const v = document.querySelector('#live-video');"
                               " return v && v.videoWidth > 0 && v.currentTime > 0 }", timeout=20_000)
        first_picture = time.monotonic() - opened
        size = page.evaluate("() => { const v = document.querySelector('#live-video');"
                             " return [v.videoWidth, v.videoHeight] }")
        assert size == [1920, 1080], f"the camera's own resolution, not the analytics picture: {size}"
        t1 = page.evaluate("() => document.querySelector('#live-video').currentTime")
        time.sleep(2.0)
        t2 = page.evaluate("() => document.querySelector('#live-video').currentTime")
        assert t2 - t1 > 1.2, f"the live video plays: {t1:.2f} → {t2:.2f}"
        lag = page.evaluate("() => { const v = document.querySelector('#live-video'), r = v.buffered;"
                            " return r.end(r.length - 1) - v.currentTime }")
        assert lag < 1.0, f"played at the live edge, {lag:.2f} s behind what has arrived"
        assert "1920×1080" in page.inner_text("#live-mode")
        page.screenshot(path=str(output_dir / "live-1080p.png"))
        # an H.265 camera: MJPEG with a visible note
        page.goto(f"http://{live.url}/cameras/yard", wait_until="domcontentloaded")
        page.wait_for_selector("#live-mode >> text=MJPEG fallback")
        assert "HEVC" in page.inner_text("#live-mode")
        assert page.is_visible("#live-mjpeg") and not page.is_visible("#live-video")
        b.close()
    print(f"first picture {first_picture:.2f} s after opening the camera page")
