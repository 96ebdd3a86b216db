"""Calibrate the extractive answerer's refusal threshold on data, reproducibly.

    .venv/bin/python evals/calibrate.py ../shared/data/qa/viquad1_dev --home /tmp/hoidap-calib

Method: index the QA set's passages (one article per context). For each of ``--limit``
questions (the first N in file order), compute the best sentence evidence (see
``rag.answer.extractive``) twice: once as asked (the gold passage is in the index: the answer
exists) and once with the gold passage filtered out (the answer does not exist: it should
be refused). The threshold is the highest evidence value that still keeps at least
``--keep`` (default 95%) of the answerable questions answered: an assistant that refuses
a fifth of what it could answer is not useful, and near misses (wrong year, place or
concept) are refused by the answerer's explicit checks, not by this threshold.
The result goes to ``rag/answer/data/refusal.json`` with the figures behind it.

The seed test set (evals/seed_qa.jsonl) is deliberately NOT used here, so that the seed
results reported in docs/BENCHMARKS.md are measured on data the threshold never saw.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.answer.extractive import CALIBRATION_FILE  # noqa: E402
from rag.answer.question import analyze  # noqa: E402
from rag.index.ingest import ingest  # noqa: E402
from rag.services import build_services  # noqa: E402
from rag.settings import load_settings  # noqa: E402
from rag.types import Filters  # noqa: E402


def best_threshold(
    pos: list[float], neg: list[float], keep: float
) -> tuple[float, float, float, float]:
    """(threshold, balanced accuracy, share of pos kept, share of neg refused) for the
    highest threshold that keeps at least ``keep`` of ``pos``."""
    best = (0.0, 0.5, 1.0, 0.0)
    for t in sorted(set(pos) | set(neg) | {0.0}):
        kept = sum(v >= t for v in pos) / len(pos)
        if kept < keep:
            break
        refused = sum(v < t for v in neg) / len(neg)
        best = (t, (kept + refused) / 2, kept, refused)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("qa_prefix", help="e.g. ../shared/data/qa/viquad1_dev (without .jsonl)")
    ap.add_argument("--home", required=True)
    ap.add_argument("--limit", type=int, default=400)
    ap.add_argument("--keep", type=float, default=0.95, help="share of answerable to keep")
    ap.add_argument("--out", default=str(CALIBRATION_FILE))
    args = ap.parse_args()

    prefix = Path(args.qa_prefix)
    name = prefix.name
    home = Path(args.home)
    corpus = home / f"{name}.corpus.jsonl"
    home.mkdir(parents=True, exist_ok=True)
    if not corpus.exists():
        with open(corpus, "w", encoding="utf-8") as out:
            for line in Path(f"{prefix}.contexts.jsonl").read_text(encoding="utf-8").splitlines():
                c = json.loads(line)
                out.write(
                    json.dumps(
                        {"id": c["context_id"], "title": c["title"], "text": c["text"]},
                        ensure_ascii=False,
                    )
                    + "\n"
                )
    settings = load_settings(home, env={}, index=name)
    services = build_services(settings, refusal_threshold=0.0)
    ingest([corpus], settings, embedder=services.embedder)
    all_ids = services.catalog.article_ids()
    lines = Path(f"{prefix}.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(x) for x in lines][: args.limit]

    pos: list[float] = []
    neg: list[float] = []
    t0 = time.perf_counter()
    for item in questions:
        q = analyze(item["question"])
        for without_gold in (False, True):
            filters = (
                Filters(article_ids=tuple(i for i in all_ids if i != item["context_id"]))
                if without_gold
                else None
            )
            evidence = services.evidence(item["question"], filters=filters)
            cands = services.extractive.candidates(q, evidence.hits, evidence.texts)
            (neg if without_gold else pos).append(cands[0].evidence if cands else 0.0)
    services.close()  # the catalog: nothing below reads the index
    threshold, balanced, kept, refused = best_threshold(pos, neg, args.keep)
    result = {
        "threshold": round(threshold, 4),
        "method": (
            f"highest evidence threshold keeping >= {args.keep:.0%} of answerable questions; "
            "answerable = question as asked, unanswerable = the same question with its gold "
            "passage filtered out"
        ),
        "qa_set": name,
        "questions": len(questions),
        "balanced_accuracy": round(balanced, 4),
        "answerable_kept": round(kept, 4),
        "unanswerable_refused": round(refused, 4),
        "embedding_model": services.embedder.model_id,
        "command": (
            f"python evals/calibrate.py {args.qa_prefix} --home DIR --limit {args.limit} "
            f"--keep {args.keep}"
        ),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
