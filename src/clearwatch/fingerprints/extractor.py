"""Minutiae from a fingerprint image, after the manner of SourceAFIS and the NIST/Hong-Wan-Jain pipeline:
rescale to 500 dpi, segment the finger from the background, estimate the ridge orientation field, enhance
with oriented Gabor filters, binarise, thin, read minutiae off the skeleton, and remove the false ones.

Everything per pixel is numpy/OpenCV/scikit-image; Python only loops over minutiae (tens per image).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, overload

import cv2
import numpy as np
from skimage.morphology import remove_small_objects, skeletonize

from clearwatch.fingerprints.template import BIFURCATION, ENDING, Template

DPI = 500.0
ANGLES = 16  # Gabor orientations
TRACE = 10  # px followed along the skeleton to measure a minutia's direction
GABOR_SIGMA = 0.4  # of the ridge period: wider bridges ridge breaks, narrower keeps noise
CLOSE_PAIR = 0.4  # of the ridge period: two minutiae closer than this are both false
BORDER = 9  # px: minutiae this close to the edge of the print are ridges running out of it
ORIENT_SIGMA = 6.0
BROKEN_GAP = 0.0  # of the ridge period: facing endings closer than this are one broken ridge
SNAP = 1  # take minutia directions from the orientation field (sense from the skeleton)
PRUNE = 0.0  # of the ridge period: skeleton spurs and fragments shorter than this are noise
CROWD = 99  # more neighbours than this within 2.5 periods: a scar or crease, not minutiae


@dataclass
class Extraction:
    template: Template
    mask: np.ndarray
    skeleton: np.ndarray
    orientation: np.ndarray  # ridge direction, radians in [0, pi)
    wavelength: float


def _orientation(norm: np.ndarray, sigma: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """Ridge orientation (radians, [0, pi)) and its coherence (0..1) from the smoothed gradient tensor."""
    gx = cv2.Sobel(norm, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(norm, cv2.CV_32F, 0, 1, ksize=3)
    gxx = cv2.GaussianBlur(gx * gx, (0, 0), sigma)
    gyy = cv2.GaussianBlur(gy * gy, (0, 0), sigma)
    gxy = cv2.GaussianBlur(gx * gy, (0, 0), sigma)
    grad = 0.5 * np.arctan2(2 * gxy, gxx - gyy)
    coherence = np.sqrt((gxx - gyy) ** 2 + 4 * gxy**2) / (gxx + gyy + 1e-6)
    # smooth once more in the doubled-angle domain, where opposite directions agree
    c = cv2.GaussianBlur(np.cos(2 * grad) * coherence, (0, 0), sigma)
    s = cv2.GaussianBlur(np.sin(2 * grad) * coherence, (0, 0), sigma)
    ridge = (0.5 * np.arctan2(s, c) + np.pi / 2) % np.pi
    return ridge.astype(np.float32), np.clip(coherence, 0, 1).astype(np.float32)


def _wavelength(norm: np.ndarray, mask: np.ndarray) -> float:
    """The dominant ridge period (px) from the spectrum of the finger area; 9 px at 500 dpi is typical."""
    h, w = norm.shape
    win = np.where(mask, norm, 0).astype(np.float32) * np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    spec = np.abs(np.fft.fftshift(np.fft.fft2(win))) ** 2
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot((yy - h / 2) / h, (xx - w / 2) / w)  # cycles per pixel
    band = (r > 1 / 16) & (r < 1 / 5)
    if not band.any():
        return 9.0
    radii = np.round(r[band] * 400).astype(int)
    power = np.bincount(radii, weights=spec[band])
    peak = int(np.argmax(power)) / 400
    return float(np.clip(1 / peak if peak else 9.0, 6.0, 13.0))


def _largest(mask: np.ndarray) -> np.ndarray:
    """The largest connected region, smoothed, with its holes filled."""
    m: np.ndarray = mask.astype(np.uint8)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))
    m = cv2.morphologyEx(cv2.morphologyEx(m, cv2.MORPH_CLOSE, k), cv2.MORPH_OPEN, k)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 1:
        return np.zeros_like(mask, bool)
    m = (labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
    outside = np.zeros((m.shape[0] + 2, m.shape[1] + 2), np.uint8)
    outside[1:-1, 1:-1] = m
    cv2.floodFill(outside, None, (0, 0), 2)
    return np.asarray(outside[1:-1, 1:-1] != 2)


def _segment(img: np.ndarray) -> np.ndarray:
    """The finger: where the contrast stands out (refined later by the ridge energy)."""
    f = img.astype(np.float32)
    mean = cv2.blur(f, (17, 17))
    std = np.sqrt(np.maximum(cv2.blur(f * f, (17, 17)) - mean * mean, 0))
    thr = max(6.0, 0.35 * float(np.percentile(std, 95)))
    return _largest(std > thr)


def _enhance(norm: np.ndarray, orientation: np.ndarray, wavelength: float) -> np.ndarray:
    """Gabor filtering along the local ridge direction: ridges come out as one sign, valleys the other."""
    size = round(wavelength * 2) | 1
    sigma = wavelength * GABOR_SIGMA
    bins = np.round(orientation / np.pi * ANGLES).astype(int) % ANGLES
    out = np.zeros_like(norm)
    for b in range(ANGLES):
        sel = bins == b
        if not sel.any():
            continue
        theta = b * np.pi / ANGLES
        # OpenCV's kernel oscillates along theta: across the ridges means theta + pi/2
        kern = cv2.getGaborKernel((size, size), sigma, theta + np.pi / 2, wavelength, 1.0, 0, ktype=cv2.CV_32F)
        kern -= kern.mean()
        out[sel] = cv2.filter2D(norm, cv2.CV_32F, kern)[sel]
    return out


_NEIGHBOURS = [(-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1)]  # clockwise


def _crossing_number(skel: np.ndarray) -> np.ndarray:
    """Half the number of 0→1 transitions around each skeleton pixel: 1 = ending, 3 = bifurcation."""
    p = np.pad(skel.astype(np.int8), 1)
    h, w = skel.shape
    ring = [p[1 + dy:1 + dy + h, 1 + dx:1 + dx + w] for dy, dx in _NEIGHBOURS]
    cn = sum(np.abs(ring[i] - ring[(i + 1) % 8]) for i in range(8)) // 2
    return np.where(skel, cn, 0)


_RING = np.ones((3, 3), np.uint8)


def _neighbours(skel: np.ndarray) -> np.ndarray:
    return cv2.filter2D(skel.astype(np.uint8), -1, _RING, borderType=cv2.BORDER_CONSTANT) - skel.astype(np.uint8)


def _prune(skel: np.ndarray, n: int) -> np.ndarray:
    """Remove spurs and fragments shorter than ``n`` px, keeping the full length of real ridges: erode every
    ridge end ``n`` times, then grow the surviving ends back along the original skeleton."""
    s = skel.copy()
    for _ in range(n):
        s &= ~(s & (_neighbours(s) <= 1))
    grow = s & (_neighbours(s) == 1)
    restored = np.zeros_like(skel)
    for _ in range(n):
        grow = cv2.dilate(grow.astype(np.uint8), _RING).astype(bool) & skel & ~s & ~restored
        if not grow.any():
            break
        restored |= grow
    return np.asarray(s | restored)


def _trace(skel: np.ndarray, y: int, x: int, first: tuple[int, int] | None = None) -> tuple[int, int]:
    """Walk up to TRACE px along the skeleton from (y, x), optionally starting at neighbour ``first``."""
    h, w = skel.shape
    prev, cur = (y, x), first
    if cur is None:
        nb = [(y + dy, x + dx) for dy, dx in _NEIGHBOURS if 0 <= y + dy < h and 0 <= x + dx < w
              and skel[y + dy, x + dx]]
        if not nb:
            return y, x
        cur = nb[0]
    seen = {prev, cur}
    for _ in range(TRACE - 1):
        cy, cx = cur
        nxt = [(cy + dy, cx + dx) for dy, dx in _NEIGHBOURS if 0 <= cy + dy < h and 0 <= cx + dx < w
               and skel[cy + dy, cx + dx] and (cy + dy, cx + dx) not in seen]
        if len(nxt) != 1:
            break  # the end of the ridge, or another minutia
        prev, cur = cur, nxt[0]
        seen.add(cur)
    return cur


@overload
def extract(image: np.ndarray, dpi: float = DPI, *, detail: Literal[False] = False) -> Template: ...
@overload
def extract(image: np.ndarray, dpi: float = DPI, *, detail: Literal[True]) -> Extraction: ...
def extract(image: np.ndarray, dpi: float = DPI, *, detail: bool = False) -> Template | Extraction:
    """Minutiae of a grey fingerprint image (uint8, dark ridges on light background) at ``dpi``."""
    img = image
    if abs(dpi - DPI) > 1:
        s = DPI / dpi
        img = cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
    h, w = img.shape
    f = img.astype(np.float32)
    mean = cv2.GaussianBlur(f, (0, 0), 8)
    std = np.sqrt(np.maximum(cv2.GaussianBlur(f * f, (0, 0), 8) - mean * mean, 1.0))
    norm = (f - mean) / std  # local contrast normalisation: wet and dry prints look alike after it
    mask = _segment(img)
    orientation, coherence = _orientation(norm, ORIENT_SIGMA)
    wavelength = _wavelength(norm, mask)
    enhanced = _enhance(norm, orientation, wavelength)
    # keep only where the Gabor filters found a clear ridge pattern: sensor noise and smudges have contrast,
    # but no coherent ridges at the finger's ridge period
    energy = cv2.GaussianBlur(np.abs(enhanced), (0, 0), 2 * wavelength)
    inside = energy[mask]
    if inside.size:
        mask &= (energy > 0.45 * float(np.percentile(inside, 90))) & (coherence > 0.2)
        mask = _largest(mask)
    ridges = (enhanced < 0) & mask  # dark ridges respond negatively
    ridges = remove_small_objects(ridges, max_size=int(wavelength * 3))
    ridges = ~remove_small_objects(~ridges, max_size=int(wavelength * 2))  # fill pores and small holes
    skel = np.asarray(skeletonize(ridges & mask))  # type: ignore[no-untyped-call]  # scikit-image is untyped here
    if PRUNE:
        skel = _prune(skel, max(1, round(PRUNE * wavelength)))
    cn = _crossing_number(skel)
    # minutiae near the edge of the print are where ridges merely end at the border: drop them
    # (the image border counts as outside, hence the zero border value)
    inner = cv2.erode(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (BORDER, BORDER)),
                      borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)
    ys, xs = np.nonzero(((cn == 1) | (cn == 3)) & inner)
    kinds = np.where(cn[ys, xs] == 1, ENDING, BIFURCATION).astype(np.uint8)
    angles = np.zeros(len(ys), np.float32)
    for i, (y, x, k) in enumerate(zip(ys, xs, kinds, strict=True)):
        if k == ENDING:
            ty, tx = _trace(skel, int(y), int(x))
            angles[i] = np.arctan2(-(ty - y), tx - x)  # y grows downwards in images
        else:
            starts = [(y + dy, x + dx) for dy, dx in _NEIGHBOURS if 0 <= y + dy < h and 0 <= x + dx < w
                      and skel[y + dy, x + dx]]
            ends = [_trace(skel, int(y), int(x), (int(sy), int(sx))) for sy, sx in starts[:3]]
            dirs = np.array([np.arctan2(-(ey - y), ex - x) for ey, ex in ends])
            if len(dirs) < 3:
                angles[i] = dirs[0] if len(dirs) else 0.0
                continue
            # the stem is the branch farthest in angle from the other two; the minutia points away from it
            diff = np.abs(np.angle(np.exp(1j * (dirs[:, None] - dirs[None, :]))))
            stem = int(np.argmax(diff.sum(1)))
            angles[i] = dirs[stem] + np.pi
    if SNAP and len(angles):
        # the skeleton's chord gives the sense; the smoothed orientation field gives a steadier axis
        axis = -orientation[ys, xs]  # image rows grow downwards: flip to counter-clockwise
        flip = np.abs(np.angle(np.exp(1j * (angles - axis)))) > np.pi / 2
        angles = np.where(flip, axis + np.pi, axis).astype(np.float32)
    t = _clean(xs.astype(np.float32), ys.astype(np.float32), angles % (2 * np.pi), kinds,
               coherence[ys, xs] if len(ys) else np.zeros(0, np.float32), wavelength)
    template = Template(w, h, DPI, *t).as_float32()
    if detail:
        return Extraction(template, mask, skel, orientation, wavelength)
    return template


def _clean(x: np.ndarray, y: np.ndarray, a: np.ndarray, k: np.ndarray, coh: np.ndarray,
           wavelength: float) -> tuple[np.ndarray, ...]:
    """Remove the false minutiae thinning leaves behind: clusters, spurs, bridges and broken ridges."""
    n = len(x)
    keep = np.ones(n, bool)
    if n > 1:
        d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
        np.fill_diagonal(d, np.inf)
        close = d < CLOSE_PAIR * wavelength  # two minutiae within one ridge period: noise, a spur or a bridge
        keep &= ~close.any(1)
        # a broken ridge: two endings facing each other across a short gap
        da = np.abs(np.angle(np.exp(1j * (a[:, None] - a[None, :]))))
        ends = (k == ENDING)
        broken = (d < BROKEN_GAP * wavelength) & (da > np.pi * 0.75) & ends[:, None] & ends[None, :]
        keep &= ~broken.any(1)
        # crowded areas (scars, creases): more than 4 neighbours within 2.5 periods
        keep &= (d < 2.5 * wavelength).sum(1) <= CROWD
    quality = np.clip(np.round(coh * 100), 1, 100).astype(np.uint8)
    return x[keep], y[keep], a[keep].astype(np.float32), k[keep], quality[keep]
