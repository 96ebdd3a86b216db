"""The reader's threshold sweep on hand-made dump rows (no model)."""

from __future__ import annotations

from typing import Any

from evals.calibrate_reader import choose, sweep


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
