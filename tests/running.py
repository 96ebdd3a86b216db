"""Running test code elsewhere: in several threads released at once, or as ``python -c``
in a child process at the repository root with the repository on its path."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def at_once(n: int, fn: Callable[..., object], *args: Any) -> list[BaseException]:
    """``fn(*args)`` in ``n`` threads that a barrier releases together; what they raised
    (collected, so that the caller's assert names them)."""
    start = threading.Barrier(n)
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            fn(*args)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


def run_python(
    code: str, *, timeout: float, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -c code`` in a child process (this environment plus ``env``), its output
    captured as text."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
