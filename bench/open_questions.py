"""Open questions on the seed articles: key-point recall of the reader and the rule-based
answerers, on the same evidence, in one run.

Usage (from the repository root)::

    .venv/bin/python bench/open_questions.py evals/seed_open_qa.jsonl --corpus corpus/articles

For every question (``evals/README_seed_open_qa.md``) the evidence is gathered once
(``Services.evidence``) and both answerers answer from it. Per answerer: mean key-point
recall (``evals.metrics.key_point_recall``) with its 95% bootstrap interval, the share of
questions refused, the number of points listed, and the paired bootstrap of reader -
extractive. ``--out FILE`` writes the answers and the points each one covered.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench.offline  # noqa: E402, F401 - sets the environment before the models load
from bench.common import add_set_option, percentile, set_overrides  # noqa: E402
from evals.metrics import contains, key_point_recall  # noqa: E402
from evals.stats import mean_ci, paired_bootstrap  # noqa: E402
from rag.services import build_services  # noqa: E402
from rag.settings import load_settings  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("qa", type=Path)
    ap.add_argument("--corpus", nargs="*", help="ingest these into a fresh temporary home first")
    ap.add_argument("--home", type=Path)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--open-chunks", type=int, default=None, help="chunks the reader reads")
    add_set_option(ap)
    args = ap.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="hoidap-open-"))
    settings = load_settings(home, env={}, **set_overrides(args))
    services = build_services(settings)
    if args.corpus:
        from rag.index.ingest import ingest

        ingest(args.corpus, settings, embedder=services.embedder)
    items = [json.loads(x) for x in args.qa.read_text(encoding="utf-8").splitlines() if x.strip()]
    systems: dict[str, Any] = {
        "extractive": services.extractive,
        "reader": services.reader_answerer,
    }
    if args.open_chunks:
        services.reader_answerer.open_chunks = args.open_chunks  # type: ignore[attr-defined]
    services.reader_answerer.reader.warm_up()  # type: ignore[attr-defined]
    rows = []
    for it in items:
        ev = services.evidence(it["question"])
        points = [kp["phrases"] for kp in it["key_points"]]
        row: dict[str, Any] = {"id": it["id"], "kind": it["kind"], "question": it["question"]}
        for name, answerer in systems.items():
            t0 = time.perf_counter()
            ans = (
                answerer.answer(it["question"], ev)
                if name == "reader"
                else answerer.answer(it["question"], ev.hits, ev.texts)
            )
            ms = (time.perf_counter() - t0) * 1000
            recall = 0.0 if ans.refused else key_point_recall(ans.text, points)
            row[name] = {
                "recall": recall,
                "refused": ans.refused,
                "cited": len(ans.citations),
                "covered": [kp["point"] for kp in it["key_points"]
                            if any(contains(ans.text, p) for p in kp["phrases"])],
                "text": ans.text,
                "ms": ms,
            }  # fmt: skip
        rows.append(row)
    summary: dict[str, Any] = {"questions": len(rows)}
    for name in systems:
        iv = mean_ci([r[name]["recall"] for r in rows])
        summary[name] = {
            "key_point_recall": [round(iv.mean, 4), round(iv.low, 4), round(iv.high, 4)],
            "refused": sum(r[name]["refused"] for r in rows),
            "mean_points": round(sum(r[name]["cited"] for r in rows) / max(1, len(rows)), 2),
            "answer_ms_p50_p95": [round(percentile([r[name]["ms"] for r in rows], q), 1)
                                  for q in (50, 95)],
        }  # fmt: skip
    summary["open_chunks"] = getattr(services.reader_answerer, "open_chunks", None)
    pb = paired_bootstrap(
        [r["extractive"]["recall"] for r in rows], [r["reader"]["recall"] for r in rows]
    )
    summary["delta_recall"] = {"diff": round(pb.delta, 4), "low": round(pb.low, 4),
                               "high": round(pb.high, 4), "p": pb.p_value}  # fmt: skip
    print(json.dumps(summary, ensure_ascii=False))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
