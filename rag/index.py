"""One searchable index = catalog (SQLite) + Chroma collection + BM25 file.

Folder: ``<home>/indexes/<index>/<model-dir>/`` with ``catalog.sqlite``, ``bm25/`` and,
for a local store, ``chroma/``. One folder and one Chroma collection per embedding model.

Write protocol for an article (crash-safe at every step):

1. upsert the new chunks' vectors into Chroma (new ids: the id carries a content hash);
2. commit the catalog transaction that makes the new chunks live and the old ones not;
3. delete the old chunks from Chroma.

Readers trust only ids the catalog lists, so a kill between steps leaves extra vectors
that nobody sees; the next ingest's ``reconcile`` removes them (and re-adds vectors the
catalog lists but Chroma lacks). The BM25 file is derived from the catalog and rebuilt
whenever its generation differs from the catalog's.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.bm25 import BM25Corrupt, BM25Index
from rag.catalog import Catalog
from rag.settings import Settings
from rag.store import VectorStore, collection_name
from rag.types import Article, Chunk

# Bump when cleaning, metadata extraction or chunking change their output: every article
# is then re-processed on the next ingest even if its file did not change.
PIPELINE_VERSION = "1"


class IndexBusy(RuntimeError):
    """Another process is writing to this index."""


class IndexMismatch(RuntimeError):
    """The index folder was built with another embedding model or vector size."""


def model_dirname(model_id: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", model_id.lower()).strip("-")[:40] or "model"
    return f"{slug}-{hashlib.sha256(model_id.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class WriteItem:
    article: Article
    version: str
    chunks: Sequence[Chunk]
    vectors: np.ndarray  # (len(chunks), dim)


def chunk_metadata(article: Article, chunk: Chunk) -> dict[str, str | int]:
    meta: dict[str, str | int] = {
        "article_id": article.id,
        "ordinal": chunk.ordinal,
        "start": chunk.start,
        "end": chunk.end,
    }
    if article.source:
        meta["source"] = article.source
    if article.date:
        meta["date"] = article.date
        if article.date_precision in ("day", "month", "year"):
            # sortable number for range filters: 2021-12-30 -> 20211230, 2021-03 -> 20210300
            digits = (article.date.replace("-", "") + "0000")[:8]
            meta["date_num"] = int(digits)
    return meta


class Index:
    def __init__(self, settings: Settings, model_id: str, dim: int | None = None) -> None:
        self.settings = settings
        self.model_id = model_id
        self.dir = settings.index_root / model_dirname(model_id)
        self.catalog = Catalog(self.dir / "catalog.sqlite")
        self.store = VectorStore(
            name=collection_name(settings.index, model_id),
            path=None if settings.chroma_url else self.dir / "chroma",
            url=settings.chroma_url,
        )
        self._bm25: dict[str, tuple[BM25Index, int]] = {}
        self._bm25_lock = threading.Lock()
        stored = self.catalog.get_meta("model_id")
        if stored is None:
            self.catalog.set_meta("model_id", model_id)
        elif stored != model_id:
            raise IndexMismatch(f"{self.dir} was built with {stored!r}, not {model_id!r}")
        if dim is not None:
            self.check_dim(dim)

    def check_dim(self, dim: int) -> None:
        stored = self.catalog.get_meta("dim")
        if stored is None:
            self.catalog.set_meta("dim", str(dim))
        elif int(stored) != dim:
            raise IndexMismatch(f"{self.dir} holds {stored}-d vectors; the embedder gives {dim}")

    # -- writing -----------------------------------------------------------------
    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Exclusive lock for writers (ingest, delete); fails at once if held."""
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / "write.lock"
        fh = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the lock's lifetime
        try:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip() or "?"
                raise IndexBusy(
                    f"another ingest or delete is running on index {self.settings.index!r} "
                    f"(pid {holder}); wait for it to finish and try again"
                ) from None
            fh.seek(0)
            fh.truncate()
            fh.write(str(os.getpid()))
            fh.flush()
            yield
        finally:
            fh.close()  # releases the lock

    def write(self, items: Sequence[WriteItem], pipeline: str) -> int:
        """Make the items live (protocol in the module docstring). Returns stale chunks removed.

        ``pipeline`` is recorded per article: ingest re-processes articles whose recorded
        pipeline differs from the current one.
        """
        if not items:
            return 0
        ids: list[str] = []
        docs: list[str] = []
        metas: list[dict[str, str | int]] = []
        vecs: list[np.ndarray] = []
        for it in items:
            if len(it.chunks) != len(it.vectors):
                raise ValueError(
                    f"{it.article.id}: {len(it.chunks)} chunks, {len(it.vectors)} vectors"
                )
            for c in it.chunks:
                ids.append(c.id)
                docs.append(c.text)
                metas.append(chunk_metadata(it.article, c))
            if len(it.chunks):
                vecs.append(np.asarray(it.vectors, dtype=np.float32))
        if ids:
            self.store.add(ids, np.concatenate(vecs), docs, metas)
        stale = self.catalog.replace_articles(
            [(it.article, it.version, pipeline, it.chunks) for it in items]
        )
        self.store.delete(stale)
        return len(stale)

    def delete(self, article_ids: Sequence[str]) -> list[str]:
        deleted, chunk_ids = self.catalog.delete_articles(article_ids)
        self.store.delete(chunk_ids)
        return deleted

    def reconcile(self, embed: Callable[[list[str]], np.ndarray]) -> tuple[int, int]:
        """Make Chroma hold exactly the catalog's chunks. Returns (removed, re-added)."""
        live = self.catalog.chunk_ids()
        stored = self.store.all_ids()
        orphans = sorted(stored - live)
        self.store.delete(orphans)
        missing = sorted(live - stored)
        if missing:
            chunks = self.catalog.get_chunks(missing)
            by_article: dict[str, Article] = {}
            ids, docs, metas, texts = [], [], [], []
            for cid in missing:
                c = chunks[cid]
                art = by_article.get(c.article_id)
                if art is None:
                    art = self.catalog.get_article(c.article_id)
                    if art is None:
                        continue
                    by_article[c.article_id] = art
                ids.append(cid)
                docs.append(c.text)
                metas.append(chunk_metadata(art, c))
                texts.append(c.embed_text)
            if ids:
                self.store.add(ids, embed(texts), docs, metas)
        return len(orphans), len(missing)

    # -- BM25 ------------------------------------------------------------------
    @property
    def bm25_dir(self) -> Path:
        return self.dir / "bm25"

    def _bm25_folder(self, analyzer: str) -> Path:
        return self.bm25_dir if analyzer == "vi" else self.dir / f"bm25-{analyzer}"

    def bm25(self, analyzer: str = "vi") -> BM25Index:
        """The BM25 index for the catalog's current generation (loaded or rebuilt).

        ``analyzer``: "vi" (normalised syllables) or "ascii" (diacritics removed).
        """
        with self._bm25_lock:
            gen = self.catalog.generation
            cached = self._bm25.get(analyzer)
            if cached is not None and cached[1] == gen:
                return cached[0]
            try:
                idx, file_gen, _ = BM25Index.load(self._bm25_folder(analyzer))
                if file_gen != gen or idx.analyzer != analyzer:
                    raise BM25Corrupt("stale")
            except BM25Corrupt:
                idx, gen = self._rebuild_bm25(analyzer)
            self._bm25[analyzer] = (idx, gen)
            return idx

    def _rebuild_bm25(self, analyzer: str) -> tuple[BM25Index, int]:
        gen, chunks = self.catalog.snapshot()
        idx = BM25Index.build(
            [c.id for c in chunks], [c.embed_text for c in chunks], analyzer=analyzer
        )
        with contextlib.suppress(OSError):  # read-only home: keep it in memory only
            idx.save(self._bm25_folder(analyzer), gen)
        return idx, gen

    def refresh_bm25(self) -> None:
        """Bring both BM25 files up to the catalog's generation (end of ingest/delete)."""
        for analyzer in ("vi", "ascii"):
            self.bm25(analyzer)

    # -- reading -----------------------------------------------------------------
    def size_bytes(self) -> int:
        total = 0
        for root, _dirs, files in os.walk(self.dir):
            for f in files:
                with contextlib.suppress(OSError):
                    total += os.path.getsize(os.path.join(root, f))
        return total

    def stats(self) -> dict[str, Any]:
        summary = self.catalog.summary()
        return {
            **summary,
            "index": self.settings.index,
            "embedding_model": self.model_id,
            "embedding_setting": self.settings.embedding_model,
            "dim": int(self.catalog.get_meta("dim") or 0) or None,
            "generation": self.catalog.generation,
            "store": self.settings.chroma_url or "local",
            "collection": self.store.name,
            "index_dir": str(self.dir),
            "index_size_bytes": self.size_bytes(),
        }
