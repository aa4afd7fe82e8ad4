"""Live video benchmark: one 1080p25 H.264 RTSP camera, recorded, watched over the fMP4 WebSocket by 0, 1, 4 and
16 viewers at once.

For each count: the service's CPU-seconds per viewer-second (above the same camera with no viewer: the muxer, the
fan-out and the sockets — no decoding, no encoding), the camera's packet rate while they watch (the recorder's
input: it must not drop), the time from opening the socket to the first whole frame (init segment + keyframe), and
the messages each viewer received (a frame each, or the frames that piled up).
The viewers run in another process, so their CPU is not counted.
Glass-to-glass in Chromium: a 1080p25 clip whose frames carry their number as 16 black or white blocks is served
over RTSP; the camera page plays it; every frame Chromium presents (requestVideoFrameCallback) is read back
from the page and set against when the RTSP server sent that frame — the service's arrival time of each keyframe
(decoded alone, its number read from the picture) gives the server's clock: frame n left at a + n / 25, with a
the least arrival offset (the server paces its frames; any that come late only raise the others' offsets).
Delay = presentation time − send time, p50 / p99, and the time from opening the page to its first picture.
(Camera capture and encoding are not in it: there is no camera.)
Run: .venv/bin/python benchmarks/live.py [--viewers 0 1 4 16] [--seconds 30] [--glass-seconds 20]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

if TYPE_CHECKING:
    from clearwatch.service import Service

console = Console()


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def client(n: int, seconds: float, url: str, token: str) -> None:
    """The viewers (run in a child process): print one JSON line per viewer."""
    from websockets.sync.client import connect

    out: list[dict[str, object]] = []

    def view() -> None:
        t0 = time.monotonic()
        first = None
        frames = 0  # messages: fragments that piled up come as one
        error = ""
        try:
            with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, max_size=2**25) as ws:
                json.loads(ws.recv(timeout=10))
                ws.recv(timeout=10)  # init segment
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    try:
                        ws.recv(timeout=1.0)
                    except TimeoutError:
                        continue
                    frames += 1
                    if first is None:
                        first = time.monotonic() - t0
        except Exception as exc:  # the socket closed under us: say so in the results
            error = f"{type(exc).__name__}: {exc}"
        out.append({"first_frame_s": first if first is not None else -1.0, "frames": frames, "error": error})

    threads = [threading.Thread(target=view) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps(out))


# --- glass-to-glass ----------------------------------------------------------------------------------------------

FPS = 25
BITS = 16
BLOCK = (120, 80)  # width, height of one bit's block along the top of the picture


def counter_clip(seconds: float) -> Path:
    """A 1080p25 H.264 clip (no B-frames, a keyframe a second) whose frames show their own number in binary."""
    import numpy as np

    from clearwatch.media import write_clip

    clip = ROOT / ".cache" / "bench-media" / f"counter-1080p25-{int(seconds)}s.mp4"
    if clip.exists():
        return clip
    console.print(f"making {clip.name} (once)…")
    base = np.full((1080, 1920, 3), 90, np.uint8)
    base[400:700, :, :] = np.linspace(40, 200, 1920, dtype=np.uint8)[None, :, None]  # something to encode

    def frames() -> Any:
        for n in range(int(seconds * FPS)):
            img = base.copy()
            for i in range(BITS):
                img[:BLOCK[1], i * BLOCK[0]:(i + 1) * BLOCK[0]] = 235 if (n >> (BITS - 1 - i)) & 1 else 16
            x = (n * 16) % 1800
            img[800:900, x:x + 120] = (30, 140, 230)
            yield img

    return write_clip(clip, frames(), fps=FPS, gop_seconds=1.0)


def read_counter(grey: Any) -> int:
    """The frame number from a picture's top row of blocks (any width: block centres scale with it)."""
    w = grey.shape[1]
    y = grey.shape[0] * BLOCK[1] // 2 // 1080
    n = 0
    for i in range(BITS):
        n = (n << 1) | int(grey[y, int((i + 0.5) * BLOCK[0] * w / 1920)] > 128)
    return n


class KeyframeClock:
    """A packet sink: when each keyframe arrived, and which frame it was (decoded alone, once a second)."""

    def __init__(self) -> None:
        self.codec: str | None = None
        self.extradata: bytes | None = None
        self.samples: list[tuple[int, float]] = []

    def on_connect(self, stream: Any) -> None:
        self.codec, self.extradata = stream.codec_context.name, stream.codec_context.extradata

    def on_packet(self, sp: Any) -> None:
        import av

        from clearwatch.sources.packets import as_packet

        if not sp.keyframe or self.codec is None:
            return
        arrived = time.time()  # not sp.wall: that follows the stream's own timestamps from the first packet on
        ctx = av.CodecContext.create(self.codec, "r")
        if self.extradata:
            ctx.extradata = self.extradata
        try:
            frames = [*ctx.decode(as_packet(sp.data)), *ctx.decode(None)]
        except av.error.FFmpegError:
            return
        for f in frames[:1]:
            self.samples.append((read_counter(f.to_ndarray(format="gray")), arrived))

    def on_disconnect(self) -> None:
        self.codec = None


COLLECT = """async (seconds) => {
  const v = document.querySelector('#live-video');
  const c = document.createElement('canvas'); c.width = 1920; c.height = 80;
  const g = c.getContext('2d', { willReadFrequently: true });
  const out = [];
  const end = performance.now() + seconds * 1000;
  return await new Promise((resolve) => {
    function cb(now, meta) {
      g.drawImage(v, 0, 0, 1920, 80, 0, 0, 1920, 80);
      const row = g.getImageData(0, 40, 1920, 1).data;
      let n = 0;
      for (let i = 0; i < 16; i++) n = (n << 1) | (row[Math.floor((i + 0.5) * 120) * 4] > 128 ? 1 : 0);
      out.push([performance.timeOrigin + meta.expectedDisplayTime, n, v.videoWidth]);
      if (performance.now() < end) v.requestVideoFrameCallback(cb); else resolve(out);
    }
    v.requestVideoFrameCallback(cb);
  });
}"""


@contextlib.contextmanager
def served_camera(clip: Path) -> Iterator[Service]:
    """A running service (console on) recording one camera, ``gate``, that a real RTSP server plays ``clip`` to."""
    from tests.support.servers import RtspServer

    from clearwatch.config import parse_config
    from clearwatch.service import Service

    server = RtspServer({"gate": clip})
    server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="cw-bench-live-") as tmp:
            cfg = parse_config(f"data_dir: {tmp}\nstorage: {{min_free: 0}}\nweb: {{port: 0}}\ncameras:\n"
                               f"  gate:\n    url: '{server.url('gate')}'\n    detect: {{enabled: false}}\n")
            svc = Service(cfg)
            svc.start()
            try:
                yield svc
            finally:
                svc.stop()
    finally:
        server.stop()


def glass_to_glass(seconds: float) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from clearwatch.governance import Users

    clock = KeyframeClock()
    with served_camera(counter_clip(seconds + 60)) as svc:
        svc.units["gate"].camera.add_sink(clock)
        _, password = Users(svc.db).create("glass", "operator", None, None)
        base = f"http://127.0.0.1:{svc.web_port}"
        time.sleep(3)  # the camera connected, a GOP cached
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                         args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(base + "/")
            page.fill("input[name=username]", "glass")
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_url(base + "/")
            opened = time.time()
            page.goto(base + "/cameras/gate", wait_until="domcontentloaded")
            page.wait_for_function("() => { const v = document.querySelector('#live-video');"
                                   " return v && !v.hidden && v.currentTime > 0; }", timeout=20_000)
            first_picture = time.time() - opened
            shown = page.evaluate(COLLECT, seconds)
            browser.close()
    if not clock.samples:
        raise SystemExit("no keyframe decoded: cannot tell when frames were sent")
    offset = min(wall - n / FPS for n, wall in clock.samples)  # when frame 0 left the server, by our clock
    warm = shown[0][0] + 2000 if shown else 0  # the player's first seconds catch up to the live edge
    delays = sorted(t / 1000 - (offset + n / FPS) for t, n, _ in shown if t >= warm)
    if not delays:
        raise SystemExit("Chromium presented no frame")

    def pct(q: float) -> float:
        return delays[min(len(delays) - 1, int(q * len(delays)))]

    return {"seconds": seconds, "frames_presented": len(shown), "frames_measured": len(delays),
            "video_width": shown[-1][2], "keyframes_timed": len(clock.samples),
            "first_picture_s": round(first_picture, 3), "delay_p50_ms": round(pct(0.5) * 1000, 1),
            "delay_p99_ms": round(pct(0.99) * 1000, 1), "delay_min_ms": round(delays[0] * 1000, 1)}


# --- viewers ----------------------------------------------------------------------------------------------------


def run(viewers: int, seconds: float, svc: object, url: str, token: str) -> dict[str, Any]:
    from clearwatch.service import Service

    assert isinstance(svc, Service)
    cam = svc.units["gate"].camera
    packets0, cpu0, t0 = cam.packets, cpu_seconds(), time.monotonic()
    views: list[dict[str, Any]] = []
    if viewers:
        proc = subprocess.run([sys.executable, __file__, "--client", str(viewers), str(seconds), url, token],
                              capture_output=True, text=True, timeout=seconds + 60, check=True)
        views = json.loads(proc.stdout.strip().splitlines()[-1])
    else:
        time.sleep(seconds)
    wall = time.monotonic() - t0
    firsts = sorted(v["first_frame_s"] for v in views)
    return {"viewers": viewers, "wall_s": round(wall, 1), "cpu_s_per_s": round((cpu_seconds() - cpu0) / wall, 4),
            "camera_packets_per_s": round((cam.packets - packets0) / wall, 2),
            "first_frame_s_max": round(firsts[-1], 3) if firsts else 0.0,
            "messages_per_viewer_min": min((v["frames"] for v in views), default=0),
            "errors": sorted({v["error"] for v in views if v["error"]})}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--viewers", type=int, nargs="+", default=[0, 1, 4, 16])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--glass-seconds", type=float, default=20.0, help="glass-to-glass measurement (0: skip)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "live.json")
    ap.add_argument("--client", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        client(int(args.client[0]), float(args.client[1]), args.client[2], args.client[3])
        return 0

    from benchmarks.recording import bench_clip
    from tests.support.servers import rtsp_available

    from clearwatch.governance import Users

    why = rtsp_available()
    if why:
        console.print(f"[red]{why}")
        return 1
    glass = None
    if args.glass_seconds:
        console.print(f"glass-to-glass in Chromium for {args.glass_seconds:.0f} s")
        glass = glass_to_glass(args.glass_seconds)
    clip = bench_clip(max(60.0, 10 + args.seconds * len(args.viewers) + 30))  # the RTSP server plays it once
    results = []
    with served_camera(clip) as svc:
        user, _ = Users(svc.db).create("bench", "operator", None, None)
        token = Users(svc.db).create_token(user, "bench")
        url = f"ws://127.0.0.1:{svc.web_port}/api/cameras/gate/live.ws"
        time.sleep(5)  # connected, first segment open
        for n in args.viewers:
            console.print(f"{n} viewer(s) for {args.seconds:.0f} s")
            results.append(run(n, args.seconds, svc, url, token))
    base = next((r["cpu_s_per_s"] for r in results if r["viewers"] == 0), None)
    for r in results:
        r["cpu_s_per_viewer_s"] = (round((r["cpu_s_per_s"] - base) / r["viewers"], 4)
                                   if base is not None and r["viewers"] else 0.0)
    t = Table(title="live fMP4 over WebSocket, one 1080p25 camera (target ≤ 0.005 CPU-s per viewer-second)")
    for col in ("viewers", "service CPU-s/s", "per viewer-second", "camera packets/s", "first frame (max)",
                "messages per viewer (min)"):
        t.add_column(col, justify="right")
    for r in results:
        t.add_row(str(r["viewers"]), f"{r['cpu_s_per_s']:.3f}", f"{r['cpu_s_per_viewer_s']:.4f}",
                  f"{r['camera_packets_per_s']:.1f}", f"{r['first_frame_s_max']:.2f} s",
                  str(r["messages_per_viewer_min"]))
    console.print(t)
    if glass is not None:
        t = Table(title="glass-to-glass in Chromium, 1080p25 main stream (targets: p50 ≤ 300 ms, p99 ≤ 1 s, "
                        "first picture ≤ 1 s)")
        for col in ("frames measured", "width", "delay p50", "delay p99", "least", "first picture"):
            t.add_column(col, justify="right")
        t.add_row(str(glass["frames_measured"]), str(glass["video_width"]), f"{glass['delay_p50_ms']} ms",
                  f"{glass['delay_p99_ms']} ms", f"{glass['delay_min_ms']} ms", f"{glass['first_picture_s']} s")
        console.print(t)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({**describe(), "seconds": args.seconds, "results": results,
                                    "glass_to_glass": glass}, indent=2))
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
