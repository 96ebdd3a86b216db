"""Optional cross-encoder reranker (sentence-transformers ``CrossEncoder``), off by default.

With the model on disk (see below)::

    r = CrossEncoderReranker("BAAI/bge-reranker-v2-m3")   # nothing loaded yet
    r.score("câu hỏi", ["đoạn 1", "đoạn 2"])              # one score per passage

The model is a hub id already in the local Hugging Face cache, or a local folder
(e.g. ``BAAI/bge-reranker-v2-m3``, ``AITeamVN/Vietnamese_Reranker``). It loads on first
use with ``HF_HUB_OFFLINE=1``; a model that is not on disk fails at once with a message
saying what to do.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from embeddings.base import EmbedderUnavailable


class RerankerUnavailable(EmbedderUnavailable):
    """The reranker model is not available offline."""


class CrossEncoderReranker:
    def __init__(self, model: str, *, batch_size: int = 16, max_length: int = 512) -> None:
        self.model_name = model
        self.batch_size = batch_size
        self.max_length = max_length
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from sentence_transformers import CrossEncoder

                target = (
                    str(Path(self.model_name).expanduser())
                    if Path(self.model_name).expanduser().is_dir()
                    else self.model_name
                )
                try:
                    self._model = CrossEncoder(target, max_length=self.max_length, device="cpu")
                except Exception as exc:
                    raise RerankerUnavailable(
                        f"reranker {self.model_name!r} cannot be loaded offline "
                        f"({type(exc).__name__}). "
                        "Download it on a connected machine (huggingface-cli download "
                        f"{self.model_name}) and set `reranker` to its local folder, or leave "
                        "`reranker` empty."
                    ) from exc
            return self._model

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        model = self._load()
        scores = model.predict(
            [(query, p) for p in passages], batch_size=self.batch_size, show_progress_bar=False
        )
        return [float(s) for s in scores]
