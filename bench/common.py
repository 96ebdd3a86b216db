"""Helpers shared by the benchmark scripts: the evaluation suite's own functions
(``evals.metrics``), so a benchmark and ``hoidap eval`` score answers the same way, and
the process's resident memory."""

from __future__ import annotations

from evals.metrics import contains, percentile


def rss_mb() -> int:
    """This process's resident memory now (VmRSS), MB; -1 where /proc is missing."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return -1


__all__ = ["contains", "percentile", "rss_mb"]
