"""Typed records of documents: what loaders read, cleaned articles and their chunks.

This module imports nothing else from the project, so every layer can depend on it.
Ids are derived, never random: an article id is its file stem or its JSONL ``id``;
a chunk id is ``{article_id}#{version}-{ordinal}`` where ``version`` is a short hash of
the article's content, so re-ingesting the same text produces the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DatePrecision = Literal["day", "month", "year", "day_month"]


@dataclass(frozen=True)
class RawDocument:
    """One document as a loader read it, before cleaning.

    ``text`` is decoded, NFC-normalised Unicode with the document's own line breaks.
    Fields other than ``id``/``text`` are only set when the format carries them
    (JSONL fields, HTML ``<title>``/``<meta>``, DOCX core properties).
    """

    id: str
    text: str
    path: str
    format: str  # "txt", "md", "html", "docx", "pdf", "jsonl"
    encoding: str = "utf-8"
    title: str | None = None
    source: str | None = None
    date: str | None = None
    url: str | None = None
    author: str | None = None
    fingerprint: str = (
        ""  # hash of the raw bytes / record: unchanged input => unchanged fingerprint
    )


@dataclass(frozen=True)
class SkippedFile:
    """A file (or JSONL line) that could not be loaded, with a human-readable reason."""

    path: str
    reason: str


@dataclass(frozen=True)
class Article:
    """A cleaned article. ``text`` is what citations point into (character offsets)."""

    id: str
    title: str
    text: str
    date: str | None = None  # ISO "YYYY-MM-DD" / "YYYY-MM" / "YYYY", or "--MM-DD" (day_month)
    date_precision: DatePrecision | None = None
    source: str | None = None
    url: str | None = None
    author: str | None = None
    places: tuple[str, ...] = ()
    path: str | None = None
    fingerprint: str = ""
    removed_lines: tuple[str, ...] = field(default=(), compare=False)  # boilerplate dropped


@dataclass(frozen=True)
class Chunk:
    """A span of an article: ``text == article.text[start:end]``.

    ``embed_text`` is what gets embedded: the chunk text with the article title (and
    date) prepended as context.
    """

    id: str
    article_id: str
    ordinal: int
    text: str
    start: int
    end: int
    embed_text: str
