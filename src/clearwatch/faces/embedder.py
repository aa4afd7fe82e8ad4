"""SFace embeddings: 128 numbers per aligned face, L2-normalised so cosine similarity is a dot product.

Run with ``cv2.dnn`` (the int8 block-quantised model needs OpenCV's importer; on OpenCV 5
``FaceRecognizerSF.feature()`` no longer works, so we feed the network ourselves).
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from clearwatch.faces.models import face_model

EMBEDDING_SIZE = 128
# OpenCV 5 warns on every new Net that targets are unsupported by its new engine: noise on every command
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
MODEL_VERSION = "sface-2021dec-int8bq"
INPUT_NAME = "data"  # OpenCV 5 wants the input named


class FaceEmbedder:
    def __init__(self) -> None:
        self.path = str(face_model("recognizer"))
        self._local = threading.local()  # a cv2.dnn.Net is not thread-safe

    def _net(self) -> cv2.dnn.Net:
        net = getattr(self._local, "net", None)
        if net is None:
            net = cv2.dnn.readNetFromONNX(self.path)
            self._local.net = net
        return net

    def embed(self, aligned: list[np.ndarray]) -> np.ndarray:
        """(N, 128) float32 unit vectors for N aligned 112x112 BGR faces."""
        if not aligned:
            return np.zeros((0, EMBEDDING_SIZE), np.float32)
        net = self._net()
        out = []
        for face in aligned:  # the exported graph has a fixed batch of one
            blob = cv2.dnn.blobFromImage(face, 1.0, (112, 112), (0, 0, 0), swapRB=True, crop=False)
            net.setInput(blob, INPUT_NAME)
            out.append(net.forward().reshape(-1))
        vecs = np.array(out, np.float32)
        vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        return vecs
