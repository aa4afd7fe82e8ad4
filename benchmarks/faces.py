"""Face benchmark: detection and embedding speed, verification accuracy on the shared photos (clean and
CCTV-like degraded), and 1:N identification latency and recall against exact search for large galleries.

Run: .venv/bin/python benchmarks/faces.py [--sizes 10000 100000 1000000] [--out benchmarks/results/faces.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import sys
import time
from itertools import combinations
from pathlib import Path

import cv2
import faiss
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CLEARWATCH_SHARED", ROOT.parent / "shared"))
FACES = SHARED / "data/faces"
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from clearwatch.faces import FaceEngine, load_image  # noqa: E402
from clearwatch.identity import FaceIndex, main_face  # noqa: E402

console = Console(width=150)


def timed(fn, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def speed(engine: FaceEngine) -> dict[str, float]:
    selfie = load_image(FACES / "photos/selfie-many-people.jpg")
    frame = np.full((1080, 1920, 3), 90, np.uint8)
    frame[200:200 + 600, 600:600 + 600] = cv2.resize(selfie, (600, 600))
    engine.detector.detect(frame)
    det = timed(lambda: engine.detector.detect(frame), 20)
    det_full = timed(lambda: engine.detector.detect(frame, max_side=1920), 5)
    shots = engine.analyse(frame, min_quality=1.1)  # detect + align, no embedding
    aligned = [s.aligned for s in shots]
    engine.embedder.embed(aligned[:1])
    emb = timed(lambda: engine.embedder.embed(aligned), 10)
    return {"faces_in_frame": len(shots), "detect_ms_1080p_downscaled_640": float(np.median(det)),
            "detect_ms_1080p_full": float(np.median(det_full)),
            "embed_ms_per_face": float(np.median(emb)) / len(aligned)}


def degrade(image: np.ndarray, face_height: float, target: int) -> np.ndarray:
    s = target / face_height
    small = cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    _, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 50])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def roc(genuine: np.ndarray, impostor: np.ndarray) -> dict[str, float]:
    out = {}
    imp = np.sort(impostor)[::-1]
    for far in (1e-2, 1e-3):
        k = max(1, int(np.floor(far * len(imp))))
        thr = float(imp[k - 1]) + 1e-6  # at most k impostors at or above: FAR <= far
        out[f"tar_at_far_{far:g}"] = float((genuine >= thr).mean())
        out[f"threshold_at_far_{far:g}"] = thr
    # AUC: the chance a genuine pair scores above an impostor pair
    ranks = np.searchsorted(np.sort(impostor), genuine, side="left")
    out["auc"] = float(ranks.mean() / len(impostor))
    out["genuine_pairs"], out["impostor_pairs"] = len(genuine), len(impostor)
    return out


def accuracy(engine: FaceEngine) -> dict[str, dict[str, float]]:
    with (FACES / "labels.csv").open() as f:
        labels = {r["file"]: r["identity"] for r in csv.DictReader(f)}
    names = sorted(labels)
    images = {n: load_image(FACES / "photos" / n) for n in names}
    clean, heights = {}, {}
    for n in names:
        shot = main_face(engine.analyse(images[n]))
        assert shot is not None and shot.embedding is not None
        clean[n], heights[n] = shot.embedding, float(shot.face.box[3])
    pairs = list(combinations(names, 2))
    same = np.array([labels[a] == labels[b] for a, b in pairs])
    results = {}

    def score(emb_a: dict[str, np.ndarray | None], emb_b: dict[str, np.ndarray | None], name: str) -> None:
        sims = np.array([float(emb_a[a] @ emb_b[b]) if emb_a[a] is not None and emb_b[b] is not None else -1.0
                         for a, b in pairs])
        r = roc(sims[same], sims[~same])
        r["faces_missed"] = sum(v is None for v in emb_a.values())
        results[name] = r

    score(clean, clean, "clean")  # type: ignore[arg-type]
    for px in (40, 28):
        small: dict[str, np.ndarray | None] = {}
        for n in names:
            shot = main_face(engine.analyse(degrade(images[n], heights[n], px)))
            small[n] = shot.embedding if shot is not None else None
        score(small, small, f"degraded_{px}px_both")
        score(small, clean, f"degraded_{px}px_vs_clean_gallery")  # type: ignore[arg-type]
    return results


def gallery(real: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Synthetic templates spread around real ones: a real face direction plus a personal offset."""
    base = real[rng.integers(0, len(real), n)]
    vecs = base + 1.1 * rng.standard_normal((n, real.shape[1]), dtype=np.float32) / np.sqrt(real.shape[1])
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs.astype(np.float32)


def identification(real: np.ndarray, sizes: list[int], queries: int = 1000) -> list[dict[str, float]]:
    rng = np.random.default_rng(0)
    out = []
    for n in sizes:
        console.print(f"  gallery of {n:,}…")
        vecs = gallery(real, n, rng)
        src = rng.integers(0, n, queries)
        # another capture of a gallery person: the template moved by capture noise
        q = vecs[src] + 0.6 * rng.standard_normal((queries, vecs.shape[1]), dtype=np.float32) / np.sqrt(vecs.shape[1])
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        exact = faiss.IndexFlatIP(vecs.shape[1])
        exact.add(vecs)
        _, truth = exact.search(q, 1)
        index = FaceIndex()
        t0 = time.perf_counter()
        index.rebuild(np.arange(n), vecs)
        build = time.perf_counter() - t0
        mem = index.nbytes() / 1e6
        index.search(q[:10], 1)
        lat = []
        hits = 0
        for i in range(queries):
            t = time.perf_counter()
            _, ids = index.search(q[i:i + 1], 1)
            lat.append((time.perf_counter() - t) * 1000)
            hits += int(ids[0, 0] == truth[i, 0])
        out.append({"templates": n, "index": index.kind, "build_s": round(build, 2),
                    "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
                    "recall_at_1_vs_exact": hits / queries, "source_found_at_1": float((truth[:, 0] == src).mean()),
                    "index_mb": round(mem, 1), "bytes_per_template": round(mem * 1e6 / n, 1)})
        if n >= 1_000_000:
            out[-1]["mb_per_million"] = round(mem * 1e6 / n, 1)
        del index, exact, vecs
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/faces.json")
    args = ap.parse_args()
    engine = FaceEngine()
    console.print("speed…")
    sp = speed(engine)
    console.print("accuracy…")
    acc = accuracy(engine)
    real = np.array([main_face(engine.analyse(load_image(p))).embedding  # type: ignore[union-attr]
                     for p in sorted((FACES / "photos").glob("img*.jpg"))], np.float32)
    console.print("identification…")
    ident = identification(real, args.sizes)

    t = Table(title="speed (ms, this machine)")
    for k in sp:
        t.add_column(k, justify="right")
    t.add_row(*(f"{v:.2f}" if isinstance(v, float) else str(v) for v in sp.values()))
    console.print(t)
    t = Table(title="verification: every pair of labels.csv (61 photos, 13 people)")
    for col in ("set", "TAR @ FAR 1e-2", "TAR @ FAR 1e-3", "AUC", "thr @ 1e-2", "thr @ 1e-3", "faces missed"):
        t.add_column(col, justify="right")
    for name, r in acc.items():
        t.add_row(name, f"{r['tar_at_far_0.01']:.3f}", f"{r['tar_at_far_0.001']:.3f}", f"{r['auc']:.4f}",
                  f"{r['threshold_at_far_0.01']:.3f}", f"{r['threshold_at_far_0.001']:.3f}", str(r["faces_missed"]))
    console.print(t)
    t = Table(title="1:N identification, one query at a time")
    for col in ("templates", "index", "build s", "p50 ms", "p99 ms", "recall@1 vs exact", "MB", "bytes/template"):
        t.add_column(col, justify="right")
    for r in ident:
        t.add_row(f"{r['templates']:,}", str(r["index"]), f"{r['build_s']:.1f}", f"{r['p50_ms']:.2f}",
                  f"{r['p99_ms']:.2f}", f"{r['recall_at_1_vs_exact']:.3f}", f"{r['index_mb']:.0f}",
                  f"{r['bytes_per_template']:.0f}")
    console.print(t)
    big = next((r for r in ident if r["templates"] >= 1_000_000), None)
    targets = {
        "1M p50 <= 5 ms": big is not None and big["p50_ms"] <= 5.0,
        "1M recall@1 >= 0.99": big is not None and big["recall_at_1_vs_exact"] >= 0.99,
        "degraded 40 px TAR >= 0.90 at FAR 1e-2": acc["degraded_40px_both"]["tar_at_far_0.01"] >= 0.90,
    }
    for k, ok in targets.items():
        console.print(f"target {k}: " + ("[green]met[/green]" if ok else "[red]not met[/red]"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        **describe(), "faiss_threads": faiss.omp_get_max_threads(),
        "speed": sp, "verification": acc, "identification": ident, "targets": targets,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }, indent=2))
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
