"""Analytics benchmark on vtest.avi at 5 fps detect: the detector on every whole frame (a) against
Clearwatch's motion-gated pipeline (b).

Reports CPU-seconds per video-second (whole process: decode, motion, detection, tracking, rules), the
detector's share, model input pixels, peak RSS (each mode in its own process), and the person-track recall
of (b) against (a). Writes JSON.
Run: .venv/bin/python benchmarks/pipeline.py [--fps 5] [--out benchmarks/results/pipeline.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CLEARWATCH_SHARED", ROOT.parent / "shared"))
os.environ.setdefault("CLEARWATCH_MODELS", str(SHARED / "models"))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from clearwatch.analytics import create_detector  # noqa: E402
from clearwatch.analytics.offline import CollectingSink, analyze_file  # noqa: E402
from clearwatch.config import CameraConfig  # noqa: E402
from clearwatch.config.analytics import DetectConfig, ObjectsConfig  # noqa: E402

console = Console(width=150)
MODES = {"a": "detector on every whole frame", "b": "motion-gated (Clearwatch default)"}
MATCH_DT = 0.3  # s: path points compared at about the same time
MATCH_DIST = 0.05  # fraction of the frame: how close two tracks must run to be the same person
MATCH_COVER = 0.5  # share of a reference track's path another track must follow


def run_mode(mode: str, clip: Path, fps: float) -> dict[str, object]:
    detector = create_detector("yolox_nano")
    camera = CameraConfig(name="vtest", url=str(clip), detect=DetectConfig(fps=fps),
                          objects=ObjectsConfig(motion_gated=(mode == "b")))
    sink = CollectingSink()
    r = analyze_file(clip, camera, detector, sink)
    assert r.analytics.finder is not None
    st = r.analytics.finder.stats
    people = [e for e in sink.ended if e.label == "person" and e.kind == "object"]
    return {
        "mode": mode, "what": MODES[mode], "video_seconds": round(r.video_seconds, 2), "frames": r.frames,
        "cpu_seconds": round(r.cpu_seconds, 3), "cpu_per_video_second": round(r.cpu_per_video_second, 4),
        "detect_cpu_per_video_second": round(r.times.detect / r.video_seconds, 4),
        "stage_seconds": {k: round(getattr(r.times, k), 3) for k in ("motion", "detect", "track", "rules")},
        "full_passes": st.full_passes, "crop_passes": st.crop_passes, "skipped_frames": st.skipped,
        "model_pixels_per_frame": int(st.pixels / max(1, r.frames)),
        "peak_rss_mb": round(r.peak_rss_mb, 1), "events": len(sink.ended), "person_tracks": len(people),
        "paths": [[list(p) for p in e.path] for e in people],
    }


def covered(ref: list[list[float]], other: list[list[float]]) -> np.ndarray:
    """For each point of ``ref``, is there a point of ``other`` at about the same time and place."""
    a, b = np.array(ref), np.array(other)
    if len(b) == 0:
        return np.zeros(len(a), bool)
    near_t = np.abs(a[:, None, 0] - b[None, :, 0]) <= MATCH_DT
    near_xy = np.hypot(a[:, None, 1] - b[None, :, 1], a[:, None, 2] - b[None, :, 2]) <= MATCH_DIST
    return (near_t & near_xy).any(1)


def recall(reference: list[list[list[float]]], candidate: list[list[list[float]]]) -> float:
    """Share of reference tracks that some candidate track (or tracks, after an id switch) follows."""
    if not reference:
        return 1.0
    found = 0
    for ref in reference:
        if not ref:
            continue
        hit = np.zeros(len(ref), bool)
        for cand in candidate:
            hit |= covered(ref, cand)
        found += bool(hit.mean() >= MATCH_COVER)
    return found / len(reference)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--fps", type=float, default=5.0)
    ap.add_argument("--clip", type=Path, default=SHARED / "data/video/vtest.avi")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/pipeline.json")
    ap.add_argument("--mode", choices=list(MODES), help=argparse.SUPPRESS)  # child process
    args = ap.parse_args()
    if args.mode:
        print(json.dumps(run_mode(args.mode, args.clip, args.fps)))
        return
    if not args.clip.is_file():
        sys.exit(f"clip not found: {args.clip} (set CLEARWATCH_SHARED)")
    results = {}
    for mode in MODES:
        console.print(f"running ({mode}) {MODES[mode]}…")
        out = subprocess.run([sys.executable, __file__, "--mode", mode, "--fps", str(args.fps), "--clip",
                              str(args.clip)], capture_output=True, text=True, check=True)
        results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    r_b = recall(results["a"]["paths"], results["b"]["paths"])
    r_a = recall(results["b"]["paths"], results["a"]["paths"])
    table = Table(title=f"{args.clip.name} at {args.fps:g} fps detect, YOLOX-nano 416, 1 thread")
    for col in ("mode", "CPU-s / video-s", "detector CPU-s / video-s", "whole-frame passes", "crop passes",
                "model px / frame", "person tracks", "peak RSS MB"):
        table.add_column(col, justify="right")
    for mode, r in results.items():
        table.add_row(f"({mode}) {r['what']}", f"{r['cpu_per_video_second']:.4f}",
                      f"{r['detect_cpu_per_video_second']:.4f}", str(r["full_passes"]), str(r["crop_passes"]),
                      f"{r['model_pixels_per_frame']:,}", str(r["person_tracks"]), f"{r['peak_rss_mb']:.0f}")
    console.print(table)
    console.print(f"person-track recall of (b) against (a): {r_b:.3f}  (and of (a) against (b): {r_a:.3f})")
    target_cpu, target_recall = 0.10, 0.95
    ok = bool(results["b"]["cpu_per_video_second"] <= target_cpu and r_b >= target_recall)
    console.print(f"target (b) ≤ {target_cpu} CPU-s per video-second with recall ≥ {target_recall}: "
                  + ("[green]met[/green]" if ok else "[red]not met[/red]"))
    for r in results.values():
        r.pop("paths")
    report = {
        "clip": str(args.clip.name), "detect_fps": args.fps, "machine": platform.platform(),
        "cpus": os.cpu_count(), "python": platform.python_version(), "results": results,
        "recall_b_vs_a": round(r_b, 4), "recall_a_vs_b": round(r_a, 4),
        "match": {"dt": MATCH_DT, "distance": MATCH_DIST, "cover": MATCH_COVER},
        "targets": {"cpu_per_video_second": target_cpu, "recall": target_recall}, "met": ok,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
