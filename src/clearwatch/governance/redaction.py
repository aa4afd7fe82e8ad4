"""Redacted exports: faces, people and licence plates covered on every frame, privacy masks burned in.

Every frame is decoded and searched (faces with YuNet at up to 1280 px, people with the object detector,
plate-shaped text with the plate reader's text detector); a box found on one frame stays covered for
``HOLD`` seconds after it was last seen, padded, so a missed detection in between does not uncover anyone
(erring on the side of covering). Covered regions are pixelated down to a few blocks — nothing recognisable
survives. Named enrolled people can be left visible: their faces (matched against the registry) and the body
around them are not covered."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import av
import cv2
import numpy as np

from clearwatch.errors import ClearwatchError
from clearwatch.governance.masks import Polygons, mask_image

if TYPE_CHECKING:
    from clearwatch.identity import FaceRegistry

KINDS = ("faces", "people", "plates")
HOLD = 0.6  # seconds a box stays covered after its last detection
PAD = 0.25  # share of a box's size added on every side
FACE_SIDE = 1280  # faces are looked for at up to this size (small faces in 1080p are missed at 640)
BLOCKS = 6  # a covered region is pixelated to this many blocks across
MIN_BLOCK = 8  # pixels: no block is smaller
MIN_PAD = 4  # pixels added around even the smallest box
VEHICLES = ("car", "truck", "bus", "motorcycle")
PLATE_SIDE = 320  # vehicle crops are searched for plates at this size (a plate smaller than that is unreadable)
FACE_SCORE = 0.2  # below the registry's 0.3: a covered non-face costs a blur, a missed face costs a person
PERSON_SCORE = 0.3  # lower than for events: a missed person stays visible, a false one only costs a blur


@dataclass
class _Held:
    box: np.ndarray  # x1 y1 x2 y2
    until: float


@dataclass
class RedactionStats:
    frames: int = 0
    faces: int = 0
    people: int = 0
    plates: int = 0
    kept: int = 0


def _pad(box: Sequence[float] | np.ndarray, w: int, h: int) -> np.ndarray:
    x1, y1, x2, y2 = box
    px, py = max(MIN_PAD, (x2 - x1) * PAD), max(MIN_PAD, (y2 - y1) * PAD)
    return np.array([max(0, x1 - px), max(0, y1 - py), min(w, x2 + px), min(h, y2 + py)], np.float32)


def cover(image: np.ndarray, box: np.ndarray) -> None:
    x1, y1, x2, y2 = (int(v) for v in box)
    if x2 - x1 < 2 or y2 - y1 < 2:
        return
    region = image[y1:y2, x1:x2]
    bw = max(1, min(BLOCKS, (x2 - x1) // MIN_BLOCK))  # a small face becomes one flat block, not a sharper copy
    bh = max(1, round(bw * (y2 - y1) / (x2 - x1)))
    small = cv2.resize(region, (bw, bh), interpolation=cv2.INTER_AREA)
    image[y1:y2, x1:x2] = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST)


class Redactor:
    def __init__(self, kinds: Iterable[str], keep: Sequence[str] = (), registry: FaceRegistry | None = None):
        self.kinds = set(kinds)
        unknown = self.kinds - set(KINDS)
        if unknown:
            raise ClearwatchError(f"cannot redact {', '.join(sorted(unknown))}: use {', '.join(KINDS)}")
        if keep and registry is None:
            raise ClearwatchError("leaving people visible needs the identity registry (identity.key_file)")
        self.keep = set(keep)
        self.registry = registry
        self.held: dict[str, list[_Held]] = {k: [] for k in KINDS}
        self.stats = RedactionStats()
        self._kept_now: list[np.ndarray] = []  # this frame's faces left visible
        self._faces = self._objects = self._text = None
        if "faces" in self.kinds or self.keep:
            from clearwatch.faces import FaceEngine

            self._faces = registry.engine if registry is not None else FaceEngine(detect_threshold=FACE_SCORE)
        if "people" in self.kinds or "plates" in self.kinds:
            from clearwatch.analytics.detectors import create_detector

            self._objects = create_detector("yolox_nano")
        if "plates" in self.kinds:
            from clearwatch.plates.models import ocr_model
            from clearwatch.plates.ocr import TextDetector

            self._text = TextDetector(ocr_model("det"), side=PLATE_SIDE)

    def _kept_face(self, emb: np.ndarray | None) -> bool:
        if not self.keep or self.registry is None or emb is None:
            return False
        best = self.registry.identify(emb, 1)
        return bool(best) and best[0].person_id in self.keep and best[0].similarity >= self.registry.threshold

    def recheck(self, image: np.ndarray, t: float, passes: int = 2) -> None:
        """Look for faces again in the covered picture and cover what is still found (a face the first look
        scored just under the threshold can score over it once its neighbours are covered)."""
        if self._faces is None or "faces" not in self.kinds:
            return
        h, w = image.shape[:2]
        for _ in range(passes):
            left = [f.xyxy() for f in self._faces.detector.detect(image, FACE_SIDE)]
            if not left:
                return
            left = [b for b in left if not any(_inside(np.array(b, np.float32), k) for k in self._kept_now)]
            if not left:
                return
            for xyxy in left:
                box = _pad(xyxy, w, h)
                self.held["faces"].append(_Held(box, t + HOLD))
                self.stats.faces += 1
                cover(image, box)

    def boxes(self, image: np.ndarray, t: float) -> list[np.ndarray]:
        h, w = image.shape[:2]
        found: dict[str, list[np.ndarray]] = {k: [] for k in KINDS}
        kept: list[np.ndarray] = []
        if self._faces is not None:
            faces: list[tuple[list[float], np.ndarray | None]]
            if self.keep:  # who is whom needs the embeddings; otherwise detection alone
                faces = [(s.face.xyxy(), s.embedding) for s in self._faces.analyse(image, max_side=FACE_SIDE)]
            else:
                faces = [(f.xyxy(), None) for f in self._faces.detector.detect(image, FACE_SIDE)]
            for xyxy, emb in faces:
                box = np.array(xyxy, np.float32)
                if self._kept_face(emb):
                    kept.append(box)
                    self.stats.kept += 1
                elif "faces" in self.kinds:
                    found["faces"].append(box)
        self._kept_now = kept
        vehicles: list[np.ndarray] = []
        if self._objects is not None:
            dets = self._objects.detect(image, PERSON_SCORE)
            labels = self._objects.labels
            for box, cls in zip(dets.boxes, dets.classes, strict=True):
                label = labels[int(cls)]
                if label == "person" and not any(_inside(k, box) for k in kept):
                    found["people"].append(np.asarray(box, np.float32))
                elif label in VEHICLES:
                    vehicles.append(np.asarray(box, np.float32))
        if self._text is not None:  # plates are on vehicles: text is looked for there, not in every shop sign
            for vb in vehicles:
                x1, y1, x2, y2 = (int(v) for v in _pad(vb, w, h))
                crop = image[y1:y2, x1:x2]
                if crop.shape[0] < 8 or crop.shape[1] < 8:
                    continue
                for tb in self._text.find(crop):
                    tx1, ty1 = tb.quad.min(axis=0)
                    tx2, ty2 = tb.quad.max(axis=0)
                    if (ty2 - ty1) > 0 and 1.3 <= (tx2 - tx1) / (ty2 - ty1) <= 12:
                        found["plates"].append(np.array([x1 + tx1, y1 + ty1, x1 + tx2, y1 + ty2], np.float32))
        out: list[np.ndarray] = []
        for kind in KINDS:
            if kind not in self.kinds:
                continue
            fresh = [_Held(_pad(b, w, h), t + HOLD) for b in found[kind]]
            setattr(self.stats, kind, getattr(self.stats, kind) + len(fresh))
            self.held[kind] = [x for x in self.held[kind] if x.until >= t] + fresh
            out += [x.box for x in self.held[kind]]
        return out


def _inside(face: np.ndarray, body: Sequence[float] | np.ndarray) -> bool:
    cx, cy = (face[0] + face[2]) / 2, (face[1] + face[3]) / 2
    return bool(body[0] <= cx <= body[2] and body[1] <= cy <= body[3])


def redact_video(src: Path, dst: Path, kinds: set[str], polygons: Polygons = (), *, keep: Sequence[str] = (),
                 registry: FaceRegistry | None = None, crf: int = 20,
                 cancel: threading.Event | None = None) -> RedactionStats:
    """Re-encode ``src`` into ``dst`` with ``kinds`` covered and ``polygons`` (privacy masks) filled on every
    frame, timestamps kept. With no ``kinds``, only the masks: a masked copy of a recording for playback.
    ``cancel`` set stops it between frames (ClearwatchError), leaving no file behind."""
    redactor = Redactor(kinds, keep, registry) if kinds else None
    tmp = dst.with_name(f"{dst.name}.{os.getpid()}-{threading.get_ident()}.part")  # two viewers, one segment
    dst.parent.mkdir(parents=True, exist_ok=True)
    stats = redactor.stats if redactor else RedactionStats()
    try:
        with av.open(str(src)) as inp, av.open(str(tmp), "w", format="mp4") as out:
            vin = inp.streams.video[0]
            vout = out.add_stream("libx264", rate=vin.average_rate or Fraction(25))
            vout.width, vout.height = vin.codec_context.width, vin.codec_context.height
            vout.pix_fmt = "yuv420p"
            vout.time_base = vin.time_base
            vout.options = {"preset": "veryfast", "crf": str(crf)}
            for frame in inp.decode(vin):
                if cancel is not None and cancel.is_set():
                    raise ClearwatchError("redaction stopped: the service is shutting down")
                img = frame.to_ndarray(format="bgr24")
                t = (float(frame.pts * frame.time_base) if frame.pts is not None and frame.time_base
                     else stats.frames / 25)
                if redactor is not None:
                    for box in redactor.boxes(img, t):
                        cover(img, box)
                    redactor.recheck(img, t)
                if polygons:
                    img = mask_image(img, polygons)
                stats.frames += 1
                new = av.VideoFrame.from_ndarray(img, format="bgr24")
                new.pts, new.time_base = frame.pts, frame.time_base
                for pkt in vout.encode(new):
                    out.mux(pkt)
            for pkt in vout.encode():
                out.mux(pkt)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, dst)
    return stats
