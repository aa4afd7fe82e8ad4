"""Recording benchmark: N concurrent 1080p H.264 RTSP cameras (~4 Mbit/s) recorded for a while.

Prints CPU-seconds per camera-second, peak RSS and dropped packets for each N, and writes JSON.
Run: .venv/bin/python benchmarks/recording.py [--cameras 1 8 32] [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from tests.support.servers import RtspServer, rtsp_available  # noqa: E402

from clearwatch.config import parse_config  # noqa: E402
from clearwatch.media import find_demo_clip, test_pattern, transcode_h264  # noqa: E402
from clearwatch.recording import probe  # noqa: E402
from clearwatch.service import Service  # noqa: E402

FPS = 25
console = Console()


def bench_clip(seconds: float) -> Path:
    clip = ROOT / ".cache" / "bench-media" / f"1080p-25fps-4mbit-{int(seconds)}s.mp4"
    if clip.exists():
        return clip
    src = find_demo_clip(ROOT)
    if src is None:
        src = test_pattern(ROOT / ".cache" / "bench-media" / "pattern.mp4", seconds=20, fps=FPS)
    console.print(f"making {clip.name} from {src.name} (once)…")
    # vtest is 10 fps: re-timed to 25 fps (a typical camera's packet rate), scaled to 1080p
    transcode_h264(src, clip, width=1920, height=1080, gop_seconds=2.0, bitrate=4_000_000, min_seconds=seconds,
                   fps=FPS)
    return clip


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def clip_fps(clip: Path) -> float:
    import av

    with av.open(str(clip)) as c:
        return float(c.streams.video[0].average_rate or FPS)


def run(n: int, seconds: float, clip: Path, work: Path) -> dict[str, float]:
    fps = clip_fps(clip)
    server = RtspServer({f"cam{i}": clip for i in range(n)})
    server.start()
    data = work / f"n{n}"
    cams = "".join(f"  cam{i}:\n    url: {server.url(f'cam{i}')}\n" for i in range(n))
    # recording alone: analytics and the console are measured by their own benchmarks
    cfg = parse_config(f"data_dir: {data}\nstorage: {{min_free: 0}}\ndetect: {{enabled: false}}\n"
                       f"web: {{enabled: false}}\ncameras:\n{cams}")
    svc = Service(cfg)
    svc.start()
    try:
        deadline = time.monotonic() + 60
        units = list(svc.units.values())
        while time.monotonic() < deadline and not all(u.camera.packets > fps for u in units):
            time.sleep(0.2)
        p0 = sum(u.camera.packets for u in units)
        c0, t0 = cpu_seconds(), time.monotonic()
        time.sleep(seconds)
        c1, t1 = cpu_seconds(), time.monotonic()
        p1 = sum(u.camera.packets for u in units)
    finally:
        svc.stop()
        server.stop()
    wall = t1 - t0
    recorded_s, recorded_pkts, expected_pkts = 0.0, 0, 0
    for seg in svc.index.list():
        found = probe(cfg.recordings_dir / seg.path)
        if found:
            recorded_s += found.duration
            recorded_pkts += found.packets
            expected_pkts += round(found.duration * fps)
    received = p1 - p0
    expected_received = n * wall * fps
    return {
        "cameras": n,
        "fps": fps,
        "seconds": round(wall, 1),
        "cpu_s_per_camera_s": (c1 - c0) / (n * wall),
        "cpu_percent_of_core_total": 100 * (c1 - c0) / wall,
        "received_packets": received,
        "expected_packets": round(expected_received),
        "dropped_packets": max(0, round(expected_received - received - n)),  # ±1 frame per camera at the edges
        "recorded_seconds": round(recorded_s, 1),
        "recording_gaps_packets": max(0, expected_pkts - recorded_pkts),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cameras", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "recording.json")
    args = ap.parse_args()
    why = rtsp_available()
    if why:
        console.print(f"[red]cannot run:[/red] {why}")
        return 1
    clip = bench_clip(args.seconds + 15)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.cameras:
            console.print(f"recording {n} camera(s) for {args.seconds:.0f} s…")
            results.append(run(n, args.seconds, clip, Path(tmp)))
    table = Table("cameras", "CPU-s / camera-s", "% of a core (all)", "received", "dropped", "recorded s",
                  "peak RSS MB", title="Recording: 1080p H.264 ~4 Mbit/s over RTSP/TCP, remux only")
    for r in results:
        table.add_row(str(r["cameras"]), f"{r['cpu_s_per_camera_s']:.4f}", f"{r['cpu_percent_of_core_total']:.1f}",
                      str(r["received_packets"]), str(r["dropped_packets"]), str(r["recorded_seconds"]),
                      f"{r['peak_rss_mb']:.0f}")
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({**describe(), "python": platform.python_version(),
                                    "results": results}, indent=2))
    console.print(f"JSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
