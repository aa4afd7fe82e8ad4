"""Fingerprint benchmark on FVC2002 DB1-DB4 (B sets): accuracy with our extractor and with the third-party
ISO templates (matcher alone), extraction and comparison speed, rank-1 identification, 1:N search time.

Run: .venv/bin/python benchmarks/fingerprints.py [--out benchmarks/results/fingerprints.json] [--sizes ...]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CLEARWATCH_SHARED", ROOT.parent / "shared"))
FVC = SHARED / "data/fingerprints/fvc2002"
DPI = {"DB1_B": 500.0, "DB2_B": 569.0, "DB3_B": 500.0, "DB4_B": 500.0}  # from the FVC2002 report

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from clearwatch.fingerprints import Template, extract, load_fingerprint, prepare, score  # noqa: E402

console = Console(width=160)
FINGERS = range(101, 111)
IMPRESSIONS = range(1, 9)


def load_db(db: str, iso: bool) -> tuple[dict[tuple[int, int], object], float]:
    out, t_ext = {}, 0.0
    for f in FINGERS:
        for i in IMPRESSIONS:
            if iso:
                out[(f, i)] = prepare(Template.from_iso((FVC / db / f"{f}_{i}.iso").read_bytes()))
            else:
                img, _ = load_fingerprint(FVC / db / f"{f}_{i}.tif")
                t = time.perf_counter()
                tpl = extract(img, DPI[db])
                t_ext += time.perf_counter() - t
                out[(f, i)] = prepare(tpl)  # type: ignore[arg-type]
    return out, t_ext / (len(FINGERS) * len(IMPRESSIONS)) * 1000


def scores(T: dict[tuple[int, int], object]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    genuine = np.array([score(T[(f, i)], T[(f, j)]) for f in FINGERS  # type: ignore[arg-type]
                        for i, j in itertools.combinations(IMPRESSIONS, 2)])
    impostor_fvc = np.array([score(T[(f, 1)], T[(g, 1)]) for f, g in itertools.combinations(FINGERS, 2)])  # type: ignore[arg-type]
    t = time.perf_counter()
    impostor_all = np.array([score(T[(f, i)], T[(g, j)]) for f, g in itertools.combinations(FINGERS, 2)  # type: ignore[arg-type]
                             for i in IMPRESSIONS for j in IMPRESSIONS])
    rate = len(impostor_all) / (time.perf_counter() - t)
    return genuine, impostor_fvc, impostor_all, rate


def eer(gen: np.ndarray, imp: np.ndarray) -> float:
    thresholds = np.unique(np.concatenate([gen, imp]))
    frr = np.array([(gen < t).mean() for t in thresholds])
    far = np.array([(imp >= t).mean() for t in thresholds])
    k = int(np.argmin(np.abs(frr - far)))
    return float((frr[k] + far[k]) / 2)


def fnmr_at(gen: np.ndarray, imp: np.ndarray, fmr: float) -> float:
    """FNMR at the lowest threshold whose FMR is at most ``fmr``."""
    for t in np.sort(np.unique(np.concatenate([gen, imp, [np.inf]]))):
        if (imp >= t).mean() <= fmr:
            return float((gen < t).mean())
    return 1.0


def rank1(T: dict[tuple[int, int], object]) -> float:
    gallery = {f: T[(f, 1)] for f in FINGERS}
    hits = n = 0
    for f in FINGERS:
        for i in IMPRESSIONS:
            if i == 1:
                continue
            best = max(FINGERS, key=lambda g: score(T[(f, i)], gallery[g]))  # type: ignore[arg-type]
            hits += best == f
            n += 1
    return hits / n


def db_report(db: str, iso: bool) -> dict[str, float]:
    T, ext_ms = load_db(db, iso)
    gen, imp_fvc, imp_all, rate = scores(T)
    return {
        "eer_fvc": eer(gen, imp_fvc), "eer_all": eer(gen, imp_all), "fmr100": fnmr_at(gen, imp_all, 0.01),
        "fmr1000": fnmr_at(gen, imp_all, 0.001), "zero_fmr": fnmr_at(gen, imp_all, 0.0),
        "extract_ms": ext_ms, "comparisons_per_s": rate, "rank1": rank1(T),
        "genuine_over_median_impostor": float((gen > np.median(imp_all)).mean()),
        "impostor_scores": imp_all.tolist(), "genuine_scores": gen.tolist(),
    }


def one_to_n(sizes: list[int]) -> list[dict[str, float]]:
    from clearwatch.identity.fingers import SHORTLIST, _signature

    base = [prepare(Template.from_iso(p.read_bytes())) for p in sorted(FVC.glob("DB*_B/*.iso"))]
    rng = np.random.default_rng(0)
    out = []
    for n in sizes:
        gallery = [base[int(i)] for i in rng.integers(0, len(base), n)]
        sigs = np.array([_signature(p) for p in gallery], np.float32)
        probe = base[7]
        t = time.perf_counter()
        reps = 3
        for _ in range(reps):
            near = np.argsort(-(sigs @ _signature(probe)))[:SHORTLIST]
            for i in near:
                score(probe, gallery[i])
        out.append({"gallery": n, "seconds_per_search": (time.perf_counter() - t) / reps, "shortlist": SHORTLIST})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/fingerprints.json")
    args = ap.parse_args()
    report: dict[str, object] = {"machine": platform.platform(), "cpus": os.cpu_count()}
    for iso in (False, True):
        key = "iso_templates" if iso else "images"
        report[key] = {}
        for db in DPI:
            console.print(f"{db} ({key})…")
            report[key][db] = db_report(db, iso)  # type: ignore[index]
    report["one_to_n"] = one_to_n(args.sizes)
    imp = np.concatenate([np.array(report["images"][db]["impostor_scores"]) for db in DPI])  # type: ignore[index]
    report["thresholds"] = {"1e-3": float(np.quantile(imp, 0.999)), "1e-4": float(imp.max())}
    titles = (("images", "our extractor + matcher"), ("iso_templates", "third-party ISO templates, our matcher"))
    for key, title in titles:
        t = Table(title=f"FVC2002 B sets — {title}")
        for col in ("DB", "EER FVC", "EER all", "FMR100", "FMR1000", "ZeroFMR", "rank-1", "extract ms", "cmp/s"):
            t.add_column(col, justify="right")
        for db in DPI:
            r = report[key][db]  # type: ignore[index]
            t.add_row(db, *(f"{100 * r[k]:.1f}%" for k in ("eer_fvc", "eer_all", "fmr100", "fmr1000", "zero_fmr",
                                                             "rank1")), f"{r['extract_ms']:.0f}",
                      f"{r['comparisons_per_s']:.0f}")
        mean = np.mean([report[key][db]["eer_all"] for db in DPI])  # type: ignore[index]
        console.print(t)
        console.print(f"mean all-pairs EER: {100 * mean:.2f}%")
    for r in report["one_to_n"]:  # type: ignore[attr-defined]
        console.print(f"1:N over {r['gallery']:,} templates: {r['seconds_per_search'] * 1000:.0f} ms per search")
    for key in ("images", "iso_templates"):
        for db in DPI:
            for k in ("impostor_scores", "genuine_scores"):
                report[key][db].pop(k)  # type: ignore[index]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
