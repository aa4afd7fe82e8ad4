"""Licence-plate benchmark: accuracy on the shared photos and on the generated road clip (vehicle tracks and a
dedicated entrance camera), CPU per plate attempt and per recognition, and the extra CPU a camera with traffic
pays for plates. Prints a table and writes JSON.
Run: .venv/bin/python benchmarks/plates.py [--out benchmarks/results/plates.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("CLEARWATCH_SHARED", ROOT.parent / "shared"))
os.environ.setdefault("CLEARWATCH_MODELS", str(SHARED / "models"))

import numpy as np  # noqa: E402
from tests.support.road_clip import PASSES, road_clip  # noqa: E402

from clearwatch.analytics import create_detector  # noqa: E402
from clearwatch.analytics.offline import CollectingSink, analyze_file  # noqa: E402
from clearwatch.config import parse_config  # noqa: E402
from clearwatch.faces.images import load_image  # noqa: E402
from clearwatch.plates.ocr import rectify  # noqa: E402
from clearwatch.plates.reader import READS, PlateReader  # noqa: E402
from clearwatch.plates.watch import PlateWatcher  # noqa: E402

PHOTOS = {"car_ab123cd.jpg": "AB123CD", "plate_ad799kb.png": "AD799KB", "plate_krw301.png": "KRW301",
          "car_vanity_plate.webp": None}


def cpu_ms(fn, repeat: int = 10) -> float:
    fn()
    t0 = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - t0) / repeat * 1000


def photos(reader: PlateReader) -> dict[str, object]:
    rows, right = [], 0
    for name, want in PHOTOS.items():
        image = load_image(SHARED / "data/plates" / name, name)
        got = [p.text for p in reader.read(image)]
        ok = got == ([want] if want else [])
        right += ok
        rows.append({"file": name, "expected": want, "read": got, "right": ok,
                     "cpu_ms": round(cpu_ms(lambda image=image: reader.read(image), 5), 1)})
    return {"images": rows, "accuracy": right / len(PHOTOS)}


def per_attempt(reader: PlateReader) -> dict[str, float]:
    car = load_image(SHARED / "data/plates/car_ab123cd.jpg")
    (box,) = reader.lines(car)[:1] or [None]
    out = {"attempt_ms": cpu_ms(lambda: reader.read(car, first=True)),
           "all_lines_ms": cpu_ms(lambda: reader.read(car)), "detect_ms": cpu_ms(lambda: reader.detector.find(car))}
    if box is not None:
        kind, stretch = READS[0]
        line = rectify(car, box.quad, stretch)
        out["recognise_one_ms"] = cpu_ms(lambda: reader.readers[kind].read(line), 20)
        out["recognise_line_ms"] = cpu_ms(lambda: reader.read_line(car, box), 10)
    return {k: round(v, 1) for k, v in out.items()}


def clip_run(clip: Path, work: Path, plates: bool, dedicated: bool, detector: object) -> dict[str, object]:
    extra = "plates: {line: gate, dedicated: true}" if dedicated else "plates: {line: gate}"
    cfg = parse_config(f"data_dir: {work}\ndetect: {{fps: 5, width: 1280}}\n"
                       f"plates: {{enabled: {str(plates).lower()}}}\n"
                       f"cameras:\n  road:\n    url: {clip}\n"
                       "    lines: {gate: {points: [[0.5, 0.0], [0.5, 1.0]]}}\n"
                       f"    {extra}\n")
    cam = cfg.cameras["road"]
    t0 = time.process_time()
    watcher = PlateWatcher(cam.plates, PlateReader(cam.plates.format_specs()), lost_after=cam.objects.lost_after) \
        if plates else None
    load = time.process_time() - t0
    sink = CollectingSink()
    r = analyze_file(clip, cam, None if dedicated else detector, sink, plates=watcher)
    reads = [e for e in sink.ended if e.kind == "plate"]
    return {"cpu_seconds": r.cpu_seconds, "video_seconds": r.video_seconds, "model_load_cpu_s": round(load, 2),
            "reads": reads, "attempts": watcher.attempts if watcher else 0}


def score(reads: list, dedicated: bool) -> dict[str, object]:
    want = {}
    for p in PASSES:
        want.setdefault(p.plate, p)
    got = {e.label: e for e in reads}
    exact = sum(1 for t in want if t in got)
    chars = total = 0
    for text in want:
        best = max((e.label for e in reads), key=lambda g: sum(a == b for a, b in zip(g, text, strict=False)),
                   default="")
        chars += sum(a == b for a, b in zip(best, text, strict=False))
        total += len(text)
    directions = sum(1 for t, e in got.items() if t in want and
                     e.data["direction"] == ("out" if want[t].leftwards else "in"))
    return {"vehicles": len(want), "exactly_right": exact, "plate_accuracy": exact / len(want),
            "char_accuracy": round(chars / total, 4), "false_reads": len([e for e in reads if e.label not in want]),
            "directions_right": directions, "reads_per_vehicle": round(np.mean([e.data["reads"] for e in reads]), 2)
            if reads else 0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/plates.json")
    args = ap.parse_args()
    reader = PlateReader()
    out: dict[str, object] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                          "processor": platform.processor() or platform.machine()}}
    out["photos"] = photos(reader)
    out["cost"] = per_attempt(reader)
    clip = road_clip(ROOT / ".cache" / "test-media" / "road-plates.mp4", SHARED / "data/plates")
    detector = create_detector("yolox_nano")
    with tempfile.TemporaryDirectory() as tmp:
        base = clip_run(clip, Path(tmp) / "a", False, False, detector)
        runs = {}
        for name, dedicated in (("vehicle tracks", False), ("dedicated entrance camera", True)):
            r = clip_run(clip, Path(tmp) / name.replace(" ", "-"), True, dedicated, detector)
            secs = float(r["video_seconds"])
            plain = float(base["cpu_seconds"]) if not dedicated else 0.0
            extra = float(r["cpu_seconds"]) - plain
            runs[name] = {**score(r["reads"], dedicated), "attempts": r["attempts"],
                          "cpu_per_video_second": round(float(r["cpu_seconds"]) / secs, 4),
                          "extra_cpu_per_video_second": round(extra / secs, 4),
                          "cpu_ms_per_attempt": round(extra * 1000 / max(1, int(r["attempts"])), 1),
                          "model_load_cpu_s": r["model_load_cpu_s"]}
        out["clip"] = {"seconds": round(float(base["video_seconds"]), 1),
                       "vehicles_per_minute": round(len({p.plate for p in PASSES}) * 60
                                                    / float(base["video_seconds"]), 1),
                       "without_plates_cpu_per_video_second": round(
                           float(base["cpu_seconds"]) / float(base["video_seconds"]), 4),
                       "runs": runs}
    ph = out["photos"]
    print(f"shared photos: {ph['accuracy']:.0%} exactly right "
          + ", ".join(f"{r['file']} → {r['read'] or 'none'} ({r['cpu_ms']} ms)" for r in ph["images"]))
    print("cost (CPU ms): " + ", ".join(f"{k} {v}" for k, v in out["cost"].items()))
    c = out["clip"]
    print(f"road clip: {c['seconds']} s, {c['vehicles_per_minute']} vehicles/min, without plates "
          f"{c['without_plates_cpu_per_video_second']} CPU-s/video-s")
    print(f"{'mode':<28}{'exact':>7}{'chars':>8}{'dir ok':>8}{'false':>7}{'reads/veh':>11}{'ms/attempt':>12}"
          f"{'extra CPU-s/s':>15}")
    for name, r in c["runs"].items():
        print(f"{name:<28}{r['plate_accuracy']:>7.0%}{r['char_accuracy']:>8.1%}{r['directions_right']:>8}"
              f"{r['false_reads']:>7}{r['reads_per_vehicle']:>11}{r['cpu_ms_per_attempt']:>12}"
              f"{r['extra_cpu_per_video_second']:>15}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, default=str))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
