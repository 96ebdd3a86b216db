"""Any sentence-transformers model, from a local folder or the local Hugging Face cache.

hoidap is offline-first: nothing is downloaded. A hub id must already be in the HF cache
(``~/.cache/huggingface/hub``, or ``HF_HOME``); otherwise the backend fails at once with
:class:`EmbedderUnavailable` saying how to fetch the model on a connected machine.

Known families get their input conventions automatically:

* ``intfloat/multilingual-e5-*``: "query: " / "passage: " prefixes;
* ``BAAI/bge-m3``, ``AITeamVN/Vietnamese_Embedding``: no prefix;
* PhoBERT-based models (``bkai-foundation-models/vietnamese-bi-encoder``,
  ``VoVanPhuc/sup-SimCSE-VietNamese-phobert-base``, any name containing "phobert"):
  input word-segmented with pyvi ("Hà Nội" -> "Hà_Nội").

>>> emb = SentenceTransformerEmbedder("intfloat/multilingual-e5-small")  # nothing loaded
>>> emb.model_id
'st:intfloat/multilingual-e5-small'

The first ``emb.embed_query("thủ đô của Việt Nam")`` then loads the model from the cache
(or raises ``EmbedderUnavailable``) and embeds "query: thủ đô của Việt Nam".
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.base import EmbedderUnavailable

_E5_PREFIXES = ("query: ", "passage: ")
_SEGMENTED = (
    "bkai-foundation-models/vietnamese-bi-encoder",
    "vovanphuc/sup-simcse-vietnamese-phobert-base",
)


class _DimUnavailable(EmbedderUnavailable, AttributeError):
    """The model is missing, so its dimension is unknown (see ``dim``)."""


def family_defaults(name: str) -> tuple[str, str, bool]:
    """(query_prefix, passage_prefix, word_segment) for a hub id or folder name."""
    low = name.lower().rstrip("/")
    base = low.rsplit("/", 1)[-1]
    if base.startswith("multilingual-e5-"):
        return (*_E5_PREFIXES, False)
    if low in _SEGMENTED or "phobert" in low or base in {s.rsplit("/", 1)[-1] for s in _SEGMENTED}:
        return ("", "", True)
    return ("", "", False)


class SentenceTransformerEmbedder:
    """A sentence-transformers model; L2-normalised float32 vectors; loads on first use.

    Args:
        model_name_or_path: a hub id in the local HF cache, or a model folder.
        query_prefix, passage_prefix: text put before queries / passages; None = the
            family's default (see the module docstring), "" = none.
        word_segment: pyvi word segmentation of the input; None = the family's default.
        device: torch device, e.g. "cpu".
        batch_size: texts per forward pass.

    ``model_id`` is "st:" + the hub id, or for a folder "st:<folder name>-<hash of its
    resolved path>"; a "#<hash>" suffix is added when the prefixes or the segmentation
    differ from the family's defaults (the vectors differ, so the vector space does).
    """

    def __init__(
        self,
        model_name_or_path: str | Path,
        *,
        query_prefix: str | None = None,
        passage_prefix: str | None = None,
        word_segment: bool | None = None,
        device: str = "cpu",
        batch_size: int = 32,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.name = str(model_name_or_path)
        if not self.name.strip():
            raise ValueError("model_name_or_path is empty")
        folder = Path(self.name).expanduser()
        self._folder = folder.resolve() if folder.is_dir() else None
        family_name = self._folder.name if self._folder is not None else self.name
        dq, dp, dseg = family_defaults(family_name)
        self.query_prefix = dq if query_prefix is None else query_prefix
        self.passage_prefix = dp if passage_prefix is None else passage_prefix
        self.word_segment = dseg if word_segment is None else word_segment
        self.device = device
        self.batch_size = batch_size

        if self._folder is not None:
            digest = hashlib.sha256(str(self._folder).encode()).hexdigest()[:8]
            model_id = f"st:{self._folder.name}-{digest}"
        else:
            model_id = f"st:{self.name}"
        config = (self.query_prefix, self.passage_prefix, self.word_segment)
        if config != (dq, dp, dseg):
            model_id += "#" + hashlib.sha256(repr(config).encode()).hexdigest()[:6]
        self.model_id = model_id
        self.load_seconds: float | None = None
        self._model: Any = None
        self._dim: int | None = None
        self._segment: Any = None
        self._lock = threading.RLock()

    # -- loading

    def _resolve(self) -> Path:
        """The model folder: the given one, or the hub id's snapshot in the local cache."""
        if self._folder is not None:
            return self._folder
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from huggingface_hub import snapshot_download
            from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError
        except ImportError as exc:  # pragma: no cover - comes with sentence-transformers
            raise EmbedderUnavailable("sentence-transformers is not installed") from exc
        try:
            return Path(snapshot_download(self.name, local_files_only=True))
        except (LocalEntryNotFoundError, HFValidationError, OSError) as exc:
            raise EmbedderUnavailable(
                f"Embedding model {self.name!r} is not available on this computer: it is "
                "neither a model folder nor in the local Hugging Face cache, and hoidap "
                "does not download models. On a computer with internet access, download "
                f"it (for example: hf download {self.name} --local-dir ./model-folder), "
                "copy the folder to this computer, and set the embedding model setting to "
                "that folder's path."
            ) from exc

    def warm_up(self) -> None:
        """Load the model now (otherwise the first embed call does)."""
        with self._lock:
            if self._model is None:
                self._load()

    def _load(self) -> None:
        import time

        t0 = time.perf_counter()
        path = self._resolve()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderUnavailable(
                "sentence-transformers is not installed: pip install sentence-transformers"
            ) from exc
        if self.word_segment:
            try:
                from pyvi import ViTokenizer
            except ImportError as exc:
                raise EmbedderUnavailable(
                    f"{self.name} expects word-segmented Vietnamese: pip install pyvi"
                ) from exc
            self._segment = ViTokenizer.tokenize
        try:
            model = SentenceTransformer(str(path), device=self.device, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise EmbedderUnavailable(f"Cannot load embedding model from {path}: {exc}") from exc
        get_dim = getattr(model, "get_embedding_dimension", None) or (
            model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        if not dim:
            raise EmbedderUnavailable(f"{path}: the model does not report its dimension")
        self._dim = int(dim)
        self._model = model
        self.load_seconds = time.perf_counter() - t0

    @property
    def dim(self) -> int:
        """Vector size; read from the model folder's configuration when not loaded yet.

        For a model that is not available this raises :class:`EmbedderUnavailable` (also
        an ``AttributeError``, so that ``isinstance(emb, Embedder)`` is False rather than
        an error on Python 3.11, whose protocol check reads every attribute).
        """
        if self._dim is None:
            try:
                self._dim = _dim_from_folder(self._resolve())
                if self._dim is None:
                    self.warm_up()
            except EmbedderUnavailable as exc:
                raise _DimUnavailable(str(exc)) from exc
        assert self._dim is not None
        return self._dim

    @dim.setter
    def dim(self, value: int) -> None:  # the Embedder protocol declares a plain attribute
        self._dim = int(value)

    # -- embedding

    def _prepare(self, prefix: str, text: str) -> str:
        if self._segment is not None:
            text = self._segment(text)
        return prefix + text

    def _encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            if self._model is None:
                self._load()
            vecs = self._model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.warm_up()
        return self._encode([self._prepare(self.passage_prefix, t) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        self.warm_up()
        return self._encode([self._prepare(self.query_prefix, text)])[0]


def _dim_from_folder(folder: Path) -> int | None:
    """Output size from modules.json (last Dense layer, else Pooling), without loading."""
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        dim: int | None = None
        for mod in modules:
            kind = str(mod.get("type", ""))
            cfg_path = folder / str(mod.get("path", "")) / "config.json"
            if kind.endswith(".Pooling"):
                cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
                modes = sum(1 for k, v in cfg.items() if k.startswith("pooling_mode_") and v)
                dim = int(cfg["word_embedding_dimension"]) * max(modes, 1)
            elif kind.endswith(".Dense"):
                dim = int(json.loads(cfg_path.read_text(encoding="utf-8"))["out_features"])
        return dim
    except (OSError, ValueError, KeyError, TypeError):
        return None
