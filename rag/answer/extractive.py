"""Offline extractive answerer: grounded sentences from the retrieved chunks, each cited.

How an answer is built:

1. every sentence of the top retrieved chunks is a candidate (article offsets, so the
   quote is exactly ``article.text[start:end]``);
2. a candidate's **evidence** is the idf-weighted share of the question's content terms
   it contains (terms found only in its article's title count half), plus a bonus for
   matching adjacent term pairs and for holding what the question type asks for (a
   number for "bao nhiêu", a date for "khi nào", a name for "ai", a place for "ở đâu");
3. the best sentence leads; up to two more follow if nearly as strong and they cover
   question terms the first one misses; for who/when/where/how-many questions the key
   phrase (e.g. "151 cơ quan, đơn vị, doanh nghiệp") is put first;
4. it refuses — "Không tìm thấy thông tin này trong các tài liệu đã nạp." naming the
   closest articles — when the best evidence is under the calibrated threshold
   (``rag/answer/data/refusal.json``, written by ``evals/calibrate.py``), or when a year,
   number or place the question names appears nowhere in the evidence's article.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from corpus.chunking import split_sentences
from corpus.places import PROVINCES, place_variants, site_places
from corpus.text import search_key, strip_diacritics
from rag.answer.answerer import AnswerRequest
from rag.answer.evidence import Evidence
from rag.answer.phrases import (
    anaphoric,
    any_quantity,
    article_fact_set,
    article_term_set,
    capitalize_first,
    count_match_score,
    date_phrase,
    deputy_only,
    has_kind,
    in_question,
    key_phrase,
    other_numbered,
    sentence_spans,
    unit_missing,
)
from rag.answer.question import Question, analyze, place_key
from rag.answer.texts import REFUSAL
from rag.types import Answer, Citation, ScoredChunk

# Sentence scoring and selection; chosen on ViQuAD1-dev (see docs/BENCHMARKS.md), not on
# XQuAD-vi or the seed set, which are reported.
RANK_BONUS = 0.3  # prior for sentences of higher-ranked articles: RANK_BONUS / (rank + 1)
PAIR_WEIGHT = 0.15  # question word pairs found adjacent in the sentence (idf-weighted share)
ANAPHORA = 0.8  # "Họ ...", "Công ty này ...": share of the previous sentence's terms inherited
KEEP_RATIO = 0.75  # more sentences: evidence at least this share of the best's
COUNT_BONUS = 0.3  # evidence bonus for "<number> <what is counted>" in a how-many answer
CALIBRATION_FILE = Path(__file__).resolve().parent / "data" / "refusal.json"


@dataclass(frozen=True)
class Calibration:
    threshold: float
    source: str

    @staticmethod
    def load(path: Path = CALIBRATION_FILE) -> Calibration:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Calibration(float(data["threshold"]), str(path))


@dataclass(frozen=True)
class Candidate:
    rank: int  # retrieval rank of the chunk (0 = best)
    hit: ScoredChunk
    start: int
    end: int
    text: str
    evidence: float
    covered: frozenset[str]


# Chooses the lead phrase inside the best sentence: (query, best candidate, article texts)
# -> the phrase, or None for the rules' own (``key_phrase``). The reader answerer passes one.
LeadPhrase = Callable[[str, Candidate, Mapping[str, str]], "str | None"]


class ExtractiveAnswerer:
    label = "extractive"

    def __init__(
        self,
        *,
        threshold: float | None = None,
        idf: Callable[[str], float] | None = None,
        max_sentences: int = 3,
        max_chunks: int = 5,
    ) -> None:
        self.threshold = Calibration.load().threshold if threshold is None else threshold
        self.idf = idf or (lambda t: 1.0)
        self.max_sentences = max_sentences
        self.max_chunks = max_chunks

    def respond(self, request: AnswerRequest, evidence: Evidence) -> Answer:
        """The ``Answerer`` protocol: answer from the gate's texts, then stream it whole."""
        answer = self.answer(
            request.question, evidence.hits, evidence.texts, standalone_query=request.query
        )
        if request.on_token is not None:
            request.on_token(answer.text)
        return answer

    # -- scoring -------------------------------------------------------------------
    def candidates(
        self, q: Question, retrieved: Sequence[ScoredChunk], texts: Mapping[str, str]
    ) -> list[Candidate]:
        weights = {t: self.idf(t) for t in q.terms}
        total = sum(weights.values()) or 1.0
        # place names are checked per article (an article names its province once or twice)
        sentence_terms = {t: w for t, w in weights.items() if t not in q.place_terms}
        pairs = set(zip(q.terms, q.terms[1:], strict=False))
        pair_total = sum(weights[a] + weights[b] for a, b in pairs) or 1.0
        seen: set[tuple[str, int, int]] = set()
        out = []
        article_rank: dict[str, int] = {}
        for rank, hit in enumerate(retrieved[: self.max_chunks]):
            c = hit.chunk
            article_rank.setdefault(c.article_id, len(article_rank))
            text = texts.get(c.article_id)
            if text is None:
                continue
            title_terms = set(q.analyze_text(hit.title))
            article_terms = article_term_set(q.accented, hit.title + "\n" + text)
            place_score = sum(
                w for t, w in weights.items() if t in q.place_terms and t in article_terms
            )
            spans = sentence_spans(text, c.start, c.end)
            lexical = []
            for a, b in spans:
                sent = text[a:b]
                toks = q.analyze_text(sent)
                present = set(toks)
                covered = frozenset(t for t in sentence_terms if t in present)
                score = sum(weights[t] for t in covered) / total
                if pairs:
                    matched = pairs & set(pairwise(toks))
                    score += (
                        PAIR_WEIGHT * sum(weights[x] + weights[y] for x, y in matched) / pair_total
                    )
                lexical.append((sent, covered, present, score))
            for i, (a, b) in enumerate(spans):
                key = (c.article_id, a, b)
                if key in seen:
                    continue
                seen.add(key)
                sent, covered, present, score = lexical[i]
                if i > 0 and anaphoric(sent):
                    # "Họ ...", "Công ty này ...": the previous sentence says who/what
                    inherited = lexical[i - 1][1] - covered
                    score += ANAPHORA * sum(weights[t] for t in inherited) / total
                in_title = {t for t in sentence_terms if t not in present and t in title_terms}
                score += (0.5 * sum(weights[t] for t in in_title) + place_score) / total
                if has_kind(q.kind, sent):
                    score += 0.1
                if q.kind == "how_many":
                    score += COUNT_BONUS * count_match_score(q, sent)
                score += RANK_BONUS / (article_rank[c.article_id] + 1)
                out.append(Candidate(rank, hit, a, b, sent, score, covered))
        out.sort(key=lambda c: -c.evidence)
        return out

    # -- answering -----------------------------------------------------------------
    def answer(
        self,
        question: str,
        retrieved: Sequence[ScoredChunk],
        texts: Mapping[str, str],
        *,
        standalone_query: str = "",
        lead: LeadPhrase | None = None,
    ) -> Answer:
        t0 = time.perf_counter()
        query = standalone_query or question
        q = analyze(query)
        cands = self.candidates(q, retrieved, texts)
        best = cands[0] if cands else None
        if q.published and retrieved:
            return self._published(question, query, retrieved, texts, t0)
        missing = _missing_constraints(q, best, texts, self.idf) if best else []
        if best is not None and q.kind == "how_many" and not missing:
            if count_match_score(q, best.text, counts_only=True) == 0 and not any_quantity(
                q, best.text
            ):
                missing = ["số liệu về " + in_question(q, q.focus or q.terms[:3])]
            else:
                missing = unit_missing(q, best.text)
        if best is None or best.evidence < self.threshold or missing:
            return self._refuse(question, query, retrieved, t0, best, missing)

        chosen = [best]
        covered = set(best.covered)
        for c in cands[1:]:
            if len(chosen) >= self.max_sentences:
                break
            adds = not c.covered <= covered
            if (
                c.evidence >= KEEP_RATIO * best.evidence and adds
            ) or c.evidence >= 0.95 * best.evidence:
                chosen.append(c)
                covered |= c.covered
        # reading order within an article, articles by their best sentence's rank
        first_rank: dict[str, int] = {}
        for c in chosen:
            first_rank.setdefault(c.hit.chunk.article_id, c.rank)
        chosen.sort(key=lambda c: (first_rank[c.hit.chunk.article_id], c.start))

        citations = []
        parts = []
        for n, c in enumerate(chosen, 1):
            citations.append(
                Citation(
                    n=n,
                    article_id=c.hit.chunk.article_id,
                    chunk_id=c.hit.chunk.id,
                    title=c.hit.title,
                    quote=c.text,
                    start=c.start,
                    end=c.end,
                    date=c.hit.date,
                    source=c.hit.source,
                    url=c.hit.url,
                )
            )
            parts.append(_cite(_display(c.text), n))
        key = (lead(query, best, texts) if lead else None) or key_phrase(q, best.text)
        lead_n = chosen.index(best) + 1
        if key and search_key(key) != search_key(best.text):
            parts.insert(0, _cite(capitalize_first(key), lead_n))
        return Answer(
            question=question,
            text=" ".join(parts),
            citations=citations,
            refused=False,
            retrieved=list(retrieved),
            answerer=self.label,
            standalone_query=query,
            timings_ms={"answer": (time.perf_counter() - t0) * 1000},
        )

    def _published(
        self,
        question: str,
        query: str,
        retrieved: Sequence[ScoredChunk],
        texts: Mapping[str, str],
        t0: float,
    ) -> Answer:
        """'Bài viết ... được đăng ngày nào?': the top article's publication date (metadata)."""
        hit = retrieved[0]
        text = texts.get(hit.chunk.article_id, "")
        first = split_sentences(text, hit.chunk.start, hit.chunk.end)[:1] or [(0, 0)]
        if not hit.date:
            return self._refuse(question, query, retrieved, t0, None, ["ngày đăng bài"])
        date = date_phrase(hit.date)
        cite = Citation(
            n=1,
            article_id=hit.chunk.article_id,
            chunk_id=hit.chunk.id,
            title=hit.title,
            quote=text[first[0][0] : first[0][1]],
            start=first[0][0],
            end=first[0][1],
            date=hit.date,
            source=hit.source,
            url=hit.url,
        )
        return Answer(
            question=question,
            text=f"Bài viết «{hit.title}» được đăng {date} [1].",
            citations=[cite],
            refused=False,
            retrieved=list(retrieved),
            answerer=self.label,
            standalone_query=query,
            timings_ms={"answer": (time.perf_counter() - t0) * 1000},
            notice=(
                "Ngày đăng lấy từ thông tin của bài viết (siêu dữ liệu), "
                "không phải từ một câu trong bài."
            ),
        )

    def _refuse(
        self,
        question: str,
        query: str,
        retrieved: Sequence[ScoredChunk],
        t0: float,
        best: Candidate | None,
        missing: Sequence[str],
    ) -> Answer:
        closest: list[str] = []
        seen = set()
        for h in retrieved:
            if h.chunk.article_id in seen:
                continue
            seen.add(h.chunk.article_id)
            date = date_phrase(h.date) if h.date and not h.date.startswith("--") else None
            bits = ", ".join(x for x in (date, h.source) if x)
            closest.append(f"«{h.title}»" + (f" ({bits})" if bits else ""))
            if len(closest) == 3:
                break
        text = REFUSAL
        if closest:
            text += " Các bài viết gần nhất với câu hỏi: " + "; ".join(closest) + "."
        notice = None
        if missing:
            notice = "Tài liệu gần nhất không nhắc đến: " + ", ".join(missing) + "."
        return Answer(
            question=question,
            text=text,
            citations=[],
            refused=True,
            retrieved=list(retrieved),
            answerer=self.label,
            standalone_query=query,
            timings_ms={"answer": (time.perf_counter() - t0) * 1000},
            notice=notice,
        )


# Reference marks inside a source text ("[21]", "[cần trích dẫn]") would read as our [n]
_SOURCE_MARKS = re.compile(r"\s*\[(?:\d+|cần trích dẫn|citation needed)\]", re.IGNORECASE)


def _display(sentence: str) -> str:
    """A quoted sentence as shown in the answer text (the citation keeps it verbatim): no
    source marks, one line (an enumeration's items are paragraphs)."""
    return " ".join(_SOURCE_MARKS.sub("", sentence).split())


def _cite(sentence: str, n: int) -> str:
    s = sentence.rstrip()
    m = re.search(r"[.!?…]+[\"'”’»)]*$", s)
    if m:
        return f"{s[: m.start()]} [{n}]{s[m.start() :]}"
    return f"{s} [{n}]."


def _missing_constraints(
    q: Question, best: Candidate, texts: Mapping[str, str], idf: Callable[[str], float]
) -> list[str]:
    """What the question names that the evidence's article lacks: a year (when the article
    states other years), a number, a place (a province also where the publisher's site
    names it: ``site_places``), or a concept: two adjacent content syllables
    ("chăn nuôi", "cà phê") both absent from the article, one of them absent from the whole
    index and both rare (idf at least 60% of an unseen word's), so generic verbs such as
    "triển khai" and paraphrases of words the corpus does use do not count."""
    idf_max = idf("\x00unseen\x00")
    article = texts.get(best.hit.chunk.article_id, "")
    # a provincial paper's or party site's name names its province ("Baohatinh.vn")
    site = place_variants(n for s in (best.hit.source, best.hit.url) for n in site_places(s or ""))
    keyed, plain, places = article_fact_set(
        "\n".join([best.hit.title, best.hit.date or "", article, *site])
    )
    present = article_term_set(q.accented, f"{best.hit.title}\n{article}")
    missing = [
        in_question(q, (a, b))
        for a, b in q.pairs
        if a not in present
        and b not in present
        and max(idf(a), idf(b)) >= idf_max - 1e-9  # one of them occurs nowhere in the index
        and min(idf(a), idf(b)) >= 0.6 * idf_max
    ]
    # a year counts as missing only when the article states other years (it reports another
    # period); many texts leave the year implicit
    article_years = set(re.findall(r"\b(?:19|20)\d\d\b", keyed))
    sentence_years = set(re.findall(r"\b(?:19|20)\d\d\b", best.text))
    for y in q.years:
        if y not in keyed and article_years:
            missing.append(y)
        elif sentence_years and not sentence_years & set(q.years):
            # the evidence sentence reports another year ("sản lượng năm 2019 ...")
            missing.append(y)
    for n in q.numbers:
        if n not in keyed:
            missing.append(n)
    for p in q.places:
        k = place_key(p)
        # a province is looked up among the article's places alone: as text, "hồ chí minh"
        # is in every "tư tưởng Hồ Chí Minh"
        if k not in places and (
            p in PROVINCES or (k not in keyed and strip_diacritics(k) not in plain)
        ):
            missing.append(p)
    # a numbered name the article numbers otherwise ("Cụm thi đua 5" in an article about
    # "Cụm thi đua 3"), an office it names only as a deputy's ("Chủ tịch UBND tỉnh" where
    # the article has "Phó Chủ tịch UBND tỉnh")
    qkey = search_key(q.text)
    for phrase in (*other_numbered(q.text, keyed), *deputy_only(qkey, keyed)):
        missing.append(in_question(q, tuple(phrase.split())))
    return missing
