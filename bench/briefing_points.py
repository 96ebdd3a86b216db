"""Briefing key points against the seed open questions' key points, reader vs extractive.

Usage (from the repository root)::

    .venv/bin/python bench/briefing_points.py evals/seed_open_qa.jsonl --home <seed home>

Each open question of ``evals/seed_open_qa.jsonl`` is given as the briefing's topic; the
briefing's overview and key points (their text) are scored by key-point recall
(``evals.metrics.key_point_recall``), once with the key points the reader lists
(``answerer = "reader"``) and once with the extractive ones (``answerer = "extractive"``),
over the same index, with the paired bootstrap of the difference.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench.offline  # noqa: E402, F401 - sets the environment before the models load
from bench.common import percentile  # noqa: E402
from evals.metrics import key_point_recall  # noqa: E402
from evals.stats import mean_ci, paired_bootstrap  # noqa: E402
from rag.briefing.build import BriefingBuilder  # noqa: E402
from rag.services import build_services  # noqa: E402
from rag.settings import load_settings  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("qa", type=Path)
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    items = [json.loads(x) for x in args.qa.read_text(encoding="utf-8").splitlines() if x.strip()]
    rows: list[dict[str, Any]] = [{"id": it["id"], "question": it["question"]} for it in items]
    summary: dict[str, Any] = {"questions": len(items)}
    for name in ("extractive", "reader"):
        builder = BriefingBuilder(build_services(load_settings(args.home, env={}, answerer=name)))
        ms = []
        for it, row in zip(items, rows, strict=True):
            t0 = time.perf_counter()
            b = builder.build(it["question"])
            ms.append((time.perf_counter() - t0) * 1000)
            text = " ".join(s.text for s in (*b.overview, *b.key_points))
            points = [kp["phrases"] for kp in it["key_points"]]
            row[name] = {
                "recall": key_point_recall(text, points) or 0.0,
                "points": len(b.key_points),
            }
        iv = mean_ci([r[name]["recall"] for r in rows])
        summary[name] = {
            "key_point_recall": [round(iv.mean, 4), round(iv.low, 4), round(iv.high, 4)],
            "mean_points": round(sum(r[name]["points"] for r in rows) / max(1, len(rows)), 2),
            "briefing_ms_p50_p95": [round(percentile(ms, q), 1) for q in (50, 95)],
        }
    pb = paired_bootstrap(
        [r["extractive"]["recall"] for r in rows], [r["reader"]["recall"] for r in rows]
    )
    summary["delta_recall"] = {"diff": round(pb.delta, 4), "low": round(pb.low, 4),
                               "high": round(pb.high, 4), "p": pb.p_value}  # fmt: skip
    print(json.dumps(summary, ensure_ascii=False))
    if args.out:
        args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
