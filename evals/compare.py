"""``hoidap eval compare RUN_A RUN_B``: did B do better than A, and on which questions?

Both runs are read from their ``results.jsonl``. Only questions scored in both (same id,
no error) are compared. For every system present in both runs and every metric:

* per-question metrics (Hit@k, F1, containment, citation precision…): the questions where
  both runs have a value; mean of A, mean of B, the delta B − A with its 95% interval and
  the p-value of the paired bootstrap (``evals.stats.paired_bootstrap``, 10,000 resamples);
* refusal precision/recall (statistics of the whole set): the same questions resampled for
  both runs (``evals.stats.paired_statistic``).

Flips use hoidap's ``correct`` (a gold answer in the answer, or a refusal of an unanswerable
question): *fixed* = wrong in A, right in B; *broken* = right in A, wrong in B.

Two run folders written by ``hoidap eval ... --out DIR``::

    result = compare_runs(Path("runs/a"), Path("runs/b"))
    print(render_compare(result))
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from evals import metrics as m
from evals.runner import EvalError, load_results
from evals.scoring import SYSTEM, metric_names
from evals.stats import paired_bootstrap, paired_statistic

__all__ = ["compare_runs", "render_compare"]


def load_run(run_dir: Path) -> list[dict[str, Any]]:
    """The scored rows of a run folder (or of a results.jsonl given directly)."""
    path = run_dir / "results.jsonl" if run_dir.is_dir() else run_dir
    if not path.is_file():
        raise EvalError(
            f"Không tìm thấy kết quả ở {run_dir}: cần thư mục --out của hoidap eval "
            "(có tệp results.jsonl)."
        )
    rows = load_results(path) if path.stat().st_size else {}
    return [r for r in rows.values() if "error" not in r]


def _systems(rows: Sequence[dict[str, Any]]) -> list[str]:
    found: dict[str, None] = {}
    for r in rows:
        for name in r.get("metrics") or {}:
            found.setdefault(name, None)
    return list(found)


def _refusal_stat(rows: Sequence[dict[str, Any]], which: int) -> Callable[[Any], float | None]:
    answerable = [bool(r["answerable"]) for r in rows]
    refused = [bool(r["refused"]) for r in rows]

    def stat(idx: Any) -> float | None:
        return m.refusal_scores([answerable[i] for i in idx], [refused[i] for i in idx])[which]

    return stat


def _flip(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": a["id"],
        "question": a.get("question"),
        "gold_answers": a.get("gold_answers"),
        "answer_a": a.get("answer"),
        "answer_b": b.get("answer"),
        "failure_a": a.get("failure"),
        "failure_b": b.get("failure"),
    }


def compare_runs(run_a: Path, run_b: Path) -> dict[str, Any]:
    rows_a = {r["id"]: r for r in load_run(Path(run_a))}
    rows_b = {r["id"]: r for r in load_run(Path(run_b))}
    common = [i for i in rows_a if i in rows_b]
    a = [rows_a[i] for i in common]
    b = [rows_b[i] for i in common]
    out: dict[str, Any] = {
        "run_a": str(run_a),
        "run_b": str(run_b),
        "common_questions": len(common),
        "only_in_a": sorted(set(rows_a) - set(rows_b)),
        "only_in_b": sorted(set(rows_b) - set(rows_a)),
        "systems": {},
    }
    systems_b = set(_systems(b))
    for system in [s for s in _systems(a) if s in systems_b]:
        results: dict[str, Any] = {}
        for metric in metric_names(system):
            pairs = [
                (ra["metrics"][system].get(metric), rb["metrics"][system].get(metric))
                for ra, rb in zip(a, b, strict=True)
                if system in ra["metrics"] and system in rb["metrics"]
            ]
            both = [(x, y) for x, y in pairs if x is not None and y is not None]
            if both:
                res = paired_bootstrap([x for x, _ in both], [y for _, y in both])
                results[metric] = res.as_dict()
        if system == SYSTEM:
            for which, key in enumerate(m.REFUSAL_METRICS):
                res2 = paired_statistic(len(a), _refusal_stat(a, which), _refusal_stat(b, which))
                if res2 is not None:
                    results[key] = res2.as_dict()
        out["systems"][system] = results
    fixed, broken = [], []
    for ra, rb in zip(a, b, strict=True):
        ca, cb = ra.get("correct"), rb.get("correct")
        if ca is False and cb is True:
            fixed.append(_flip(ra, rb))
        elif ca is True and cb is False:
            broken.append(_flip(ra, rb))
    out["flips"] = {"fixed": fixed, "broken": broken}
    return out


def render_compare(result: dict[str, Any], *, max_flips: int = 30) -> str:
    """Markdown (Vietnamese) for the terminal and for saving next to the runs."""
    from evals.report import label

    lines = [
        f"# So sánh: A = {result['run_a']}, B = {result['run_b']}",
        "",
        f"Câu hỏi chung: {result['common_questions']}"
        + (f"; chỉ có ở A: {len(result['only_in_a'])}" if result["only_in_a"] else "")
        + (f"; chỉ có ở B: {len(result['only_in_b'])}" if result["only_in_b"] else "")
        + ".",
        "Δ = B − A; khoảng tin cậy 95% và p theo bootstrap ghép cặp; * = có ý nghĩa (p < 0,05).",
    ]
    for system, metrics in result["systems"].items():
        lines += [
            "",
            f"## {system}",
            "",
            "| chỉ số | A | B | Δ | KTC 95% của Δ | p | n |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for metric, r in metrics.items():
            star = " *" if r["significant"] else ""
            lines.append(
                f"| {label(metric)} | {r['a']:.3f} | {r['b']:.3f} | {r['delta']:+.3f}{star} "
                f"| [{r['low']:+.3f}, {r['high']:+.3f}] | {r['p_value']:.3f} | {r['n']} |"
            )
    for key, title in (("fixed", "Sai ở A, đúng ở B"), ("broken", "Đúng ở A, sai ở B")):
        flips = result["flips"][key]
        lines += ["", f"## {title}: {len(flips)} câu", ""]
        for f in flips[:max_flips]:
            lines.append(f"- **{f['id']}** {f['question']}")
            lines.append(f"  - A: {_short(f['answer_a'])}")
            lines.append(f"  - B: {_short(f['answer_b'])}")
        if len(flips) > max_flips:
            lines.append(f"- … và {len(flips) - max_flips} câu khác (xem --json)")
    return "\n".join(lines) + "\n"


def _short(text: Any, limit: int = 160) -> str:
    s = " ".join(str(text or "").split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def write_compare(result: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
