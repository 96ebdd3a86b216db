"""Hybrid retrieval: BM25 and dense in parallel -> score fusion -> diversify.

Given an ``Index`` and the embedder its passages were embedded with (``rag.index.ingest``
shows how one is built)::

    r = HybridRetriever(index, embedder)
    hits = r.retrieve("kiểm tra bao nhiêu đơn vị", k=5)   # ScoredChunk, best first

* BM25 runs over normalised syllables; a query typed without any diacritics uses the
  diacritic-free BM25 instead, so "kiem tra bao nhieu don vi" finds the same passages.
* Dense search embeds the query with the index's own embedder (same vector space).
* Fusion (``fusion="zscore"``, the default): each list's scores are standardised over its
  candidates (z = (score - mean) / sd) and ``score = sum_lists w * z``; a chunk missing from
  one list gets that list's lowest z. Unlike reciprocal-rank fusion it keeps how *far*
  ahead a retriever's best hit is: on XQuAD-vi / UIT-ViQuAD (bench/retrieval.py) MRR@10
  0.962 -> 0.975 and 0.851 -> 0.871. ``fusion="rrf"``: ``score = sum_lists w / (rrf_k + rank)``.
* Diversify: near-duplicates are dropped (overlapping chunks of one article, or chunks
  whose token sets are >= 90% alike); at most ``per_article`` chunks per article unless
  one article is all that matches.
* Filters (source, article, place, date range) restrict both lists before fusion.
* An optional cross-encoder re-scores the fused candidates (off by default).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from corpus.errors import EXIT_USAGE, HoidapError
from corpus.text import has_diacritics, search_key, tokens
from corpus.types import Chunk
from embeddings.base import Embedder
from rag.index.bm25 import BM25Index, top_scores
from rag.index.bm25 import article_of as article_of  # re-exported: benches, web
from rag.index.catalog import ArticleMeta
from rag.index.index import Index
from rag.types import Filters, ScoredChunk

# searches of one query when a write committed meanwhile and dropped candidates (retrieve)
RETRIES = 3


class Reranker(Protocol):
    def score(self, query: str, passages: Sequence[str]) -> list[float]: ...


class FilterError(HoidapError, ValueError):
    """Filters that cannot be satisfied as given (e.g. since after until)."""

    exit_code = EXIT_USAGE


def _date_key(value: str, *, upper: bool) -> int:
    """'2021' -> 20210000 (lower) / 20211299 (upper); '2021-03-05' -> 20210305."""
    parts = value.strip().split("-")
    try:
        y = int(parts[0])
        m = int(parts[1]) if len(parts) > 1 else (12 if upper else 0)
        d = int(parts[2]) if len(parts) > 2 else (99 if upper else 0)
    except ValueError as exc:
        raise FilterError(
            f"{value!r} không phải ngày (dùng YYYY, YYYY-MM hoặc YYYY-MM-DD)"
        ) from exc
    if not (1 <= y <= 9999 and 0 <= m <= 12 and 0 <= d <= 99):
        raise FilterError(f"{value!r} không phải ngày hợp lệ")
    return y * 10000 + m * 100 + d


def _article_date_key(meta: ArticleMeta) -> int | None:
    if not meta.date or meta.date_precision not in ("day", "month", "year"):
        return None
    return _date_key(meta.date, upper=False)


@dataclass
class _Snapshot:
    generation: int
    meta: dict[str, ArticleMeta]


class HybridRetriever:
    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        *,
        top_k: int = 5,
        candidates: int = 50,
        rrf_k: int = 60,
        bm25_weight: float = 1.0,
        dense_weight: float = 1.0,
        per_article: int = 2,
        reranker: Reranker | None = None,
        fusion: str = "zscore",
    ) -> None:
        if fusion not in ("zscore", "rrf"):
            raise ValueError(f"fusion {fusion!r}: use 'zscore' or 'rrf'")
        self.index = index
        self.embedder = embedder
        self.top_k = top_k
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.bm25_weight = bm25_weight
        self.dense_weight = dense_weight
        self.per_article = per_article
        self.reranker = reranker
        self.fusion = fusion
        self._snap: _Snapshot | None = None
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hoidap-retrieve")

    # -- catalog state ---------------------------------------------------------
    def snapshot(self) -> _Snapshot:
        """The articles' metadata at the catalog's generation. After a write only the
        changed articles are read again (the catalog's change log), so the first query
        after an upload does not pay for reading every article's metadata."""
        catalog = self.index.catalog
        gen = catalog.generation
        with self._lock:
            snap = self._snap
            if snap is not None and snap.generation == gen:
                return snap
            changes = catalog.changes_since(snap.generation, chunks=False) if snap else None
            if snap is None or changes is None:
                self._snap = _Snapshot(gen, catalog.article_meta())
            else:
                changed = set(changes.article_ids)
                meta = {a: m for a, m in snap.meta.items() if a not in changed}
                meta.update(catalog.article_meta(changes.article_ids))
                self._snap = _Snapshot(changes.generation, meta)
            return self._snap

    def allowed_articles(self, filters: Filters | None) -> set[str] | None:
        """Article ids that pass the filters, or None for no restriction."""
        if filters is None or filters.is_empty():
            return None
        lo = _date_key(filters.since, upper=False) if filters.since else None
        hi = _date_key(filters.until, upper=True) if filters.until else None
        if lo is not None and hi is not None and lo > hi:
            raise FilterError(
                f"khoảng thời gian trống: từ {filters.since} đến {filters.until} "
                "(ngày đầu sau ngày cuối)"
            )
        sources = {search_key(s) for s in filters.sources}
        places = {search_key(p) for p in filters.places}
        ids = set(filters.article_ids)
        out = set()
        for aid, m in self.snapshot().meta.items():
            if ids and aid not in ids:
                continue
            if sources and search_key(m.source or "") not in sources:
                continue
            if places and not any(
                p in search_key(pl) or search_key(pl) in p for pl in m.places for p in places
            ):
                continue
            if lo is not None or hi is not None:
                key = _article_date_key(m)
                if key is None or (lo is not None and key < lo) or (hi is not None and key > hi):
                    continue
            out.add(aid)
        return out

    # -- the two retrievers ------------------------------------------------------
    def _bm25_index(self, analyzer: str) -> BM25Index:
        """The BM25 index for an analyzer (a hook: benchmarks swap in variants)."""
        return self.index.bm25(analyzer)

    def bm25(self, query: str, n: int, allowed: set[str] | None) -> list[tuple[str, float]]:
        analyzer = "vi" if has_diacritics(query) else "ascii"
        idx = self._bm25_index(analyzer)
        scores = idx.scores(query)
        if allowed is not None:
            scores = np.where(idx.article_mask(allowed), scores, 0.0)
        return top_scores(idx.ids, scores, n)

    def dense(self, query: str, n: int, allowed: set[str] | None) -> list[tuple[str, float]]:
        return self._dense_counted(query, n, allowed)[0]

    def _dense_counted(
        self, query: str, n: int, allowed: set[str] | None
    ) -> tuple[list[tuple[str, float]], bool]:
        """(live hits, whether hits were dropped as not live)."""
        vector = self.embedder.embed_query(query)
        where = None
        if allowed is not None:
            if not allowed:
                return [], False
            where = {"article_id": {"$in": sorted(allowed)}}
        hits = self.index.store.query(vector, n, where)
        # vectors the catalog does not list (a write killed midway, or a version that a
        # re-ingest replaced since the query) are never shown
        live = self.index.catalog.live_view([cid for cid, _ in hits], [])[1]
        kept = [(cid, score) for cid, score in hits if cid in live]
        return kept, len(kept) < len(hits)

    # -- fusion -------------------------------------------------------------------
    def fuse(
        self, bm25_hits: list[tuple[str, float]], dense_hits: list[tuple[str, float]]
    ) -> dict[str, float]:
        """Fused score per chunk id (higher is better); see the module docstring."""
        lists = ((self.bm25_weight, bm25_hits), (self.dense_weight, dense_hits))
        fused: dict[str, float] = {}
        if self.fusion == "rrf":
            for weight, hits in lists:
                for rank, (cid, _) in enumerate(hits, 1):
                    fused[cid] = fused.get(cid, 0.0) + weight / (self.rrf_k + rank)
            return fused
        parts: list[tuple[float, dict[str, float], float]] = []
        for weight, hits in lists:
            if not hits:
                continue
            s = np.fromiter((score for _, score in hits), dtype=np.float64, count=len(hits))
            sd = float(s.std())
            z = (s - s.mean()) / sd if sd > 0 else np.zeros_like(s)
            zs = dict(zip([c for c, _ in hits], z.tolist(), strict=True))
            parts.append((weight, zs, float(z.min())))
        # BM25 ids first, then dense-only ids: equal scores keep a deterministic order
        for cid in dict.fromkeys(c for _, zs, _ in parts for c in zs):
            fused[cid] = sum(w * zs.get(cid, floor) for w, zs, floor in parts)
        return fused

    def retrieve(
        self,
        query: str,
        *,
        k: int | None = None,
        filters: Filters | None = None,
        timings: dict[str, float] | None = None,
    ) -> list[ScoredChunk]:
        """The top ``k`` chunks for ``query``, best first.

        A re-ingest may commit while the two lists are searched: a list searched before
        the commit holds the old version's chunk ids, which the catalog, read after it, no
        longer has, and both lists can lose the whole article that way. When candidates
        were dropped and the catalog's generation moved meanwhile, the search runs again
        (at most ``RETRIES`` times), so one answer sees one version, old or new, not none.
        """
        catalog = self.index.catalog
        for _ in range(RETRIES):
            generation = catalog.generation
            out, dropped = self._retrieve_once(query, k or self.top_k, filters, timings)
            if not dropped or catalog.generation == generation:
                break
        return out

    def _retrieve_once(
        self,
        query: str,
        k: int,
        filters: Filters | None,
        timings: dict[str, float] | None,
    ) -> tuple[list[ScoredChunk], bool]:
        """(hits, whether candidates were dropped as not live in the catalog)."""
        t0 = time.perf_counter()
        allowed = self.allowed_articles(filters)
        if allowed is not None and not allowed:
            return [], False
        n = max(self.candidates, k * 4)
        dense_future = self._pool.submit(self._dense_counted, query, n, allowed)
        bm25_hits = self.bm25(query, n, allowed)
        t_bm25 = time.perf_counter() - t0
        dense_hits, dense_dropped = dense_future.result()
        t_both = time.perf_counter() - t0

        fused = self.fuse(bm25_hits, dense_hits)
        info: dict[str, dict[str, float | int]] = {}
        for hits, name in ((bm25_hits, "bm25"), (dense_hits, "dense")):
            for rank, (cid, score) in enumerate(hits, 1):
                info.setdefault(cid, {})[f"{name}_rank"] = rank
                info[cid][f"{name}_score"] = score
        ranked = sorted(fused, key=lambda c: -fused[c])[: max(n, k * 4)]
        chunks = self.index.catalog.get_chunks(ranked)
        ordered = [chunks[c] for c in ranked if c in chunks]
        dropped = dense_dropped or len(ordered) < len(ranked)

        if self.reranker is not None and ordered:
            pool = ordered[: max(k * 4, 20)]
            rscores = self.reranker.score(query, [c.embed_text for c in pool])
            for c, s in zip(pool, rscores, strict=True):
                fused[c.id] = float(s)
            ordered = sorted(pool, key=lambda c: -fused[c.id])

        picked = diversify(ordered, k, self.per_article)
        meta = self.snapshot().meta
        out = []
        for c in picked:
            m = meta.get(c.article_id)
            extra = info.get(c.id, {})
            out.append(
                ScoredChunk(
                    chunk=c,
                    score=fused[c.id],
                    title=m.title if m else c.article_id,
                    date=m.date if m else None,
                    source=m.source if m else None,
                    url=m.url if m else None,
                    bm25_rank=_opt_int(extra.get("bm25_rank")),
                    dense_rank=_opt_int(extra.get("dense_rank")),
                    bm25_score=_opt_float(extra.get("bm25_score")),
                    dense_score=_opt_float(extra.get("dense_score")),
                )
            )
        if timings is not None:
            timings["bm25"] = t_bm25 * 1000
            timings["dense_and_bm25"] = t_both * 1000
            timings["retrieve"] = (time.perf_counter() - t0) * 1000
        return out, dropped


def _opt_int(v: float | int | None) -> int | None:
    return None if v is None else int(v)


def _opt_float(v: float | int | None) -> float | None:
    return None if v is None else float(v)


def _near_duplicate(a: Chunk, b: Chunk, token_sets: dict[str, set[str]]) -> bool:
    if a.article_id == b.article_id:
        overlap = min(a.end, b.end) - max(a.start, b.start)
        if overlap > 0.5 * min(a.end - a.start, b.end - b.start):
            return True
    # not setdefault(id, set(tokens(...))): that tokenises on every comparison
    ta = token_sets.get(a.id)
    if ta is None:
        ta = token_sets[a.id] = set(tokens(a.text))
    tb = token_sets.get(b.id)
    if tb is None:
        tb = token_sets[b.id] = set(tokens(b.text))
    if not ta or not tb:
        return False
    return len(ta & tb) / len(ta | tb) >= 0.9


def diversify(ranked: Sequence[Chunk], k: int, per_article: int) -> list[Chunk]:
    """Top ``k`` without near-duplicates, at most ``per_article`` per article unless
    fewer than ``k`` chunks remain otherwise (then the cap is lifted, in rank order)."""
    token_sets: dict[str, set[str]] = {}
    picked: list[Chunk] = []
    capped: list[Chunk] = []
    count: dict[str, int] = {}
    for c in ranked:
        if len(picked) >= k:
            break
        if any(_near_duplicate(c, p, token_sets) for p in picked):
            continue
        if count.get(c.article_id, 0) >= per_article:
            capped.append(c)
            continue
        picked.append(c)
        count[c.article_id] = count.get(c.article_id, 0) + 1
    for c in capped:
        if len(picked) >= k:
            break
        if not any(_near_duplicate(c, p, token_sets) for p in picked):
            picked.append(c)
    order = {c.id: i for i, c in enumerate(ranked)}
    return sorted(picked, key=lambda c: order[c.id])
