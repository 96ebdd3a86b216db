"""Helpers shared by the benchmark scripts: the evaluation suite's own functions
(``evals.metrics``), so a benchmark and ``hoidap eval`` score answers the same way, and
the process's resident memory, and the ``--set NAME=VALUE`` option."""

from __future__ import annotations

import argparse

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


__all__ = ["add_set_option", "contains", "percentile", "rss_mb", "set_overrides"]
