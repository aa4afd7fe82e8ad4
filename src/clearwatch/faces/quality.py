"""How usable a face is for recognition: size, sharpness, pose (from the landmarks) and detector score.

Each factor is 0..1; the quality is their weighted geometric mean, so one bad factor drags it down, and
the weakest factor is the reason given when a face is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from clearwatch.faces.detector import Face

FULL_SIZE = 80.0  # px (shorter side of the face box) at which size stops mattering
MIN_SIZE = 16.0
SHARP_FULL = 120.0  # variance of the Laplacian of the aligned face at which blur stops mattering
WEIGHTS = {"size": 0.35, "sharpness": 0.25, "pose": 0.25, "detector": 0.15}


@dataclass
class Quality:
    score: float
    factors: dict[str, float]
    size_px: float
    yaw: float
    pitch: float

    def reason(self) -> str:
        worst = min(self.factors, key=self.factors.__getitem__)
        return {
            "size": f"face too small ({self.size_px:.0f} px)",
            "sharpness": "face too blurred",
            "pose": f"face turned away (yaw {self.yaw:+.2f}, pitch {self.pitch:+.2f})",
            "detector": "face detection uncertain",
        }[worst]

    def as_dict(self) -> dict[str, float]:
        return {"score": round(self.score, 3), **{k: round(v, 3) for k, v in self.factors.items()},
                "size_px": round(self.size_px, 1)}


def pose(landmarks: np.ndarray) -> tuple[float, float]:
    """Yaw and pitch proxies: 0 when frontal; about ±0.5 is a strong turn."""
    right_eye, left_eye, nose, mouth_r, mouth_l = landmarks
    eye_mid = (right_eye + left_eye) / 2
    mouth_mid = (mouth_r + mouth_l) / 2
    iod = float(np.linalg.norm(left_eye - right_eye)) or 1.0
    yaw = float(nose[0] - eye_mid[0]) / iod
    span = float(mouth_mid[1] - eye_mid[1]) or 1.0
    pitch = float(nose[1] - eye_mid[1]) / span - 0.55  # the nose sits a little past halfway when level
    return yaw, pitch


def assess(face: Face, aligned: np.ndarray) -> Quality:
    size = float(min(face.box[2], face.box[3]))
    s_size = float(np.clip((size - MIN_SIZE) / (FULL_SIZE - MIN_SIZE), 0.0, 1.0))
    grey = cv2.cvtColor(aligned, cv2.COLOR_BGR2GRAY)
    sharp = float(cv2.Laplacian(grey, cv2.CV_32F).var())
    s_sharp = float(np.clip(sharp / SHARP_FULL, 0.0, 1.0))
    yaw, pitch = pose(face.landmarks)
    s_pose = float(np.clip(1.0 - abs(yaw) / 0.6, 0.0, 1.0) * np.clip(1.0 - abs(pitch) / 0.5, 0.0, 1.0))
    s_det = float(np.clip((face.score - 0.3) / 0.5, 0.0, 1.0))
    factors = {"size": s_size, "sharpness": s_sharp, "pose": s_pose, "detector": s_det}
    score = float(np.exp(sum(w * np.log(max(factors[k], 1e-3)) for k, w in WEIGHTS.items())))
    return Quality(score, factors, size, yaw, pitch)
