"""summary.json: per-system means with bootstrap intervals, refusals, latency, failures."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from evals import metrics as m
from evals.scoring import RULES, SYSTEM, K, metric_names
from evals.stats import mean_ci, paired_bootstrap, statistic_ci
from evals.testset import QASet


def _latency(values: Sequence[float]) -> dict[str, float | int]:
    return {
        "p50": round(m.percentile(values, 50), 2),
        "p95": round(m.percentile(values, 95), 2),
        "n": len(values),
    }


def _paired(scored: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """hoidap - rules per answer metric: paired bootstrap over the questions both scored."""
    out: dict[str, Any] = {}
    for metric in ("exact_match", "token_f1", "contains_gold", "correct"):
        pairs = [
            (r["metrics"][RULES].get(metric), r["metrics"][SYSTEM].get(metric))
            for r in scored
            if RULES in r["metrics"]
        ]
        both = [(a, b) for a, b in pairs if a is not None and b is not None]
        if both:
            res = paired_bootstrap([a for a, _ in both], [b for _, b in both])
            out[metric] = {
                "rules": round(sum(a for a, _ in both) / len(both), 4),
                "hoidap": round(sum(b for _, b in both) / len(both), 4),
                "diff": round(res.delta, 4), "low": round(res.low, 4),
                "high": round(res.high, 4), "p": res.p_value, "n": len(both),
            }  # fmt: skip
    return out


def summarize(
    qa: QASet,
    rows: Sequence[dict[str, Any]],
    systems: dict[str, str],
    extra: dict[str, Any],
) -> dict[str, Any]:
    """summary.json from the scored rows (``systems``: name -> description)."""
    scored = [r for r in rows if "error" not in r]
    out: dict[str, Any] = {
        "testset": qa.as_dict(),
        **extra,
        "questions": len(qa.items),
        "scored": len(scored),
        "errors": [
            {"id": r["id"], "line": r.get("line"), "error": r["error"]}
            for r in rows
            if "error" in r
        ],
        "systems": {},
    }
    for name, description in systems.items():
        block: dict[str, Any] = {
            "description": description,
            "kind": "answers" if name in (SYSTEM, RULES) else "retrieval only",
            "metrics": {},
        }
        for metric in metric_names(name):
            iv = mean_ci([(r["metrics"].get(name) or {}).get(metric) for r in scored])
            block["metrics"][metric] = iv.as_dict() if iv else None
        out["systems"][name] = block

    answerable = [bool(r["answerable"]) for r in scored]
    refused = [bool(r["refused"]) for r in scored]

    def refusal(which: int, refused: Sequence[bool]) -> Callable[[Any], float | None]:
        def stat(idx: Any) -> float | None:
            return m.refusal_scores([answerable[i] for i in idx], [refused[i] for i in idx])[which]

        return stat

    hoidap = out["systems"].setdefault(SYSTEM, {"metrics": {}})["metrics"]
    for which, key in enumerate(m.REFUSAL_METRICS):
        iv = statistic_ci(len(scored), refusal(which, refused))
        hoidap[key] = iv.as_dict() if iv else None
    if RULES in systems:  # the rule-based answerer on the same evidence, question by question
        rules_refused = [bool((r["metrics"].get(RULES) or {}).get("refused")) for r in scored]
        for which, key in enumerate(m.REFUSAL_METRICS):
            iv = statistic_ci(len(scored), refusal(which, rules_refused))
            out["systems"][RULES]["metrics"][key] = iv.as_dict() if iv else None
        out["paired_vs_rules"] = _paired(scored)
    out["refusals"] = {
        "refused": sum(refused),
        "unanswerable": sum(not a for a in answerable),
        "refused_unanswerable": sum(r and not a for a, r in zip(answerable, refused, strict=True)),
    }

    stages: dict[str, list[float]] = {}
    for r in scored:
        for stage, ms in (r.get("timings_ms") or {}).items():
            stages.setdefault(stage, []).append(float(ms))
    latency: dict[str, Any] = {SYSTEM: {s: _latency(v) for s, v in stages.items()}}
    for name in systems:
        if name == SYSTEM:
            continue
        vals = [
            float(r["other_latency_ms"][name])
            for r in scored
            if name in (r.get("other_latency_ms") or {})
        ]
        latency[name] = {"answer" if name == RULES else "retrieve": _latency(vals)}
    rank_vals = [
        float(v)
        for r in scored
        for k, v in (r.get("other_latency_ms") or {}).items()
        if k.startswith(f"{SYSTEM}_ranking")
    ]
    latency[SYSTEM][f"retrieve@{K} (evaluation)"] = _latency(rank_vals)
    out["latency_ms"] = latency

    failures = {f: 0 for f in m.FAILURES}
    for r in scored:
        if r.get("failure"):
            failures[r["failure"]] = failures.get(r["failure"], 0) + 1
    failures["ok"] = sum(1 for r in scored if not r.get("failure"))
    out["failures"] = failures
    answerers: dict[str, int] = {}  # an LLM answerer falls back to extractive on errors
    for r in scored:
        answerers[str(r.get("answerer"))] = answerers.get(str(r.get("answerer")), 0) + 1
    out["answerers"] = answerers
    return out
