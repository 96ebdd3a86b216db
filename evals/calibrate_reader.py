"""Choose the reader's refusal threshold on a tuning split and write it down.

``python -m evals.calibrate_reader DUMP.jsonl [DUMP.jsonl ...]`` reads the per-question
rows that ``bench/reader.py --uncalibrated --out DIR`` wrote (the reader's best
answerability per question, whether a named year/number/place was missing, and whether
the answer held a gold answer), keeps the rows of ``--split`` (default "tune": half of
the passages of the set ``evals/unanswerable.py`` builds), and sweeps the threshold.

A question is refused at threshold ``t`` when its best answerability is under ``t`` or
something it names is missing. Chosen: the threshold with the highest refusal recall
among those that keep refusal precision >= ``--precision`` and lose at most ``--loss``
of the answerable questions that were answered with a gold answer at ``t = 0``; if none
does, the one with the best refusal F1. Factoid and open questions are calibrated apart
(open ones only if there are ``--min-open`` of them). Writes
``rag/answer/data/reader_calibration.json`` (``--write``), else prints.

``--sentence`` calibrates the shipped default instead (``reader_factoid = false``): rows
from ``bench/reader.py --rules-for-factoid --out DIR``, where a factoid question's score
is the reader's answerability of the sentence the rules chose; it is refused at ``t``
when the rules refused it or that score is under ``t``. Writes ``sentence_threshold``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.answer.reader.answerer import CALIBRATION_FILE

GRID = [round(0.02 * i, 2) for i in range(1, 50)]


@dataclass(frozen=True)
class Point:
    threshold: float
    recall: float
    precision: float | None
    loss: float
    f1: float


def sweep(rows: list[dict[str, Any]], *, sentence: bool = False) -> list[Point]:
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    good = [r for r in ans if r["reader"].get("contains")]
    out = []
    for t in GRID:

        def refused(r: dict[str, Any], t: float = t) -> bool:
            if sentence:  # the rules' refusal, then the reader's score of their sentence
                return bool(r["reader"]["refused"]) or r["scores"]["answerable"] < t
            return bool(r["scores"]["missing"]) or r["scores"]["answerable"] < t

        tp = sum(refused(r) for r in una)
        fp = sum(refused(r) for r in ans)
        recall = tp / len(una) if una else 0.0
        precision = tp / (tp + fp) if tp + fp else None
        loss = sum(refused(r) for r in good) / len(good) if good else 0.0
        f1 = 2 * recall * precision / (recall + precision) if precision and recall else 0.0
        out.append(
            Point(
                t, round(recall, 4), precision and round(precision, 4), round(loss, 4), round(f1, 4)
            )
        )
    return out


def choose(points: list[Point], min_precision: float, max_loss: float) -> tuple[Point, str]:
    ok = [p for p in points if (p.precision or 0) >= min_precision and p.loss <= max_loss]
    if ok:
        return max(ok, key=lambda p: (p.recall, -p.threshold)), "max recall within the limits"
    return max(points, key=lambda p: p.f1), "best F1 (no threshold met the limits)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evals.calibrate_reader", description=__doc__)
    ap.add_argument("dumps", nargs="+", type=Path)
    ap.add_argument("--split", default="tune")
    ap.add_argument("--precision", type=float, default=0.8)
    ap.add_argument("--loss", type=float, default=0.02)
    ap.add_argument("--min-open", type=int, default=30)
    ap.add_argument("--write", action="store_true", help=f"write {CALIBRATION_FILE.name}")
    ap.add_argument("--sentence", action="store_true", help="calibrate sentence_threshold")
    args = ap.parse_args(argv)
    rows = [
        json.loads(x)
        for d in args.dumps
        for x in d.read_text(encoding="utf-8").splitlines()
        if x.strip()
    ]
    rows = [r for r in rows if r.get("split", "") == args.split]
    factoid = [r for r in rows if not r["scores"]["open"]]
    opened = [r for r in rows if r["scores"]["open"]]
    if args.sentence:
        best, why = choose(sweep(factoid, sentence=True), args.precision, args.loss)
        cal: dict[str, Any] = {
            "sentence_threshold": best.threshold,
            "sentence": {**best.__dict__, "questions": len(factoid), "rule": why,
                         "tuned_on": [d.name for d in args.dumps], "split": args.split},
        }  # fmt: skip
        return _emit(cal, args.write)
    best, why = choose(sweep(factoid), args.precision, args.loss)
    cal = {
        "threshold": best.threshold,
        "tuned_on": [d.name for d in args.dumps],
        "split": args.split,
        "rule": why,
        "factoid": {**best.__dict__, "questions": len(factoid)},
    }
    if len(opened) >= args.min_open:
        ob, owhy = choose(sweep(opened), args.precision, args.loss)
        cal["open_threshold"] = ob.threshold
        cal["open"] = {**ob.__dict__, "questions": len(opened), "rule": owhy}
    return _emit(cal, args.write)


def _emit(cal: dict[str, Any], write: bool) -> int:
    print(json.dumps(cal, indent=2, ensure_ascii=False))
    if write:
        old = (
            json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
            if CALIBRATION_FILE.is_file()
            else {}
        )
        CALIBRATION_FILE.write_text(
            json.dumps({**old, **cal}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
