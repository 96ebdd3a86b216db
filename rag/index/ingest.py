"""Ingest: files -> articles -> chunks -> embeddings -> index, incrementally and crash-safely.

>>> import shutil, tempfile
>>> import numpy as np
>>> from rag.settings import load_settings
>>> class Toy:  # any Embedder; the app passes rag.services.Services.embedder
...     model_id, dim = "toy-2d", 2
...     def embed_documents(self, texts):
...         return np.float32([[np.cos(len(t)), np.sin(len(t))] for t in texts])
...     def embed_query(self, text):
...         return self.embed_documents([text])[0]
>>> settings = load_settings(tempfile.mkdtemp(), env={})  # a new, empty home
>>> report = ingest(["corpus/articles"], settings, embedder=Toy())
>>> len(report.added), report.unchanged, report.skipped
(5, 0, [])
>>> again = ingest(["corpus/articles"], settings, embedder=Toy())
>>> again.added, again.unchanged, again.embedded   # nothing changed: nothing re-embedded
([], 5, 0)
>>> shutil.rmtree(settings.home)

An input whose raw bytes (or JSONL record) and pipeline settings are unchanged since the
last ingest is not even parsed again. Changed inputs are cleaned, chunked, embedded
(through the on-disk embedding cache, so unchanged chunk texts are not re-embedded) and
written article by article with the protocol of ``rag.index.index``. A run that was killed
leaves a ``dirty`` mark; the next run first reconciles Chroma with the catalog.

A second ingest of the same index waits for the first (``settings.ingest_wait_s``,
``on_wait`` is told), then runs. Free disk space is checked before each batch; a disk
that fills up stops the run with ``DiskFull`` (one clear message), the batches written
so far stay, the rest of the index is as it was, and the next run completes the job.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from corpus.articles import EmptyArticle, build_article
from corpus.chunking import article_version, chunk_article
from corpus.clean import learn_repeated_lines
from corpus.errors import EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL  # IngestReport.exit_code
from corpus.loaders import iter_documents
from corpus.types import Article, Chunk, RawDocument, SkippedFile
from embeddings.base import Embedder
from embeddings.cache import CachedEmbedder, EmbeddingCache
from rag.index.index import (
    PIPELINE_VERSION,
    DiskFull,
    Index,
    WriteItem,
    estimate_write_bytes,
    model_dirname,
)
from rag.settings import Settings


@dataclass
class IngestProgress:
    """Sent to the progress callback after each written batch."""

    articles_done: int
    articles_total: int
    chunks_done: int
    chunks_total: int
    embedded: int  # vectors computed (cache misses) so far
    elapsed_s: float


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    chunks_written: int = 0
    embedded: int = 0  # vectors computed
    cache_hits: int = 0  # vectors taken from the embedding cache
    repaired: tuple[int, int] = (0, 0)  # (orphan vectors removed, missing vectors re-added)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        loaded = self.added or self.updated or self.unchanged
        if self.skipped and not loaded:
            return EXIT_FAILURE
        return EXIT_PARTIAL if self.skipped else EXIT_OK

    def as_dict(self) -> dict[str, object]:
        return {
            "added": len(self.added),
            "updated": len(self.updated),
            "unchanged": self.unchanged,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "pruned": self.pruned,
            "chunks_written": self.chunks_written,
            "embedded": self.embedded,
            "cache_hits": self.cache_hits,
            "repaired": {"orphans_removed": self.repaired[0], "vectors_readded": self.repaired[1]},
            "seconds": round(self.seconds, 3),
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
        }


def pipeline_key(settings: Settings) -> str:
    return (
        f"{PIPELINE_VERSION}/{settings.chunk_tokens}/{settings.chunk_overlap}"
        f"/{settings.repeat_min_docs}"
    )


def _batches(
    items: Sequence[tuple[Article, str, list[Chunk]]], min_chunks: int
) -> Iterable[list[tuple[Article, str, list[Chunk]]]]:
    batch: list[tuple[Article, str, list[Chunk]]] = []
    size = 0
    for it in items:
        batch.append(it)
        size += len(it[2])
        if size >= min_chunks:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _prune(
    index: Index, roots: Sequence[Path], seen: set[str], protected_paths: set[str]
) -> list[str]:
    """Articles whose file is gone, or whose file/folder was read and no longer yields them."""
    resolved = [r.resolve() for r in roots]
    doomed = []
    for aid, state in index.catalog.states().items():
        if aid in seen or not state.path or state.path in protected_paths:
            continue
        p = Path(state.path)
        if not p.exists() or any(p == r or r in p.parents for r in resolved):
            doomed.append(aid)
    return index.delete(doomed) if doomed else []


def _out_of_space(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return True
    text = str(exc).lower()
    return "disk is full" in text or "no space left" in text or "quota exceeded" in text


def ingest(
    paths: Sequence[str | Path],
    settings: Settings,
    *,
    embedder: Embedder,
    prune: bool = False,
    progress: Callable[[IngestProgress], None] | None = None,
    on_wait: Callable[[str], None] | None = None,
    index: Index | None = None,
) -> IngestReport:
    """Ingest ``paths`` into the index of ``settings`` (see the module docstring).

    ``on_wait(pid)`` is called if another ingest holds the index and this one waits.
    Raises ``IndexBusy`` if it is still held after ``settings.ingest_wait_s``, and
    ``DiskFull`` when the disk fills up (before or during the run).

    ``index``: an open ``Index`` of ``settings`` to write through (a serving process
    passes its own, ``Services.index``), so that its BM25 segments are not loaded from
    disk again and its readers see the upload at once; it is left open. Without one, an
    ``Index`` is opened for this call and closed after it.
    """
    index, own = _index_for(settings, embedder.model_id, index)
    try:
        t0 = time.perf_counter()
        with index.writer_lock(settings.ingest_wait_s, on_wait):
            index.ensure_free_space()
            with EmbeddingCache(settings.cache_dir / "embeddings.sqlite") as cache:
                return _ingest_locked(paths, settings, embedder, index, prune, progress, cache, t0)
    except DiskFull:
        raise
    except Exception as exc:  # a full disk met inside SQLite or Chroma: say so plainly
        if not _out_of_space(exc) and not _low_on_space(index):
            raise
        try:
            index.ensure_free_space()
        except DiskFull as full:
            raise full from exc
        raise DiskFull(
            f"Hết chỗ trống trên đĩa khi đang nạp ({exc}). Hãy giải phóng dung lượng rồi "
            "chạy lại lệnh nạp; chỉ mục sẽ tự sửa những phần đang ghi dở."
        ) from exc
    finally:  # a long-running app ingests again and again: do not wait for the GC
        if own:
            index.catalog.close()


def _index_for(settings: Settings, model_id: str, index: Index | None) -> tuple[Index, bool]:
    """(the index to write through, whether this call opened it and so closes it). A
    passed ``index`` must be the one of ``settings`` and ``model_id``."""
    if index is None:
        return Index(settings, model_id), True
    if index.dir != settings.index_root / model_dirname(model_id) or index.model_id != model_id:
        raise ValueError(f"the index passed ({index.dir}) is not the one of {model_id!r} here")
    return index, False


def _low_on_space(index: Index) -> bool:
    """After a failed write: is the disk (nearly) full? Less than the reserve plus 4 MB
    free counts (the failed write may have given some space back)."""
    try:
        index.ensure_free_space(4 * 1024 * 1024)
    except DiskFull:
        return True
    except OSError:
        return False
    return False


def _ingest_locked(
    paths: Sequence[str | Path],
    settings: Settings,
    embedder: Embedder,
    index: Index,
    prune: bool,
    progress: Callable[[IngestProgress], None] | None,
    cache: EmbeddingCache,
    t0: float,
) -> IngestReport:
    report = IngestReport()
    cached = CachedEmbedder(embedder, cache)
    if index.catalog.get_meta("dirty") == "1":
        index.check_dim(embedder.dim)
        report.repaired = index.reconcile(lambda texts: cached.embed_documents(texts))
    index.catalog.set_meta("dirty", "1")

    t = time.perf_counter()
    docs: list[RawDocument] = []
    for item in iter_documents(paths, max_bytes=settings.max_file_mb * 1024 * 1024):
        if isinstance(item, RawDocument):
            docs.append(item)
        else:
            report.skipped.append(item)
    report.timings["load"] = time.perf_counter() - t

    states = index.catalog.states([d.id for d in docs])  # not the whole catalog's
    pipeline = pipeline_key(settings)
    changed = []
    for d in docs:
        s = states.get(d.id)
        if s is None or s.fingerprint != d.fingerprint or s.pipeline != pipeline:
            changed.append(d)
    report.unchanged = len(docs) - len(changed)

    if changed:
        index.check_dim(embedder.dim)
        t = time.perf_counter()
        repeated = learn_repeated_lines(docs, min_docs=settings.repeat_min_docs)
        planned: list[tuple[Article, str, list[Chunk]]] = []
        for d in changed:
            try:
                article = build_article(d, repeated)
            except EmptyArticle as exc:
                report.skipped.append(SkippedFile(d.path, str(exc)))
                continue
            version = article_version(article, settings.chunk_tokens, settings.chunk_overlap)
            chunks = chunk_article(
                article,
                target_tokens=settings.chunk_tokens,
                overlap_tokens=settings.chunk_overlap,
            )
            planned.append((article, version, chunks))
        report.timings["clean_chunk"] = time.perf_counter() - t

        t = time.perf_counter()
        total_chunks = sum(len(c) for _, _, c in planned)
        done_a = done_c = 0
        if progress:
            progress(IngestProgress(0, len(planned), 0, total_chunks, 0, 0.0))
        for batch in _batches(planned, settings.embed_batch_size):
            texts = [c.embed_text for _, _, chunks in batch for c in chunks]
            size = sum(len(t.encode("utf-8")) for t in texts)
            index.ensure_free_space(2 * estimate_write_bytes(len(texts), size, embedder.dim))
            vectors = cached.embed_documents(texts)
            items, offset = [], 0
            for article, version, chunks in batch:
                items.append(
                    WriteItem(article, version, chunks, vectors[offset : offset + len(chunks)])
                )
                offset += len(chunks)
                (report.updated if article.id in states else report.added).append(article.id)
            index.write(items, pipeline)
            done_a += len(batch)
            done_c += len(texts)
            if progress:
                progress(
                    IngestProgress(
                        done_a,
                        len(planned),
                        done_c,
                        total_chunks,
                        cached.misses,
                        time.perf_counter() - t,
                    )
                )
        report.chunks_written = total_chunks
        report.timings["embed_write"] = time.perf_counter() - t

    if prune:
        protected = {s.path for s in report.skipped}
        report.pruned = _prune(index, [Path(p) for p in paths], {d.id for d in docs}, protected)

    t = time.perf_counter()
    index.refresh_bm25()
    report.timings["bm25"] = time.perf_counter() - t
    index.catalog.set_meta("dirty", "0")
    report.embedded = cached.misses
    report.cache_hits = cached.hits
    report.seconds = time.perf_counter() - t0
    return report


def delete_articles(
    ids: Sequence[str],
    settings: Settings,
    model_id: str,
    on_wait: Callable[[str], None] | None = None,
    index: Index | None = None,
) -> list[str]:
    """Delete articles by id; returns those that were there. ``index``: as for ``ingest``."""
    index, own = _index_for(settings, model_id, index)
    try:
        with index.writer_lock(settings.ingest_wait_s, on_wait):
            index.catalog.set_meta("dirty", "1")
            deleted = index.delete(ids)
            index.refresh_bm25()
            index.catalog.set_meta("dirty", "0")
    finally:
        if own:
            index.catalog.close()
    return deleted
