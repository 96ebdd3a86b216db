"""Chroma vector store: a local ``PersistentClient`` or a Chroma server (``HttpClient``).

Vectors are always passed explicitly and collections are opened with
``embedding_function=None``: Chroma's default embedding function is an English model that
it would try to download. One collection per (index, embedding model), named by
``collection_name``, so changing the model never mixes vectors.

Failures: a server that cannot be reached (or a local store that errors) raises
``StoreUnavailable`` with a message for the user, on every call, not only the first; a
server that comes back is used again without restarting anything.

Local stores and other processes: a ``PersistentClient`` keeps its vector index in memory
and never sees vectors that another process (``hoidap ingest`` beside a running app) wrote
later. ``sync(generation, writer)`` is told the catalog's generation and which process
made it; when another process wrote since this process opened the store, the client is
dropped (for every ``VectorStore`` of that folder in this process) and the next call
reads the files again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from corpus.errors import HoidapError


class StoreUnavailable(HoidapError, RuntimeError):
    """The Chroma server cannot be reached or the local store cannot be used."""


_BOOT = uuid.uuid4().hex[:12]


def process_token() -> str:
    """Identifies this process in the catalog's ``writer`` field (pid + a per-import id,
    so a reused pid or a forked child is a different writer)."""
    return f"{os.getpid()}-{_BOOT}"


@dataclass
class _LocalView:
    """What this process's Chroma client for one folder has seen."""

    epoch: int = 0  # bumped each time the client is dropped
    generation: int | None = None  # catalog generation the client is known to include


_VIEWS: dict[str, _LocalView] = {}
_VIEWS_LOCK = threading.RLock()  # held by local writes and by dropping a client
_RETIRED: list[tuple[float, Any]] = []  # (when, dropped chromadb System) to stop later
_RETIRE_GRACE_S = 2.0


def _stop_retired(grace_s: float) -> None:
    """Stop dropped clients older than ``grace_s`` (a call in flight takes milliseconds)."""
    now = time.monotonic()
    keep = []
    for when, system in _RETIRED:
        if now - when < grace_s:
            keep.append((when, system))
            continue
        with contextlib.suppress(Exception):  # already stopped: nothing left to free
            system.stop()
    _RETIRED[:] = keep


def collection_name(index: str, model_id: str) -> str:
    """Chroma-safe name (3-512 chars of [a-zA-Z0-9._-]) for an (index, model) pair."""
    slug = re.sub(r"[^a-z0-9]+", "-", model_id.lower()).strip("-")[:40]
    digest = hashlib.sha256(f"{index}\x00{model_id}".encode()).hexdigest()[:8]
    return f"hoidap-{re.sub(r'[^A-Za-z0-9_.-]', '-', index)}-{slug}-{digest}"


Metadata = Mapping[str, str | int | float | bool]


class VectorStore:
    def __init__(
        self,
        *,
        name: str,
        path: Path | None = None,
        url: str = "",
        write_state: Callable[[], tuple[int, str | None]] | None = None,
    ) -> None:
        """``write_state`` gives (catalog generation, writer); queries on a local store
        call ``sync`` with it first, so they see what other processes wrote."""
        self.name = name
        self.path = path
        self.url = url
        self._write_state = write_state
        self._collection: Any = None
        self._epoch = -1

    @property
    def _key(self) -> str:
        return str(self.path)

    def _open(self) -> Any:
        if self._collection is not None and (
            self.url or _VIEWS.get(self._key, _LocalView()).epoch == self._epoch
        ):
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
                with _VIEWS_LOCK:
                    epoch = _VIEWS.setdefault(self._key, _LocalView()).epoch
                    client = chromadb.PersistentClient(
                        path=str(self.path), settings=chroma_settings
                    )
            collection = client.get_or_create_collection(
                self.name,
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
            )
        except Exception as exc:
            raise self._unavailable(exc, opening=True) from exc
        self._collection = collection
        if not self.url:
            self._epoch = epoch
        return collection

    def _unavailable(self, exc: BaseException, *, opening: bool = False) -> StoreUnavailable:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        if self.url:
            return StoreUnavailable(
                f"Không kết nối được máy chủ Chroma tại {self.url} ({detail}). "
                "Hãy kiểm tra máy chủ Chroma (chroma run --path DIR --port N) rồi thử lại."
            )
        if opening:
            return StoreUnavailable(
                f"Không mở được kho vectơ Chroma tại {self.path} ({detail}). "
                "Hãy kiểm tra thư mục có ghi được và không bị chương trình khác dùng."
            )
        return StoreUnavailable(f"Kho vectơ Chroma tại {self.path} báo lỗi: {detail}.")

    def _call(self, op: str, *args: Any, **kwargs: Any) -> Any:
        """``collection.<op>(...)``; connection and store errors become StoreUnavailable."""
        col = self._open()
        try:
            return getattr(col, op)(*args, **kwargs)
        except Exception as exc:
            if not _is_store_failure(exc):
                raise
            if not self.url:  # a failed local client can be left in a bad state: start over
                self.reopen()
            raise self._unavailable(exc) from exc

    def reset_connection(self) -> None:
        self._collection = None

    def reopen(self) -> None:
        """Drop this process's client for the store; the next call reads the files again."""
        if self.url:
            self._collection = None
            return
        from chromadb.api.shared_system_client import SharedSystemClient

        with _VIEWS_LOCK:  # not while a local write is in flight
            # chromadb keeps one client "system" per folder and process; forgetting it makes
            # the next PersistentClient load the folder afresh. The old system is stopped
            # (its memory, threads and files released) once no call can still be running
            # on it: every VectorStore re-opens on its next call (the epoch changed).
            old = SharedSystemClient._identifier_to_system.pop(self._key, None)
            if old is not None:
                _RETIRED.append((time.monotonic(), old))
            view = _VIEWS.setdefault(self._key, _LocalView())
            view.epoch += 1
            view.generation = None
            _stop_retired(_RETIRE_GRACE_S)
        self._collection = None

    def sync(self, generation: int, writer: str | None) -> bool:
        """Make this process's view include every write up to ``generation``.

        ``writer`` is the process that made the latest generation. Returns True when the
        client was dropped because another process wrote since this one last looked.
        """
        if self.url:
            return False
        view = _VIEWS.get(self._key)
        if view is not None and view.generation == generation:
            return False  # the common case, without waiting for a write in flight
        with _VIEWS_LOCK:
            view = _VIEWS.setdefault(self._key, _LocalView())
            if view.generation == generation:
                return False
            if view.generation is None or writer in (None, process_token()):
                view.generation = generation  # opened since, or our own writes: seen
                return False
            self.reopen()
            _VIEWS[self._key].generation = generation
            return True

    def add(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        documents: Sequence[str],
        metadatas: Sequence[Metadata],
        *,
        batch: int = 1000,
    ) -> None:
        with _VIEWS_LOCK if not self.url else _NO_LOCK:
            for i in range(0, len(ids), batch):
                self._call(
                    "upsert",
                    ids=list(ids[i : i + batch]),
                    embeddings=np.asarray(vectors[i : i + batch], dtype=np.float32),
                    documents=list(documents[i : i + batch]),
                    metadatas=[dict(m) for m in metadatas[i : i + batch]],
                )

    def delete(self, ids: Sequence[str], *, batch: int = 1000) -> None:
        if not ids:
            return
        with _VIEWS_LOCK if not self.url else _NO_LOCK:
            for i in range(0, len(ids), batch):
                self._call("delete", ids=list(ids[i : i + batch]))

    def all_ids(self, *, page: int = 5000) -> set[str]:
        out: set[str] = set()
        offset = 0
        while True:
            got = self._call("get", include=[], limit=page, offset=offset)["ids"]
            out.update(got)
            if len(got) < page:
                return out
            offset += page

    def count(self) -> int:
        return int(self._call("count"))

    def query(
        self, vector: np.ndarray, k: int, where: Mapping[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the ``k`` nearest chunks."""
        if self._write_state is not None and not self.url:
            self.sync(*self._write_state())
        n = self.count()
        if n == 0:
            return []
        res = self._call(
            "query",
            query_embeddings=np.asarray(vector, dtype=np.float32).reshape(1, -1),
            n_results=min(k, n),
            where=dict(where) if where else None,
            include=["distances"],
        )
        return [
            (cid, 1.0 - float(dist))
            for cid, dist in zip(res["ids"][0], res["distances"][0], strict=True)
        ]


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NO_LOCK = _NoLock()


def _is_store_failure(exc: BaseException) -> bool:
    """Connection problems and the store's own internal errors, not bad arguments."""
    try:
        import httpx

        if isinstance(exc, httpx.TransportError):
            return True
    except ImportError:  # pragma: no cover - httpx comes with chromadb
        pass
    from chromadb.errors import InternalError

    return isinstance(exc, InternalError | ConnectionError | TimeoutError | OSError)
