"""QA-set plumbing shared by ``bench/retrieval.py`` and ``bench/fusion_experiments.py``.

A SQuAD-style set is ``<set>.jsonl`` (questions) next to ``<set>.contexts.jsonl``; the
contexts become a hoidap JSONL corpus in the home folder and are ingested into an index
named after the set. Also here: the rank metrics (Hit@k, MRR@10 from gold ranks) and
``ProposedRetriever``, the product retriever with optional syllable-bigram BM25 (a variant
that lives only in the benchmarks).
"""

from __future__ import annotations

import itertools
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from corpus.text import tokens
from rag.retrieval.retrieve import HybridRetriever
from rag.services import build_services
from rag.settings import Settings, load_settings


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


def register_bigram_analyzers() -> None:
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
            register_bigram_analyzers()

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
