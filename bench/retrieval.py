"""Passage retrieval quality and latency on a SQuAD-style QA set (XQuAD-vi, UIT-ViQuAD).

Usage (from the repository root):

    .venv/bin/python bench/retrieval.py ../shared/data/qa/xquad_vi --home /tmp/bench-qa
    .venv/bin/python bench/retrieval.py ../shared/data/qa/viquad1_dev --home /tmp/bench-qa \\
        --answers --threshold 0.35
    .venv/bin/python bench/retrieval.py ../shared/data/qa/viquad1_dev \\
        ../shared/data/qa/xquad_vi --home /tmp/bench-qa --experiments

The contexts (``<set>.contexts.jsonl``) become a JSONL corpus in the home folder (one
article per context, id = ``context_id``) and are ingested into an index named after the
set with the default embedder; pass ``--home`` to keep the index so later runs re-use it
(nothing is re-embedded). For every question the ranking of *articles* (= contexts) is
the order of distinct article ids in the ranked chunk list of:

* ``bm25``: ``HybridRetriever.bm25(question, 100)`` alone;
* ``dense``: ``HybridRetriever.dense(question, 100)`` alone;
* ``hybrid``: ``HybridRetriever.retrieve(question, k=10)`` (fused ranking, diversified;
  at most ``per_article`` chunks per article, so it may hold fewer than 10 articles).

Reported per retriever: Hit@1, Hit@5, Hit@10, MRR@10 against ``context_id``, and the p50 /
p95 latency of the call. ``--answers`` also runs ``Assistant.ask`` (the offline extractive
answerer) and reports the share of answers that contain a gold answer (after
``search_key`` normalisation) and the refusal rate (every question is answerable here).

``--experiments`` re-scores every question with the full BM25 and cosine score vectors
and evaluates fusion variants offline (RRF k and weights, candidate counts, article-level
fusion, normalised score fusion, BM25 with syllable bigrams). With several sets, the
configurations are ranked on the first set and checked on the others.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.common import contains, percentile  # noqa: E402
from corpus.text import has_diacritics, tokens  # noqa: E402
from rag.assistant import Assistant  # noqa: E402
from rag.retrieval.retrieve import HybridRetriever, article_of  # noqa: E402
from rag.services import build_services  # noqa: E402
from rag.settings import Settings, load_settings  # noqa: E402

DEPTH = 100  # chunks asked of each single retriever


# -- data --------------------------------------------------------------------------------
def set_paths(arg: str) -> tuple[str, Path, Path]:
    """'../qa/xquad_vi' or '../qa/xquad_vi.jsonl' -> (name, questions, contexts)."""
    p = Path(arg)
    if p.name.endswith(".contexts.jsonl"):
        p = p.with_name(p.name[: -len(".contexts.jsonl")])
    elif p.suffix == ".jsonl":
        p = p.with_suffix("")
    questions = p.with_name(p.name + ".jsonl")
    contexts = p.with_name(p.name + ".contexts.jsonl")
    for f in (questions, contexts):
        if not f.is_file():
            raise SystemExit(f"not found: {f}")
    return p.name, questions, contexts


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def write_corpus(contexts: Path, home: Path, name: str) -> Path:
    """The contexts as a hoidap JSONL corpus inside the home folder (rewritten only if
    its content would change, so a re-ingest finds everything unchanged)."""
    lines = []
    for c in read_jsonl(contexts):
        rec = {"id": c["context_id"], "title": c.get("title") or "", "text": c["text"]}
        lines.append(json.dumps(rec, ensure_ascii=False))
    data = ("\n".join(lines) + "\n").encode("utf-8")
    out = home / "bench-corpora" / f"{name}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.is_file() or out.read_bytes() != data:
        out.write_bytes(data)
    return out


def prepare(name: str, contexts: Path, home: Path, *, quiet: bool = False) -> Settings:
    from rag.index.ingest import ingest

    settings = load_settings(home, env={}, index=name)
    corpus = write_corpus(contexts, home, name)
    report = ingest([corpus], settings, embedder=build_services(settings).embedder)
    if not quiet:
        print(
            f"[{name}] ingest: added {len(report.added)}, unchanged {report.unchanged}, "
            f"chunks written {report.chunks_written}, embedded {report.embedded}, "
            f"skipped {len(report.skipped)}, {report.seconds:.1f} s",
            file=sys.stderr,
        )
    if report.skipped:
        for s in report.skipped[:5]:
            print(f"  skipped {s.path}: {s.reason}", file=sys.stderr)
    return settings


# -- metrics -----------------------------------------------------------------------------
def distinct(ids: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for i in ids:
        seen.setdefault(i, None)
    return list(seen)


def gold_rank(articles: Sequence[str], gold: str) -> int | None:
    try:
        return list(articles).index(gold) + 1
    except ValueError:
        return None


def summarize_ranks(ranks: Sequence[float | None]) -> dict[str, float]:
    """Hit@1/5/10 and MRR@10 from 1-based gold ranks (None / inf = not found)."""
    r = np.array([math.inf if x is None else float(x) for x in ranks], dtype=np.float64)
    n = max(1, len(r))
    rr = np.where(r <= 10, 1.0 / r, 0.0)
    return {
        "hit@1": round(float((r <= 1).sum()) / n, 4),
        "hit@5": round(float((r <= 5).sum()) / n, 4),
        "hit@10": round(float((r <= 10).sum()) / n, 4),
        "mrr@10": round(float(rr.sum()) / n, 4),
    }


# -- the variant retriever: the product retriever with optional syllable-bigram BM25 ------
def _with_bigrams(analyze: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    def analyzer(text: str) -> list[str]:
        toks = analyze(text)
        return toks + [f"{a}_{b}" for a, b in itertools.pairwise(toks)]

    return analyzer


def bigram_tokens(text: str) -> list[str]:
    """Syllables plus adjacent-syllable pairs ("dân vận" -> dân, vận, dân_vận)."""
    return _with_bigrams(tokens)(text)


def _register_bigram_analyzers() -> None:
    from rag.index.bm25 import ANALYZERS

    ANALYZERS.setdefault("vi_bigrams", _with_bigrams(ANALYZERS["vi"]))
    ANALYZERS.setdefault("ascii_bigrams", _with_bigrams(ANALYZERS["ascii"]))


class ProposedRetriever(HybridRetriever):
    """``HybridRetriever`` (its own fusion, filters, diversify) with, when ``bigrams=True``,
    BM25 over syllables plus syllable bigrams swapped in through ``_bm25_index``."""

    def __init__(self, *args: Any, bigrams: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bigrams = bigrams
        self._bigram_idx: dict[str, tuple[Any, Any]] = {}
        if bigrams:
            _register_bigram_analyzers()

    def _bm25_index(self, analyzer: str) -> Any:
        from rag.index.bm25 import BM25Index

        base = self.index.bm25(analyzer)
        if not self.bigrams:
            return base
        got = self._bigram_idx.get(analyzer)
        if got is None or got[0] is not base:
            chunks = self.index.catalog.get_chunks(base.ids)
            texts = [chunks[c].embed_text for c in base.ids]
            got = (base, BM25Index.build(base.ids, texts, analyzer=f"{analyzer}_bigrams"))
            self._bigram_idx[analyzer] = got
        return got[1]


# -- the measured run --------------------------------------------------------------------
def run_set(
    arg: str,
    home: Path,
    *,
    limit: int | None,
    answers: bool,
    threshold: float | None,
    proposed: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]], Settings]:
    name, qpath, cpath = set_paths(arg)
    settings = prepare(name, cpath, home)
    questions = read_jsonl(qpath)[: limit or None]
    assistant = Assistant(settings, refusal_threshold=threshold)
    r = assistant.services.retriever
    live_articles = set(r.snapshot().meta)
    missing_gold = sorted({q["context_id"] for q in questions} - live_articles)
    if missing_gold:
        print(
            f"[{name}] warning: {len(missing_gold)} gold contexts not in the index", file=sys.stderr
        )

    # (name, kind, retriever): "list" = .bm25/.dense with n=100, "fused" = .retrieve(k=10)
    plan: list[tuple[str, str, Any]] = [
        ("bm25", "bm25", r),
        ("dense", "dense", r),
        ("hybrid", "fused", r),
    ]
    if proposed:

        def make(**kw: Any) -> ProposedRetriever:
            return ProposedRetriever(
                r.index,
                r.embedder,
                top_k=r.top_k,
                candidates=r.candidates,
                rrf_k=r.rrf_k,
                bm25_weight=r.bm25_weight,
                dense_weight=r.dense_weight,
                per_article=r.per_article,
                **kw,
            )

        bi = make(fusion="zscore", bigrams=True)
        plan += [
            ("bm25+bigrams", "bm25", bi),
            ("hybrid_z", "fused", make(fusion="zscore")),
            ("hybrid_z+bigrams", "fused", bi),
        ]
    # warm-up: model load, Chroma open, BM25 load / bigram build (not timed)
    for _, kind, ret in plan:
        if kind == "fused":
            ret.retrieve(questions[0]["question"], k=10)

    rows: list[dict[str, Any]] = []
    lat: dict[str, list[float]] = {rname: [] for rname, _, _ in plan}
    t_all = time.perf_counter()
    for q in questions:
        text, gold = q["question"], q["context_id"]
        row: dict[str, Any] = {"id": q["id"], "gold": gold}
        for rname, kind, ret in plan:
            t0 = time.perf_counter()
            if kind == "fused":
                ids = [h.chunk.article_id for h in ret.retrieve(text, k=10)]
            else:
                hits = getattr(ret, kind)(text, DEPTH, None)
                ids = [article_of(c) for c, _ in hits]
            lat[rname].append((time.perf_counter() - t0) * 1000)
            arts = distinct(ids)
            row[rname] = gold_rank(arts, gold)
            if kind == "fused":
                row[f"{rname}_articles"] = len(arts)
        rows.append(row)
    retrieval_s = time.perf_counter() - t_all

    summary: dict[str, Any] = {
        "set": name,
        "questions": len(rows),
        "contexts": len(live_articles),
        "chunks": len(r.snapshot().live),
        "embedding_model": r.embedder.model_id,
        "settings": {
            "candidates": r.candidates,
            "rrf_k": r.rrf_k,
            "bm25_weight": r.bm25_weight,
            "dense_weight": r.dense_weight,
            "per_article": r.per_article,
        },
        "missing_gold_contexts": len(missing_gold),
        "hybrid_mean_articles_in_top10_chunks": round(
            sum(x["hybrid_articles"] for x in rows) / max(1, len(rows)), 2
        ),
        "proposed": (
            "hybrid_z = z-score fusion (ProposedRetriever); +bigrams = BM25 over syllables "
            "and syllable bigrams"
            if proposed
            else None
        ),
        "retrievers": {},
        "seconds_retrieval_loop": round(retrieval_s, 1),
    }
    for k, _, _ in plan:
        summary["retrievers"][k] = {
            **summarize_ranks([x[k] for x in rows]),
            "latency_ms_p50": round(percentile(lat[k], 50), 2),
            "latency_ms_p95": round(percentile(lat[k], 95), 2),
        }
    singles = [k for k, kind, _ in plan if kind != "fused"]
    best_single = max(singles, key=lambda k: summary["retrievers"][k]["mrr@10"])
    summary["best_single"] = best_single
    summary["mrr@10_gain_over_best_single"] = {
        k: round(
            summary["retrievers"][k]["mrr@10"] - summary["retrievers"][best_single]["mrr@10"], 4
        )
        for k, kind, _ in plan
        if kind == "fused"
    }

    if answers:
        # the Assistant's own retriever, then (with --proposed) the recommended one
        variants = [("current", r)] + ([("proposed", bi)] if proposed else [])
        summary["answers"] = {}
        for label_, ret in variants:
            parts = build_services(settings, refusal_threshold=threshold, retriever=ret)
            assistant = Assistant(settings, services=parts)
            got, refused, ask_ms = 0, 0, []
            assistant.ask(questions[0]["question"])  # warm-up (idf, answerer)
            for q, row in zip(questions, rows, strict=True):
                t0 = time.perf_counter()
                ans = assistant.ask(q["question"])
                ask_ms.append((time.perf_counter() - t0) * 1000)
                ok = (not ans.refused) and any(
                    contains(ans.text, g) for g in q.get("answers") or []
                )
                row[f"answer_{label_}_contains_gold"] = ok
                row[f"answer_{label_}_refused"] = ans.refused
                got += ok
                refused += ans.refused
            n = max(1, len(rows))
            summary["answers"][label_] = {
                "threshold": assistant.services.extractive.threshold,
                "contains_gold": round(got / n, 4),
                "refused": round(refused / n, 4),
                "latency_ms_p50": round(percentile(ask_ms, 50), 1),
                "latency_ms_p95": round(percentile(ask_ms, 95), 1),
            }
    return summary, rows, settings


def markdown(summaries: Sequence[dict[str, Any]]) -> str:
    out = [
        "| set | retriever | Hit@1 | Hit@5 | Hit@10 | MRR@10 | p50 ms | p95 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summaries:
        for k, m in s["retrievers"].items():
            out.append(
                f"| {s['set']} ({s['questions']} q) | {k} | {m['hit@1']:.3f} | {m['hit@5']:.3f}"
                f" | {m['hit@10']:.3f} | {m['mrr@10']:.3f} | {m['latency_ms_p50']:.1f}"
                f" | {m['latency_ms_p95']:.1f} |"
            )
    if any("answers" in s for s in summaries):
        out += [
            "",
            "| set | retriever | threshold | answer contains gold | refused | p50 ms | p95 ms |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for s in summaries:
            for which, a in (s.get("answers") or {}).items():
                out.append(
                    f"| {s['set']} | {which} | {a['threshold']} | {a['contains_gold']:.3f}"
                    f" | {a['refused']:.3f} | {a['latency_ms_p50']:.1f}"
                    f" | {a['latency_ms_p95']:.1f} |"
                )
    return "\n".join(out)


# -- experiments: offline fusion on full score vectors ------------------------------------
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
    _register_bigram_analyzers()
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
    families = {
        "bm25": lambda c: c["kind"] == "bm25" and not c.get("bigrams"),
        "bm25+bigrams": lambda c: c["kind"] == "bm25" and c.get("bigrams"),
        "dense": lambda c: c["kind"] == "dense",
        "production rrf_chunk n=50 k=60 w=1": lambda c: (
            c["kind"] == "rrf_chunk"
            and c["n"] == 50
            and c["k"] == 60
            and c["wb"] == 1.0
            and not c.get("bigrams")
        ),
        "best rrf_chunk": lambda c: c["kind"] == "rrf_chunk" and not c.get("bigrams"),
        "best rrf_chunk +bigrams": lambda c: c["kind"] == "rrf_chunk" and c.get("bigrams"),
        "best rrf_article": lambda c: c["kind"] == "rrf_article" and not c.get("bigrams"),
        "best rrf_article +bigrams": lambda c: c["kind"] == "rrf_article" and c.get("bigrams"),
        "best score minmax chunk": lambda c: (
            c["kind"] == "score"
            and c["norm"] == "minmax"
            and c["level"] == "chunk"
            and not c.get("bigrams")
        ),
        "best score z chunk": lambda c: (
            c["kind"] == "score"
            and c["norm"] == "z"
            and c["level"] == "chunk"
            and not c.get("bigrams")
        ),
        "best score minmax article": lambda c: (
            c["kind"] == "score"
            and c["norm"] == "minmax"
            and c["level"] == "article"
            and not c.get("bigrams")
        ),
        "best score z article": lambda c: (
            c["kind"] == "score"
            and c["norm"] == "z"
            and c["level"] == "article"
            and not c.get("bigrams")
        ),
        "best score +bigrams": lambda c: c["kind"] == "score" and c.get("bigrams"),
        "recommended: score z chunk n=50 alpha=0.5": lambda c: (
            c["kind"] == "score"
            and c["norm"] == "z"
            and c["level"] == "chunk"
            and c["n"] == 50
            and c["alpha"] == 0.5
            and not c.get("bigrams")
        ),
        "recommended +bigrams": lambda c: (
            c["kind"] == "score"
            and c["norm"] == "z"
            and c["level"] == "chunk"
            and c["n"] == 50
            and c["alpha"] == 0.5
            and c.get("bigrams")
        ),
    }
    names = [s.name for s in sigs]
    by_tuning: dict[str, Any] = {}
    for tuned in names:

        def order(x: dict[str, Any], t: str = tuned) -> tuple[float, float]:
            return (-x[t]["mrr@10"], -x[t]["hit@1"])

        ranked = sorted(results, key=order)
        by_tuning[tuned] = {
            "families": {
                k: next((x for x in ranked if f(x["config"])), None) for k, f in families.items()
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


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "sets", nargs="+", help="QA set path prefix(es), e.g. ../shared/data/qa/xquad_vi"
    )
    ap.add_argument("--limit", type=int, help="only the first N questions of each set")
    ap.add_argument("--home", help="hoidap home for the indexes (kept; default: a temp folder)")
    ap.add_argument("--answers", action="store_true", help="also run the extractive answerer")
    ap.add_argument("--threshold", type=float, help="refusal threshold (default: calibrated)")
    ap.add_argument(
        "--proposed",
        action="store_true",
        help="also measure z-score fusion explicitly and with syllable-bigram BM25",
    )
    ap.add_argument(
        "--experiments",
        action="store_true",
        help="evaluate fusion variants offline instead of the measured run",
    )
    ap.add_argument("--top", type=int, default=15, help="experiments: how many top configs")
    ap.add_argument("--out", help="write the JSON summary (and per-question rows) here")
    args = ap.parse_args()

    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="hoidap-retrieval-"))
    home = home.expanduser().resolve()
    if ROOT in home.parents or home == ROOT:
        raise SystemExit("--home must be outside the repository")

    if args.experiments:
        exp = run_experiments(args.sets, home, args.limit, args.top)
        print(
            json.dumps({k: v for k, v in exp.items() if k != "all"}, ensure_ascii=False, indent=1)
        )
        print()
        print(experiments_markdown(exp))
        if args.out:
            Path(args.out).write_text(json.dumps(exp, ensure_ascii=False, indent=1), "utf-8")
        return 0

    if args.answers and args.threshold is None:
        from rag.answer.extractive import CALIBRATION_FILE

        if not CALIBRATION_FILE.is_file():
            raise SystemExit(
                f"--answers needs --threshold: {CALIBRATION_FILE} does not exist yet "
                "(run evals/calibrate.py)"
            )
    summaries, all_rows = [], {}
    for s in args.sets:
        summary, rows, _ = run_set(
            s,
            home,
            limit=args.limit,
            answers=args.answers,
            threshold=args.threshold,
            proposed=args.proposed,
        )
        summaries.append(summary)
        all_rows[summary["set"]] = rows
    print(
        json.dumps(summaries if len(summaries) > 1 else summaries[0], ensure_ascii=False, indent=2)
    )
    print()
    print(markdown(summaries))
    if args.out:
        Path(args.out).write_text(
            json.dumps({"summaries": summaries, "rows": all_rows}, ensure_ascii=False),
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
