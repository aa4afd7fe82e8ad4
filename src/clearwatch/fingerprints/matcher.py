"""Minutiae matching, rotation- and translation-invariant.

1. Local structures: each minutia with its nearest neighbours, described by edge length and the edge's and
   the neighbour's directions relative to the minutia (unchanged by rotating or moving the finger).
2. Root pairs: probe/candidate minutiae whose local structures agree best.
3. Consolidation: for each root pair, align the whole probe on the candidate, pair minutiae that then
   coincide (position and direction) one-to-one, and score the pairing against how many minutiae each
   side has where the two prints overlap. The best root wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from clearwatch.fingerprints.template import Template

K = 8  # neighbours per local structure
ROOTS = 16
DIST_TOL = 12.0  # px at 500 dpi
ANGLE_TOL = np.deg2rad(20)
EDGE_ANGLE_TOL = np.deg2rad(15)
EDGE_LEN_TOL = (3.0, 0.10)  # absolute px + share of the length
MIN_OVERLAP = 12  # minutiae: small overlaps are not allowed to look like perfect matches
SUPPORT = 16  # paired minutiae below this count are discounted: a few chance pairs are common


@dataclass
class Prepared:
    xy: np.ndarray  # (N, 2) float32, 500 dpi pixels, y up
    angle: np.ndarray  # (N,)
    edges: np.ndarray  # (N, K, 3): length, edge direction − minutia direction, neighbour − minutia direction
    valid: np.ndarray  # (N, K) bool (fewer than K neighbours)

    def __len__(self) -> int:
        return len(self.angle)


def _wrap(a: np.ndarray) -> np.ndarray:
    return (a + np.pi) % (2 * np.pi) - np.pi


def prepare(t: Template) -> Prepared:
    t = t.scaled_to(500.0)
    xy = np.stack([t.x, -t.y], 1).astype(np.float32)  # y up, so angles are counter-clockwise
    a = t.angle.astype(np.float32)
    n = len(a)
    edges = np.zeros((n, K, 3), np.float32)
    valid = np.zeros((n, K), bool)
    if n > 1:
        d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
        np.fill_diagonal(d, np.inf)
        k = min(K, n - 1)
        nb = np.argsort(d, 1)[:, :k]
        rows = np.arange(n)[:, None]
        vec = xy[nb] - xy[:, None, :]
        edges[:, :k, 0] = d[rows, nb]
        edges[:, :k, 1] = _wrap(np.arctan2(vec[..., 1], vec[..., 0]) - a[:, None])
        edges[:, :k, 2] = _wrap(a[nb] - a[:, None])
        valid[:, :k] = True
    return Prepared(xy, a, edges, valid)


def local_similarity(p: Prepared, c: Prepared) -> np.ndarray:
    """(Np, Nc): how many of a probe minutia's edges find a matching edge around the candidate minutia."""
    ep, ec = p.edges[:, None, :, None, :], c.edges[None, :, None, :, :]
    tol = EDGE_LEN_TOL[0] + EDGE_LEN_TOL[1] * ep[..., 0]
    ok = np.abs(ep[..., 0] - ec[..., 0]) < tol
    ok &= np.abs(_wrap(ep[..., 1] - ec[..., 1])) < EDGE_ANGLE_TOL
    ok &= np.abs(_wrap(ep[..., 2] - ec[..., 2])) < EDGE_ANGLE_TOL
    ok &= p.valid[:, None, :, None] & c.valid[None, :, None, :]
    return ok.any(3).sum(2).astype(np.float32)


def score(p: Prepared, c: Prepared) -> float:
    """Similarity of two prepared templates; about 0 for different fingers, higher for the same."""
    if len(p) < 3 or len(c) < 3:
        return 0.0
    local = local_similarity(p, c)
    flat = np.argsort(-local, axis=None)[:ROOTS]
    best = 0.0
    for f in flat:
        i, j = divmod(int(f), len(c))
        if local[i, j] < 2:
            break
        rot = c.angle[j] - p.angle[i]
        cs, sn = np.cos(rot), np.sin(rot)
        moved = (p.xy - p.xy[i]) @ np.array([[cs, sn], [-sn, cs]], np.float32) + c.xy[j]
        d = np.hypot(*(moved[:, None, :] - c.xy[None, :, :]).transpose(2, 0, 1))
        da = np.abs(_wrap(p.angle[:, None] + rot - c.angle[None, :]))
        ok = (d < DIST_TOL) & (da < ANGLE_TOL)
        if ok.sum() < 3:
            continue
        cost = np.where(ok, d / DIST_TOL + da / ANGLE_TOL, 1e3)
        r, col = linear_sum_assignment(cost)
        paired = int((cost[r, col] < 1e3).sum())
        # minutiae that could have been paired: those inside the other print's area (its minutiae's box)
        lo, hi = c.xy.min(0) - DIST_TOL, c.xy.max(0) + DIST_TOL
        ov_p = int(((moved >= lo) & (moved <= hi)).all(1).sum())
        lo2, hi2 = moved.min(0) - DIST_TOL, moved.max(0) + DIST_TOL
        ov_c = int(((c.xy >= lo2) & (c.xy <= hi2)).all(1).sum())
        s = paired * paired / max(ov_p, MIN_OVERLAP) / max(ov_c, MIN_OVERLAP) * min(paired, SUPPORT) / SUPPORT
        best = max(best, s)
    return float(best)


def compare(a: Template, b: Template) -> float:
    return score(prepare(a), prepare(b))
