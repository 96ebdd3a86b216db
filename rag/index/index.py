"""One searchable index = catalog (SQLite) + Chroma collection + BM25 file.

Folder: ``<home>/indexes/<index>/<model-dir>/`` with ``catalog.sqlite``, ``bm25/`` and,
for a local store, ``chroma/``. One folder and one Chroma collection per embedding model.

Write protocol for an article (crash-safe at every step):

1. upsert the new chunks' vectors into Chroma (new ids: the id carries a content hash);
2. commit the catalog transaction that makes the new chunks live and the old ones not;
3. delete the old chunks from Chroma.

Readers trust only ids the catalog lists, so a kill between steps leaves extra vectors
that nobody sees; the next ingest's ``reconcile`` removes them (and re-adds vectors the
catalog lists but Chroma lacks). The BM25 segments are derived from the catalog and catch
up with its change log (the ``changes`` table, written in the same transaction as the
chunks); a damaged one (checksum, manifest or load failure), one whose live chunk count
differs from the catalog's, or one in the previous layout is rebuilt from the catalog.
An upload merges segments only up to ``bm25_inline_merge_docs`` chunks; larger merges run
in a background thread (``merge_bm25``; the two analyzers' merges take turns, so that only
one merge's memory is held at a time) and are put in under the BM25 folder's lock, so an
upload's cost does not include them; ``close`` waits for them.

One writer at a time: ``writer_lock`` (an flock on ``write.lock``) serialises ingests and
deletes across processes; a second writer waits up to ``wait_s`` with a message, then
gives up with ``IndexBusy``. Before writing, ``ensure_free_space`` checks the disk so that
a full disk stops an ingest between two batches (``DiskFull``) instead of inside Chroma,
which cannot read its own store again until space is freed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from corpus.errors import HoidapError
from corpus.formats import human_size
from corpus.types import Article, Chunk
from rag.index.bm25 import (
    BM25Corrupt,
    BM25Index,
    BM25Missing,
    BM25Outdated,
    Segment,
    folder_lock,
    load_index,
    save_index,
)
from rag.index.catalog import Catalog
from rag.index.pg import (
    PgConnection,
    advisory_holder,
    lock_key,
    schema_name,
    try_advisory_lock,
)
from rag.index.store import VectorStore, collection_name, process_token
from rag.settings import Settings

# Bump when cleaning, metadata extraction or chunking change their output: every article
# is then re-processed on the next ingest even if its file did not change.
PIPELINE_VERSION = "1"


class IndexBusy(HoidapError, RuntimeError):
    """Another process is writing to this index."""


class IndexMismatch(HoidapError, RuntimeError):
    """The index folder was built with another embedding model or vector size."""

    @property
    def user_message(self) -> str:  # the raised message (English) names folder and models
        return (
            "Chỉ mục này được tạo với một mô hình nhúng khác (hoặc cỡ vectơ khác): "
            f"{self}. Hãy dùng đúng --embedding-model, hoặc nạp vào một chỉ mục mới (--index)."
        )


class DiskFull(HoidapError, RuntimeError):
    """Too little free disk space to write safely; nothing was written for this step."""


log = logging.getLogger("hoidap.index")
_MB = 1024 * 1024


def estimate_write_bytes(n_chunks: int, text_bytes: int, dim: int) -> int:
    """Disk a batch will take: catalog (text twice), Chroma (text, vector, log), embedding
    cache and BM25. Measured on 2,000 chunks at 64 and 384 dimensions (9.4 and 15.8 KB per
    chunk of 1.5 KB text); this formula gives 10.9 and 16.0 KB."""
    return 5 * text_bytes + n_chunks * (16 * dim + 2048)


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


def index_busy(index: str, holder: str, wait_s: float) -> IndexBusy:
    waited = f" sau {wait_s:.0f} giây chờ" if wait_s > 0 else ""
    return IndexBusy(
        f"Một lần nạp hoặc xoá khác đang chạy trên chỉ mục {index!r} ({holder}){waited}. "
        "Hãy đợi nó xong rồi chạy lại; chỉ mục hiện có vẫn dùng được."
    )


def _acquire(
    try_once: Callable[[], bool],
    holder: Callable[[], str],
    index: str,
    wait_s: float,
    on_wait: Callable[[str], None] | None,
) -> None:
    """Call ``try_once`` until it takes the lock: while another writer holds it,
    ``on_wait(holder())`` is called once, then it is retried until ``wait_s`` seconds have
    passed; after that, ``IndexBusy``."""
    deadline = time.monotonic() + max(0.0, wait_s)
    announced = False
    while not try_once():
        who = holder()
        if time.monotonic() >= deadline:
            raise index_busy(index, f"pid {who}", wait_s)
        if not announced and on_wait is not None:
            on_wait(who)
        announced = True
        time.sleep(0.2)


@contextlib.contextmanager
def writer_lock(
    folder: Path, index: str, wait_s: float = 0.0, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Exclusive lock for the writers of the index in ``folder`` (ingest, delete, backup):
    an flock on ``write.lock``, which names the holder's pid. Waiting: see ``_acquire``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "write.lock"
    fh = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the lock's lifetime

    def try_once() -> bool:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def holder() -> str:
        fh.seek(0)
        return fh.read().strip() or "?"

    try:
        _acquire(try_once, holder, index, wait_s, on_wait)
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        yield
    finally:
        fh.close()  # releases the lock


class Index:
    def __init__(self, settings: Settings, model_id: str, dim: int | None = None) -> None:
        self.settings = settings
        self.model_id = model_id
        self.dir = settings.index_root / model_dirname(model_id)
        self.catalog = Catalog(
            self.dir / "catalog.sqlite",
            url=settings.catalog_url,
            schema=schema_name(settings.index, self.dir.name),
        )
        self.store = VectorStore(
            name=collection_name(settings.index, model_id),
            path=None if settings.chroma_url else self.dir / "chroma",
            url=settings.chroma_url,
            write_state=self.catalog.write_state,
        )
        self._bm25: dict[str, tuple[BM25Index, int]] = {}
        self._bm25_lock = threading.Lock()
        self._segments: dict[str, dict[str, Segment]] = {}  # analyzer -> loaded, by file
        self._merging: dict[str, threading.Thread] = {}  # analyzer -> background merge
        self._merge_turn = threading.Lock()  # one background merge at a time: memory, CPU
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

    def close(self) -> None:
        """Wait for background BM25 merges, then close the catalog's connections (what
        opens an Index closes it; a later call reconnects). The vector store holds no
        connection of its own to close."""
        self.wait_for_merges()
        self.catalog.close()

    def wait_for_merges(self) -> None:
        """Return when the background BM25 merges started so far are done."""
        for thread in list(self._merging.values()):
            thread.join()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------
    def writer_lock(
        self, wait_s: float = 0.0, on_wait: Callable[[str], None] | None = None
    ) -> contextlib.AbstractContextManager[None]:
        """Exclusive lock for writers (ingest, delete); see ``writer_lock``. With a shared
        catalog (``catalog_url``) also the lock of every machine's writers."""
        if not self.settings.catalog_url:
            return writer_lock(self.dir, self.settings.index, wait_s, on_wait)
        return self._shared_writer_lock(wait_s, on_wait)

    @contextlib.contextmanager
    def _shared_writer_lock(
        self, wait_s: float, on_wait: Callable[[str], None] | None
    ) -> Iterator[None]:
        """The file lock of this home, then a PostgreSQL session advisory lock on its own
        connection (released when the block ends, or when a holder that died drops it)."""
        name, schema = self.settings.index, self.catalog.schema
        with writer_lock(self.dir, name, wait_s, on_wait):
            con = PgConnection(self.settings.catalog_url, schema)
            key = lock_key(schema, "writers")
            try:
                _acquire(
                    lambda: try_advisory_lock(con, key),
                    lambda: advisory_holder(con, key),
                    name,
                    wait_s,
                    on_wait,
                )
                yield
            finally:
                con.close()

    def ensure_free_space(self, needed_bytes: int = 0) -> None:
        """Raise ``DiskFull`` unless the index and cache folders have ``needed_bytes`` plus
        the ``min_free_mb`` reserve free. Called before each write, it stops an ingest
        between batches, so the existing index is never written into a full disk."""
        reserve = self.settings.min_free_mb * _MB
        need = needed_bytes + reserve
        for folder in (self.dir, self.settings.cache_dir):
            probe = folder
            while not probe.exists() and probe != probe.parent:
                probe = probe.parent
            free = shutil.disk_usage(probe).free
            if free < need:
                raise DiskFull(
                    f"Không đủ chỗ trống trên đĩa: còn {human_size(free)} ở {probe}, cần "
                    f"khoảng {human_size(need)} (gồm {human_size(reserve)} dự phòng, "
                    "min_free_mb). Đã dừng trước khi ghi tiếp; chỉ mục hiện có vẫn dùng "
                    "được. Hãy giải phóng dung lượng rồi chạy lại lệnh nạp."
                )

    def sync_store(self) -> None:
        """Before writing: see what other processes wrote to a local Chroma store."""
        self.store.sync(*self.catalog.write_state())

    def _written(self) -> None:
        self.store.sync(self.catalog.generation, process_token())

    def write(self, items: Sequence[WriteItem], pipeline: str) -> int:
        """Make the items live (protocol in the module docstring). Returns stale chunks removed.

        ``pipeline`` is recorded per article: ingest re-processes articles whose recorded
        pipeline differs from the current one.
        """
        if not items:
            return 0
        self.sync_store()
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
            [(it.article, it.version, pipeline, it.chunks) for it in items],
            writer=process_token(),
        )
        self._written()
        self.store.delete(stale)
        return len(stale)

    def delete(self, article_ids: Sequence[str]) -> list[str]:
        self.sync_store()
        deleted, chunk_ids = self.catalog.delete_articles(article_ids, writer=process_token())
        self._written()
        self.store.delete(chunk_ids)
        return deleted

    def reconcile(self, embed: Callable[[list[str]], np.ndarray]) -> tuple[int, int]:
        """Make Chroma hold exactly the catalog's chunks. Returns (removed, re-added)."""
        self.sync_store()
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
        if orphans or missing:  # readers in other processes must look at the store again
            self.catalog.bump(process_token())
            self._written()
        return len(orphans), len(missing)

    # -- BM25 ------------------------------------------------------------------
    @property
    def bm25_dir(self) -> Path:
        return self.dir / "bm25"

    def _bm25_folder(self, analyzer: str) -> Path:
        return self.bm25_dir if analyzer == "vi" else self.dir / f"bm25-{analyzer}"

    def bm25(self, analyzer: str = "vi") -> BM25Index:
        """The BM25 index for the catalog's current generation.

        ``analyzer``: "vi" (normalised syllables) or "ascii" (diacritics removed). Catches up
        from the files (or what this process holds) with the catalog's change log: one
        segment for the changed articles, their old chunks tombstoned, so an upload costs
        what the article costs. Damaged, foreign or old-layout files are rebuilt from the
        catalog (nothing is re-embedded).
        """
        with self._bm25_lock:
            gen = self.catalog.generation
            cached = self._bm25.get(analyzer)
            if cached is not None and cached[1] == gen:
                return cached[0]
            folder = self._bm25_folder(analyzer)
            try:
                with folder_lock(folder):
                    idx, gen = self._sync_bm25(folder, analyzer, cached, write=True)
            except OSError:  # read-only home: keep it in memory only
                idx, gen = self._sync_bm25(folder, analyzer, cached, write=False)
            self._bm25[analyzer] = (idx, gen)
            self._segments[analyzer] = {s.name: s for s in idx.segments if s.name}
            saved = all(s.name for s in idx.segments)
            if saved and any(g.merges for g in idx.merge_plan()[0]):
                self._merge_in_background(analyzer)  # what the upload deferred
            return idx

    def _merge_in_background(self, analyzer: str) -> None:
        running = self._merging.get(analyzer)
        if running is not None and running.is_alive():
            return  # it looks again when done
        thread = threading.Thread(
            target=self._merge_logged, args=(analyzer,), name=f"bm25-merge-{analyzer}", daemon=True
        )
        self._merging[analyzer] = thread
        thread.start()

    def _merge_logged(self, analyzer: str) -> None:
        try:
            with self._merge_turn:  # the two analyzers' merges take turns, not both at once
                while self.merge_bm25(analyzer):  # uploads during a long merge may defer more
                    pass
        except (BM25Corrupt, OSError) as exc:  # the next upload or open tries again
            log.warning("background BM25 merge (%s) stopped: %s", analyzer, exc)

    def merge_bm25(self, analyzer: str = "vi", tries: int = 3) -> bool:
        """Run the merges that uploads deferred (``bm25_inline_merge_docs``), outside the
        BM25 folder's lock, then put them into the files' current state under the lock:
        uploads go on meanwhile, and what they tombstoned stays tombstoned. True if a merge
        was saved; False if there was nothing to merge, or other writers kept changing the
        merged segments (``tries`` times)."""
        with self._bm25_lock:
            cached = self._bm25.get(analyzer)
        if cached is None:
            return False
        base = cached[0]
        folder = self._bm25_folder(analyzer)
        for _ in range(tries):
            done = base.merge_groups(base.merge_plan()[0])
            if not done:
                return False
            with folder_lock(folder):
                current, gen, catalog_id = load_index(folder, self._segments.get(analyzer))
                merged = base.merge_onto(done, current)
                if merged is not None:
                    save_index(merged, folder, gen, catalog_id)
            if merged is None:
                base = current  # another writer merged or rebuilt meanwhile: plan again
                continue
            with self._bm25_lock:
                loaded = {s.name: s for s in merged.segments if s.name}
                cached = self._bm25.get(analyzer)
                if cached is not None and cached[1] == gen:
                    self._bm25[analyzer] = (merged, gen)
                else:
                    loaded = {**self._segments.get(analyzer, {}), **loaded}
                self._segments[analyzer] = loaded
            return True
        return False

    def _sync_bm25(
        self,
        folder: Path,
        analyzer: str,
        cached: tuple[BM25Index, int] | None,
        write: bool,
    ) -> tuple[BM25Index, int]:
        catalog_id = self.catalog.catalog_id
        idx: BM25Index | None = None
        gen = -1
        try:
            idx, gen, file_catalog = load_index(folder, self._segments.get(analyzer))
            if file_catalog != catalog_id or idx.analyzer != analyzer:
                raise BM25Missing("made from another catalog")
        except BM25Outdated as exc:
            log.warning("%s; rebuilding it once from the catalog (nothing is re-embedded)", exc)
            idx = None
        except BM25Missing:
            idx = None
        except BM25Corrupt as exc:
            log.warning("%s; rebuilding it from the catalog", exc)
            idx = None
        if idx is None and cached is not None and not write:
            idx, gen = cached
        changes = self.catalog.changes_since(gen) if idx is not None else None
        dirty = True
        if idx is None or changes is None:
            idx, gen = self._rebuild_bm25(analyzer)
        elif changes.generation == gen:
            dirty = False
        else:
            added = Segment.build(
                [c.id for c in changes.chunks],
                [c.embed_text for c in changes.chunks],
                analyzer,
                [c.article_id for c in changes.chunks],
            )
            idx = idx.updated(set(changes.article_ids), added)
            idx = idx.compacted(self.settings.bm25_inline_merge_docs)  # larger ones: later
            gen = changes.generation
            n = changes.n_chunks  # the kept count; counted again when it may be stale:
            if idx.n_docs != n or not changes.article_ids:  # a write that logged nothing
                n = self.catalog.recount()
            if idx.n_docs != n:
                log.warning(
                    "BM25 index in %s holds %d chunks, the catalog %d; rebuilding it from the"
                    " catalog",
                    folder,
                    idx.n_docs,
                    n,
                )
                idx, gen = self._rebuild_bm25(analyzer)
        if write and dirty:
            save_index(idx, folder, gen, catalog_id)
        return idx, gen

    def _rebuild_bm25(self, analyzer: str) -> tuple[BM25Index, int]:
        gen, chunks = self.catalog.snapshot()
        idx = BM25Index.build(
            [c.id for c in chunks],
            [c.embed_text for c in chunks],
            analyzer=analyzer,
            article_ids=[c.article_id for c in chunks],
        )
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
            "catalog": self.catalog.where,
            "collection": self.store.name,
            "index_dir": str(self.dir),
            "index_size_bytes": self.size_bytes(),
        }
