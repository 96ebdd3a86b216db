"""Helpers for the loader tests: run ``corpus.loaders.iter_documents`` and check its items."""

from __future__ import annotations

from pathlib import Path

from corpus.loaders import iter_documents
from corpus.types import RawDocument, SkippedFile


def load(*paths: Path | str, **kwargs: int) -> list[RawDocument | SkippedFile]:
    return list(iter_documents(list(paths), **kwargs))


def load_one(path: Path, **kwargs: int) -> RawDocument:
    items = load(path, **kwargs)
    assert len(items) == 1, items
    assert isinstance(items[0], RawDocument), items[0]
    return items[0]


def skip_reason(path: Path, **kwargs: int) -> str:
    items = load(path, **kwargs)
    assert len(items) == 1 and isinstance(items[0], SkippedFile), items
    return items[0].reason
