"""Answer quality and latency of the offline answerer on a QA set.

Usage (from the repository root):

    .venv/bin/python bench/answers.py evals/seed_qa.jsonl --corpus corpus/articles
    .venv/bin/python bench/answers.py evals/seed_qa.jsonl --home ~/.hoidap   # existing index

QA lines: {"id", "question", "answers": [...], "gold_articles": [...], "answerable",
"history"?: [{"question", "answer"}]}. Scores per question:

* ``correct``: answerable, not refused, the first accepted answer (or any accepted answer)
  occurs in the answer text (after Vietnamese normalisation), and a citation points to a
  gold article;
* ``refused_ok``: unanswerable and refused.

Prints a JSON summary (and writes per-question rows with --out FILE.jsonl).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench.offline  # noqa: E402, F401 - sets the environment before the models load
from bench.common import add_set_option, contains, percentile, rss_mb, set_overrides  # noqa: E402
from rag.assistant import Assistant  # noqa: E402
from rag.settings import load_settings  # noqa: E402
from rag.types import Turn  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("qa")
    ap.add_argument("--corpus", nargs="*", help="ingest these into a fresh temporary home first")
    ap.add_argument("--home")
    ap.add_argument("--index")
    ap.add_argument("--threshold", type=float, help="override the calibrated refusal threshold")
    ap.add_argument("--out", help="write per-question rows here (JSONL)")
    add_set_option(ap)
    args = ap.parse_args()
    overrides = set_overrides(args)

    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="hoidap-answers-"))
    settings = load_settings(home, env={}, index=args.index, **overrides)
    assistant = Assistant(settings, refusal_threshold=args.threshold)
    if args.corpus:
        from rag.index.ingest import ingest

        ingest(args.corpus, settings, embedder=assistant.services.embedder)
    rss_before = rss_mb()
    if settings.answerer == "reader":  # load it first: its memory, and no cold first answer
        assistant.services.reader_answerer.reader.warm_up()
    reader_mb = rss_mb() - rss_before
    rows = []
    for line in Path(args.qa).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        history = [Turn(h["question"], h["answer"]) for h in item.get("history") or []]
        t0 = time.perf_counter()
        ans = assistant.ask(item["question"], history=history)
        wall = (time.perf_counter() - t0) * 1000
        gold_articles = set(item.get("gold_articles") or [])
        answerable = bool(item.get("answerable", True))
        cited = {c.article_id for c in ans.citations}
        has_answer = any(contains(ans.text, g) for g in item.get("answers") or [])
        rows.append(
            {
                "id": item["id"],
                "question": item["question"],
                "standalone": ans.standalone_query,
                "answerable": answerable,
                "refused": ans.refused,
                "correct": answerable
                and not ans.refused
                and has_answer
                and bool(cited & gold_articles),
                "contains_gold": has_answer,
                "cites_gold": bool(cited & gold_articles),
                "refused_ok": (not answerable) and ans.refused,
                "answer": ans.text,
                "notice": ans.notice,
                "gold": item.get("answers"),
                "ms": wall,
                "timings_ms": ans.timings_ms,
            }
        )
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    warm = [r["ms"] for r in rows[1:]]  # the first question includes loading the model
    warm_retrieve = [r["timings_ms"].get("retrieve", 0.0) for r in rows[1:]]
    summary = {
        "qa": args.qa,
        "questions": len(rows),
        "answerable": len(answerable),
        "answerable_correct": sum(r["correct"] for r in answerable),
        "answerable_correct_rate": round(
            sum(r["correct"] for r in answerable) / max(1, len(answerable)), 4
        ),
        "answerable_refused": sum(r["refused"] for r in answerable),
        "unanswerable": len(unanswerable),
        "unanswerable_refused": sum(r["refused_ok"] for r in unanswerable),
        "unanswerable_refused_rate": round(
            sum(r["refused_ok"] for r in unanswerable) / max(1, len(unanswerable)), 4
        ),
        "threshold": assistant.services.extractive.threshold,
        "latency_ms_p50": round(percentile(warm, 50), 1),
        "latency_ms_p95": round(percentile(warm, 95), 1),
        "retrieve_ms_p50": round(percentile(warm_retrieve, 50), 1),
        "retrieve_ms_p95": round(percentile(warm_retrieve, 95), 1),
        "answerer": settings.answerer,
        "reader_factoid": settings.reader_factoid,
        "reader_rss_mb": reader_mb if settings.answerer == "reader" else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "articles_in_index": assistant.services.catalog.counts()[0],
        "chunks_in_index": assistant.services.catalog.counts()[1],
    }
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
