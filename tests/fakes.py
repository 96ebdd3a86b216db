"""Deterministic fakes for unit tests."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from corpus.text import tokens


class HashEmbedder:
    """Bag-of-syllables embedder: each search token is hashed into one of ``dim`` buckets.

    Texts that share words get similar vectors, so rankings in tests are meaningful and
    exactly reproducible. ``calls`` counts how many texts were embedded (passage side).
    """

    def __init__(self, dim: int = 64, model_id: str = "fake-hash-64") -> None:
        self.dim = dim
        self.model_id = model_id
        self.calls = 0

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for tok in tokens(text):
            h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=4).digest(), "little")
            v[h % self.dim] += 1.0
        n = float(np.linalg.norm(v))
        if n == 0.0:
            v[0] = 1.0
            n = 1.0
        return v / n

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += len(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vec(t) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._vec(text)
