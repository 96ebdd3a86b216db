"""The reader's threshold sweep on hand-made dump rows (no model)."""

from __future__ import annotations

from typing import Any

from evals.calibrate_reader import choose, choose_trust, doubt_sweep, sweep, trust_sweep


def row(answerable: bool, score: float, *, refused: bool = False, contains: float = 1.0) -> Any:
    return {
        "answerable": answerable,
        "reader": {"refused": float(refused), "contains": contains if answerable else None},
        "scores": {"answerable": score, "missing": [], "open": False},
    }


def test_the_sentence_sweep_keeps_the_rules_refusals_and_adds_low_scores() -> None:
    rows = [
        *(row(True, 0.9) for _ in range(48)),
        row(True, 0.05),  # an answerable question the reader doubts
        row(True, 0.0, refused=True, contains=0.0),  # the rules refused it already
        row(False, 0.0, refused=True),  # refused by the rules
        row(False, 0.1),
        row(False, 0.3),
        row(False, 0.95),  # the reader is sure: never refused
    ]
    points = {p.threshold: p for p in sweep(rows, sentence=True)}
    assert points[0.02].recall == 0.25  # only the rules' refusal
    assert points[0.12].recall == 0.5 and points[0.12].loss == round(1 / 49, 4)
    assert points[0.32].recall == 0.75
    best, why = choose(list(points.values()), min_precision=0.5, max_loss=0.03)
    assert why == "max recall within the limits" and best.recall == 0.75
    assert best.threshold == 0.32  # the lowest threshold reaching that recall
    # without ``sentence`` only the scores count: the rules' refusal flag is ignored
    rows[-4]["scores"]["answerable"] = 0.5
    assert {p.threshold: p for p in sweep(rows)}[0.12].recall == 0.25
    assert {p.threshold: p for p in sweep(rows, sentence=True)}[0.12].recall == 0.5


def pair(
    qid: str, answerable: bool, score: float, rules: tuple[float, bool], reader: tuple[float, bool]
) -> tuple[Any, Any]:
    """One question's rows in the rules' dump and the reader's: (lead F1, refused) each."""

    def one(f1: float, refused: bool) -> Any:
        return {
            "id": qid,
            "answerable": answerable,
            "reader": {"lead_f1": f1, "refused": float(refused)},
            "scores": {"answerable": score, "missing": [], "open": False},
        }

    return one(*rules), one(*reader)


def test_trust_takes_the_readers_answer_where_it_is_sure_within_the_refusal_limits() -> None:
    pairs = [
        pair("a", True, 0.95, (0.2, False), (1.0, False)),  # the reader reads it better
        pair("b", True, 0.7, (0.5, False), (0.0, False)),  # the rules do
        pair("c", False, 0.9, (0.0, True), (0.0, False)),  # a sure reader answers it
        pair("d", False, 0.1, (0.0, True), (0.0, True)),
    ]
    rules, reader = [p[0] for p in pairs], [p[1] for p in pairs]
    points = {p["trust"]: p for p in trust_sweep(rules, reader)}
    assert points[2.0]["lead_f1"] == 0.35 and points[2.0]["refusal_recall"] == 1.0
    assert points[0.92]["lead_f1"] == 0.75 and points[0.92]["refusal_recall"] == 1.0
    assert points[0.88]["refusal_recall"] == 0.5  # "c" is answered from 0.9 down
    assert points[0.5]["lead_f1"] == 0.5
    # the best F1 (0.75 from 0.94 to 0.92), at the highest such trust
    assert choose_trust(list(points.values()), loss=0.02)["trust"] == 0.94
    # the reader is surer of "c" than of "a": trusting it costs a refusal
    reader[2]["scores"]["answerable"] = rules[2]["scores"]["answerable"] = 0.97
    points = {p["trust"]: p for p in trust_sweep(rules, reader)}
    assert choose_trust(list(points.values()), loss=0.02)["trust"] == 2.0  # the rules alone
    assert choose_trust(list(points.values()), loss=0.6)["trust"] == 0.94


def test_the_doubt_sweep_refuses_the_base_runs_refusals_and_low_probe_scores() -> None:
    """Base rows give the answers; probe rows the reader's best score (-1: not doubted)."""
    base = [
        {**row(True, 0.0), "id": "a"},  # answered well, reader doubts it at 0.15
        {**row(True, 0.0), "id": "b"},  # answered well, not doubted
        {**row(False, 0.0), "id": "c"},  # unanswerable, doubted at 0.05
        {**row(False, 0.0, refused=True), "id": "d"},  # the rules refused it
        {**row(False, 0.0), "id": "e"},  # unanswerable, the reader is sure: kept
    ]
    probe = [
        {"id": i, "scores": {"doubt": d}}
        for i, d in (("a", 0.15), ("b", -1.0), ("c", 0.05), ("d", -1.0), ("e", 0.45))
    ]
    points = {p.threshold: p for p in doubt_sweep(base, probe, probe_at=0.3)}
    assert max(points) == 0.3  # nothing above the probe's
    assert points[0.04].recall == round(1 / 3, 4) and points[0.04].loss == 0.0
    assert points[0.06].recall == round(2 / 3, 4) and points[0.06].precision == 1.0
    assert points[0.16].loss == 0.5 and points[0.16].precision == round(2 / 3, 4)
    best, _ = choose(list(points.values()), min_precision=0.8, max_loss=0.02)
    assert best.threshold == 0.06  # all of c's refusal, none of a's loss, the lowest such
    # where the rules' evidence is at least ``rules_under``, the reader's doubt is ignored
    probe[0]["scores"]["rules"], probe[2]["scores"]["rules"] = 1.5, 0.5
    points = {p.threshold: p for p in doubt_sweep(base, probe, 0.3, rules_under=1.0)}
    assert points[0.16].loss == 0.0 and points[0.16].recall == round(2 / 3, 4)


def test_the_shipped_calibration_loads_its_lists_as_tuples() -> None:
    from rag.answer.reader.answerer import ReaderCalibration

    cal = ReaderCalibration.load()
    assert isinstance(cal.doubt_kinds, tuple) and hash(cal)
