"""Alarm detectors benchmark: tampering (covered, moved, defocused, frozen) and left / removed objects.

1. The generated clips (``tests/support/scene_clips.py``: the street clip with a known change at 10 s): for each
   detector, was it reported, as what, and how long after the change (target: within its delay + 2 s).
2. False alarms per camera-hour on ``vtest.avi`` looped for an hour of video (``--hours``), with the street
   watched for left and removed objects and tampering on — the full pipeline with person detection.
3. Extra CPU: the tamper and left / removed stage's CPU against the rest of the analytics on the same frames
   (target: at most 10%).

Run: .venv/bin/python benchmarks/alarms.py [--hours 1] [--out benchmarks/results/alarms.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CLEARWATCH_SHARED", ROOT.parent / "shared"))
os.environ.setdefault("CLEARWATCH_MODELS", str(SHARED / "models"))
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.progress import Progress  # noqa: E402
from rich.table import Table  # noqa: E402
from tests.support.scene_clips import CASES, CHANGE_AT, GRASS_ZONE, scene_clip  # noqa: E402

from clearwatch.analytics import create_detector  # noqa: E402
from clearwatch.analytics.frames import iter_file_frames  # noqa: E402
from clearwatch.analytics.offline import CollectingSink, analyze_file  # noqa: E402
from clearwatch.analytics.pipeline import CameraAnalytics  # noqa: E402
from clearwatch.config import CameraConfig  # noqa: E402

console = Console(width=150)
VTEST = SHARED / "data/video/vtest.avi"
STREET = [(0.0, 0.3), (1.0, 0.3), (1.0, 1.0), (0.0, 1.0)]
DELAY = 10.0  # left / removed delay used on the clips
SCENE_KINDS = ("tamper", "left", "removed")


def _camera(points: list[tuple[float, float]]) -> CameraConfig:
    return CameraConfig.model_validate({"name": "bench", "url": str(VTEST), "loop": False,
                                        "zones": {"watched": {"points": points, "left": DELAY, "removed": DELAY}}})


def generated() -> list[dict[str, object]]:
    detector = create_detector("yolox_nano")
    rows = []
    for case in CASES:
        clip = scene_clip(ROOT / ".cache" / "test-media" / f"scene-{case}.mp4", VTEST, case)
        cam = _camera(GRASS_ZONE)
        sink = CollectingSink()
        analyze_file(clip, cam, detector, sink)
        found = [e for e in sink.ended if e.kind in SCENE_KINDS]
        if case in ("left", "removed"):
            delay = DELAY
            hits = [e for e in found if e.kind == case]
        else:
            delay = cam.tamper.frozen_after if case == "frozen" else cam.tamper.after
            hits = [e for e in found if e.kind == "tamper" and e.data.get("cause") == case]
        t_alarm = round(float(hits[0].data["detected"]) - CHANGE_AT, 2) if hits else None
        rows.append({"case": case, "detected": bool(hits), "reported_as": [e.data.get("cause", e.kind) for e in found],
                     "delay_s": delay, "time_to_alarm_s": t_alarm,
                     "within_delay_plus_2s": t_alarm is not None and t_alarm <= delay + 2.0,
                     "false_reports": len(found) - len(hits)})
    return rows


def looped(hours: float) -> dict[str, object]:
    """The street clip again and again, one camera's analytics fed as if it were live."""
    detector = create_detector("yolox_nano")
    cam = _camera(STREET)
    sink = CollectingSink()
    analytics = CameraAnalytics(cam, detector, sink)
    target = hours * 3600.0
    offset, frames, last = 0.0, 0, 0.0
    cpu0 = time.process_time()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("vtest looped", total=target)
        while offset < target:
            for frame in iter_file_frames(VTEST, "bench", cam.detect.fps, cam.detect.width, offset):
                analytics.process(frame)
                frames += 1
                last = frame.time
            offset = last + 1.0 / cam.detect.fps
            progress.update(task, completed=min(offset, target))
    analytics.finish(last)
    cpu = time.process_time() - cpu0
    false = [e for e in sink.ended if e.kind in SCENE_KINDS]
    times = analytics.times
    own = times.motion + times.detect + times.track + times.rules - times.scene
    return {"video_hours": round(offset / 3600, 3), "frames": frames,
            "false_alarms": len(false), "false_alarms_per_camera_hour": round(len(false) / (offset / 3600), 2),
            "false_kinds": [e.data.get("cause", e.kind) for e in false],
            "objects_seen": sum(1 for e in sink.ended if e.kind == "object"),
            "process_cpu_per_video_second": round(cpu / offset, 4),
            "analytics_cpu_per_video_second": round(own / offset, 4),
            "scene_cpu_per_video_second": round(times.scene / offset, 5),
            "scene_share_of_analytics": round(times.scene / own, 4)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=1.0, help="Video hours of vtest looped (default 1).")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "alarms.json")
    args = ap.parse_args()
    if not VTEST.is_file():
        sys.exit(f"missing {VTEST} (set CLEARWATCH_SHARED)")
    rows = generated()
    t = Table("case", "detected", "reported as", "delay s", "time to alarm s", "≤ delay + 2 s", "false reports",
              title="Generated clips (change at 10 s)")
    for r in rows:
        t.add_row(str(r["case"]), str(r["detected"]), ", ".join(map(str, r["reported_as"])), str(r["delay_s"]),
                  str(r["time_to_alarm_s"]), str(r["within_delay_plus_2s"]), str(r["false_reports"]))
    console.print(t)
    loop = looped(args.hours)
    t = Table("video h", "false alarms", "per camera-hour", "analytics CPU-s/s", "scene CPU-s/s", "scene share",
              "process CPU-s/s", title="vtest.avi looped")
    t.add_row(str(loop["video_hours"]), str(loop["false_alarms"]), str(loop["false_alarms_per_camera_hour"]),
              str(loop["analytics_cpu_per_video_second"]), str(loop["scene_cpu_per_video_second"]),
              f"{float(loop['scene_share_of_analytics']):.1%}", str(loop["process_cpu_per_video_second"]))
    console.print(t)
    ok = all(r["within_delay_plus_2s"] and not r["false_reports"] for r in rows) and loop["false_alarms"] == 0 \
        and float(loop["scene_share_of_analytics"]) <= 0.10
    console.print("targets met" if ok else "[red]targets NOT met[/red]")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                                    "generated": rows, "looped": loop, "targets_met": ok}, indent=2))
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
