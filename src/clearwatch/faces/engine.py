"""The face engine: detect → align → judge quality → embed (only faces good enough)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clearwatch.faces.align import align
from clearwatch.faces.detector import Face, FaceDetector
from clearwatch.faces.embedder import MODEL_VERSION, FaceEmbedder
from clearwatch.faces.quality import Quality, assess


@dataclass
class FaceShot:
    face: Face
    quality: Quality
    aligned: np.ndarray  # 112x112 BGR
    embedding: np.ndarray | None  # None when below the quality asked for


class FaceEngine:
    model_version = MODEL_VERSION

    def __init__(self, detect_threshold: float = 0.3):
        self.detector = FaceDetector(detect_threshold)
        self.embedder = FaceEmbedder()

    def analyse(self, image: np.ndarray, min_quality: float = 0.0, max_side: int | None = None) -> list[FaceShot]:
        """Every face in a BGR image, largest first; embeddings for those of at least ``min_quality``."""
        shots = []
        for face in self.detector.detect(image, max_side):
            aligned = align(image, face.landmarks)
            shots.append(FaceShot(face, assess(face, aligned), aligned, None))
        good = [s for s in shots if s.quality.score >= min_quality]
        for shot, vec in zip(good, self.embedder.embed([s.aligned for s in good]), strict=True):
            shot.embedding = vec
        return shots

    def largest(self, image: np.ndarray) -> FaceShot | None:
        """The largest face, embedded whatever its quality (for evaluation commands)."""
        shots = self.analyse(image, min_quality=0.0)
        return shots[0] if shots else None
