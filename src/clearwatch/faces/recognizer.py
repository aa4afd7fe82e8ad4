"""Face recognition on person tracks: look at the head region now and then, collect several face shots,
and decide once on their quality-weighted mean — one blurry frame never names anyone."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from clearwatch.config.identity import FacesConfig
from clearwatch.identity.face_registry import FaceRegistry, main_face

HEAD_SHARE = 0.45  # of a person box's height, from the top, where the face is


@dataclass
class Identity:
    person_id: str | None  # None: a face was seen but matches nobody enrolled
    name: str | None
    similarity: float
    watchlists: list[str]
    shots: int
    face_jpeg: bytes | None


@dataclass
class _Track:
    embeddings: list[np.ndarray] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    last_look: float = -1e9
    best_quality: float = -1.0
    best_face: np.ndarray | None = None
    decided: bool = False


class FaceRecognizer:
    def __init__(self, registry: FaceRegistry, cfg: FacesConfig):
        self.registry = registry
        self.cfg = cfg
        self._tracks: dict[int, _Track] = {}
        self.looks = 0

    def look(self, track_id: int, image: np.ndarray, box: np.ndarray, t: float) -> Identity | None:
        """Maybe look at this track's face; an Identity once enough shots are in, else None."""
        st = self._tracks.setdefault(track_id, _Track())
        if st.decided or t - st.last_look < self.cfg.interval:
            return None
        st.last_look = t
        self.looks += 1
        h, w = image.shape[:2]
        x1, y1, x2, y2 = (float(v) for v in box)
        bw, bh = x2 - x1, y2 - y1
        cx1, cx2 = int(max(0, x1 - 0.15 * bw)), int(min(w, x2 + 0.15 * bw))
        cy1, cy2 = int(max(0, y1 - 0.1 * bh)), int(min(h, y1 + HEAD_SHARE * bh))
        if cx2 - cx1 < 16 or cy2 - cy1 < 16:
            return None
        crop = image[cy1:cy2, cx1:cx2]
        shot = main_face(self.registry.engine.analyse(crop, self.cfg.min_quality, max_side=max(crop.shape[:2])))
        if shot is None or shot.embedding is None:
            return None
        st.embeddings.append(shot.embedding)
        st.weights.append(shot.quality.score)
        if shot.quality.score > st.best_quality:
            fx, fy, fw, fh = (int(v) for v in shot.face.box)
            pad = int(0.25 * max(fw, fh))
            st.best_face = crop[max(0, fy - pad):fy + fh + pad, max(0, fx - pad):fx + fw + pad].copy()
            st.best_quality = shot.quality.score
        if len(st.embeddings) >= self.cfg.shots:
            return self._decide(st)
        return None

    def finish(self, track_id: int) -> Identity | None:
        """The track ended: decide on what was collected (if anything and not decided yet)."""
        st = self._tracks.pop(track_id, None)
        if st is None or st.decided or not st.embeddings:
            return None
        return self._decide(st)

    def _decide(self, st: _Track) -> Identity:
        st.decided = True
        weights = np.array(st.weights, np.float32)
        mean = (np.array(st.embeddings) * weights[:, None]).sum(0) / max(float(weights.sum()), 1e-6)
        mean /= max(float(np.linalg.norm(mean)), 1e-12)
        best = self.registry.identify(mean, k=1)
        jpeg = None
        if st.best_face is not None and st.best_face.size:
            ok, buf = cv2.imencode(".jpg", st.best_face, [cv2.IMWRITE_JPEG_QUALITY, 90])
            jpeg = buf.tobytes() if ok else None
        if best and best[0].similarity >= self.registry.threshold:
            c = best[0]
            return Identity(c.person_id, c.name, c.similarity, c.watchlists, len(st.embeddings), jpeg)
        sim = best[0].similarity if best else 0.0
        return Identity(None, None, sim, [], len(st.embeddings), jpeg)
