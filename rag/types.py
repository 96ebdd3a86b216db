"""Typed records of the question-answering side: filters, retrieved chunks, citations, answers.

Imports only ``corpus.types`` (documents and chunks), so every stage of ``rag`` can depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from corpus.types import Chunk


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
