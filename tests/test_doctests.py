"""Every docstring example in the packages rag, corpus, embeddings and evals runs (stdlib
``doctest``, one test per module, with pytest's default ``ELLIPSIS`` flag, from the
repository root: examples use paths such as ``corpus/articles``).

Modules are found on disk with ``pkgutil.iter_modules`` (nothing is imported to list
them); each test imports its module. A failure names the module and shows doctest's own
report: file, line, the example, what was expected and what came.
"""

from __future__ import annotations

import doctest
import importlib
import io
import pkgutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("rag", "corpus", "embeddings", "evals")

# Files being rewritten in another change: their examples are fixed there. Remove a name
# here once its rewrite has landed (the test then runs its examples like any other).
BEING_REWRITTEN: dict[str, str] = {}  # e.g. {"rag.briefing": "being rewritten"}
# Modules whose examples load a real model: run with the slow tests only.
SLOW = {"embeddings.e5_torch": "loads the e5 weights into PyTorch (~5 s, ~700 MB)"}


def module_names() -> list[str]:
    names = []

    def walk(name: str, folder: Path) -> None:
        names.append(name)
        for info in pkgutil.iter_modules([str(folder)]):
            if info.ispkg:
                walk(f"{name}.{info.name}", folder / info.name)
            else:
                names.append(f"{name}.{info.name}")

    for package in PACKAGES:
        walk(package, ROOT / package)
    return sorted(names)


def _param(name: str) -> object:
    marks: list[pytest.MarkDecorator] = []
    if name in BEING_REWRITTEN:
        marks.append(pytest.mark.skip(reason=BEING_REWRITTEN[name]))
    if name in SLOW:
        marks.append(pytest.mark.slow)
    return pytest.param(name, marks=marks, id=name)


def test_the_module_list_is_complete() -> None:
    names = module_names()
    assert {"rag.index.ingest", "corpus.formats.webpage", "embeddings.registry"} <= set(names)
    assert set(BEING_REWRITTEN) | set(SLOW) <= set(names)  # no stale entries


@pytest.mark.parametrize("name", [_param(n) for n in module_names()])
def test_docstring_examples(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    module = importlib.import_module(name)
    try:
        tests = doctest.DocTestFinder(exclude_empty=True).find(module)
    except ValueError as exc:  # e.g. an option directive on a line that is no example
        pytest.fail(f"{name}: docstring examples cannot be parsed: {exc}", pytrace=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report = io.StringIO()
    for test in sorted(tests, key=lambda t: t.name):
        runner.run(test, out=report.write)
    if runner.failures:
        pytest.fail(
            f"{name}: {runner.failures} of {runner.tries} examples failed\n{report.getvalue()}",
            pytrace=False,
        )
