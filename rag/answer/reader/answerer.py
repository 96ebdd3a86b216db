"""The reader answerer: the default offline answerer, built on the trained reader.

For the top ``max_chunks`` retrieved chunks the reader (``rag.answer.reader.reader``)
scores a window of whole sentences each. Then:

* **factoid questions** (ai, khi nào, ở đâu, bao nhiêu, nào, …): the window most likely
  to answer leads with the answer span, then the whole sentence that holds it, cited:
  "Đặng Thị Hồng Liên [1]. Bà Đặng Thị Hồng Liên, Bí thư Quận ủy … [1]."; a second
  sentence follows when another window also answers it;
* **open questions** ("… đã làm gì?", "Nêu các nhiệm vụ …", results, limitations, …): a
  one-line lead and up to ``max_points`` relevant sentences as a list, across articles,
  each cited once, near-duplicates dropped, in article then reading order;
* with ``factoid=False`` (the default setting ``reader_factoid = false``) factoid questions
  get the rule-based answer (label "extractive") led by the reader's answer phrase inside
  the sentence the rules chose (``_lead_phrase``: that sentence alone is read), refused
  when the reader scores that sentence under ``sentence_threshold`` (0, off, as shipped:
  see ``reader_calibration.json``); but when the reader doubts that sentence (its
  answerability under ``rules_sure``) and, reading the top ``first_chunks``, is sure of
  one (``trust``, with checks: ``_trusted``), the reader answers, the rules' sentence
  following as a second citation when the reader rates it at least ``second`` of its own;
  and it is refused when the reader doubts every window it reads (``doubt``) while the
  rules' evidence for their sentence is weak (``doubt_rules``: ``_doubted``);
  the reader answers open questions;
* **refusal** when the best answerability is under the calibrated threshold
  (``rag/answer/data/reader_calibration.json``, written by ``evals/calibrate_reader.py``)
  or the question names a year, number or place the best article lacks (the extractive
  answerer's check; for an open question, that no article read has, and an article is
  listed only if no other lacks just part of what it lacks): the usual refusal naming the
  closest articles.

Quotes are whole sentences of the article (article offsets), never cut at a chunk
boundary. Publication-date questions are answered from metadata by the extractive answerer.
The chunks are re-ordered by answerability in ``Answer.retrieved`` when ``rerank`` is on.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from corpus.text import search_key, tokens
from rag.answer.answerer import Answerer, AnswerRequest
from rag.answer.evidence import Evidence
from rag.answer.extractive import (
    Candidate,
    ExtractiveAnswerer,
    _cite,
    _display,
    _missing_constraints,
)
from rag.answer.phrases import capitalize_first, deputy_only, with_counted_unit
from rag.answer.question import Question, analyze, is_open_question
from rag.answer.reader.model import ReaderUnavailable
from rag.answer.reader.reader import Passage, Reader, Reading
from rag.answer.reader.windows import sentence_spans
from rag.types import Answer, Citation, ScoredChunk

log = logging.getLogger(__name__)
CALIBRATION_FILE = Path(__file__).resolve().parent.parent / "data" / "reader_calibration.json"
# Open questions: chunks read (of the OPEN_CHUNKS retrieved). Five listed more of the seed
# open questions' key points than ten (tune half 0.443 -> 0.586, docs/BENCHMARKS.md
# "Reader"): the retrieval order is a signal the relevance head does not have.
READER_OPEN_CHUNKS = 5
# Open questions: a point that opens an enumeration (":", ";") runs on to its end, up to this.
ENUMERATION_CHARS = 900
# Open questions: chunks read beyond those, of articles that name what the ones read lack.
OPEN_EXTRA = 2


def reader_notice(exc: Exception) -> str:
    return (
        f"Mô hình đọc hiểu không dùng được ({exc}); câu trả lời dưới đây do bộ trích xuất "
        "theo quy tắc chọn."
    )


@dataclass(frozen=True)
class ReaderCalibration:
    threshold: float = 0.5  # answerability under which a factoid question is refused
    open_threshold: float = 0.2  # best answerability under which an open question is refused
    second: float = 0.5  # a second window's answerability (share of the best) to add it
    point_floor: float = 0.02  # an open-question point's relevance, at least
    point_ratio: float = 0.0  # … and at least this share of the best point's
    # Factoid questions: the top ``first_chunks`` are read first; the rest of the
    # ``max_chunks`` only when none of them reaches ``confident`` answerability.
    first_chunks: int = 2  # 0: read all at once
    confident: float = 0.9
    # ``factoid=False``: the rules' answer is refused when the reader, reading the rules'
    # sentence alone, gives it an answerability under this (0: never)
    sentence_threshold: float = 0.0
    # ``factoid=False``: when the reader gives the rules' sentence an answerability under
    # ``rules_sure``, it reads the top chunks and answers itself if its best window's
    # answerability is at least ``trust`` (above 1: never, the rules always choose)
    trust: float = 2.0
    rules_sure: float = 0.9
    # ``factoid=False``: the rules' answer is refused when the reader doubts it (its
    # sentence and every window of the top ``max_chunks`` under this answerability; 0:
    # never) and the rules' evidence for their sentence is under ``doubt_rules``
    doubt: float = 0.0
    doubt_rules: float = 1e9
    doubt_kinds: tuple[str, ...] = ()  # question kinds ("who") the rules' evidence never exempts
    source: str = "defaults"

    @staticmethod
    def load(path: Path = CALIBRATION_FILE) -> ReaderCalibration:
        if not path.is_file():
            return ReaderCalibration()
        raw = json.loads(path.read_text(encoding="utf-8"))
        fields = ReaderCalibration.__dataclass_fields__
        kw = {k: v for k, v in raw.items() if k in fields and k != "source"}
        if "doubt_kinds" in kw:
            kw["doubt_kinds"] = tuple(kw["doubt_kinds"])
        return ReaderCalibration(**kw, source=str(path))


@dataclass(frozen=True)
class ReaderScores:
    """What the answer was decided on (for calibration and benchmarks)."""

    answerable: float  # best window's answerability (0 when nothing was read)
    open_question: bool
    missing: tuple[str, ...]  # what the question names that the best article lacks
    order: tuple[str, ...]  # chunk ids by answerability
    # ``factoid=False``: the best of the rules' sentence and the windows read, when the
    # reader doubted the rules' sentence (-1: not read)
    doubt: float = -1.0
    rules: float = -1.0  # ``factoid=False``: the rules' evidence for their sentence (-1: none)


NO_SCORES = ReaderScores(0.0, False, (), ())


class ReaderAnswerer:
    """The ``Answerer`` protocol over the trained reader (see the module docstring)."""

    label = "reader"

    def __init__(
        self,
        reader: Reader,
        fallback: ExtractiveAnswerer,
        *,
        calibration: ReaderCalibration | None = None,
        max_chunks: int = 5,
        max_points: int = 8,
        open_chunks: int = READER_OPEN_CHUNKS,
        rerank: bool = True,
        factoid: bool = True,
    ) -> None:
        self.reader = reader
        self.fallback = fallback
        self.cal = calibration or ReaderCalibration.load()
        self.max_chunks = max_chunks
        self.max_points = max_points
        self.open_chunks = open_chunks
        self.rerank = rerank
        self.factoid = factoid
        self._warned = False

    def respond(self, request: AnswerRequest, evidence: Evidence) -> Answer:
        """The ``Answerer`` protocol. Without a usable reader model (missing or damaged
        weights), the rule-based answerer answers and ``Answer.notice`` says why."""
        try:
            answer = self.answer(request.question, evidence, standalone_query=request.query)
        except ReaderUnavailable as exc:
            if not self._warned:
                log.warning("reader model unavailable, using the rule-based answerer: %s", exc)
                self._warned = True
            answer = self.fallback.answer(
                request.question, evidence.hits, evidence.texts, standalone_query=request.query
            )
            answer.notice = " ".join(x for x in (reader_notice(exc), answer.notice) if x)
        if request.on_token is not None:
            request.on_token(answer.text)
        return answer

    def readings(
        self, query: str, evidence: Evidence, *, wide: bool | None = None, first_only: bool = False
    ) -> list[tuple[ScoredChunk, Reading]]:
        """The chunks read and what the reader says of each. Open questions read the top
        ``open_chunks`` at once; factoid ones the top ``first_chunks`` and, unless one of
        them is ``confident`` or ``first_only``, the rest of the top ``max_chunks`` (most
        answers are in the first chunks, and a forward pass costs in proportion to the
        tokens read)."""
        hits = _readable(evidence)
        if wide is None:
            wide = is_open_question(query, analyze(query).kind)
        hits = hits[: self.open_chunks if wide else self.max_chunks]
        passages = _passages(hits, evidence.texts)
        first = self.cal.first_chunks
        if wide or first <= 0 or len(passages) <= first:
            return list(zip(hits, self.reader.read(query, passages), strict=True))
        head = self.reader.read(query, passages[:first])
        if first_only or max(r.answerable for r in head) >= self.cal.confident:
            return list(zip(hits[:first], head, strict=True))
        rest = self.reader.read(query, passages[first:])
        return list(zip(hits, head + rest, strict=True))

    def answer(self, question: str, evidence: Evidence, *, standalone_query: str = "") -> Answer:
        return self.answer_scored(question, evidence, standalone_query=standalone_query)[0]

    def answer_scored(
        self, question: str, evidence: Evidence, *, standalone_query: str = ""
    ) -> tuple[Answer, ReaderScores]:
        """The answer and the scores it was decided on."""
        t0 = time.perf_counter()
        query = standalone_query or question
        q = analyze(query)
        if q.published or not evidence.hits:
            ans = self.fallback.answer(
                question, evidence.hits, evidence.texts, standalone_query=query
            )
            return ans, NO_SCORES
        ruled: tuple[Answer, ReaderScores] | None = None
        open_q = is_open_question(query, q.kind)
        missing: list[str] = []  # what the question names that the evidence lacks
        if open_q:
            missing, read = self.open_read(query, q, evidence)
        elif not self.factoid:
            ruled = self._rules_with_phrase(question, query, q, evidence, t0)
            trusting = self.cal.trust <= 1.0
            doubting = self._may_doubt(q, ruled)
            if not (trusting or doubting) or ruled[1].answerable >= self.cal.rules_sure:
                return ruled
            read = self.readings(query, evidence, first_only=True)
            if not (trusting and self._trusted(q, read)):  # else the reader answers
                if not doubting:
                    return ruled
                return self._doubted(question, query, evidence, t0, ruled, read)
        else:
            read = self.readings(query, evidence)
        t_read = (time.perf_counter() - t0) * 1000
        if not read:
            return self._refuse(question, query, evidence, t0, []), NO_SCORES
        by_answer = _by_answer(read)
        retrieved = list(evidence.hits)
        if self.rerank:
            top = [h for h, _ in by_answer]
            ids = {h.chunk.id for h in top}
            retrieved = top + [h for h in evidence.hits if h.chunk.id not in ids]
        best_hit, best = by_answer[0]
        threshold = self.cal.open_threshold if open_q else self.cal.threshold
        if best.span is not None and not open_q:
            a, b = best.sentence_of(best.span[0])
            cand = Candidate(
                0, best_hit, a, b, best.passage.text[a:b], best.answerable, frozenset()
            )
            missing = _missing_constraints(q, cand, evidence.texts, self.fallback.idf)
        scores = ReaderScores(
            best.answerable, open_q, tuple(missing), tuple(h.chunk.id for h, _ in by_answer)
        )
        if best.answerable < threshold or missing:
            return self._refuse(question, query, evidence, t0, missing, retrieved), scores
        if open_q:
            parts, cites = self._points(read)
        else:
            parts, cites = self._factoid(q, by_answer)
            if ruled is not None:  # the reader overrode the rules' sentence
                parts, cites = self._with_rules_sentence(parts, cites, ruled, best.answerable)
        answer = Answer(
            question=question,
            text=parts,
            citations=cites,
            refused=False,
            retrieved=retrieved,
            answerer=self.label,
            standalone_query=query,
            timings_ms={"read": t_read, "answer": (time.perf_counter() - t0) * 1000},
        )
        return answer, scores

    def passage_order(self, query: str, evidence: Evidence) -> Evidence:
        """The evidence with its hits in the order of this answerer's answer to ``query``
        (``Answer.retrieved``, ``rerank``): an open question's windows in scope
        (``open_read``) first, by answerability; a factoid question's window the reader
        answers from first where it answers, else as retrieved; then the rest."""
        order = self.answer(query, evidence).retrieved
        known = {h.chunk.id for h in evidence.hits}
        first = [h for h in order if h.chunk.id in known]
        ids = {h.chunk.id for h in first}
        return dataclasses.replace(
            evidence, hits=first + [h for h in evidence.hits if h.chunk.id not in ids]
        )

    def open_read(
        self, query: str, q: Question, evidence: Evidence
    ) -> tuple[list[str], list[tuple[ScoredChunk, Reading]]]:
        """What an open question (or a briefing's topic) reads: the top ``open_chunks``, and
        a later chunk of an article naming what they lack (``_named_elsewhere``); then what
        no article read has and the windows of the articles it is about (``_open_scope``)."""
        read = self.readings(query, evidence, wide=True)
        if not read:
            return [], read
        lacks = self._article_lacks(q, evidence.hits, evidence.texts)
        read = read + self._named_elsewhere(query, read, evidence, lacks)
        return self._open_scope(q, read, lacks, evidence.texts)

    def _open_scope(
        self,
        q: Question,
        read: list[tuple[ScoredChunk, Reading]],
        lacks: Mapping[str, frozenset[str]],
        texts: Mapping[str, str],
    ) -> tuple[list[str], list[tuple[ScoredChunk, Reading]]]:
        """Open questions: what the question names (a place, year, number, numbered name,
        office: ``lacks``, an article's) that no article read has (the question is refused,
        naming it: "Quảng Nam đã làm gì …" over articles about other provinces), and the
        windows of the articles no other article beats: one beats another when it lacks
        only part of what the other lacks ("Hà Tĩnh đã làm gì …" lists Hà Tĩnh's points,
        not another province's; a comparison of two provinces keeps both, each lacking the
        other)."""
        sets = {lacks[h.chunk.article_id] for h, _ in read}
        if not sets:
            return [], read
        union = frozenset.union(*sets)
        missing = [m for m in union if all(m in s for s in sets)]
        # or, short of a place, in no article's text ("Cụm thi đua 5": the articles that
        # number no "cụm" do not lack it as a rule); the texts are keyed only when needed
        rest = [m for m in union if m not in missing and m not in q.places]
        if rest:
            keys = [search_key(texts.get(a, "")) for a in {h.chunk.article_id for h, _ in read}]
            missing += [m for m in rest if not any(search_key(m) in k for k in keys)]
        missing.sort()
        kept = [(h, rd) for h, rd in read if not any(w < lacks[h.chunk.article_id] for w in sets)]
        return missing, kept

    def _article_lacks(
        self, q: Question, hits: Sequence[ScoredChunk], texts: Mapping[str, str]
    ) -> dict[str, frozenset[str]]:
        """What an open question names that each article of ``hits`` lacks
        (``_missing_constraints`` of the article alone, without the concept check: "tóm
        tắt", "so sánh" are no facts)."""
        plain_q = dataclasses.replace(q, pairs=())
        out: dict[str, frozenset[str]] = {}
        for hit in hits:
            aid = hit.chunk.article_id
            if aid not in out and aid in texts:
                probe = Candidate(0, hit, 0, 0, "", 0.0, frozenset())
                out[aid] = frozenset(_missing_constraints(plain_q, probe, texts, self.fallback.idf))
        return out

    def _named_elsewhere(
        self,
        query: str,
        read: list[tuple[ScoredChunk, Reading]],
        evidence: Evidence,
        lacks: Mapping[str, frozenset[str]],
    ) -> list[tuple[ScoredChunk, Reading]]:
        """An open question names what no article read has but a later retrieved chunk's
        article does ("… ở Sơn La và ở Hà Tĩnh" where the chunks read are all Hà Tĩnh's):
        that chunk is read too, the first of each such article, at most ``OPEN_EXTRA``."""
        seen = {h.chunk.article_id for h, _ in read}
        if not seen:
            return []
        absent = frozenset.intersection(*(lacks[a] for a in seen))
        extra: list[ScoredChunk] = []
        for hit in evidence.hits:
            aid = hit.chunk.article_id
            if not absent or len(extra) >= OPEN_EXTRA:
                break
            if aid in seen or aid not in lacks:
                continue
            seen.add(aid)
            if absent - lacks[aid]:
                extra.append(hit)
                absent &= lacks[aid]
        if not extra:
            return []
        return list(
            zip(extra, self.reader.read(query, _passages(extra, evidence.texts)), strict=True)
        )

    def _may_doubt(self, q: Question, ruled: tuple[Answer, ReaderScores]) -> bool:
        """Whether the rules' answer may be refused for the reader's doubt (``_doubted``):
        ``doubt`` is on, the rules answered, and their evidence is weak (under
        ``doubt_rules``) or the question is of a kind in ``doubt_kinds``."""
        answer, scores = ruled
        if self.cal.doubt <= 0 or answer.refused:
            return False
        return scores.rules < self.cal.doubt_rules or q.kind in self.cal.doubt_kinds

    def _doubted(
        self,
        question: str,
        query: str,
        evidence: Evidence,
        t0: float,
        ruled: tuple[Answer, ReaderScores],
        read: list[tuple[ScoredChunk, Reading]],
    ) -> tuple[Answer, ReaderScores]:
        """The rules' answer (which ``_may_doubt``), or a refusal when the reader finds
        neither the rules' sentence nor any of the top ``max_chunks`` windows answerable
        (``doubt``). Where the rules' evidence is strong (``doubt_rules``: a sentence that
        holds the question's words, its names and figures checked by the rules) the reader
        is not asked: trained on Wikipedia, it doubts news figures it reads right ("63.021
        ha"); but who-questions (``doubt_kinds``) are: "Ai là Bí thư Quận ủy Quận 7?" over a
        sentence naming Quận 9's and listing "Quận 2, 7, 9". The rest of the top chunks is
        read only for a would-be refusal."""
        answer, scores = ruled
        best = max([scores.answerable, *(rd.answerable for _, rd in read)])
        if best < self.cal.doubt and len(read) < self.max_chunks:
            rest = _readable(evidence)[len(read) : self.max_chunks]
            if rest:
                more = self.reader.read(query, _passages(rest, evidence.texts))
                best = max([best, *(rd.answerable for rd in more)])
        scores = dataclasses.replace(scores, doubt=best)
        if best >= self.cal.doubt:
            return answer, scores
        return self._refuse(question, query, evidence, t0, []), scores

    def _trusted(self, q: Question, read: Sequence[tuple[ScoredChunk, Reading]]) -> bool:
        """The reader answers instead of the rules: sure of a window (``trust``), a number
        leading its span when the question asks how many, and its answer's sentence does not
        name the office asked for only as a deputy's ("Phó Trưởng ban …" for "Trưởng ban
        …": the model confuses them)."""
        if not read:
            return False
        best = _by_answer(read)[0][1]  # the window the reader would answer from
        if best.answerable < self.cal.trust or best.span is None:
            return False
        # a count leads its span ("300 cán bộ", "hơn 300 cán bộ"), not a name with numbers
        # in it ("Ban Dân vận Quận ủy các Quận 2,7,9")
        head = best.span_text.split()[:2]
        if q.kind == "how_many" and not any(ch.isdigit() for w in head for ch in w):
            return False
        a, b = best.sentence_of(best.span[0])
        return not deputy_only(search_key(q.text), search_key(best.passage.text[a:b]))

    def _rules_with_phrase(
        self, question: str, query: str, q: Question, evidence: Evidence, t0: float
    ) -> tuple[Answer, ReaderScores]:
        """Factoid questions with ``factoid=False``: the rules' answer led by the reader's
        phrase, refused when the reader finds the rules' sentence unanswerable
        (``sentence_threshold``)."""
        read: list[Reading] = []
        evidence_of: list[float] = []

        def lead(_query: str, best: Candidate, texts: Mapping[str, str]) -> str | None:
            evidence_of.append(best.evidence)
            return self._lead_phrase(q, best, texts, read)

        ans = self.fallback.answer(
            question, evidence.hits, evidence.texts, standalone_query=query, lead=lead
        )
        if not read:
            return ans, NO_SCORES
        scores = ReaderScores(read[0].answerable, False, (), (), rules=evidence_of[0])
        if not ans.refused and read[0].answerable < self.cal.sentence_threshold:
            return self.fallback._refuse(question, query, evidence.hits, t0, None, []), scores
        return ans, scores

    def _lead_phrase(
        self, q: Question, best: Candidate, texts: Mapping[str, str], read: list[Reading]
    ) -> str | None:
        """The reader's answer span inside the sentence the rules chose (factoid questions
        with ``factoid=False``): the rules pick the sentence, the reader the phrase. One
        short window (the sentence alone) is read; its reading is appended to ``read``."""
        aid = best.hit.chunk.article_id
        passage = Passage(best.hit.chunk.id, aid, texts[aid], best.start, best.end)
        rd = self.reader.read(q.text, [passage])[0]
        read.append(rd)
        if rd.span is None or not (best.start <= rd.span[0] and rd.span[1] <= best.end):
            return None
        return with_counted_unit(q, rd.span_text, best.text) if rd.span_text else None

    # -- building the answer ----------------------------------------------------------

    def _factoid(
        self, q: Question, by_answer: list[tuple[ScoredChunk, Reading]]
    ) -> tuple[str, list[Citation]]:
        best = by_answer[0][1]
        chosen: list[tuple[ScoredChunk, Reading, int, int]] = []
        for hit, rd in by_answer:
            if rd.span is None:
                continue
            if chosen and rd.answerable < max(
                self.cal.threshold, self.cal.second * best.answerable
            ):
                break
            a, b = rd.sentence_of(rd.span[0])
            if any(c[0].chunk.article_id == hit.chunk.article_id and c[2] == a for c in chosen):
                continue
            chosen.append((hit, rd, a, b))
            if len(chosen) == 2:
                break
        cites = [
            _citation(n, h, rd.passage.text, a, b) for n, (h, rd, a, b) in enumerate(chosen, 1)
        ]
        parts = [_cite(_display(c.quote), c.n) for c in cites]
        if best.span_text and chosen:
            span = with_counted_unit(q, best.span_text, cites[0].quote)
            if search_key(span) != search_key(cites[0].quote):
                parts.insert(0, _cite(capitalize_first(span), 1))
        return " ".join(parts), cites

    def _with_rules_sentence(
        self,
        parts: str,
        cites: list[Citation],
        ruled: tuple[Answer, ReaderScores],
        best: float,
    ) -> tuple[str, list[Citation]]:
        """The rules' sentence after the reader's answer (``trust``), cited, when the reader
        gives it at least ``second`` of its best answerability, as a second window is added:
        where the reader overrode the rules wrongly, the reader still shows it."""
        answer, scores = ruled
        if answer.refused or not answer.citations or not cites:
            return parts, cites
        if scores.answerable < self.cal.second * best:
            return parts, cites
        c = answer.citations[0]
        if any(x.article_id == c.article_id and x.start <= c.start < x.end for x in cites):
            return parts, cites
        extra = dataclasses.replace(c, n=len(cites) + 1)
        return f"{parts} {_cite(_display(extra.quote), extra.n)}", [*cites, extra]

    def _points(self, read: list[tuple[ScoredChunk, Reading]]) -> tuple[str, list[Citation]]:
        cites = self.points(read)
        if not cites:
            return "", []
        n_art = len({c.article_id for c in cites})
        where = "bài viết" if n_art == 1 else f"{n_art} bài viết"
        lead = f"Các ý chính từ {where} đã nạp ({len(cites)} ý):"
        return "\n".join([lead, *(f"- {_cite(_display(c.quote), c.n)}" for c in cites)]), cites

    def points(
        self, read: Sequence[tuple[ScoredChunk, Reading]], max_points: int | None = None
    ) -> list[Citation]:
        """The relevant sentences of the windows read, as citations: by relevance, at
        least ``point_floor``, repeats dropped, at most ``max_points``, then in
        article (first read) and reading order. Open-question answers and briefings list
        these."""
        limit = max_points or self.max_points
        rank: dict[str, int] = {}
        pool: dict[tuple[str, int], tuple[float, ScoredChunk, Reading, int, int]] = {}
        for hit, rd in read:
            rank.setdefault(hit.chunk.article_id, len(rank))
            for a, b, rel in rd.sentences:
                a, b = rd.sentence_of(a)
                key = (hit.chunk.article_id, a)
                if key not in pool or pool[key][0] < rel:
                    pool[key] = (rel, hit, rd, a, b)
        ranked = sorted(pool.values(), key=lambda x: -x[0])
        if not ranked:
            return []
        floor = max(self.cal.point_floor, self.cal.point_ratio * ranked[0][0])
        kept: list[tuple[float, ScoredChunk, Reading, int, int]] = []
        seen: list[set[str]] = []
        for item in ranked:
            if len(kept) >= limit or (kept and item[0] < floor):
                break
            toks = set(tokens(item[2].passage.text[item[3] : item[4]]))
            # a repeat: 70% of its own words are in one sentence kept (not of the shorter
            # one's: a short kept sentence inside a long new one dropped the long one and
            # its points, docs/BENCHMARKS.md "Open questions")
            if any(len(toks & s) >= 0.7 * max(1, len(toks)) for s in seen):
                continue
            kept.append(item)
            seen.append(toks)
        kept.sort(key=lambda x: (rank[x[1].chunk.article_id], x[3]))
        spans: list[tuple[ScoredChunk, Reading, int, int]] = []
        for _, h, rd, a, b in kept:
            if any(x[0].chunk.article_id == h.chunk.article_id and x[2] <= a < x[3] for x in spans):
                continue  # inside an enumeration listed above
            spans.append((h, rd, a, enumeration_end(rd.passage.text, a, b)))
        return [_citation(n, h, rd.passage.text, a, b) for n, (h, rd, a, b) in enumerate(spans, 1)]

    def _refuse(
        self,
        question: str,
        query: str,
        evidence: Evidence,
        t0: float,
        missing: Sequence[str],
        retrieved: Sequence[ScoredChunk] | None = None,
    ) -> Answer:
        ans = self.fallback._refuse(question, query, retrieved or evidence.hits, t0, None, missing)
        ans.answerer = self.label
        return ans


class ReaderPassages:
    """An answerer (an LLM's) shown the evidence in the reader's order
    (``ReaderAnswerer.passage_order``): the passages it reads first are the ones the reader
    would answer or list from. Without a usable reader model, the retrieval order."""

    def __init__(self, primary: Answerer, reader: ReaderAnswerer) -> None:
        self.primary = primary
        self.reader = reader
        self.label = primary.label
        self._warned = False

    def respond(self, request: AnswerRequest, evidence: Evidence) -> Answer:
        try:
            ordered = self.reader.passage_order(request.query, evidence)
        except ReaderUnavailable as exc:
            if not self._warned:
                log.warning("reader model unavailable, passages in retrieval order: %s", exc)
                self._warned = True
            ordered = evidence
        return self.primary.respond(request, ordered)


def enumeration_end(text: str, a: int, b: int, limit: int = ENUMERATION_CHARS) -> int:
    """Where the point ``text[a:b]`` ends when it opens or continues an enumeration: a
    sentence ending in ":" or ";" runs on through the next sentences while each ends in ";"
    (the last ends in anything else), within ``limit`` characters from ``a``: "Theo đó, 5
    quan điểm lớn được chỉ ra gồm: …;" then its four other viewpoints, one paragraph each."""
    if not text[a:b].rstrip().endswith((":", ";")):
        return b
    end = b
    for s, e in sentence_spans(text, b, min(len(text), a + 2 * limit + 1000)):  # whole ones
        if e - a > limit:
            break
        end = e
        if not text[s:e].rstrip().endswith(";"):
            break
    return end


def _readable(evidence: Evidence) -> list[ScoredChunk]:
    """The hits the reader can read (their article's text is in the evidence), in order."""
    return [h for h in evidence.hits if h.chunk.article_id in evidence.texts]


def _passages(hits: Sequence[ScoredChunk], texts: Mapping[str, str]) -> list[Passage]:
    """The reader's passages for these chunks: their spans in the whole article text."""
    return [
        Passage(
            h.chunk.id, h.chunk.article_id, texts[h.chunk.article_id], h.chunk.start, h.chunk.end
        )
        for h in hits
    ]


def _by_answer(
    read: Sequence[tuple[ScoredChunk, Reading]],
) -> list[tuple[ScoredChunk, Reading]]:
    """The windows read, the likeliest to answer first (answerability, then span score)."""
    return sorted(read, key=lambda hr: (-hr[1].answerable, -hr[1].span_score))


def _citation(n: int, hit: ScoredChunk, text: str, a: int, b: int) -> Citation:
    return Citation(
        n=n, article_id=hit.chunk.article_id, chunk_id=hit.chunk.id, title=hit.title,
        quote=text[a:b], start=a, end=b, date=hit.date, source=hit.source, url=hit.url,
    )  # fmt: skip
