"""``bench/retrieval.py --experiments``: fusion variants evaluated offline.

Every question of a set is scored once with the full BM25 (syllables, and syllables plus
bigrams) and cosine score vectors over all chunks (``collect_signals``); each configuration
of ``config_grid`` (RRF k and weights, candidate counts, article-level RRF, min-max and
z-score fusion at chunk or article level) is then ranked from those matrices without
calling a retriever again. With several sets, the configurations are ranked on each set
and the others are shown beside it.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.qa_sets import (
    prepare,
    read_jsonl,
    register_bigram_analyzers,
    set_paths,
    summarize_ranks,
)
from corpus.text import has_diacritics
from rag.assistant import Assistant
from rag.retrieval.retrieve import article_of
from rag.settings import Settings


@dataclass
class Signals:
    """Everything needed to score any fusion offline, for one QA set."""

    name: str
    chunk_ids: list[str]
    chunk_art: np.ndarray  # (C,) article index of each chunk
    n_articles: int
    gold: np.ndarray  # (Q,) article index of each question's gold context
    bm25: np.ndarray  # (Q, C) BM25 (syllables) scores
    bm25_bi: np.ndarray  # (Q, C) BM25 over syllables + bigrams
    dense: np.ndarray  # (Q, C) cosine similarity


def _query_vectors(settings: Settings, embedder: Any, texts: list[str]) -> np.ndarray:
    """Query vectors, cached in the home folder (keyed by model and question text)."""
    key = hashlib.sha256(
        (embedder.model_id + "\x00" + "\x00".join(texts)).encode("utf-8")
    ).hexdigest()[:16]
    path = settings.home / "bench-cache" / f"{settings.index}-queries-{key}.npy"
    if path.is_file():
        return np.load(path)
    vecs = np.stack([embedder.embed_query(t) for t in texts]).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    return vecs


def collect_signals(arg: str, home: Path, limit: int | None) -> Signals:
    from embeddings.cache import CachedEmbedder, EmbeddingCache
    from rag.index.bm25 import BM25Index

    name, qpath, cpath = set_paths(arg)
    settings = prepare(name, cpath, home, quiet=True)
    questions = read_jsonl(qpath)[: limit or None]
    assistant = Assistant(settings)
    r = assistant.services.retriever
    idx = r.index.bm25("vi")
    chunk_ids = list(idx.ids)
    chunks = r.index.catalog.get_chunks(chunk_ids)
    texts = [chunks[c].embed_text for c in chunk_ids]
    # chunk vectors: the ingest's embedding cache holds them all (no re-embedding)
    cached = CachedEmbedder(r.embedder, EmbeddingCache(settings.cache_dir / "embeddings.sqlite"))
    cvecs = np.asarray(cached.embed_documents(texts), dtype=np.float32)
    if cached.misses:
        print(f"[{name}] note: {cached.misses} chunk vectors were not cached", file=sys.stderr)
    arts = sorted({article_of(c) for c in chunk_ids})
    a_index = {a: i for i, a in enumerate(arts)}
    chunk_art = np.array([a_index[article_of(c)] for c in chunk_ids], dtype=np.int64)
    qtexts = [q["question"] for q in questions]
    gold = np.array([a_index.get(q["context_id"], -1) for q in questions], dtype=np.int64)
    register_bigram_analyzers()
    idx_bi = BM25Index.build(chunk_ids, texts, analyzer="vi_bigrams")
    ascii_idx = r.index.bm25("ascii")
    assert list(ascii_idx.ids) == chunk_ids
    bm = np.stack([(idx if has_diacritics(t) else ascii_idx).scores(t) for t in qtexts]).astype(
        np.float32
    )
    bm_bi = np.stack([idx_bi.scores(t) for t in qtexts]).astype(np.float32)
    qv = _query_vectors(settings, r.embedder, qtexts)
    dense = (qv @ cvecs.T).astype(np.float32)
    return Signals(name, chunk_ids, chunk_art, len(arts), gold, bm, bm_bi, dense)


def ranks_desc(scores: np.ndarray) -> np.ndarray:
    """1-based rank of every column in each row, best = 1 (stable on ties)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    rows = np.arange(scores.shape[0])[:, None]
    ranks[rows, order] = np.arange(1, scores.shape[1] + 1)[None, :]
    return ranks


def article_max(sig: Signals, chunk_scores: np.ndarray) -> np.ndarray:
    """(Q, A) best chunk score of each article (-inf where no chunk is a candidate)."""
    out = np.full((chunk_scores.shape[0], sig.n_articles), -np.inf, dtype=np.float64)
    for a in range(sig.n_articles):
        cols = np.nonzero(sig.chunk_art == a)[0]
        out[:, a] = chunk_scores[:, cols].max(axis=1)
    return out


def gold_ranks(sig: Signals, art_scores: np.ndarray) -> np.ndarray:
    """1-based rank of the gold article (ties count against it); inf if not a candidate."""
    q = np.arange(art_scores.shape[0])
    g = art_scores[q, sig.gold]
    better = (art_scores >= g[:, None]).sum(axis=1)  # includes the gold itself
    r = better.astype(np.float64)
    r[~np.isfinite(g)] = np.inf
    r[sig.gold < 0] = np.inf
    return r


TIE_EPS = 1e-12  # far below the smallest gap between two distinct RRF sums (~1e-9)


def tie_break(rb: np.ndarray, mb: np.ndarray, rd: np.ndarray, md: np.ndarray) -> np.ndarray:
    """Equal RRF sums ordered as ``HybridRetriever.retrieve`` orders them (a stable sort of
    the dict filled from the BM25 list first): BM25-listed items by BM25 rank, then
    dense-only items by dense rank."""
    size = rb.shape[1] + 2
    return np.where(mb, 2.0 - rb / size, np.where(md, 1.0 - rd / size, 0.0))


def candidates(scores: np.ndarray, n: int, positive_only: bool) -> tuple[np.ndarray, np.ndarray]:
    """(ranks, mask): chunk ranks and which chunks are within the top ``n`` (and > 0)."""
    ranks = ranks_desc(scores)
    mask = ranks <= n
    if positive_only:
        mask &= scores > 0
    return ranks, mask


def normalise(scores: np.ndarray, mask: np.ndarray, how: str) -> np.ndarray:
    """Per-row min-max or z-score over the candidate chunks (others get -inf later)."""
    s = np.where(mask, scores, np.nan).astype(np.float64)
    with np.errstate(all="ignore"):
        if how == "minmax":
            lo, hi = np.nanmin(s, axis=1, keepdims=True), np.nanmax(s, axis=1, keepdims=True)
            out = (s - lo) / np.where(hi - lo > 0, hi - lo, 1.0)
        elif how == "z":
            mu, sd = np.nanmean(s, axis=1, keepdims=True), np.nanstd(s, axis=1, keepdims=True)
            out = (s - mu) / np.where(sd > 0, sd, 1.0)
        else:
            raise ValueError(how)
    return np.nan_to_num(out, nan=0.0)


def eval_config(sig: Signals, cfg: dict[str, Any], cache: dict[Any, Any]) -> np.ndarray:
    """Gold ranks (Q,) for one fusion configuration."""
    bm_raw = sig.bm25_bi if cfg.get("bigrams") else sig.bm25
    kind = cfg["kind"]
    key: tuple[Any, ...]
    if kind in ("bm25", "dense"):
        s = bm_raw if kind == "bm25" else sig.dense
        key = (kind, cfg.get("bigrams"))
        if key not in cache:
            mask = s > 0 if kind == "bm25" else np.ones_like(s, dtype=bool)
            cache[key] = gold_ranks(sig, article_max(sig, np.where(mask, s, -np.inf)))
        return cache[key]

    n = cfg["n"]
    key_b, key_d = ("cand_bm", n, cfg.get("bigrams")), ("cand_dn", n)
    if key_b not in cache:
        cache[key_b] = candidates(bm_raw, n, True)
    if key_d not in cache:
        cache[key_d] = candidates(sig.dense, n, False)
    (rb, mb), (rd, md) = cache[key_b], cache[key_d]
    wb, wd = cfg.get("wb", 1.0), cfg.get("wd", 1.0)

    if kind == "rrf_chunk":  # production: RRF over chunk lists, then articles in order
        k = cfg["k"]
        fused = np.where(mb, wb / (k + rb), 0.0) + np.where(md, wd / (k + rd), 0.0)
        fused = fused + TIE_EPS * tie_break(rb, mb, rd, md)
        fused = np.where(mb | md, fused, -np.inf)
        return gold_ranks(sig, article_max(sig, fused))

    if kind == "rrf_article":  # RRF over the distinct-article rankings of each retriever
        key = ("art_ranks", n, cfg.get("bigrams"))
        if key not in cache:
            ab = article_max(sig, np.where(mb, bm_raw, -np.inf))
            ad = article_max(sig, np.where(md, sig.dense, -np.inf))
            cache[key] = (ranks_desc(ab), np.isfinite(ab), ranks_desc(ad), np.isfinite(ad))
        rab, fab, rad, fad = cache[key]
        k = cfg["k"]
        fused = np.where(fab, wb / (k + rab), 0.0) + np.where(fad, wd / (k + rad), 0.0)
        fused = fused + TIE_EPS * tie_break(rab, fab, rad, fad)
        fused = np.where(fab | fad, fused, -np.inf)
        return gold_ranks(sig, fused)

    if kind == "score":  # convex combination of normalised scores
        how, alpha, level = cfg["norm"], cfg["alpha"], cfg["level"]
        key = ("norm", n, how, level, cfg.get("bigrams"))
        if key not in cache:
            if level == "chunk":
                nb, nd = normalise(bm_raw, mb, how), normalise(sig.dense, md, how)
                floor_b = np.where(mb, nb, np.nan)
                floor_d = np.where(md, nd, np.nan)
                # a chunk missing from one list gets that list's lowest candidate score
                nb = np.where(mb, nb, np.nanmin(floor_b, axis=1, keepdims=True))
                nd = np.where(md, nd, np.nanmin(floor_d, axis=1, keepdims=True))
                cache[key] = (np.nan_to_num(nb), np.nan_to_num(nd), mb | md, "chunk")
            else:
                ab = article_max(sig, np.where(mb, bm_raw, -np.inf))
                ad = article_max(sig, np.where(md, sig.dense, -np.inf))
                fb, fd = np.isfinite(ab), np.isfinite(ad)
                nb, nd = normalise(ab, fb, how), normalise(ad, fd, how)
                nb = np.where(fb, nb, np.nanmin(np.where(fb, nb, np.nan), axis=1, keepdims=True))
                nd = np.where(fd, nd, np.nanmin(np.where(fd, nd, np.nan), axis=1, keepdims=True))
                cache[key] = (np.nan_to_num(nb), np.nan_to_num(nd), fb | fd, "article")
        nb, nd, m, lvl = cache[key]
        fused = np.where(m, alpha * nb + (1 - alpha) * nd, -np.inf)
        return gold_ranks(sig, article_max(sig, fused) if lvl == "chunk" else fused)
    raise ValueError(kind)


def config_grid() -> list[dict[str, Any]]:
    grid: list[dict[str, Any]] = [
        {"kind": "bm25"},
        {"kind": "bm25", "bigrams": True},
        {"kind": "dense"},
    ]
    for bigrams in (False, True):
        for n in (20, 50, 100):
            for k in (5, 10, 20, 30, 60):
                for wb in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0):
                    for kind in ("rrf_chunk", "rrf_article"):
                        grid.append(
                            {"kind": kind, "n": n, "k": k, "wb": wb, "wd": 1.0, "bigrams": bigrams}
                        )
            for norm in ("minmax", "z"):
                for level in ("chunk", "article"):
                    for alpha in np.round(np.arange(0.2, 0.81, 0.05), 2):
                        grid.append(
                            {
                                "kind": "score",
                                "n": n,
                                "norm": norm,
                                "level": level,
                                "alpha": float(alpha),
                                "bigrams": bigrams,
                            }
                        )
    return grid


def label(cfg: dict[str, Any]) -> str:
    bits = [cfg["kind"]] + [f"{k}={v}" for k, v in cfg.items() if k != "kind" and v is not False]
    return " ".join(bits)


def family(
    kind: str, bigrams: bool | None = False, **fields: Any
) -> Callable[[dict[str, Any]], bool]:
    """A test on a grid configuration: its kind, whether its BM25 uses bigrams (None: either)
    and the given field values."""

    def match(c: dict[str, Any]) -> bool:
        return (
            c["kind"] == kind
            and (bigrams is None or bool(c.get("bigrams")) == bigrams)
            and all(c[k] == v for k, v in fields.items())
        )

    return match


# the best configuration of each family is reported (in this order) for every tuning set
FAMILIES: dict[str, Callable[[dict[str, Any]], bool]] = {
    "bm25": family("bm25"),
    "bm25+bigrams": family("bm25", True),
    "dense": family("dense", None),
    "production rrf_chunk n=50 k=60 w=1": family("rrf_chunk", n=50, k=60, wb=1.0),
    "best rrf_chunk": family("rrf_chunk"),
    "best rrf_chunk +bigrams": family("rrf_chunk", True),
    "best rrf_article": family("rrf_article"),
    "best rrf_article +bigrams": family("rrf_article", True),
    "best score minmax chunk": family("score", norm="minmax", level="chunk"),
    "best score z chunk": family("score", norm="z", level="chunk"),
    "best score minmax article": family("score", norm="minmax", level="article"),
    "best score z article": family("score", norm="z", level="article"),
    "best score +bigrams": family("score", True),
    "recommended: score z chunk n=50 alpha=0.5": family(
        "score", norm="z", level="chunk", n=50, alpha=0.5
    ),
    "recommended +bigrams": family("score", True, norm="z", level="chunk", n=50, alpha=0.5),
}


def run_experiments(sets: Sequence[str], home: Path, limit: int | None, top: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    sigs = [collect_signals(a, home, limit) for a in sets]
    t_sig = time.perf_counter() - t0
    grid = config_grid()
    results: list[dict[str, Any]] = []
    caches: list[dict[Any, Any]] = [{} for _ in sigs]
    for cfg in grid:
        row: dict[str, Any] = {"config": cfg, "label": label(cfg)}
        for sig, cache in zip(sigs, caches, strict=True):
            row[sig.name] = summarize_ranks(list(eval_config(sig, cfg, cache)))
        results.append(row)
    names = [s.name for s in sigs]
    by_tuning: dict[str, Any] = {}
    for tuned in names:

        def order(x: dict[str, Any], t: str = tuned) -> tuple[float, float]:
            return (-x[t]["mrr@10"], -x[t]["hit@1"])

        ranked = sorted(results, key=order)
        by_tuning[tuned] = {
            "families": {
                k: next((x for x in ranked if f(x["config"])), None) for k, f in FAMILIES.items()
            },
            "top": ranked[:top],
        }
    return {
        "sets": names,
        "configs": len(grid),
        "seconds_signals": round(t_sig, 1),
        "seconds_total": round(time.perf_counter() - t0, 1),
        "by_tuning_set": by_tuning,
        "all": results,
    }


def experiments_markdown(exp: dict[str, Any]) -> str:
    names = exp["sets"]
    head = "| configuration | " + " | ".join(f"{n} Hit@1 | {n} MRR@10" for n in names) + " |"
    sep = "|---|" + "---:|---:|" * len(names)
    out: list[str] = []

    def line(title: str, row: dict[str, Any] | None) -> None:
        if row is None:
            return
        cells = " | ".join(f"{row[n]['hit@1']:.3f} | {row[n]['mrr@10']:.3f}" for n in names)
        out.append(f"| {title}: `{row['label']}` | {cells} |")

    for tuned, part in exp["by_tuning_set"].items():
        out += [f"Selected on {tuned} (best of each family):", "", head, sep]
        for fam, row in part["families"].items():
            line(fam, row)
        out += ["", f"Top configurations on {tuned}:", "", head, sep]
        for i, row in enumerate(part["top"], 1):
            line(f"#{i}", row)
        out.append("")
    return "\n".join(out)
