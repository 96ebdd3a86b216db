"""Imports only go down the layers, with no cycles between files or folders (tests/layers.py)."""

import shutil
from pathlib import Path

import pytest

from tests.layers import (
    LAYERS,
    cycles,
    folder_cycles,
    import_edges,
    layer_of,
    project_modules,
    upward_imports,
)

ROOT = Path(__file__).resolve().parent.parent


def _report(edges) -> str:
    return "\n".join(f"{e}  ({layer_of(e.importer)} -> {layer_of(e.imported)})" for e in edges)


def test_every_module_has_a_layer():
    for module in project_modules(ROOT):
        layer_of(module)  # KeyError names the module


def test_top_level_packages_are_empty():
    """Nothing hides from the layer check in ``rag/__init__.py`` and the like."""
    for package in ("corpus", "embeddings", "rag", "evals"):
        assert (ROOT / package / "__init__.py").read_text(encoding="utf-8").strip() == ""


def test_imports_only_go_down():
    up = upward_imports(import_edges(ROOT))
    assert not up, "upward imports:\n" + _report(up)


def test_no_cycles_between_files_or_folders():
    edges = import_edges(ROOT)
    assert cycles(edges) == []
    assert folder_cycles(edges, project_modules(ROOT), ROOT) == []


def test_the_layer_order_is_the_documented_one():
    names = [name for name, _ in LAYERS]
    assert names[:2] == ["corpus", "embeddings"] and names[-2:] == ["evals", "faces"]
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    for _, prefixes in LAYERS:
        for prefix in prefixes:
            assert f"`{prefix.replace('.', '/')}" in doc or f"`{prefix}" in doc, prefix


@pytest.fixture
def tree(tmp_path):
    """A copy of the project's packages to break on purpose."""
    for package in ("corpus", "embeddings", "rag", "evals"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("articles", "*.pyc")
        )
    shutil.copy(ROOT / "app.py", tmp_path / "app.py")
    return tmp_path


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("corpus/text.py", "from rag.types import Answer"),  # corpus -> rag core
        ("embeddings/base.py", "    from evals.metrics import token_f1"),  # inside a function
        ("rag/index/catalog.py", "from rag.answer import evidence"),  # index -> answering
        ("rag/answer/support.py", "import rag.web.render"),  # core -> faces
        ("evals/metrics.py", "from rag.cli import main"),  # evals -> faces
    ],
)
def test_an_upward_import_is_caught(tree, module, line):
    assert upward_imports(import_edges(tree)) == []
    path = tree / module
    text = path.read_text(encoding="utf-8")
    if line.startswith(" "):
        line = "def _added():\n" + line + "\n"
    path.write_text(text + "\n" + line + "\n", encoding="utf-8")
    up = upward_imports(import_edges(tree))
    assert [e.path for e in up] == [module]


def test_a_cycle_is_caught(tree):
    # rag.answer.question is imported by rag.answer.extractive; make it import back
    path = tree / "rag" / "answer" / "question.py"
    path.write_text(path.read_text(encoding="utf-8") + "\nfrom rag.answer import extractive\n")
    groups = cycles(import_edges(tree))
    assert any({"rag.answer.extractive", "rag.answer.question"} <= set(g) for g in groups)


def test_a_folder_cycle_is_caught(tree):
    # rag/retrieval imports rag/index; an index module importing retrieval closes a loop
    path = tree / "rag" / "index" / "store.py"
    path.write_text(path.read_text(encoding="utf-8") + "\nfrom rag.retrieval import rerank\n")
    edges = import_edges(tree)
    assert ["rag/index", "rag/retrieval"] in folder_cycles(edges, project_modules(tree), tree)
