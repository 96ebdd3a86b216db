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
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench.offline  # noqa: E402, F401 - sets the environment before the models load
from bench.common import contains, percentile  # noqa: E402
from bench.fusion_experiments import experiments_markdown, run_experiments  # noqa: E402
from bench.qa_sets import (  # noqa: E402
    ProposedRetriever,
    distinct,
    gold_rank,
    prepare,
    read_jsonl,
    set_paths,
    summarize_ranks,
)
from rag.assistant import Assistant  # noqa: E402
from rag.retrieval.retrieve import article_of  # noqa: E402
from rag.services import build_services  # noqa: E402
from rag.settings import Settings  # noqa: E402

DEPTH = 100  # chunks asked of each single retriever


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
        "chunks": r.index.catalog.counts()[1],
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
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(
            json.dumps({"summaries": summaries, "rows": all_rows}, ensure_ascii=False),
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
