"""Reading plates in a picture (a vehicle crop, a close-up entrance camera frame, a photo): find text lines,
keep those shaped and sized like a plate, read each several ways, vote, and fit the site's formats."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from clearwatch.plates.formats import DEFAULT_FORMATS, PlateFormat, classify, compile_formats
from clearwatch.plates.models import ocr_model
from clearwatch.plates.ocr import TextBox, TextDetector, TextReader, rectify
from clearwatch.plates.vote import Reading, reading

# (recogniser, sideways stretch) for each read of a line. Plates are set in condensed type: read 1.5× wider, as
# the recognisers learnt letters, PP-OCRv4 told W from N on the shared plate where PP-OCRv6 did not at any
# width; PP-OCRv6 at the line's own width is the second read (benchmarks/plates.py measured three reads: no
# more right, 20 ms more per line)
READS = (("rec_v4", 1.5), ("rec", 1.0))
MIN_ASPECT, MAX_ASPECT = 1.3, 12.0  # a plate's text line: wider than tall, not a paragraph


@dataclass(frozen=True)
class PlateRead:
    text: str
    confidence: float  # the least sure character's confidence
    char_confidences: tuple[float, ...]
    box: tuple[float, float, float, float]  # the text line in the picture's pixels (x1, y1, x2, y2)
    format: str | None  # None: a plausible plate that matches no configured format ("unverified")
    reads: tuple[str, ...] = field(default=())  # what each recogniser saw, for the record

    @property
    def verified(self) -> bool:
        return self.format is not None

    def as_dict(self) -> dict[str, object]:
        return {"text": self.text, "confidence": round(self.confidence, 4), "box": [round(v, 1) for v in self.box],
                "format": self.format, "char_confidences": [round(c, 4) for c in self.char_confidences]}


class PlateReader:
    def __init__(self, formats: Sequence[str | dict[str, str]] | None = None, *, min_height: float = 12.0,
                 threads: int = 1):
        self.formats: list[PlateFormat] = compile_formats(formats if formats is not None else DEFAULT_FORMATS)
        self.min_height = min_height
        self.detector = TextDetector(ocr_model("det"), threads)
        self.readers = {kind: TextReader(ocr_model(kind), threads) for kind in {k for k, _ in READS}}

    def lines(self, image: np.ndarray) -> list[TextBox]:
        """Text lines shaped and sized like a plate."""
        out = []
        for box in self.detector.find(image):
            h, w = box.height, box.width
            if h >= self.min_height and MIN_ASPECT <= w / max(h, 1.0) <= MAX_ASPECT:
                out.append(box)
        return out

    def read_line(self, image: np.ndarray, box: TextBox) -> tuple[Reading | None, tuple[str, ...]]:
        readings, raw = [], []
        for i, (kind, stretch) in enumerate(READS):
            line = self.readers[kind].read(rectify(image, box.quad, stretch))
            raw.append(line.text)
            r = reading(line.text, line.confidences)
            if r is None and i == 0:
                break  # the first read calls it no plate (a badge, a word): not worth another
            if r is not None:
                readings.append(r)
        # a line the first read calls not-a-plate ("Passat CC", "TITANIUM") is not one
        if not readings:
            return None, tuple(raw)
        # two reads of one line are too few to vote on: take the surer one (one that fits a format first), and
        # leave voting to reads of the same plate in other frames
        return max(readings, key=lambda r: (self._fits(r.text), r.mean_confidence)), tuple(raw)

    def _fits(self, text: str) -> bool:
        return any(f.matches(text) for f in self.formats)

    def read(self, image: np.ndarray, first: bool = False) -> list[PlateRead]:
        """Every plate in a BGR picture, best first; with ``first`` (one vehicle's picture: it has one plate),
        lines are read tallest first and reading stops at the first that fits a format."""
        out = []
        lines = self.lines(image)
        if first:
            lines.sort(key=lambda b: -b.height)
        for box in lines:
            voted, raw = self.read_line(image, box)
            if voted is None:
                continue
            fitted = classify(voted.text, self.formats)
            confs = voted.confidences if fitted.swaps == 0 else tuple(
                c if a == b else c * 0.5 for a, b, c in zip(voted.text, fitted.text, voted.confidences, strict=True))
            out.append(PlateRead(fitted.text, min(confs), confs, box.bounds, fitted.format, raw))
            if first and fitted.format is not None:
                break
        return sorted(out, key=lambda p: (p.verified, p.confidence), reverse=True)
