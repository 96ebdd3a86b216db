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

``--trust RULES.jsonl --against READER.jsonl`` chooses ``trust`` for the shipped default:
the two dumps are one set answered by ``bench/reader.py --rules-for-factoid --trust 2``
(the rules choose every factoid sentence) and by ``bench/reader.py`` (the reader answers
all); at ``trust`` t a factoid question takes the reader's answer when its best
answerability is at least t and the rules' sentence scored under ``--rules-sure``, else
the rules'. Chosen: the t with the best lead F1 on the
answerable questions (or the highest t within 0.005 of it: the curve is flat near its top)
that refuses at most ``--loss`` more of them and keeps the unanswerable ones' refusal
recall within ``--loss`` of the rules' alone.

``--doubt BASE.jsonl --against PROBE.jsonl`` chooses ``doubt`` for the shipped default: the
dumps are one set answered by ``bench/reader.py --rules-for-factoid --doubt 0`` (the answers)
and ``--doubt P`` (``scores.doubt``: the best answerability of the rules' sentence and the top
chunks, exact under P); at ``doubt`` t <= P a question is refused when the base run refused
it or its score is under t and the rules' evidence (``scores.rules``) under ``--doubt-rules``.
Chosen as for the threshold (``--precision``, ``--loss``).
"""

from __future__ import annotations

import argparse
import json
import sys
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


F1_TOL = 0.005
TRUST_GRID = [round(0.5 + 0.02 * i, 2) for i in range(25)] + [2.0]


def trust_sweep(
    rules: list[dict[str, Any]], reader: list[dict[str, Any]], rules_sure: float = 2.0
) -> list[dict[str, Any]]:
    """Per ``trust``: lead F1 and refusals of the answerable questions, refusal recall of
    the unanswerable ones, when the reader answers at that answerability or more and
    scored the rules' sentence under ``rules_sure``."""
    by_id = {r["id"]: r for r in reader}
    pairs = [(r, by_id[r["id"]]) for r in rules if r["id"] in by_id and not r["scores"]["open"]]
    out = []
    for t in TRUST_GRID:
        f1 = refused = caught = 0.0
        n_ans = n_una = 0
        for ru, re_ in pairs:
            trusted = re_["scores"]["answerable"] >= t and ru["scores"]["answerable"] < rules_sure
            side = re_ if trusted else ru
            if ru["answerable"]:
                n_ans += 1
                f1 += side["reader"]["lead_f1"]
                refused += side["reader"]["refused"]
            else:
                n_una += 1
                caught += side["reader"]["refused"]
        out.append({
            "trust": t, "lead_f1": round(f1 / max(1, n_ans), 4),
            "refused_answerable": round(refused / max(1, n_ans), 4),
            "refusal_recall": round(caught / max(1, n_una), 4),
            "answerable": n_ans, "unanswerable": n_una,
        })  # fmt: skip
    return out


def choose_trust(points: list[dict[str, Any]], loss: float) -> dict[str, Any]:
    off = points[-1]  # 2.0: the rules alone
    ok = [
        p for p in points
        if p["refused_answerable"] <= off["refused_answerable"] + loss
        and p["refusal_recall"] >= off["refusal_recall"] - loss
    ]  # fmt: skip
    best = max(p["lead_f1"] for p in ok)
    # the F1 curve is flat near its top (noise): the highest trust within ``F1_TOL`` of it
    return max((p for p in ok if p["lead_f1"] >= best - F1_TOL), key=lambda p: p["trust"])


def doubt_sweep(
    base: list[dict[str, Any]],
    probe: list[dict[str, Any]],
    probe_at: float,
    rules_under: float = float("inf"),
) -> list[Point]:
    """``sweep`` for ``doubt``: the base run's refusals, and a question whose reader's best
    (``scores.doubt`` of the probe run at ``probe_at``) is under t and whose rules'
    evidence is under ``rules_under``."""
    score = {
        r["id"]: r["scores"].get("doubt", -1.0)
        if r["scores"].get("rules", -1.0) < rules_under
        else -1.0
        for r in probe
    }
    rows = []
    for r in base:
        if r["scores"]["open"] or r["id"] not in score:
            continue
        d = score[r["id"]]
        rows.append({**r, "scores": {**r["scores"], "answerable": d if d >= 0 else 2.0}})
    points = sweep(rows, sentence=True)
    return [p for p in points if p.threshold <= probe_at]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evals.calibrate_reader", description=__doc__)
    ap.add_argument("dumps", nargs="+", type=Path)
    ap.add_argument("--split", default="tune")
    ap.add_argument("--precision", type=float, default=0.8)
    ap.add_argument("--loss", type=float, default=0.02)
    ap.add_argument("--min-open", type=int, default=30)
    ap.add_argument("--write", action="store_true", help=f"write {CALIBRATION_FILE.name}")
    ap.add_argument("--sentence", action="store_true", help="calibrate sentence_threshold")
    ap.add_argument("--trust", action="store_true", help="calibrate trust (with --against)")
    ap.add_argument("--against", nargs="+", type=Path, default=[], help="reader-on-all dumps")
    ap.add_argument("--doubt", action="store_true", help="calibrate doubt (with --against)")
    ap.add_argument("--probe", type=float, default=0.5, help="--doubt: the probe run's doubt")
    ap.add_argument(
        "--doubt-rules", type=float, default=float("inf"),
        help="--doubt: only where the rules' evidence is under this (doubt_rules)",
    )  # fmt: skip
    ap.add_argument(
        "--rules-sure", type=float, default=0.9,
        help="--trust: the rules' sentence is kept at this answerability or more",
    )  # fmt: skip
    args = ap.parse_args(argv)
    rows = [r for r in _read(args.dumps) if r.get("split", "") == args.split]
    if args.trust:
        if not args.against:
            ap.error("--trust needs --against READER.jsonl (the reader answering every question)")
        points = trust_sweep(rows, _read(args.against), args.rules_sure)
        chosen = choose_trust(points, args.loss)
        for p in points:
            print(json.dumps(p), file=sys.stderr)
        names = [f"{d.parent.name}/{d.name}" for d in (*args.dumps, *args.against)]
        rule = f"the highest trust within {F1_TOL} of the best lead F1, within --loss of the rules'"
        choice = {**chosen, "rules_sure": args.rules_sure, "rule": rule, "tuned_on": names,
                  "split": args.split}  # fmt: skip
        trust = {"trust": chosen["trust"], "rules_sure": args.rules_sure, "trust_choice": choice}
        return _emit(trust, args.write)
    if args.doubt:
        if not args.against:
            ap.error("--doubt needs --against PROBE.jsonl (a run with --doubt P)")
        doubts = doubt_sweep(rows, _read(args.against), args.probe, args.doubt_rules)
        for d in doubts:
            print(json.dumps(d.__dict__), file=sys.stderr)
        best, why = choose(doubts, args.precision, args.loss)
        names = [f"{d.parent.name}/{d.name}" for d in (*args.dumps, *args.against)]
        return _emit(
            {"doubt": best.threshold, "doubt_rules": args.doubt_rules,
             "doubt_choice": {**best.__dict__, "rule": why, "tuned_on": names,
                              "split": args.split, "probe": args.probe,
                              "max_loss": args.loss, "min_precision": args.precision}},
            args.write,
        )  # fmt: skip
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


def _read(paths: list[Path]) -> list[dict[str, Any]]:
    return [
        json.loads(x)
        for d in paths
        for x in d.read_text(encoding="utf-8").splitlines()
        if x.strip()
    ]


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
