"""The reader model alone, on windows around the gold passage (no retrieval, no rules).

Usage (from the repository root)::

    .venv/bin/python bench/reader_gold.py ../shared/data/qa/viquad1_dev.jsonl --limit 600
    .venv/bin/python bench/reader_gold.py ../shared/data/qa/viquad1_dev.jsonl \\
        --weights /tmp/candidate   # a folder holding reader.npz + reader.json

The examples are built the way training builds them (``rag.answer.reader.data``, seed
13): every question against the window of whole sentences around its answer, and the
unanswerable windows made from it (another passage of its article, the best BM25 passage
lacking the answer, a near miss of the question). Reported: span exact match and token F1
of the reader's best span on the answerable windows (95% intervals), and how well the
answerability score separates answerable from unanswerable windows (ROC AUC, accuracy at
0.5, by kind). It measures the model, so that checkpoints and training choices can be
compared in a minute; the whole answer is measured by ``bench/reader.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench.offline  # noqa: E402, F401 - sets the environment before the models load
from evals import metrics as m  # noqa: E402
from evals.stats import mean_ci  # noqa: E402
from rag.answer.reader.data import make_examples, read_rows  # noqa: E402
from rag.answer.reader.model import META_FILE, WEIGHTS_FILE  # noqa: E402
from rag.answer.reader.reader import Passage, Reader  # noqa: E402
from rag.answer.reader.windows import windows_around  # noqa: E402


def _ci(values: list[float]) -> dict | None:
    ci = mean_ci(values)
    return ci.as_dict() if ci else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("qa", type=Path, help="a shared QA file (.jsonl) with answer offsets")
    ap.add_argument("--limit", type=int, default=600, help="first N questions (0: all)")
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--weights", type=Path, help="folder with reader.npz and reader.json")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--out", type=Path, help="write the summary JSON here")
    args = ap.parse_args(argv)
    rows = read_rows(args.qa)
    examples = list(make_examples(rows, seed=13))
    keep = {r.id for r in rows[args.offset :][: args.limit or None]}
    examples = [e for e in examples if e.qid.removesuffix("~near") in keep]
    answers = {r.id: r.answers for r in rows}
    weights, meta = WEIGHTS_FILE, META_FILE
    if args.weights:
        weights, meta = args.weights / WEIGHTS_FILE.name, args.weights / META_FILE.name
    reader = Reader(weights, meta, precision=args.precision)
    builder = reader.builder
    t0 = time.perf_counter()
    em: list[float] = []
    f1: list[float] = []
    by_kind: dict[str, list[float]] = defaultdict(list)
    for i in range(0, len(examples), args.batch):
        part = examples[i : i + args.batch]
        wins, passages = [], []
        for ex in part:
            w = windows_around(builder, builder.question_ids(ex.question), ex.text, ex.spans,
                               ex.centre)  # fmt: skip
            a, b = w.span
            wins.append(w)
            passages.append(Passage(ex.qid, ex.qid, ex.text, a, b))
        groups: dict[str, list[int]] = defaultdict(list)
        for k, ex in enumerate(part):
            groups[ex.question].append(k)
        readings: list = [None] * len(part)
        for ks in groups.values():
            got = reader.read_windows([passages[k] for k in ks], [wins[k] for k in ks])
            for k, rd in zip(ks, got, strict=True):
                readings[k] = rd
        for ex, rd in zip(part, readings, strict=True):
            by_kind[ex.kind].append(rd.answerable)
            if ex.answer is not None:
                golds = list(answers[ex.qid])
                em.append(m.exact_match(rd.span_text, golds) or 0.0)
                f1.append(m.token_f1(rd.span_text, golds) or 0.0)
    seconds = time.perf_counter() - t0
    neg = [s for k, v in by_kind.items() if k != "answerable" for s in v]
    pos = by_kind["answerable"]
    out = {
        "set": args.qa.name, "questions": len(keep), "windows": len(examples),
        "weights": str(weights), "precision": reader.mode,
        "span_em": _ci(em), "span_f1": _ci(f1),
        "answerable_auc": m.roc_auc(pos, neg),
        "accuracy_at_0.5": {
            k: round(sum((s >= 0.5) == (k == "answerable") for s in v) / len(v), 4)
            for k, v in sorted(by_kind.items())
        },
        "windows_by_kind": {k: len(v) for k, v in sorted(by_kind.items())},
        "ms_per_window": round(1000 * seconds / max(1, len(examples)), 1),
    }  # fmt: skip
    print(json.dumps(out, ensure_ascii=False, default=str))
    if args.out:
        args.out.write_text(json.dumps(out, indent=1, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
