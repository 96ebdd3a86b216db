"""A persistent embedding cache: (model_id, sha256 of the exact text) -> float32 vector.

SQLite in WAL mode; every ``put_many`` is one transaction, so a process killed mid-way
loses at most the batch it was writing and never corrupts the file. One connection is
shared by all threads of a process behind a lock (SQLite serialises writers anyway).

>>> class Toy:  # any Embedder; real ones come from embeddings.registry.load_embedder
...     model_id, dim = "toy-1", 1
...     def embed_documents(self, texts):
...         return np.ones((len(texts), 1), dtype=np.float32)
...     def embed_query(self, text):
...         return np.ones(1, dtype=np.float32)
>>> emb = CachedEmbedder(Toy(), EmbeddingCache(":memory:"))
>>> _ = emb.embed_documents(["Hà Nội", "Huế"])
>>> _ = emb.embed_documents(["Huế", "Đà Nẵng"])
>>> (emb.hits, emb.misses)
(1, 3)
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from corpus.sqlite import BUSY_TIMEOUT_S, enable_wal
from embeddings.base import Embedder

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    model_id  TEXT    NOT NULL,
    text_hash BLOB    NOT NULL,
    dim       INTEGER NOT NULL,
    vector    BLOB    NOT NULL,
    PRIMARY KEY (model_id, text_hash)
) WITHOUT ROWID
"""
_CHUNK = 500  # host parameters per SELECT (SQLite's default limit is 32766)


def text_hash(text: str) -> bytes:
    """sha256 of the text's UTF-8 bytes (lone surrogates kept, not replaced)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class EmbeddingCache:
    """Vectors by (model_id, text). ``path`` may be ":memory:" (tests)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
        with self._lock:
            enable_wal(self._conn)
            self._conn.execute("PRAGMA synchronous=NORMAL")  # durable across process kills
            self._conn.execute(_SCHEMA)
            self._conn.commit()

    def get_many(self, model_id: str, texts: Sequence[str]) -> list[np.ndarray | None]:
        """The cached vector of each text, or None; in the order of ``texts``."""
        hashes = [text_hash(t) for t in texts]
        found: dict[bytes, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        with self._lock:
            for i in range(0, len(unique), _CHUNK):
                part = unique[i : i + _CHUNK]
                marks = ",".join("?" * len(part))
                rows = self._conn.execute(
                    "SELECT text_hash, dim, vector FROM embeddings "
                    f"WHERE model_id = ? AND text_hash IN ({marks})",
                    [model_id, *part],
                ).fetchall()
                for h, dim, blob in rows:
                    vec = np.frombuffer(blob, dtype="<f4")
                    if vec.size == dim:
                        found[bytes(h)] = vec.astype(np.float32)  # a writable copy
        return [found.get(h) for h in hashes]

    def put_many(self, model_id: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store one vector per text (replacing any old one), in one transaction."""
        vecs = np.asarray(vectors, dtype="<f4")
        if vecs.ndim != 2 or vecs.shape[0] != len(texts):
            raise ValueError(f"expected ({len(texts)}, dim) vectors, got {vecs.shape}")
        rows = [
            (model_id, text_hash(t), int(vecs.shape[1]), vecs[i].tobytes())
            for i, t in enumerate(texts)
        ]
        with self._lock, self._conn:  # commits, or rolls back on error
            self._conn.executemany(
                "INSERT OR REPLACE INTO embeddings (model_id, text_hash, dim, vector) "
                "VALUES (?, ?, ?, ?)",
                rows,
            )

    def count(self, model_id: str | None = None) -> int:
        """Number of stored vectors (of one model, or of all)."""
        with self._lock:
            if model_id is None:
                row = self._conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()
            else:
                row = self._conn.execute(
                    "SELECT COUNT(*) FROM embeddings WHERE model_id = ?", (model_id,)
                ).fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CachedEmbedder:
    """An :class:`Embedder` that remembers passage vectors in an :class:`EmbeddingCache`.

    ``embed_documents`` looks every text up, embeds the misses (each distinct text once)
    in ONE call to the inner embedder, stores them and returns the rows in input order.
    ``hits`` / ``misses`` count texts (a text repeated in one call counts each time).

    Queries are passed through uncached: they are one-off, cheap (one vector) and would
    only fill the cache with user questions.
    """

    def __init__(self, inner: Embedder, cache: EmbeddingCache) -> None:
        self.inner = inner
        self.cache = cache
        self.model_id = inner.model_id
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return self.inner.dim

    @dim.setter
    def dim(self, value: int) -> None:  # the Embedder protocol declares a plain attribute
        self.inner.dim = value

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        cached = self.cache.get_many(self.model_id, texts)
        todo = list(dict.fromkeys(t for t, v in zip(texts, cached, strict=True) if v is None))
        fresh: dict[str, np.ndarray] = {}
        if todo:
            vecs = np.asarray(self.inner.embed_documents(todo), dtype=np.float32)
            if vecs.shape[0] != len(todo):
                raise RuntimeError(f"{self.model_id}: {len(todo)} texts gave {vecs.shape[0]} rows")
            self.cache.put_many(self.model_id, todo, vecs)
            fresh = dict(zip(todo, vecs, strict=True))
        n_miss = sum(v is None for v in cached)
        with self._lock:
            self.hits += len(texts) - n_miss
            self.misses += n_miss
        if not texts:
            return np.zeros((0, self.inner.dim), dtype=np.float32)
        rows = [v if v is not None else fresh[t] for t, v in zip(texts, cached, strict=True)]
        return np.stack(rows).astype(np.float32, copy=False)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)
