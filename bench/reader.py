"""The reader answerer against the rule-based (extractive) one, on the same evidence.

Usage (from the repository root)::

    .venv/bin/python bench/reader.py ../shared/data/qa/viquad1_dev --home /tmp/bench-qa \\
        --out /tmp/reader-runs
    .venv/bin/python -m evals.unanswerable ../shared/data/qa/viquad1_dev.jsonl --out /tmp/unans
    .venv/bin/python bench/reader.py /tmp/unans/viquad1_dev_unans --home /tmp/bench-qa \\
        --out /tmp/reader-runs

Each set (shared QA format; ``is_impossible`` rows are unanswerable) is ingested into an
index named after it (``bench.qa_sets.prepare``, re-used from ``--home``). For every
question the evidence is gathered once (``Services.evidence``: hybrid retrieval, the gate)
and both answerers answer from it. Reported per answerer, with the paired bootstrap of
reader - extractive:

* ``lead_em`` / ``lead_f1``: exact match and token F1 of the answer's first statement
  (the lead phrase) against the gold answers (``evals.metrics``), answerable questions;
* ``contains``: a gold answer inside the answer (refusals count 0);
* ``refused`` on answerable questions, and refusal precision / recall on the unanswerable;
* article MRR@10 of the retrieved order and of the reader's re-ordering;
* the reader's answer latency p50 / p95 (the whole offline answer: retrieval, gate, read).

``--dump`` writes one JSONL row per question with the reader's raw scores, which
``evals/calibrate_reader.py`` uses to choose the thresholds on a tuning split.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench.offline  # noqa: E402, F401 - sets the environment before the models load
from bench.common import percentile  # noqa: E402
from bench.qa_sets import distinct, gold_rank, prepare, read_jsonl, set_paths  # noqa: E402
from evals import metrics as m  # noqa: E402
from evals.stats import mean_ci, paired_bootstrap  # noqa: E402
from rag.answer.reader.answerer import ReaderAnswerer  # noqa: E402
from rag.services import build_services  # noqa: E402


def lead(answer_text: str) -> str:
    stmts = m.statements(answer_text)
    return stmts[0].claim if stmts else ""


def score(q: dict[str, Any], ans: Any) -> dict[str, Any]:
    golds = [] if q.get("is_impossible") else q["answers"]
    first = "" if ans.refused else lead(ans.text)
    row = {"refused": float(ans.refused), "text": ans.text}
    if golds:
        row["lead_em"] = m.exact_match(first, golds) if not ans.refused else 0.0
        row["lead_f1"] = m.token_f1(first, golds) if not ans.refused else 0.0
        row["contains"] = 0.0 if ans.refused else m.gold_containment(ans.text, golds)
    arts = distinct([h.chunk.article_id for h in ans.retrieved])
    rank = gold_rank(arts, q.get("context_id", "")) if golds else None
    row["rr"] = (1.0 / rank if rank and rank <= 10 else 0.0) if golds else None
    return row


def run_set(
    arg: str,
    home: Path,
    limit: int | None,
    dump: Path | None,
    uncalibrated: bool = False,
    *,
    factoid: bool = True,
    precision: str = "auto",
    first_chunks: int | None = None,
    trust: float | None = None,
    offset: int = 0,
    doubt: float | None = None,
    doubt_rules: float | None = None,
) -> dict[str, Any]:
    name, qpath, cpath = set_paths(arg)
    settings = prepare(name, cpath, home)
    settings = dataclasses.replace(settings, reader_factoid=factoid, reader_precision=precision)
    services = build_services(settings)
    questions = read_jsonl(qpath)[offset:][: limit or None]
    ext = services.extractive
    rdr = services.reader_answerer
    assert isinstance(rdr, ReaderAnswerer)
    if uncalibrated:  # refuse only on a missing year/number/place: thresholds swept later
        rdr.cal = dataclasses.replace(rdr.cal, threshold=0.0, open_threshold=0.0)
    given = {"first_chunks": first_chunks, "trust": trust, "doubt": doubt,
             "doubt_rules": doubt_rules}  # fmt: skip
    rdr.cal = dataclasses.replace(rdr.cal, **{k: v for k, v in given.items() if v is not None})
    rdr.reader.warm_up()
    services.evidence(questions[0]["question"])  # warm-up: Chroma, BM25, embedder
    rows = []
    out = dump.open("w", encoding="utf-8") if dump else None
    for q in questions:
        t0 = time.perf_counter()
        ev = services.evidence(q["question"])
        t_ev = time.perf_counter() - t0
        t1 = time.perf_counter()
        ra, rs = rdr.answer_scored(q["question"], ev)
        t_read = time.perf_counter() - t1
        ea = ext.answer(q["question"], ev.hits, ev.texts)
        row = {
            "id": q["id"], "kind": q.get("kind", ""), "split": q.get("split", ""),
            "answerable": not q.get("is_impossible"),
            "reader": score(q, ra), "extractive": score(q, ea),
            "ms": (t_ev + t_read) * 1000, "read_ms": ra.timings_ms.get("read", 0.0),
            "scores": {"answerable": rs.answerable, "open": rs.open_question,
                       "missing": list(rs.missing), "doubt": rs.doubt,
                       "rules": rs.rules},
        }  # fmt: skip
        rows.append(row)
        if out:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    if out:
        out.close()
    res = summarize(name, rows)
    res["reader_mode"] = rdr.reader.mode
    res["first_chunks"] = rdr.cal.first_chunks
    res["trust"] = rdr.cal.trust
    res["doubt"] = rdr.cal.doubt
    res["doubt_rules"] = rdr.cal.doubt_rules
    return res


def summarize(name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    res: dict[str, Any] = {"set": name, "questions": len(rows), "answerable": len(ans),
                           "unanswerable": len(una)}  # fmt: skip
    for sysname in ("extractive", "reader"):
        s: dict[str, Any] = {}
        for k in ("lead_em", "lead_f1", "contains", "refused", "rr"):
            vals = [r[sysname][k] for r in ans if r[sysname].get(k) is not None]
            if vals:
                iv = mean_ci(vals)
                s[k] = [round(iv.mean, 4), round(iv.low, 4), round(iv.high, 4)]
        if una:
            tp = sum(r[sysname]["refused"] for r in una)
            fp = sum(r[sysname]["refused"] for r in ans)
            s["refusal_recall"] = round(tp / len(una), 4)
            s["refusal_precision"] = round(tp / (tp + fp), 4) if tp + fp else None
        res[sysname] = s
    for k in ("lead_f1", "contains", "rr"):
        pairs = [
            (r["extractive"][k], r["reader"][k]) for r in ans if r["reader"].get(k) is not None
        ]
        if pairs:
            pb = paired_bootstrap([a for a, _ in pairs], [b for _, b in pairs])
            res[f"delta_{k}"] = {"diff": round(pb.delta, 4), "low": round(pb.low, 4),
                                 "high": round(pb.high, 4), "p": pb.p_value}  # fmt: skip
    ms = [r["ms"] for r in rows]
    res["reader_ms_p50"] = round(percentile(ms, 50), 1)
    res["reader_ms_p95"] = round(percentile(ms, 95), 1)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("sets", nargs="+", help="shared QA set paths (prefix, .jsonl or contexts)")
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--offset", type=int, default=0, help="skip this many questions first")
    ap.add_argument("--out", type=Path, default=None, help="folder for dumps and the summary")
    ap.add_argument(
        "--uncalibrated", action="store_true",
        help="answerability thresholds 0 (for evals/calibrate_reader.py)",
    )  # fmt: skip
    ap.add_argument(
        "--rules-for-factoid", action="store_true",
        help="the shipped default (reader_factoid = false); default: the reader answers all",
    )  # fmt: skip
    ap.add_argument("--precision", default="auto", help="reader_precision: auto, bf16, int8, fp32")
    ap.add_argument(
        "--first-chunks", type=int, default=None,
        help="factoid questions read this many chunks first (0: all at once; default: the "
        "calibration file's)",
    )  # fmt: skip
    ap.add_argument(
        "--trust", type=float, default=None,
        help="with --rules-for-factoid: the reader answers a factoid question itself at this "
        "answerability or more (above 1: never; default: the calibration file's)",
    )  # fmt: skip
    ap.add_argument(
        "--doubt", type=float, default=None,
        help="with --rules-for-factoid: refuse the rules' answer when the reader scores its "
        "sentence and the top chunks under this (0: never; default: the calibration file's)",
    )  # fmt: skip
    ap.add_argument(
        "--doubt-rules", type=float, default=None,
        help="with --doubt: only where the rules' evidence is under this (default: the "
        "calibration file's)",
    )  # fmt: skip
    args = ap.parse_args()
    summaries = []
    for arg in args.sets:
        dump = None
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            dump = args.out / f"{set_paths(arg)[0]}.jsonl"
        s = run_set(
            arg, args.home, args.limit, dump, args.uncalibrated,
            factoid=not args.rules_for_factoid, precision=args.precision,
            first_chunks=args.first_chunks, offset=args.offset, trust=args.trust,
            doubt=args.doubt, doubt_rules=args.doubt_rules,
        )  # fmt: skip
        print(json.dumps(s, ensure_ascii=False), flush=True)
        summaries.append(s)
    if args.out:
        (args.out / "summary.json").write_text(json.dumps(summaries, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
