"""The evaluation tab's work: run an uploaded QA test set with ``evals.runner.run_eval``.

Each run writes into its own folder ``<home>/eval-runs/<time>-<test set>/`` (results.jsonl,
summary.json, report.md, report.html, plots/). The page shows the metric table, the plots
and offers the files for download.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.settings import Settings

if TYPE_CHECKING:
    from rag.assistant import Assistant

TESTSET_SUFFIXES = (".jsonl", ".csv", ".json")


@dataclass
class EvalRun:
    out_dir: Path
    summary: dict[str, Any]
    tables_md: str
    plots: list[Path] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    results: Path | None = None


def run_folder(settings: Settings, testset_name: str, now: dt.datetime | None = None) -> Path:
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(testset_name).stem).strip("-.")[:40] or "testset"
    return settings.home / "eval-runs" / f"{stamp}-{stem}"


def run_testset(
    testset: Path,
    settings: Settings,
    assistant: Assistant,
    *,
    baselines: bool = False,
    progress: Callable[[int, int], None] | None = None,
    out_dir: Path | None = None,
) -> EvalRun:
    """Run the test set; QASetError / EvalError (Vietnamese messages) propagate."""
    from evals.report import failures_table, latency_table, metrics_table
    from evals.runner import run_eval

    if testset.suffix.lower() not in TESTSET_SUFFIXES:
        from evals.runner import EvalError

        raise EvalError(f"Bộ câu hỏi phải là tệp {', '.join(TESTSET_SUFFIXES)}.")
    out = out_dir or run_folder(settings, testset.name)
    summary = run_eval(
        testset, settings, out, baselines=baselines, progress=progress, assistant=assistant
    )
    head = (
        f"**{summary['scored']}** / {summary['questions']} câu được chấm"
        + (f"; {len(summary['errors'])} câu lỗi" if summary.get("errors") else "")
        + "."
    )
    tables = "\n\n".join(
        [
            head,
            "#### Các chỉ số (trung bình [khoảng tin cậy 95%])",
            metrics_table(summary),
            "#### Độ trễ",
            latency_table(summary),
            "#### Phân loại lỗi",
            failures_table(summary),
        ]
    )
    plots = sorted((out / "plots").glob("*.png"))
    names = ("results.jsonl", "summary.json", "report.html", "report.md")
    files = [out / n for n in names if (out / n).is_file()]
    results = out / "results.jsonl"
    return EvalRun(out, summary, tables, plots, files, results if results.is_file() else None)
