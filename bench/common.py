"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

from collections.abc import Sequence

from rag.text import search_key


def contains(answer: str, gold: str) -> bool:
    """Gold answer inside the answer, after Vietnamese normalisation (tone marks, case)."""
    return search_key(gold) in search_key(answer)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile; 0.0 for no values."""
    if not values:
        return 0.0
    s = sorted(values)
    i = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[i]
