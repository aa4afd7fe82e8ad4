"""Live video benchmark: one 1080p25 H.264 RTSP camera, recorded, watched over the fMP4 WebSocket by 0, 1, 4 and
16 viewers at once.

For each count: the service's CPU-seconds per viewer-second (above the same camera with no viewer: the muxer, the
fan-out and the sockets — no decoding, no encoding), the camera's packet rate while they watch (the recorder's
input: it must not drop), the time from opening the socket to the first whole frame (init segment + keyframe), and
the messages each viewer received (a frame each, or the frames that piled up).
The viewers run in another process, so their CPU is not counted.
Not measured here: glass-to-glass delay in Chromium (tests/test_live_video.py checks that the camera page plays at
the live edge, under a second behind what has arrived).
Run: .venv/bin/python benchmarks/live.py [--viewers 0 1 4 16] [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

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
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "live.json")
    ap.add_argument("--client", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        client(int(args.client[0]), float(args.client[1]), args.client[2], args.client[3])
        return 0

    from benchmarks.recording import bench_clip
    from tests.support.servers import RtspServer, rtsp_available

    from clearwatch.config import parse_config
    from clearwatch.governance import Users
    from clearwatch.service import Service

    why = rtsp_available()
    if why:
        console.print(f"[red]{why}")
        return 1
    clip = bench_clip(max(60.0, 10 + args.seconds * len(args.viewers) + 30))  # the RTSP server plays it once
    server = RtspServer({"gate": clip})
    server.start()
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="cw-bench-live-") as tmp:
            cfg = parse_config(f"data_dir: {tmp}\nstorage: {{min_free: 0}}\nweb: {{port: 0}}\ncameras:\n"
                               f"  gate:\n    url: '{server.url('gate')}'\n    detect: {{enabled: false}}\n")
            svc = Service(cfg)
            svc.start()
            try:
                user, _ = Users(svc.db).create("bench", "operator", None, None)
                token = Users(svc.db).create_token(user, "bench")
                url = f"ws://127.0.0.1:{svc.web_port}/api/cameras/gate/live.ws"
                time.sleep(5)  # connected, first segment open
                for n in args.viewers:
                    console.print(f"{n} viewer(s) for {args.seconds:.0f} s")
                    results.append(run(n, args.seconds, svc, url, token))
            finally:
                svc.stop()
    finally:
        server.stop()
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
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": platform.platform(), "seconds": args.seconds, "results": results},
                                   indent=2))
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
