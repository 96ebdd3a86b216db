"""The Embedder protocol: two sides (query, passage), L2-normalised float32 vectors.

Every backend exposes a stable ``model_id``: it names the vector space. The index keeps
one Chroma collection per (corpus, model_id) and the embedding cache is keyed by it, so
vectors of different models or different compute paths never mix.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from corpus.errors import HoidapError


@runtime_checkable
class Embedder(Protocol):
    model_id: str  # stable name of the vector space, e.g. "e5-small-q4"
    dim: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, rows L2-normalised. Passage side."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) float32, L2-normalised. Query side."""
        ...


class EmbedderUnavailable(HoidapError, RuntimeError):
    """A backend cannot be loaded here; the message says what to do instead."""


def package_file(package: str, name: str, *, missing: str) -> Path:
    """``name`` inside the folder of the installed package ``package`` (not imported).

    Raises EmbedderUnavailable with the message ``missing`` when it is not installed.
    """
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderUnavailable(missing)
    return Path(next(iter(spec.submodule_search_locations))) / name
