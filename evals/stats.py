"""Aggregates with bootstrap confidence intervals, and the paired bootstrap test.

* ``mean_ci``: the mean of the defined per-question values and a 95% **percentile
  bootstrap** interval: the questions are resampled with replacement ``resamples`` times
  (default 1,000), the mean is recomputed each time, and the 2.5th and 97.5th percentiles of
  those means are the interval. The seed is fixed, so a report is reproducible.
* ``statistic_ci``: the same for any statistic of a set of questions (refusal precision).
* ``paired_bootstrap``: for two runs scored on the same questions, the mean difference
  ``B - A``, its 95% interval, and a two-sided p-value: resample the questions (pairs kept
  together), recompute the difference, ``p = 2 * min(share <= 0, share >= 0)`` (capped at
  1). "Significant" means p < 0.05: the sign of the difference is stable under resampling.

>>> iv = mean_ci([1.0, 0.0, 1.0, 1.0, None])
>>> iv.mean, iv.n, iv.low <= iv.mean <= iv.high
(0.75, 4, True)
>>> paired_bootstrap([0.0] * 30, [1.0] * 30).p_value
0.0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

RESAMPLES = 1000
PAIRED_RESAMPLES = 10000
SEED = 0


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float
    n: int  # questions with a defined value

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def mean_ci(
    values: Sequence[float | None],
    *,
    resamples: int = RESAMPLES,
    level: float = 0.95,
    seed: int = SEED,
) -> Interval | None:
    """Mean of the non-None values with a percentile-bootstrap interval; None if none."""
    x = np.array([v for v in values if v is not None], dtype=np.float64)
    if x.size == 0:
        return None
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    a = (1 - level) / 2
    low, high = np.quantile(means, [a, 1 - a])
    return Interval(float(x.mean()), float(low), float(high), int(x.size))


def statistic_ci(
    n: int,
    statistic: Callable[[np.ndarray], float | None],
    *,
    resamples: int = RESAMPLES,
    level: float = 0.95,
    seed: int = SEED,
) -> Interval | None:
    """``statistic(indices)`` on all ``n`` questions, with a bootstrap interval over
    resampled index arrays (resamples where the statistic is undefined are skipped)."""
    value = statistic(np.arange(n)) if n else None
    if value is None:
        return None
    rng = np.random.default_rng(seed)
    got = [statistic(rng.integers(0, n, size=n)) for _ in range(resamples)]
    boot = np.array([g for g in got if g is not None], dtype=np.float64)
    if boot.size == 0:
        return Interval(value, value, value, n)
    a = (1 - level) / 2
    low, high = np.quantile(boot, [a, 1 - a])
    return Interval(float(value), float(low), float(high), n)


@dataclass(frozen=True)
class PairedResult:
    a: float  # mean of run A on the shared questions
    b: float
    delta: float  # b - a
    low: float  # 95% interval of the delta
    high: float
    p_value: float
    n: int

    @property
    def significant(self) -> bool:
        return self.n > 0 and self.p_value < 0.05

    def as_dict(self) -> dict[str, Any]:
        d = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}
        d["significant"] = self.significant
        return d


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    *,
    resamples: int = PAIRED_RESAMPLES,
    seed: int = SEED,
) -> PairedResult:
    """Paired bootstrap test of ``mean(b) - mean(a)`` (see the module docstring)."""
    if len(a) != len(b):
        raise ValueError("paired samples must have the same length")
    xa, xb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    n = xa.size
    if n == 0:
        return PairedResult(0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0)
    d = xb - xa
    rng = np.random.default_rng(seed)
    blocks = [
        d[rng.integers(0, n, size=(min(1000, resamples - i), n))].mean(axis=1)
        for i in range(0, resamples, 1000)  # blocks keep memory small on big sets
    ]
    boot = np.concatenate(blocks)
    low, high = np.quantile(boot, [0.025, 0.975])
    p = min(1.0, 2 * min(float((boot <= 0).mean()), float((boot >= 0).mean())))
    return PairedResult(
        float(xa.mean()), float(xb.mean()), float(d.mean()), float(low), float(high), p, n
    )


def paired_statistic(
    n: int,
    stat_a: Callable[[np.ndarray], float | None],
    stat_b: Callable[[np.ndarray], float | None],
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> PairedResult | None:
    """``paired_bootstrap`` for a statistic of a set of questions (refusal precision):
    both runs are scored on the same resampled questions each time. None if undefined."""
    idx = np.arange(n)
    a, b = (stat_a(idx), stat_b(idx)) if n else (None, None)
    if a is None or b is None:
        return None
    rng = np.random.default_rng(seed)
    deltas = []
    for _ in range(resamples):
        sample = rng.integers(0, n, size=n)
        sa, sb = stat_a(sample), stat_b(sample)
        if sa is not None and sb is not None:
            deltas.append(sb - sa)
    boot = np.array(deltas if deltas else [b - a], dtype=np.float64)
    low, high = np.quantile(boot, [0.025, 0.975])
    p = min(1.0, 2 * min(float((boot <= 0).mean()), float((boot >= 0).mean())))
    return PairedResult(float(a), float(b), float(b - a), float(low), float(high), p, n)
