"""Helpers shared by the benchmark scripts: the evaluation suite's own functions
(``evals.metrics``), so a benchmark and ``hoidap eval`` score answers the same way, and
the process's resident memory (now, and the peak of one step), and the ``--set
NAME=VALUE`` option."""

from __future__ import annotations

import argparse
import threading

from evals.metrics import contains, percentile


def add_set_option(ap: argparse.ArgumentParser) -> None:
    """``--set NAME=VALUE`` (repeatable): a setting for this run; see ``set_overrides``."""
    ap.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE",
        help="a setting for this run (e.g. reader_factoid=true); repeatable",
    )  # fmt: skip


def set_overrides(args: argparse.Namespace) -> dict[str, str]:
    """The ``--set`` values as keyword arguments for ``load_settings``."""
    return dict(kv.split("=", 1) for kv in args.set)


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


class PeakRss:
    """Highest RSS (MB) seen while the ``with`` block runs, sampled every ``every_s`` by a
    thread (``ru_maxrss`` cannot be reset, so a step's own peak needs sampling)."""

    def __init__(self, every_s: float = 0.005) -> None:
        self.every_s, self.peak_mb = every_s, -1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, rss_mb())
            self._stop.wait(self.every_s)

    def __enter__(self) -> PeakRss:
        self.peak_mb = rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, rss_mb())


__all__ = ["PeakRss", "add_set_option", "contains", "percentile", "rss_mb", "set_overrides"]
