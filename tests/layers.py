"""The import rules of the code base, checked from the source with ``ast`` (no imports run).

Layers, lowest first; a module may import its own layer and the layers below it, never one
above. ``LAYERS`` is the one place the order is written down (docs/ARCHITECTURE.md shows it):

    corpus  <-  embeddings  <-  rag core  <-  evals  <-  faces (rag.cli, rag.web, app)

Inside the rag core the stages are ordered the same way (types and settings, then the
index, retrieval, answering, the composition root, the briefing, the assistant). Every
import counts: at module level, inside a function and under ``TYPE_CHECKING``. Beyond the
order, no two files import each other, directly or round a longer cycle.

>>> layer_of("rag.answer.extractive"), layer_of("rag.web.chat") > layer_of("evals.runner")
('rag.answer', True)
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

# (layer name, module prefixes). The first prefix that matches a module decides its layer.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("corpus", ("corpus",)),
    ("embeddings", ("embeddings",)),
    ("rag.base", ("rag.types", "rag.settings")),
    ("rag.index", ("rag.index",)),
    ("rag.retrieval", ("rag.retrieval",)),
    ("rag.answer", ("rag.answer",)),
    ("rag.services", ("rag.services",)),
    ("rag.briefing", ("rag.briefing",)),
    ("rag.assistant", ("rag.assistant",)),
    ("evals", ("evals",)),
    ("faces", ("rag.cli", "rag.web", "app")),
)
PACKAGES = ("corpus", "embeddings", "rag", "evals")
_RANK = {name: i for i, (name, _) in enumerate(LAYERS)}


def layer_of(module: str) -> str:
    for name, prefixes in LAYERS:
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                return name
    raise KeyError(f"{module}: not in any layer of tests/layers.py; add it to LAYERS")


def rank(layer: str) -> int:
    return _RANK[layer]


@dataclass(frozen=True)
class Edge:
    importer: str
    imported: str
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} imports {self.imported}"


def project_modules(root: Path) -> dict[str, Path]:
    """Module name -> file, for the project's packages and ``app.py``."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "articles" in path.relative_to(root).parts:
                continue
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
                if len(parts) == 1:  # a top-level package's __init__.py: empty (tested)
                    continue
            found[".".join(parts)] = path
    if (root / "app.py").exists():
        found["app"] = root / "app.py"
    return found


def _target(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest project module that ``name`` (a module or ``module.attribute``) names."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_edges(root: Path) -> list[Edge]:
    modules = project_modules(root)
    edges: list[Edge] = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        rel = str(path.relative_to(root))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _target(module, path.name == "__init__.py", node)
                names = [f"{base}.{alias.name}" for alias in node.names] or [base]
            for name in names:
                target = _resolve(name, modules)
                if target is not None and target != module:
                    edges.append(Edge(module, target, rel, node.lineno))
    return edges


def upward_imports(edges: list[Edge]) -> list[Edge]:
    """Imports from a lower layer into a higher one."""
    return [e for e in edges if rank(layer_of(e.imported)) > rank(layer_of(e.importer))]


def cycles(edges: list[Edge]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), sorted."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.importer, set()).add(e.imported)
        graph.setdefault(e.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(groups)


def folder_cycles(edges: list[Edge], modules: dict[str, Path], root: Path) -> list[list[str]]:
    """Cycles between sub-folders (``rag/index``, ``rag/answer``, ``corpus/formats``, ...).

    Each module in a sub-folder counts as that folder; a file directly in a top-level
    package (``rag/assistant.py``) counts as itself, so this adds the folder level to
    ``cycles`` without merging a package's loose files into one node.
    """

    def folder(module: str) -> str:
        parent = modules[module].parent.relative_to(root)
        return str(parent) if len(parent.parts) > 1 else module

    folded = [
        Edge(folder(e.importer), folder(e.imported), e.path, e.line)
        for e in edges
        if folder(e.importer) != folder(e.imported)
    ]
    return cycles(folded)
