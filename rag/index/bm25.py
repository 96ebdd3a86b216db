"""BM25 over normalised Vietnamese syllables, persisted beside Chroma.

Scores are precomputed per (term, chunk) into a sparse term x chunk matrix (the bm25s
approach), so a query is a sum of a few rows: well under a millisecond for 10^4 chunks.
Tokens come from ``corpus.text.tokens`` (NFC, one tone-mark placement, lower case), for the
index and for queries alike.

On disk: ``bm25-<generation>-<random>.npz`` plus ``CURRENT`` (JSON naming the file, the catalog
generation it was built from, a hash of its chunk ids and the file's sha256), replaced
atomically. A file that is missing, from another generation, fails its checksum or cannot
be read is rebuilt from the catalog (``rag.index.index``).

>>> idx = BM25Index.build(["a", "b"], ["Quy chế dân chủ ở cơ sở", "Công tác dân vận"])
>>> idx.search("dân vận", k=1)[0][0]
'b'
>>> ascii_idx = BM25Index.build(["a", "b"], ["Quy chế", "Dân vận"], analyzer="ascii")
>>> ascii_idx.search("dan van", 1)[0][0]
'b'
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from corpus.errors import HoidapError
from corpus.text import ascii_tokens, tokens

# Analyzers: "vi" = normalised syllables; "ascii" = the same without diacritics, for
# queries typed without marks ("kiem tra bao nhieu don vi").
ANALYZERS: dict[str, Callable[[str], list[str]]] = {"vi": tokens, "ascii": ascii_tokens}


class BM25Corrupt(HoidapError, RuntimeError):
    """The persisted BM25 file cannot be used; rebuild it from the catalog."""


class BM25Missing(BM25Corrupt):
    """There is no BM25 file yet (or only an out-of-date one): a normal rebuild."""


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def ids_digest(ids: Sequence[str]) -> str:
    h = hashlib.sha256()
    for i in sorted(ids):
        h.update(i.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:16]


def top_scores(ids: Sequence[str], scores: np.ndarray, k: int) -> list[tuple[str, float]]:
    """The ``k`` best (id, score) pairs with a positive score, best first (ties: in order)."""
    if not len(scores):
        return []
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(ids[i], float(scores[i])) for i in top if scores[i] > 0.0]


class BM25Index:
    def __init__(
        self,
        ids: list[str],
        vocab: dict[str, int],
        matrix: sparse.csr_matrix,
        analyzer: str = "vi",
    ) -> None:
        self.ids = ids
        self.vocab = vocab
        self.matrix = matrix  # (n_terms, n_docs), BM25 weight of term t in doc d
        self.analyzer = analyzer
        self._analyze = ANALYZERS[analyzer]

    @classmethod
    def build(
        cls,
        ids: Sequence[str],
        texts: Sequence[str],
        *,
        analyzer: str = "vi",
        k1: float = 1.2,
        b: float = 0.75,
    ) -> BM25Index:
        analyze = ANALYZERS[analyzer]
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        tfs: list[int] = []
        lengths = np.zeros(len(texts), dtype=np.float32)
        for d, text in enumerate(texts):
            toks = analyze(text)
            lengths[d] = len(toks)
            for tok, count in Counter(toks).items():
                rows.append(vocab.setdefault(tok, len(vocab)))
                cols.append(d)
                tfs.append(count)
        n_docs = len(texts)
        avgdl = float(lengths.mean()) if n_docs else 1.0
        tf = np.asarray(tfs, dtype=np.float32)
        col = np.asarray(cols, dtype=np.int64)
        row = np.asarray(rows, dtype=np.int64)
        df = np.bincount(row, minlength=len(vocab)).astype(np.float32)
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
        norm = k1 * (1.0 - b + b * lengths[col] / max(avgdl, 1e-9))
        weight = idf[row] * tf * (k1 + 1.0) / (tf + norm)
        matrix = sparse.csr_matrix(
            (weight.astype(np.float32), (row, col)), shape=(len(vocab), n_docs)
        )
        return cls(list(ids), vocab, matrix, analyzer)

    def __len__(self) -> int:
        return len(self.ids)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for ``query`` (unique query tokens)."""
        rows = sorted({self.vocab[t] for t in self._analyze(query) if t in self.vocab})
        if not rows or not self.ids:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self.matrix[rows].sum(axis=0)).ravel()

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        return top_scores(self.ids, self.scores(query), k)

    # -- persistence -----------------------------------------------------------
    def save(self, folder: Path, generation: int) -> Path:
        """Write the index for catalog ``generation`` and make it CURRENT.

        Savers (an ingest, and readers that rebuilt a stale file, in any process) take
        turns on ``folder/.lock``; a saver finding an intact file of its generation, or a
        newer one, leaves it. Every file gets a fresh name, so a reader never sees a file
        replaced under the manifest that describes it.
        """
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / ".lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            current = _read_current(folder)
            if current is not None:
                gen = int(current.get("generation", -1))
                if gen > generation or (gen == generation and _intact(folder, current)):
                    return folder / str(current["file"])
            name = f"bm25-{generation}-{uuid.uuid4().hex[:8]}.npz"
            tmp = folder / f".{name}.tmp"
            m = self.matrix
            try:
                with open(tmp, "wb") as fh:
                    np.savez(
                        fh,
                        data=m.data,
                        indices=m.indices,
                        indptr=m.indptr,
                        shape=np.asarray(m.shape),
                        meta=np.frombuffer(
                            json.dumps(
                                {"ids": self.ids, "vocab": self.vocab, "analyzer": self.analyzer}
                            ).encode("utf-8"),
                            dtype=np.uint8,
                        ),
                    )
                    fh.flush()
                    os.fsync(fh.fileno())
                digest = file_sha256(tmp)
                os.replace(tmp, folder / name)
            except BaseException:
                tmp.unlink(missing_ok=True)  # a full disk must not keep half a file
                raise
            manifest = {
                "generation": generation,
                "file": name,
                "ids_digest": ids_digest(self.ids),
                "sha256": digest,
            }
            _atomic_write(folder / "CURRENT", json.dumps(manifest))
            for old in folder.glob("bm25-*.npz"):
                if old.name != name:
                    old.unlink(missing_ok=True)
            return folder / name

    @classmethod
    def load(cls, folder: Path) -> tuple[BM25Index, int, str]:
        """Returns (index, generation, ids digest) or raises BM25Corrupt."""
        current: dict[str, Any] = {}
        try:
            current = json.loads((folder / "CURRENT").read_text(encoding="utf-8"))
            path = folder / str(current["file"])
            expected = current.get("sha256")  # absent in files written before checksums
            if expected is not None and file_sha256(path) != expected:
                raise BM25Corrupt(f"BM25 index {path} fails its checksum (damaged file)")
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(bytes(z["meta"]).decode("utf-8"))
                shape = tuple(int(x) for x in z["shape"])
                matrix = sparse.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=shape)
            idx = cls(list(meta["ids"]), dict(meta["vocab"]), matrix, meta.get("analyzer", "vi"))
        except FileNotFoundError as exc:
            if _names_file(folder, current.get("file")):
                # the manifest still names a file that is gone: damage, not a replacement
                raise BM25Corrupt(f"BM25 index in {folder} is missing its data file") from exc
            raise BM25Missing(f"no BM25 index in {folder}") from exc
        except BM25Corrupt:
            raise
        except Exception as exc:  # any damage to the files means: rebuild
            raise BM25Corrupt(f"unreadable BM25 index in {folder}: {exc}") from exc
        digest = ids_digest(idx.ids)
        if (
            digest != current.get("ids_digest")
            or matrix.shape[1] != len(idx.ids)
            or matrix.shape[0] != len(idx.vocab)
            or not math.isfinite(float(matrix.data.sum()) if matrix.nnz else 0.0)
        ):
            raise BM25Corrupt(f"BM25 index in {folder} does not match its own manifest")
        return idx, int(current["generation"]), digest


def _read_current(folder: Path) -> dict[str, Any] | None:
    try:
        current = json.loads((folder / "CURRENT").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return current if isinstance(current, dict) and "file" in current else None


def _intact(folder: Path, current: dict[str, Any]) -> bool:
    """The file CURRENT names exists and matches its checksum."""
    expected = current.get("sha256")
    try:
        return expected is not None and file_sha256(folder / str(current["file"])) == expected
    except OSError:
        return False


def _names_file(folder: Path, name: object) -> bool:
    """True if ``CURRENT`` (read again) still names ``name``; False when it is gone or now
    names another file (another process replaced the index meanwhile)."""
    if name is None:
        return False
    try:
        return json.loads((folder / "CURRENT").read_text(encoding="utf-8")).get("file") == name
    except (OSError, ValueError, AttributeError):
        return False


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
