"""Chroma vector store: a local ``PersistentClient`` or a Chroma server (``HttpClient``).

Vectors are always passed explicitly and collections are opened with
``embedding_function=None``: Chroma's default embedding function is an English model that
it would try to download. One collection per (index, embedding model), named by
``collection_name``, so changing the model never mixes vectors.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np


class StoreUnavailable(RuntimeError):
    """The Chroma server cannot be reached or the local store cannot be opened."""


def collection_name(index: str, model_id: str) -> str:
    """Chroma-safe name (3-512 chars of [a-zA-Z0-9._-]) for an (index, model) pair."""
    slug = re.sub(r"[^a-z0-9]+", "-", model_id.lower()).strip("-")[:40]
    digest = hashlib.sha256(f"{index}\x00{model_id}".encode()).hexdigest()[:8]
    return f"hoidap-{re.sub(r'[^A-Za-z0-9_.-]', '-', index)}-{slug}-{digest}"


Metadata = Mapping[str, str | int | float | bool]


class VectorStore:
    def __init__(self, *, name: str, path: Path | None = None, url: str = "") -> None:
        self.name = name
        self.path = path
        self.url = url
        self._collection: Any = None

    def _open(self) -> Any:
        if self._collection is not None:
            return self._collection
        import chromadb  # heavy: import on first use
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        try:
            if self.url:
                u = urlparse(self.url)
                client = chromadb.HttpClient(
                    host=u.hostname or "127.0.0.1",
                    port=u.port or (443 if u.scheme == "https" else 8000),
                    ssl=u.scheme == "https",
                    settings=chroma_settings,
                )
            else:
                assert self.path is not None
                self.path.mkdir(parents=True, exist_ok=True)
                client = chromadb.PersistentClient(path=str(self.path), settings=chroma_settings)
            self._collection = client.get_or_create_collection(
                self.name,
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
            )
        except Exception as exc:
            where = self.url or str(self.path)
            raise StoreUnavailable(
                f"cannot open the Chroma store at {where}: {exc}. "
                + (
                    "Is the Chroma server running (chroma run --path DIR --port N)?"
                    if self.url
                    else "Check that the folder is writable and not used by another program."
                )
            ) from exc
        return self._collection

    def reset_connection(self) -> None:
        self._collection = None

    def add(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        documents: Sequence[str],
        metadatas: Sequence[Metadata],
        *,
        batch: int = 1000,
    ) -> None:
        col = self._open()
        for i in range(0, len(ids), batch):
            col.upsert(
                ids=list(ids[i : i + batch]),
                embeddings=np.asarray(vectors[i : i + batch], dtype=np.float32),
                documents=list(documents[i : i + batch]),
                metadatas=[dict(m) for m in metadatas[i : i + batch]],
            )

    def delete(self, ids: Sequence[str], *, batch: int = 1000) -> None:
        if not ids:
            return
        col = self._open()
        for i in range(0, len(ids), batch):
            col.delete(ids=list(ids[i : i + batch]))

    def all_ids(self, *, page: int = 5000) -> set[str]:
        col = self._open()
        out: set[str] = set()
        offset = 0
        while True:
            got = col.get(include=[], limit=page, offset=offset)["ids"]
            out.update(got)
            if len(got) < page:
                return out
            offset += page

    def count(self) -> int:
        return int(self._open().count())

    def query(
        self, vector: np.ndarray, k: int, where: Mapping[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the ``k`` nearest chunks."""
        col = self._open()
        n = col.count()
        if n == 0:
            return []
        res = col.query(
            query_embeddings=np.asarray(vector, dtype=np.float32).reshape(1, -1),
            n_results=min(k, n),
            where=dict(where) if where else None,
            include=["distances"],
        )
        return [
            (cid, 1.0 - float(dist))
            for cid, dist in zip(res["ids"][0], res["distances"][0], strict=True)
        ]
