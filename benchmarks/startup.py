"""Start-up benchmark: how long the CLI takes before it does anything, against a bare Python.

Wall time (median of N runs, each a fresh process) of `python -c pass`, `clearwatch --help`,
`clearwatch config check FILE` and `clearwatch faces compare A B`; the ratio to bare Python; and what each
imports (modules loaded, heavy libraries among them). Writes JSON.
Run: .venv/bin/python benchmarks/startup.py [--runs 10] [--out benchmarks/results/startup.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CLEARWATCH_SHARED", ROOT.parent / "shared"))
CLI = [sys.executable, "-m", "clearwatch"]
HEAVY = ("cv2", "onnxruntime", "faiss", "numba", "skimage", "supervision", "fastapi", "av", "sqlalchemy", "numpy")
TARGETS = {"--help": 5.0, "config check": 8.0}  # times bare Python
CONFIG = """\
detect: {fps: 5}
objects: {min_score: 0.4, filters: {person: {min_score: 0.5}}}
cameras:
  gate:
    url: rtsp://camera.invalid/stream
    record: {mode: events, post_roll: 20}
    zones: {door: {points: [[0, 0], [0.5, 0], [0.5, 1], [0, 1]], loiter: 30s}}
    lines: {path: {points: [[0.5, 0], [0.5, 1]]}}
  yard:
    url: rtsp://camera.invalid/yard
    machines: {press: {points: [[0.1, 0.1], [0.4, 0.1], [0.4, 0.5]]}}
"""
MODULES = "import atexit, sys, json; atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))"


def timed(cmd: list[str], runs: int) -> dict[str, object]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {r.stderr.strip()[-500:]}")
    return {"median_ms": round(statistics.median(times) * 1000, 1), "min_ms": round(min(times) * 1000, 1)}


def imported(args: list[str]) -> list[str]:
    code = f"{MODULES}\nimport sys\nsys.argv = ['clearwatch', *{args!r}]\nfrom clearwatch.cli import main\nmain()"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return json.loads(r.stderr.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/startup.json")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cw-startup-"))
    cfg = work / "clearwatch.yaml"
    cfg.write_text(CONFIG)
    faces = sorted((SHARED / "data/faces").rglob("*.jpg"))[:2]
    cases: dict[str, list[str]] = {"--help": ["--help"], "config check": ["config", "check", str(cfg)]}
    if len(faces) == 2:
        cases["faces compare"] = ["faces", "compare", str(faces[0]), str(faces[1]), "--data", str(work / "data")]
    bare = timed([sys.executable, "-c", "pass"], args.runs)
    # what any typer CLI pays before its own code runs, and what validating a pydantic config costs at least
    floors = {"import typer, rich": timed([sys.executable, "-c", "import typer, rich.console"], args.runs),
              "import the config schema": timed([sys.executable, "-c", "import clearwatch.config.models"],
                                                args.runs)}
    rows = []
    for name, argv in cases.items():
        t = timed([*CLI, *argv], args.runs)
        mods = imported(argv)
        ratio = round(float(t["median_ms"]) / float(bare["median_ms"]), 1)  # type: ignore[arg-type]
        rows.append({"command": f"clearwatch {name}", **t, "times_bare_python": ratio,
                     "target_times": TARGETS.get(name), "met": ratio <= TARGETS[name] if name in TARGETS else None,
                     "modules": len(mods), "heavy_loaded": [h for h in HEAVY if h in mods]})
    print(f"bare python: {bare['median_ms']} ms (median of {args.runs})")
    for name, t in floors.items():
        ratio = round(float(t["median_ms"]) / float(bare["median_ms"]), 1)  # type: ignore[arg-type]
        print(f"  {name}: {t['median_ms']} ms ({ratio}× bare)")
    print(f"{'command':<28}{'median ms':>10}{'× bare':>8}{'target':>8}{'modules':>9}  heavy libraries loaded")
    for r in rows:
        target = f"≤{r['target_times']}" if r["target_times"] else "-"
        print(f"{r['command']:<28}{r['median_ms']:>10}{r['times_bare_python']:>8}{target:>8}{r['modules']:>9}  "
              f"{', '.join(r['heavy_loaded']) or '-'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                                "processor": platform.processor() or platform.machine()},
                                    "runs": args.runs, "bare_python": bare, "floors": floors,
                                    "commands": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
