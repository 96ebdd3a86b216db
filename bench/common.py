"""Helpers shared by the benchmark scripts: the evaluation suite's own functions
(``evals.metrics``), so a benchmark and ``hoidap eval`` score answers the same way."""

from __future__ import annotations

from evals.metrics import contains, percentile

__all__ = ["contains", "percentile"]
