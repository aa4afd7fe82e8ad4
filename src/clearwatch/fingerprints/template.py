"""Fingerprint templates: minutiae, a compact versioned native format, and ISO/IEC 19794-2:2005 import/export.

A malformed template is refused with the reason; nothing downstream ever sees a half-parsed one.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from clearwatch.errors import ClearwatchError

NATIVE_MAGIC = b"CWFP"
NATIVE_VERSION = 1
ISO_MAGIC = b"FMR\x00"
ISO_VERSION = b" 20\x00"
ENDING, BIFURCATION, OTHER = 1, 2, 0  # ISO minutia types
MAX_SIDE = 4000  # px: larger than any real finger image at 1000 dpi


class TemplateError(ClearwatchError):
    """A template that cannot be read, with what is wrong with it."""


@dataclass
class Template:
    """Minutiae in pixels of an image at ``dpi``; angles in radians, counter-clockwise from the x axis,
    pointing along the ridge away from the minutia (ISO convention)."""

    width: int
    height: int
    dpi: float
    x: np.ndarray  # (N,) float32
    y: np.ndarray
    angle: np.ndarray
    kind: np.ndarray  # (N,) uint8: 1 ending, 2 bifurcation, 0 other
    quality: np.ndarray  # (N,) uint8, 0..100

    def __len__(self) -> int:
        return len(self.x)

    @classmethod
    def empty(cls, width: int, height: int, dpi: float = 500.0) -> Template:
        z = np.zeros(0, np.float32)
        return cls(width, height, dpi, z, z, z, np.zeros(0, np.uint8), np.zeros(0, np.uint8))

    def scaled_to(self, dpi: float = 500.0) -> Template:
        """The same minutiae in pixels of a ``dpi`` image (the matcher works at 500 dpi)."""
        if abs(self.dpi - dpi) < 1e-6:
            return self
        s = dpi / self.dpi
        return Template(round(self.width * s), round(self.height * s), dpi, self.x * s, self.y * s, self.angle,
                        self.kind, self.quality)

    # native ------------------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        head = NATIVE_MAGIC + struct.pack("<BHHfH", NATIVE_VERSION, self.width, self.height, self.dpi, len(self))
        body = np.empty(len(self), dtype=[("x", "<u2"), ("y", "<u2"), ("a", "<u2"), ("k", "u1"), ("q", "u1")])
        body["x"] = np.clip(np.round(self.x * 4), 0, 65535)  # quarter-pixel precision
        body["y"] = np.clip(np.round(self.y * 4), 0, 65535)
        body["a"] = np.round((self.angle % (2 * np.pi)) / (2 * np.pi) * 65536) % 65536
        body["k"], body["q"] = self.kind, self.quality
        return head + body.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Template:
        if data[:4] == ISO_MAGIC:
            return cls.from_iso(data)
        if data[:4] != NATIVE_MAGIC:
            raise TemplateError("not a fingerprint template (neither Clearwatch nor ISO 19794-2)")
        if len(data) < 15:
            raise TemplateError("template is truncated (header)")
        version, w, h, dpi, n = struct.unpack_from("<BHHfH", data, 4)
        if version != NATIVE_VERSION:
            raise TemplateError(f"template version {version} is not supported (this is version {NATIVE_VERSION})")
        if len(data) != 15 + 8 * n:
            raise TemplateError(f"template length {len(data)} does not match its {n} minutiae")
        _check_size(w, h, dpi)
        body = np.frombuffer(data, dtype=[("x", "<u2"), ("y", "<u2"), ("a", "<u2"), ("k", "u1"), ("q", "u1")],
                             count=n, offset=15)
        t = cls(w, h, float(dpi), body["x"] / 4.0, body["y"] / 4.0, body["a"] / 65536.0 * 2 * np.pi,
                body["k"].copy(), body["q"].copy())
        _check_points(t)
        return t.as_float32()

    def as_float32(self) -> Template:
        return Template(self.width, self.height, self.dpi, self.x.astype(np.float32), self.y.astype(np.float32),
                        self.angle.astype(np.float32), self.kind.astype(np.uint8), self.quality.astype(np.uint8))

    # ISO/IEC 19794-2:2005 -----------------------------------------------------------------------------

    def to_iso(self, finger: int = 0) -> bytes:
        n = min(len(self), 255)
        order = np.argsort(-self.quality.astype(int), kind="stable")[:n]
        res = round(self.dpi / 2.54)  # pixels per centimetre
        minutiae = bytearray()
        for i in order:
            kind = {ENDING: 1, BIFURCATION: 2}.get(int(self.kind[i]), 0)
            x, y = round(float(self.x[i])), round(float(self.y[i]))
            # ISO angles count in 1.40625° units; ours are radians
            a = round(float(self.angle[i]) % (2 * np.pi) / (2 * np.pi) * 256) % 256
            minutiae += struct.pack(">HHBB", (kind << 14) | (x & 0x3FFF), y & 0x3FFF, a, int(self.quality[i]))
        view = struct.pack(">BBBB", finger, 0, 0, n) + bytes(minutiae) + b"\x00\x00"
        length = 24 + len(view)
        return ISO_MAGIC + ISO_VERSION + struct.pack(">IHHHHHBB", length, 0, self.width, self.height, res, res,
                                                     1, 0) + view

    @classmethod
    def from_iso(cls, data: bytes) -> Template:
        if len(data) < 24:
            raise TemplateError("ISO template is truncated (its header is 24 bytes)")
        if data[:4] != ISO_MAGIC:
            raise TemplateError("not an ISO 19794-2 template (no 'FMR' signature)")
        if data[4:8] != ISO_VERSION:
            raise TemplateError(f"ISO template version {data[4:8]!r} is not 19794-2:2005 (' 20')")
        length, _, w, h, xres, yres, views, _ = struct.unpack_from(">IHHHHHBB", data, 8)
        if length != len(data):
            raise TemplateError(f"ISO template says it is {length} bytes long but is {len(data)}")
        if views < 1:
            raise TemplateError("ISO template holds no finger view")
        if xres == 0 or yres == 0:
            raise TemplateError("ISO template has a zero resolution")
        dpi = xres * 2.54
        _check_size(w, h, dpi)
        off = 24
        if off + 4 > len(data):
            raise TemplateError("ISO template is truncated (finger view header)")
        _, _, _, n = struct.unpack_from(">BBBB", data, off)
        off += 4
        if off + 6 * n + 2 > len(data):
            raise TemplateError(f"ISO template is truncated: {n} minutiae announced, room for "
                                f"{max(0, (len(data) - off - 2) // 6)}")
        raw = np.frombuffer(data, dtype=">u2", count=3 * n, offset=off).reshape(n, 3) if n else \
            np.zeros((0, 3), np.uint16)
        bytes_ = np.frombuffer(data, dtype=np.uint8, count=6 * n, offset=off).reshape(n, 6) if n else \
            np.zeros((0, 6), np.uint8)
        kinds = (raw[:, 0] >> 14).astype(np.uint8)
        x = (raw[:, 0] & 0x3FFF).astype(np.float32)
        y = (raw[:, 1] & 0x3FFF).astype(np.float32)
        angle = bytes_[:, 4].astype(np.float32) / 256.0 * 2 * np.pi
        quality = bytes_[:, 5].astype(np.uint8)
        if (quality > 100).any():
            raise TemplateError("ISO template has a minutia quality above 100")
        t = cls(w, h, dpi, x, y, angle, np.where(kinds == 1, ENDING, np.where(kinds == 2, BIFURCATION, OTHER))
                .astype(np.uint8), quality)
        _check_points(t)
        return t


def _check_size(w: int, h: int, dpi: float) -> None:
    if not (1 <= w <= MAX_SIDE and 1 <= h <= MAX_SIDE):
        raise TemplateError(f"template image size {w}x{h} is implausible")
    if not 100 <= dpi <= 2000:
        raise TemplateError(f"template resolution {dpi:.0f} dpi is implausible")


def _check_points(t: Template) -> None:
    if len(t) and ((t.x >= t.width).any() or (t.y >= t.height).any() or (t.x < 0).any() or (t.y < 0).any()):
        bad = int(np.flatnonzero((t.x >= t.width) | (t.y >= t.height) | (t.x < 0) | (t.y < 0))[0])
        raise TemplateError(f"minutia {bad} at ({t.x[bad]:.0f}, {t.y[bad]:.0f}) lies outside the "
                            f"{t.width}x{t.height} image")
