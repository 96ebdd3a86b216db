"""Headless Debian chromium driven by Playwright, shared by the browser tests.

``scripts/install_browser.sh`` installs /usr/bin/chromium (``scripts/test.sh`` runs it).
Playwright's own browser download needs the internet, so we always launch the system binary
with the flags that keep it off the network. Screenshots go to ``artifacts_dir()``
(``$HOIDAP_TEST_ARTIFACTS``, default ``test-artifacts/`` at the repository root).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("HOIDAP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def artifacts_dir(*parts: str) -> Path:
    root = Path(
        os.environ.get("HOIDAP_TEST_ARTIFACTS", Path(__file__).parent.parent / "test-artifacts")
    )
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def chromium() -> Iterator[Any]:
    """Yield a Playwright ``Browser``; skip (not fail) only when chromium is not installed."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (run scripts/install_browser.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
