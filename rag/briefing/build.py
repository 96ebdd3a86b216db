"""Build a briefing on a topic from the indexed documents.

``BriefingBuilder(build_services(settings)).build("dân chủ ở cơ sở")`` gives a ``Briefing``;
``rag.briefing.export`` turns it into Markdown or DOCX.

Offline (always): the topic is retrieved like a question (hybrid search, more passages,
up to ``per_article`` per article); every sentence of those passages is scored by the
extractive answerer's evidence (idf-weighted share of the topic's terms). Sentences at or
above the calibrated refusal threshold are *relevant*: the best sentence of the two best
articles opens the overview, the next ones are key points (at most three per article,
near-duplicates dropped). With the reader answerer (``answerer = "reader"``, the default)
the key points are the ones the reader lists for the topic as for an open question
(``ReaderAnswerer.points``). Key figures and the timeline come from the relevant sentences
and those nearly as strong (``rag.briefing.facts``). Sources are numbered in order of
first citation. The passages come through the evidence gate (``rag.answer.evidence``): one
version per article, instruction-like sentences blanked.

With an LLM configured (``answerer`` = openai / ollama) the overview and key points are
written by the model from the same sources, and each sentence is kept only if it cites a
source that supports it (``rag.answer.support``); figures and the timeline stay extractive.
The model is called through ``rag.answer.chat.call_model`` (deadline ``llm_timeout_s``); if
it fails, the extractive text is used and a notice says so.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from corpus.text import search_key, tokens
from rag.answer.chat import ChatModel, LLMError, call_model
from rag.answer.evidence import Evidence
from rag.answer.extractive import ExtractiveAnswerer
from rag.answer.question import analyze, validate_question
from rag.briefing.facts import find_date, find_figures, snippet
from rag.briefing.model import (
    Briefing,
    KeyFigure,
    Quote,
    Source,
    Statement,
    TimelineEvent,
    date_label,
)
from rag.retrieval.retrieve import HybridRetriever
from rag.services import Services
from rag.types import Filters, ScoredChunk

FIGURE_FACTOR = 0.75  # figures/timeline: sentences with evidence >= this x threshold
MIN_COVERAGE = 0.6  # idf-weighted share of the topic's terms the relevant sentences must cover
_REF = re.compile(r"\[(\d{1,2})\]")


@dataclass(frozen=True)
class _Sent:
    article_id: str
    start: int
    end: int
    text: str
    evidence: float
    covered: frozenset[str] = frozenset()


class BriefingBuilder:
    """Builds briefings over the parts of one ``Services`` (index, embedder, calibration).

    ``chat_model``: a LangChain chat model to use instead of the one the settings describe
    (the settings' ``answerer`` decides whether an LLM is used at all).
    """

    def __init__(
        self,
        services: Services,
        *,
        passages: int = 16,
        per_article: int = 4,
        max_points: int = 8,
        max_figures: int = 10,
        max_events: int = 12,
        chat_model: ChatModel | None = None,
    ) -> None:
        self.services = services
        self.passages = passages
        self.per_article = per_article
        self.max_points = max_points
        self.max_figures = max_figures
        self.max_events = max_events
        self._chat_model: ChatModel | None = chat_model
        self._retriever: HybridRetriever | None = None

    @property
    def retriever(self) -> HybridRetriever:
        if self._retriever is None:
            s = self.services.settings
            self._retriever = self.services.make_retriever(
                top_k=self.passages,
                candidates=max(s.retrieval_candidates, self.passages * 4),
                per_article=self.per_article,
                reranker=False,
            )
        return self._retriever

    # -- building ------------------------------------------------------------------
    def build(self, topic: str, filters: Filters | None = None) -> Briefing:
        topic = validate_question(topic, self.services.settings.max_question_chars)
        filters = filters or Filters()
        evidence = self.services.evidence(
            topic, filters=filters, k=self.passages, retriever=self.retriever
        )
        hits, texts = evidence.hits, evidence.texts
        base = self.services.extractive
        scorer = ExtractiveAnswerer(threshold=base.threshold, idf=base.idf, max_chunks=len(hits))
        q = analyze(topic)
        cands = scorer.candidates(q, hits, texts)
        meta = {h.chunk.article_id: h for h in hits}
        pool = _dedupe(
            [
                _Sent(c.hit.chunk.article_id, c.start, c.end, c.text, c.evidence, c.covered)
                for c in cands
                if c.evidence >= FIGURE_FACTOR * base.threshold
                and _usable(c.text, meta[c.hit.chunk.article_id].title)
            ]
        )
        relevant = [s for s in pool if s.evidence >= base.threshold]
        created = dt.datetime.now().replace(microsecond=0).isoformat()
        missing = _missing_terms(q, relevant or cands, base.idf)
        if not relevant or missing is not None:
            return Briefing(
                topic=topic,
                filters=filters,
                summary=f"Không tìm thấy tài liệu nào đủ liên quan đến chủ đề «{topic}».",
                created_at=created,
                notice=(
                    f"Các tài liệu liên quan nhất không nhắc đến: {missing}. " if missing else ""
                )
                + "Hãy thử diễn đạt chủ đề khác, hoặc bỏ bớt bộ lọc.",
            )

        overview, points = _pick_statements(relevant, self.max_points)
        points = self._reader_points(topic, evidence, overview) or points
        figures = self._figures(pool)
        events = self._events(pool, meta)
        numbering = _Numbering()
        b = Briefing(topic=topic, filters=filters, summary="", created_at=created)
        b.overview = [numbering.statement(s) for s in overview]
        b.key_points = [numbering.statement(s) for s in points]
        notice = None
        if self.services.uses_llm:
            notice = self._llm_rewrite(b, topic, relevant, meta, texts, numbering)
        b.key_figures = [
            KeyFigure(value, what, numbering.ref(s.article_id), _quote(s), context)
            for value, what, context, s in figures
        ]
        b.timeline = [
            TimelineEvent(iso, label, s.text, numbering.ref(s.article_id), _quote(s))
            for iso, label, s in events
        ]
        b.sources = [_source(n, meta[aid]) for aid, n in numbering.items()]
        b.summary = _summary(topic, b.sources)
        b.notice = notice
        return b

    def _reader_points(
        self, topic: str, evidence: Evidence, overview: Sequence[_Sent]
    ) -> list[_Sent]:
        """With ``answerer = "reader"``: the key points the reader lists for the topic, the
        way it answers an open question (its top passages and the articles the topic is
        about, relevance, no repeats); empty
        (the extractive points) with another answerer or without the reader's weights."""
        if self.services.settings.answerer != "reader":
            return []
        from rag.answer.reader.model import ReaderUnavailable

        ra = self.services.reader_answerer
        try:
            _, read = ra.open_read(topic, analyze(topic), evidence)
            cites = ra.points(read, self.max_points + 2)
        except ReaderUnavailable:
            return []
        taken = {(s.article_id, s.start) for s in overview}
        return [
            _Sent(c.article_id, c.start, c.end, c.quote, 1.0)
            for c in cites
            if (c.article_id, c.start) not in taken
        ][: self.max_points]

    def _figures(self, pool: Sequence[_Sent]) -> list[tuple[str, str, str, _Sent]]:
        out: list[tuple[str, str, str, _Sent]] = []
        seen: set[tuple[str, str]] = set()
        for s in pool:
            for f in find_figures(s.text):
                key = (f.value, search_key(f.what))
                if key in seen:
                    continue
                seen.add(key)
                out.append((f.value, f.what, snippet(s.text, f.start, f.end), s))
                if len(out) == self.max_figures:
                    return out
        return out

    def _events(
        self, pool: Sequence[_Sent], meta: dict[str, ScoredChunk]
    ) -> list[tuple[str, str, _Sent]]:
        found: dict[tuple[str, str], tuple[str, str, _Sent]] = {}
        for s in pool:  # best evidence first: keep the best sentence per (date, article)
            d = find_date(s.text, article_date=meta[s.article_id].date)
            if d is not None and (d[0], s.article_id) not in found:
                found[(d[0], s.article_id)] = (d[0], d[1], s)
        best = sorted(found.values(), key=lambda e: -e[2].evidence)[: self.max_events]
        return sorted(best, key=lambda e: (e[0], e[2].article_id, e[2].start))

    # -- the LLM variant -------------------------------------------------------------
    def chat_model(self) -> ChatModel:
        if self._chat_model is None:
            self._chat_model = self.services.chat_model(max_tokens=768)
        return self._chat_model

    def _llm_rewrite(
        self,
        b: Briefing,
        topic: str,
        relevant: Sequence[_Sent],
        meta: dict[str, ScoredChunk],
        texts: Mapping[str, str],
        numbering: _Numbering,
    ) -> str | None:
        """Replace the overview and key points by the model's, keeping supported sentences."""
        from rag.answer.llm import escape_passage
        from rag.answer.prompts import load_prompt
        from rag.answer.support import SUPPORT_THRESHOLD, best_supporting_span

        s = self.services.settings
        # sources in the order of their best sentence; up to llm_max_passages of them
        order = list(dict.fromkeys(x.article_id for x in relevant))[: s.llm_max_passages]
        blocks = []
        for i, aid in enumerate(order, 1):
            h = meta[aid]
            excerpt = " ".join(x.text for x in relevant if x.article_id == aid)
            excerpt = escape_passage(excerpt[: s.llm_max_passage_chars])
            bits = ", ".join(x for x in (h.date, h.source) if x)
            head = escape_passage(h.title + (f" ({bits})" if bits else ""))
            blocks.append(f"[{i}] {head}\n{excerpt}")
        prompt = load_prompt("briefing_vi").render(passages="\n\n".join(blocks), topic=topic)
        messages = [("system", prompt.system), ("human", prompt.user)]
        try:
            text = call_model(self.chat_model(), messages, deadline_s=s.llm_timeout_s).text
        except LLMError as exc:  # the model failed: keep the extractive text
            return f"Không dùng được mô hình ngôn ngữ ({exc}); phần tổng quan là trích xuất."
        overview_raw, points_raw = _parse_reply(text)
        kept: dict[str, list[Statement]] = {"overview": [], "points": []}
        dropped = 0
        for part, sentences in (("overview", overview_raw), ("points", points_raw)):
            for sentence in sentences:
                refs = [int(n) for n in _REF.findall(sentence) if 1 <= int(n) <= len(order)]
                clean = re.sub(r"\s*\[\d{1,2}\]", "", sentence).strip(" -•*")
                if not refs or len(clean) < 8:
                    dropped += 1
                    continue
                aid = order[refs[0] - 1]
                a, e, score = best_supporting_span(clean, texts.get(aid, ""))
                if score < SUPPORT_THRESHOLD:
                    dropped += 1
                    continue
                quote = Quote(aid, a, e, texts[aid][a:e])
                new_refs = tuple(dict.fromkeys(numbering.ref(order[n - 1]) for n in refs))
                kept[part].append(Statement(clean, new_refs, quote))
        if not kept["overview"] and not kept["points"]:
            return "Mô hình ngôn ngữ không đưa ra được câu nào có căn cứ; dùng bản trích xuất."
        if kept["overview"]:
            b.overview = kept["overview"]
        if kept["points"]:
            b.key_points = kept["points"][: self.max_points]
        b.answerer = self.services.answerer_label
        return (
            f"Đã bỏ {dropped} câu của mô hình không có căn cứ trong tài liệu." if dropped else None
        )


class _Numbering:
    """Source numbers in order of first citation."""

    def __init__(self) -> None:
        self._n: dict[str, int] = {}

    def ref(self, article_id: str) -> int:
        return self._n.setdefault(article_id, len(self._n) + 1)

    def statement(self, s: _Sent) -> Statement:
        return Statement(_cap(s.text), (self.ref(s.article_id),), _quote(s))

    def items(self) -> list[tuple[str, int]]:
        return list(self._n.items())


def _quote(s: _Sent) -> Quote:
    return Quote(s.article_id, s.start, s.end, s.text)


def _missing_terms(q: Any, relevant: Sequence[Any], idf: Any) -> str | None:
    """None if the sentences cover enough of the topic; else the terms they miss."""
    if not relevant:
        return None
    weights = {t: idf(t) for t in q.terms}
    covered = set().union(*(s.covered for s in relevant))
    total = sum(weights.values()) or 1.0
    if sum(w for t, w in weights.items() if t in covered) / total >= MIN_COVERAGE:
        return None
    return ", ".join(t for t in q.terms if t not in covered)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _usable(sentence: str, title: str) -> bool:
    n = len(tokens(sentence))
    return 6 <= n <= 120 and search_key(sentence) != search_key(title)


def _dedupe(sents: Sequence[_Sent], limit: float = 0.7) -> list[_Sent]:
    kept: list[_Sent] = []
    sets: list[set[str]] = []
    for s in sorted(sents, key=lambda x: -x.evidence):
        toks = set(tokens(s.text))
        if any(len(toks & o) / max(1, len(toks | o)) >= limit for o in sets):
            continue
        kept.append(s)
        sets.append(toks)
    return kept


def _pick_statements(relevant: Sequence[_Sent], max_points: int) -> tuple[list[_Sent], list[_Sent]]:
    overview: list[_Sent] = []
    for s in relevant:
        if len(overview) == 2:
            break
        if all(s.article_id != o.article_id for o in overview):
            overview.append(s)
    per_article: dict[str, int] = {}
    points = []
    for s in relevant:
        if s in overview or per_article.get(s.article_id, 0) >= 3:
            continue
        per_article[s.article_id] = per_article.get(s.article_id, 0) + 1
        points.append(s)
        if len(points) == max_points:
            break
    return overview, points


def _parse_reply(text: str) -> tuple[list[str], list[str]]:
    """'TỔNG QUAN: ... Ý CHÍNH: - ... - ...' -> (overview sentences, key points)."""
    from corpus.chunking import split_sentences

    m = re.search(r"Ý\s*CHÍNH\s*:?", text, re.IGNORECASE)
    head, tail = (text[: m.start()], text[m.end() :]) if m else (text, "")
    head = re.sub(r"^\s*\**\s*TỔNG\s*QUAN\s*\**\s*:?", "", head.strip(), flags=re.IGNORECASE)
    overview = [head[a:e] for a, e in split_sentences(head)]
    points = [
        line.strip().lstrip("-•*0123456789. )").strip()
        for line in tail.splitlines()
        if line.strip()
    ]
    return overview, [p for p in points if p]


def _source(n: int, h: ScoredChunk) -> Source:
    return Source(n, h.chunk.article_id, h.title, h.date, h.source, h.url)


def _summary(topic: str, sources: Sequence[Source]) -> str:
    text = f"Tổng hợp từ {len(sources)} bài viết về «{topic}»"
    names = sorted({s.source for s in sources if s.source})
    if names:
        text += (
            " của "
            + ", ".join(names[:4])
            + (f" và {len(names) - 4} nguồn khác" if len(names) > 4 else "")
        )
    dates = sorted(s.date for s in sources if s.date and not s.date.startswith("--"))
    if dates:
        lo, hi = date_label(dates[0]), date_label(dates[-1])
        text += f", đăng từ {lo} đến {hi}" if lo != hi else f", đăng {lo}"
    return text + "."
