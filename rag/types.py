"""Typed records passed between pipeline stages.

This module imports nothing else from the project, so every stage can depend on it.
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


@dataclass(frozen=True)
class Filters:
    """Metadata filters for retrieval. Dates are ISO prefixes ("2021", "2021-03", "2021-12-30");
    articles without a full date (year unknown) are excluded when a date bound is set."""

    sources: tuple[str, ...] = ()
    article_ids: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None

    def is_empty(self) -> bool:
        return not (self.sources or self.article_ids or self.places or self.since or self.until)


@dataclass(frozen=True)
class ScoredChunk:
    """A retrieved chunk with its article's display metadata and its scores."""

    chunk: Chunk
    score: float  # fused (or reranked) score; higher is better
    title: str
    date: str | None = None
    source: str | None = None
    url: str | None = None
    bm25_rank: int | None = None  # 1-based rank in the BM25 list, None if absent
    dense_rank: int | None = None
    bm25_score: float | None = None
    dense_score: float | None = None  # cosine similarity


@dataclass(frozen=True)
class Citation:
    """[n] in an answer: the quoted span ``article.text[start:end]``."""

    n: int
    article_id: str
    chunk_id: str
    title: str
    quote: str
    start: int
    end: int
    date: str | None = None
    source: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation."""

    question: str
    answer: str


@dataclass
class Answer:
    question: str
    text: str  # with [n] markers
    citations: list[Citation]
    refused: bool
    retrieved: list[ScoredChunk]
    answerer: str  # "extractive" or "llm:<provider>:<model>"
    standalone_query: str = ""  # the question after follow-up resolution
    timings_ms: dict[str, float] = field(default_factory=dict)
    notice: str | None = None  # e.g. the LLM failed and the extractive answer is shown
