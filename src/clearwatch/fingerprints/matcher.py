"""Minutiae matching, rotation- and translation-invariant, compiled with numba.

1. Local structures: each minutia with its K nearest neighbours, each edge described by its length, the
   edge's direction and the neighbour's direction relative to the minutia (unchanged by rotating or moving
   the finger).
2. Root pairs: the probe's edges are hashed once (into every bin within tolerance); each candidate edge
   looks up one bin, and a probe/candidate minutia pair's vote is how many of the probe minutia's edges
   found a match. The best-voted pairs are the roots.
3. Consolidation: for each root, align the whole probe on the candidate, pair minutiae that then coincide
   (position and direction) one-to-one, cheapest first, and score the pairing against how many minutiae
   each side has where the two prints overlap. The best root wins.

1:N search is a cascade over a packed gallery, split across threads (the kernels release the GIL): every
template is scored with only the PREFILTER_ROOTS best roots (a third of the cost of a full comparison, and
it ranks the mate in the top 1% for ~98% of accepted genuine pairs on FVC2002), then the short list with
all ROOTS.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import numba
import numpy as np

from clearwatch.fingerprints.template import Template

K = 8  # neighbours per local structure
ROOTS = 16
# position tolerance after alignment, px at 500 dpi: grows with the distance from the root pair because
# skin stretches (the elastic distortion of FVC2002 DB3/DB4 is what a fixed 12 px lost)
DIST_TOL, DIST_TOL_GROWTH, DIST_TOL_MAX = 7.0, 0.05, 30.0
MARGIN = 12.0  # px around a print's minutiae counted as its area
X_BUCKET = 8.0  # px: the candidate's x index for pairing
ANGLE_TOL = float(np.deg2rad(20))
EDGE_ANGLE_TOL = float(np.deg2rad(15))
EDGE_LEN_TOL = (3.0, 0.10)  # absolute px + share of the length
MIN_OVERLAP = 12  # minutiae: small overlaps are not allowed to look like perfect matches
SUPPORT = 16  # paired minutiae below this count are discounted: a few chance pairs are common
PREFILTER_ROOTS = 2
SHORTLIST = (200, 0.01)  # at least this many, or this share of the gallery, get the full comparison
UNSUPPORTED = 0.7  # weight of a pair whose neighbourhoods share no edge: chance coincidences look like that
MAX_MINUTIAE = 255  # per template (the best by quality): more is never a real finger; sizes the 1:N scratch
assert K <= 8, "a minutia's matched edges are a uint8 bit set, and hash entries pack the slot in 3 bits"

# no Python error model (zero-division checks) in the hot loops; no fast-math on infinities or NaN
F = TypeVar("F", bound=Callable[..., Any])
_JIT_OPTIONS: dict[str, Any] = {"nogil": True, "error_model": "numpy", "fastmath": {"nsz", "arcp", "contract", "afn"}}


def _jit(fn: F) -> F:
    """Compiled, and cached on disk where numba finds a writable place (beside this file, the user's cache,
    or $NUMBA_CACHE_DIR); where it finds none (a read-only install, no home) numba refuses cache=True at
    import, so compile at each start instead."""
    try:
        return cast(F, numba.njit(cache=True, **_JIT_OPTIONS)(fn))
    except RuntimeError:
        return cast(F, numba.njit(cache=False, **_JIT_OPTIONS)(fn))

# probe edge hash: length bins × edge-direction bins × neighbour-direction bins
LEN_BIN, LEN_BINS = 4.0, 48
ANG_BINS = 32
TWO_PI = float(2 * np.pi)
_POPCOUNT = np.array([bin(v).count("1") for v in range(256)], np.int32)
# edges are stored as int16 (half the memory of a 1:N gallery): 1/32 px up to 1023 px, angles in π/32767
LEN_SCALE, ANG_SCALE = 32.0, 32767.0 / np.pi


@dataclass(eq=False)
class Prepared:
    xy: np.ndarray  # (N, 2) float32, 500 dpi pixels, y up
    angle: np.ndarray  # (N,) float32
    edges: np.ndarray  # (N, K, 3) int16, fixed point (EDGE_SCALE): length (-1: no such neighbour), edge
    # direction − minutia direction, neighbour direction − minutia direction
    _probe: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.angle)

    def probe_side(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What a probe needs, built the first time this template is one: the edge hash (starts, entries)
        and each minutia pair's position tolerance (it grows with their distance, for skin stretch)."""
        if self._probe is None:
            starts, entries = _build_table(self.edges)
            d = np.hypot(*(self.xy[:, None, :] - self.xy[None, :, :]).transpose(2, 0, 1))
            tol = np.minimum(DIST_TOL + DIST_TOL_GROWTH * d, DIST_TOL_MAX).astype(np.float32)
            self._probe = (starts, entries, tol)
        return self._probe


def _wrap(a: np.ndarray) -> np.ndarray:
    return (a + np.pi) % (2 * np.pi) - np.pi


def prepare(t: Template) -> Prepared:
    t = t.scaled_to(500.0)
    n = min(len(t), MAX_MINUTIAE)
    keep = np.argsort(-t.quality.astype(np.int32), kind="stable")[:n]  # the best ones, if there are too many
    keep = keep[np.argsort(t.x[keep], kind="stable")]  # sorted by x, so consolidation can search by x
    xy = np.stack([t.x[keep], -t.y[keep]], 1).astype(np.float32)  # y up, so angles are counter-clockwise
    a = t.angle[keep].astype(np.float32)
    edges = np.zeros((n, K, 3), np.float32)
    edges[..., 0] = -1.0 / LEN_SCALE
    if n > 1:
        d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
        np.fill_diagonal(d, np.inf)
        k = min(K, n - 1)
        near = np.argsort(d, 1)[:, :k]
        rows = np.arange(n)[:, None]
        vec = xy[near] - xy[:, None, :]
        edges[:, :k, 0] = d[rows, near]
        edges[:, :k, 1] = _wrap(np.arctan2(vec[..., 1], vec[..., 0]) - a[:, None])
        edges[:, :k, 2] = _wrap(a[near] - a[:, None])
    scale = np.array([LEN_SCALE, ANG_SCALE, ANG_SCALE], np.float32)
    fixed = np.clip(np.round(edges * scale), -32767, 32767).astype(np.int16)
    return Prepared(xy, a, fixed)


# compiled kernels ------------------------------------------------------------------------------------

@_jit
def _ang_bin(a: float) -> int:
    """The bin of an angle in [-2π, 2π)."""
    b = int((a + 3 * np.pi) * (ANG_BINS / TWO_PI)) - ANG_BINS  # truncation is floor for positive numbers
    if b < 0:
        b += ANG_BINS
    elif b >= ANG_BINS:
        b -= ANG_BINS
    return b


@_jit
def _edge(edges, i: int, s: int) -> tuple[float, float, float]:
    return (edges[i, s, 0] * (1.0 / LEN_SCALE), edges[i, s, 1] * (1.0 / ANG_SCALE),
            edges[i, s, 2] * (1.0 / ANG_SCALE))


@_jit
def _table_pass(edges, counts, table, fill, write) -> None:
    for i in range(edges.shape[0]):
        for s in range(K):
            if edges[i, s, 0] < 0:
                break
            ln, a1, a2 = _edge(edges, i, s)
            tol = EDGE_LEN_TOL[0] + EDGE_LEN_TOL[1] * ln
            l0 = max(int((ln - tol) / LEN_BIN), 0)
            l1 = min(int((ln + tol) / LEN_BIN), LEN_BINS - 1)
            b10, b11 = _ang_bin(a1 - EDGE_ANGLE_TOL), _ang_bin(a1 + EDGE_ANGLE_TOL)
            b20, b21 = _ang_bin(a2 - EDGE_ANGLE_TOL), _ang_bin(a2 + EDGE_ANGLE_TOL)
            for lb in range(l0, l1 + 1):
                b1 = b10
                while True:
                    b2 = b20
                    while True:
                        key = (lb * ANG_BINS + b1) * ANG_BINS + b2
                        if write:
                            f = fill[key]
                            table[f, 0] = i * 8 + s
                            table[f, 1], table[f, 2], table[f, 3] = ln, a1, a2
                            fill[key] += 1
                        else:
                            counts[key + 1] += 1
                        if b2 == b21:
                            break
                        b2 = (b2 + 1) % ANG_BINS
                    if b1 == b11:
                        break
                    b1 = (b1 + 1) % ANG_BINS


@_jit
def _build_table(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR hash of the probe's edges, each put in every bin its tolerance reaches, so a candidate edge needs
    only its own bin. Entries carry the edge itself (minutia * 8 + slot, length, directions) so checking
    them reads memory in order."""
    nbins = LEN_BINS * ANG_BINS * ANG_BINS
    counts = np.zeros(nbins + 1, np.int32)
    table = np.empty((0, 4), np.float32)
    _table_pass(edges, counts, table, counts, False)
    for b in range(nbins):
        counts[b + 1] += counts[b]
    table = np.empty((counts[nbins], 4), np.float32)
    fill = counts[:nbins].copy()
    _table_pass(edges, counts, table, fill, True)
    return counts, table


@_jit
def _wrap1(a: float) -> float:
    return float(a - TWO_PI * np.floor((a + np.pi) / TWO_PI))


@_jit
def _votes(p_edges, starts, table, c_edges, bits, touched) -> int:
    """bits[i, j]: which of probe minutia i's edges matched an edge of candidate minutia j; touched: the
    pairs with a vote. Returns their count. ``bits`` comes in all zero; the caller clears what was
    touched (far fewer than all pairs)."""
    nc = c_edges.shape[0]
    nt = 0
    for j in range(nc):
        for s in range(K):
            if c_edges[j, s, 0] < 0:
                break
            ln, a1, a2 = _edge(c_edges, j, s)
            lb = int(ln / LEN_BIN)
            if lb >= LEN_BINS:
                continue
            key = (lb * ANG_BINS + _ang_bin(a1)) * ANG_BINS + _ang_bin(a2)
            # branch-free: whether an entry matches is a coin toss the CPU cannot predict
            for e in range(starts[key], starts[key + 1]):
                pl = table[e, 1]
                d1, d2 = abs(table[e, 2] - a1), abs(table[e, 3] - a2)  # both in [0, 2π)
                ok = ((abs(pl - ln) < EDGE_LEN_TOL[0] + EDGE_LEN_TOL[1] * pl)
                      & (min(d1, TWO_PI - d1) < EDGE_ANGLE_TOL) & (min(d2, TWO_PI - d2) < EDGE_ANGLE_TOL))
                hit = np.int32(ok)
                ent = np.int32(table[e, 0])
                i, ps = ent >> 3, ent & 7
                old = bits[i, j]
                new = old | (hit << ps)
                bits[i, j] = new
                touched[nt] = i * nc + j
                nt += int(hit & np.int32(old == 0))
    return nt


@_jit
def _clear(bits, touched, nt, nc) -> None:
    for t in range(nt):
        bits[touched[t] // nc, touched[t] % nc] = 0


@_jit
def _consolidate(p_xy, p_ang, p_tol, c_xy, c_ang, cbox, c_start, i, j, bits, cost, pk, cl, used_p,
                 used_c) -> float:
    """Align the probe on root pair (i, j), pair what coincides one-to-one, cheapest first, and score."""
    np_, nc = p_xy.shape[0], c_xy.shape[0]
    rot = c_ang[j] - p_ang[i]
    cs, sn = np.cos(rot), np.sin(rot)
    mlox, mloy, mhix, mhiy = np.inf, np.inf, -np.inf, -np.inf
    n = 0
    ov_p = 0
    for k in range(np_):
        dx, dy = p_xy[k, 0] - p_xy[i, 0], p_xy[k, 1] - p_xy[i, 1]
        mx = dx * cs - dy * sn + c_xy[j, 0]
        my = dx * sn + dy * cs + c_xy[j, 1]
        mlox, mloy, mhix, mhiy = min(mlox, mx), min(mloy, my), max(mhix, mx), max(mhiy, my)
        ov_p += (cbox[0] <= mx <= cbox[2]) & (cbox[1] <= my <= cbox[3])
        ma = p_ang[k] + rot
        tol = p_tol[i, k]
        # candidate minutiae are sorted by x: only those within tol of mx can pair; c_start[b] is the
        # first one at or right of x = cbox[0] + b * X_BUCKET
        b = min(max(int((mx - tol - cbox[0]) * (1.0 / X_BUCKET)), 0), c_start.shape[0] - 1)
        for m in range(c_start[b], nc):
            ex = mx - c_xy[m, 0]
            if ex <= -tol:
                break
            ey = my - c_xy[m, 1]
            d2 = ex * ex + ey * ey
            da = abs(_wrap1(ma - c_ang[m]))
            if d2 < tol * tol and da < ANGLE_TOL:  # rare: one test, predictable
                c = np.sqrt(d2) / tol + da / ANGLE_TOL
                # keep the candidate pairs sorted by cost as they come (there are a few dozen)
                pos = n
                while pos > 0 and cost[pos - 1] > c:
                    cost[pos], pk[pos], cl[pos] = cost[pos - 1], pk[pos - 1], cl[pos - 1]
                    pos -= 1
                cost[pos], pk[pos], cl[pos] = c, k, m
                n += 1
    if n < 3:
        return 0.0
    ov_c = 0
    for m in range(nc):
        ov_c += (mlox - MARGIN <= c_xy[m, 0] <= mhix + MARGIN) & (mloy - MARGIN <= c_xy[m, 1] <= mhiy + MARGIN)
    used_p[:np_] = False
    used_c[:nc] = False
    paired = 0.0
    for o in range(n):
        a, b = pk[o], cl[o]
        if used_p[a] or used_c[b]:
            continue
        used_p[a] = True
        used_c[b] = True
        paired += 1.0 if bits[a, b] else UNSUPPORTED
    return paired * paired / max(ov_p, MIN_OVERLAP) / max(ov_c, MIN_OVERLAP) * min(paired, SUPPORT) / SUPPORT


@_jit
def _roots(bits, touched, nt, nc, max_roots, root_i, root_j) -> int:
    """The ``max_roots`` best-voted pairs with at least two votes, best first; ties keep vote order."""
    root_v = np.zeros(max_roots, np.int32)
    n = 0
    for t in range(nt):
        i, j = touched[t] // nc, touched[t] % nc
        v = _POPCOUNT[bits[i, j]]
        if v < 2:
            continue
        if n < max_roots:
            pos = n
            n += 1
        elif v > root_v[max_roots - 1]:
            pos = max_roots - 1
        else:
            continue
        while pos > 0 and root_v[pos - 1] < v:
            root_v[pos], root_i[pos], root_j[pos] = root_v[pos - 1], root_i[pos - 1], root_j[pos - 1]
            pos -= 1
        root_v[pos], root_i[pos], root_j[pos] = v, i, j
    return n


@_jit
def _score(p_xy, p_ang, p_edges, starts, table, p_tol, c_xy, c_ang, c_edges, max_roots, work) -> float:
    """Comparison consolidating the ``max_roots`` (≥ 1) best root pairs. ``work`` is reusable scratch."""
    bits, touched, cost, pk, cl, used_p, used_c, root_i, root_j = work
    np_, nc = p_xy.shape[0], c_xy.shape[0]
    if np_ < 3 or nc < 3:
        return 0.0
    nt = _votes(p_edges, starts, table, c_edges, bits, touched)
    nroots = _roots(bits, touched, nt, nc, max_roots, root_i, root_j)
    cbox = np.empty(4, np.float32)  # the candidate's area, widened by the margin
    cbox[0], cbox[2] = c_xy[0, 0] - MARGIN, c_xy[nc - 1, 0] + MARGIN
    cbox[1], cbox[3] = c_xy[:, 1].min() - MARGIN, c_xy[:, 1].max() + MARGIN
    # x buckets over the candidate: where to start looking for a given x (a binary search per probe
    # minutia and root mispredicts its way through ~6 branches)
    c_start = np.empty(int((cbox[2] - cbox[0]) / X_BUCKET) + 1, np.int32)
    m = 0
    for b in range(c_start.shape[0]):
        while m < nc and c_xy[m, 0] < cbox[0] + b * X_BUCKET:
            m += 1
        c_start[b] = m
    result = 0.0
    for r in range(nroots):
        s = _consolidate(p_xy, p_ang, p_tol, c_xy, c_ang, cbox, c_start, root_i[r], root_j[r], bits, cost, pk,
                         cl, used_p, used_c)
        result = max(result, s)
    _clear(bits, touched, nt, nc)
    return result


@_jit
def _work(np_: int, nc: int, max_roots: int):
    return (np.zeros((np_, nc), np.uint8), np.zeros(np_ * nc, np.int32),
            np.zeros(np_ * nc, np.float32), np.zeros(np_ * nc, np.int32), np.zeros(np_ * nc, np.int32),
            np.zeros(np_, np.bool_), np.zeros(nc, np.bool_), np.zeros(max_roots, np.int32),
            np.zeros(max_roots, np.int32))


@_jit
def _score_many(p_xy, p_ang, p_edges, starts, table, p_tol, offsets, g_xy, g_ang, g_edges, which, roots,
                out) -> None:
    """Scores of gallery templates ``which`` (indices into ``offsets``), consolidating the best ``roots``
    root pairs."""
    work = _work(p_xy.shape[0], MAX_MINUTIAE, roots)
    for w in range(which.shape[0]):
        g = which[w]
        a, b = offsets[g], offsets[g + 1]
        out[w] = _score(p_xy, p_ang, p_edges, starts, table, p_tol, g_xy[a:b], g_ang[a:b], g_edges[a:b],
                        roots, work)


# python face ----------------------------------------------------------------------------------------

def score(p: Prepared, c: Prepared) -> float:
    """Similarity of two prepared templates; about 0 for different fingers, higher for the same."""
    if len(p) < 3 or len(c) < 3:
        return 0.0
    starts, table, tol = p.probe_side()
    return float(_score(p.xy, p.angle, p.edges, starts, table, tol, c.xy, c.angle, c.edges, ROOTS,
                        _work(len(p), len(c), ROOTS)))


def compare(a: Template, b: Template) -> float:
    return score(prepare(a), prepare(b))


class Gallery:
    """Prepared templates packed into flat arrays, for 1:N search by the compiled kernels."""

    def __init__(self, items: list[Prepared]):
        sizes = np.array([len(p) for p in items], np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.xy = np.concatenate([p.xy for p in items]) if items else np.zeros((0, 2), np.float32)
        self.angle = np.concatenate([p.angle for p in items]) if items else np.zeros(0, np.float32)
        self.edges = np.concatenate([p.edges for p in items]) if items else np.zeros((0, K, 3), np.int16)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.offsets, self.xy, self.angle, self.edges))

    def scores(self, probe: Prepared, which: np.ndarray, roots: int = ROOTS) -> np.ndarray:
        """Scores of the probe against gallery entries ``which``: the full matcher consolidates ``roots``
        root pairs; fewer is a cheaper prefilter."""
        if roots < 1:
            raise ValueError("roots must be at least 1")  # the kernels do not check
        which = np.ascontiguousarray(which, np.int64)
        if len(which) and (which.min() < 0 or which.max() >= len(self)):
            raise IndexError(f"gallery index out of range 0..{len(self) - 1}")  # the kernels do not check
        out = np.zeros(len(which), np.float32)
        if len(probe) < 3 or not len(which):
            return out
        starts, table, tol = probe.probe_side()
        _score_many(probe.xy, probe.angle, probe.edges, starts, table, tol, self.offsets, self.xy, self.angle,
                    self.edges, which, roots, out)
        return out

    def search(self, probe: Prepared, k: int = 10, workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best gallery indices for ``probe`` and their full scores, best first."""
        n = len(self)
        if n == 0 or len(probe) < 3:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        workers = max(1, workers or os.cpu_count() or 1)
        probe.probe_side()  # built once, before the threads share it
        everyone = np.arange(n, dtype=np.int64)
        rough = self._parallel(probe, everyone, PREFILTER_ROOTS, workers)
        keep = min(n, max(SHORTLIST[0], int(SHORTLIST[1] * n), k))
        short = np.argpartition(-rough, keep - 1)[:keep] if keep < n else everyone
        full = self._parallel(probe, short, ROOTS, workers)
        order = np.argsort(-full, kind="stable")[:k]
        return short[order], full[order]

    def _parallel(self, probe: Prepared, which: np.ndarray, roots: int, workers: int) -> np.ndarray:
        if workers == 1 or len(which) < 256:
            return self.scores(probe, which, roots)
        parts = np.array_split(which, workers)
        with ThreadPoolExecutor(workers) as pool:
            return np.concatenate(list(pool.map(lambda w: self.scores(probe, w, roots), parts)))
