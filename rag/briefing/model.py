"""The briefing document: typed parts, each tied to numbered sources.

Every statement carries ``refs`` (source numbers, as [n] in the text) and, when it was taken
from a document, ``quote``: the exact span ``article.text[start:end]`` it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rag.types import Filters


@dataclass(frozen=True)
class Quote:
    article_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Source:
    n: int
    article_id: str
    title: str
    date: str | None = None
    source: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Statement:
    """A sentence of the overview or a key point: ``text`` has no [n]; ``refs`` are its sources."""

    text: str
    refs: tuple[int, ...]
    quote: Quote | None = None


@dataclass(frozen=True)
class KeyFigure:
    value: str  # "151", "96%", "32.489 tỷ đồng"
    what: str  # what it counts: "cơ quan, đơn vị, doanh nghiệp"
    ref: int
    quote: Quote  # the sentence it comes from
    context: str = ""  # the words around the figure in that sentence, for display


@dataclass(frozen=True)
class TimelineEvent:
    date: str  # ISO, sortable: "2021-12-30", "2021-12", "2021"
    label: str  # as shown: "30/12/2021", "12/2021", "2021"
    text: str
    ref: int
    quote: Quote


@dataclass
class Briefing:
    topic: str
    filters: Filters
    summary: str  # the opening line: how many articles, which sources, which dates
    overview: list[Statement] = field(default_factory=list)
    key_points: list[Statement] = field(default_factory=list)
    key_figures: list[KeyFigure] = field(default_factory=list)
    timeline: list[TimelineEvent] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    answerer: str = "extractive"
    created_at: str = ""  # ISO date-time (local)
    notice: str | None = None

    @property
    def found(self) -> bool:
        return bool(self.sources)


EXTRACTIVE_LABEL = "trích xuất ngoại tuyến (không dùng LLM)"
READER_LABEL = "mô hình đọc hiểu ngoại tuyến (không dùng LLM)"


def answerer_label(answerer: str) -> str:
    """'extractive' -> the Vietnamese name; 'llm:openai:gemma' -> 'LLM gemma (openai)'."""
    if answerer == "extractive":
        return EXTRACTIVE_LABEL
    if answerer == "reader":
        return READER_LABEL
    parts = answerer.split(":", 2)
    if len(parts) == 3 and parts[0] == "llm":
        return f"mô hình ngôn ngữ {parts[2]} (máy chủ {parts[1]})"
    return answerer


def date_label(iso: str | None) -> str:
    """'2021-12-30' -> '30/12/2021'; '2021-12' -> '12/2021'; '--12-30' -> '30/12 (không rõ năm)'."""
    if not iso:
        return ""
    if iso.startswith("--"):
        mm, _, dd = iso[2:].partition("-")
        return f"{int(dd)}/{int(mm)} (không rõ năm)" if mm.isdigit() and dd.isdigit() else iso
    return "/".join(reversed(iso.split("-")))


def cite(refs: tuple[int, ...]) -> str:
    """(1, 3) -> '[1][3]'."""
    return "".join(f"[{n}]" for n in refs)
