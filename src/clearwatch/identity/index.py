"""The matching index: faiss inner product over unit vectors (= cosine similarity).

Exact search (a flat index) for small galleries; an inverted-file index (IVF) above ``exact_below``
templates, where a flat scan would cost more than a few milliseconds per query. Updated in place on
enrol and delete; rebuilt from the database at start.
"""

from __future__ import annotations

import threading
from typing import cast

import faiss
import numpy as np

EXACT_BELOW = 50_000  # flat search of 50k x 128 is ~2 ms on one core; beyond it, IVF
IVF_TRAIN_MAX = 200_000


def _ids(ids: np.ndarray | list[int]) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(ids, dtype=np.int64))


def _vecs(v: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(v, dtype=np.float32).reshape(-1, v.shape[-1])


class FaceIndex:
    def __init__(self, dim: int = 128, exact_below: int = EXACT_BELOW, nprobe: int | None = None):
        self.dim = dim
        self.exact_below = exact_below
        self.nprobe_override = nprobe
        self._lock = threading.RLock()
        self._index: faiss.Index = self._flat()
        self.kind = "flat"

    def _flat(self) -> faiss.Index:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def rebuild(self, ids: np.ndarray | list[int], vectors: np.ndarray) -> None:
        ids, vectors = _ids(ids), _vecs(vectors) if len(vectors) else np.zeros((0, self.dim), np.float32)
        if len(ids) < self.exact_below:
            index, kind = self._flat(), "flat"
        else:
            nlist = int(np.clip(4 * np.sqrt(len(ids)), 256, 16384))
            quantizer = faiss.IndexFlatIP(self.dim)
            index = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
            rng = np.random.default_rng(0)
            sample = vectors if len(vectors) <= IVF_TRAIN_MAX else vectors[rng.choice(len(vectors), IVF_TRAIN_MAX,
                                                                                     replace=False)]
            index.train(sample)
            index.nprobe = self.nprobe_override or max(8, nlist // 64)
            kind = f"ivf{nlist}"
        if len(ids):
            index.add_with_ids(vectors, ids)
        with self._lock:
            self._index, self.kind = index, kind

    def add(self, ids: np.ndarray | list[int], vectors: np.ndarray) -> None:
        with self._lock:
            self._index.add_with_ids(_vecs(vectors), _ids(ids))
            grown_past = self.kind == "flat" and self._index.ntotal >= 2 * self.exact_below
        if grown_past:  # a flat index that outgrew exact search: switch to IVF
            with self._lock:
                n = self._index.ntotal
                flat = cast(faiss.IndexIDMap, self._index)  # the flat kind is always an id map over a flat index
                all_ids = faiss.vector_to_array(flat.id_map).astype(np.int64)
                vecs = flat.index.reconstruct_n(0, n)
            self.rebuild(all_ids, vecs)

    def remove(self, ids: np.ndarray | list[int]) -> int:
        ids = _ids(ids)
        if not len(ids):
            return 0
        with self._lock:
            return int(self._index.remove_ids(faiss.IDSelectorBatch(ids)))

    def nbytes(self) -> int:
        """Size of the index as faiss stores it (vectors, ids, lists): its memory, give or take."""
        with self._lock:
            return int(faiss.serialize_index(self._index).size)

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(similarities, ids), each (n, k); missing neighbours have id -1."""
        with self._lock:
            if self._index.ntotal == 0:
                n = len(_vecs(vectors))
                return np.full((n, k), -1.0, np.float32), np.full((n, k), -1, np.int64)
            return self._index.search(_vecs(vectors), k)
