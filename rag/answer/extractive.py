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
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

from corpus.chunking import split_sentences
from corpus.places import extract_places, is_place_name
from corpus.text import ascii_tokens, search_key, strip_diacritics, tokens
from rag.answer.answerer import AnswerRequest
from rag.answer.evidence import Evidence
from rag.answer.question import Question, analyze, place_key
from rag.types import Answer, Citation, ScoredChunk

REFUSAL = "Không tìm thấy thông tin này trong các tài liệu đã nạp."
# Sentence scoring and selection; chosen on ViQuAD1-dev (see docs/BENCHMARKS.md), not on
# XQuAD-vi or the seed set, which are reported.
RANK_BONUS = 0.3  # prior for sentences of higher-ranked articles: RANK_BONUS / (rank + 1)
PAIR_WEIGHT = 0.15  # question word pairs found adjacent in the sentence (idf-weighted share)
ANAPHORA = 0.8  # "Họ ...", "Công ty này ...": share of the previous sentence's terms inherited
KEEP_RATIO = 0.75  # more sentences: evidence at least this share of the best's
COUNT_BONUS = 0.3  # evidence bonus for "<number> <what is counted>" in a how-many answer
CALIBRATION_FILE = Path(__file__).resolve().parent / "data" / "refusal.json"

_NUM = re.compile(r"\d+(?:[.,:]\d+)*(?:/\d+(?:[.,]\d+)*)?\s*%?")  # "4:51" stays whole
# numbers in words ("bốn lựa chọn", "hai đội"); "năm" is left out (also "year")
_NUM_WORDS = re.compile(
    r"\b(?:một|hai|ba|bốn|tư|sáu|bảy|tám|chín|mười|mươi|trăm|nghìn|ngàn|triệu|tỷ|tỉ)\b",
    re.IGNORECASE,
)
_DATE = re.compile(
    r"(?:(?:[Ss]áng|[Cc]hiều|[Tt]ối|[Tt]rưa|[Đđ]êm)\s+(?:ngày\s+)?\d{1,2}/\d{1,2}(?:/\d{4})?"
    r"|[Nn]gày\s+\d{1,2}(?:/\d{1,2}(?:/\d{4})?|\s+tháng\s+\d{1,2}(?:\s+năm\s+\d{4})?)"
    r"|\d{1,2}/\d{1,2}/\d{4}|[Tt]háng\s+\d{1,2}(?:/\d{4}|\s+năm\s+\d{4})?|[Nn]ăm\s+\d{4})"
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# Capitalised words that never occur in Vietnamese personal names (organisations, titles,
# sentence openers). Surnames and given names such as "Quốc", "Trung", "Nam" are absent.
_ROLE_WORDS = frozenset(
    search_key(w)
    for w in [
        "Ban",
        "Tỉnh",
        "Huyện",
        "Quận",
        "Xã",
        "Phường",
        "Đảng",
        "Ủy",
        "Uỷ",
        "UBND",
        "HĐND",
        "MTTQ",
        "QCDC",
        "BCĐ",
        "Trưởng",
        "Phó",
        "Bí",
        "Chủ",
        "Tịch",
        "Ông",
        "Bà",
        "Theo",
        "Tại",
        "Trong",
        "Ngày",
        "Sáng",
        "Chiều",
        "Tối",
        "Hội",
        "Nghị",
        "Mặt",
        "Trận",
        "Sở",
        "Cụm",
        "Phòng",
        "Bộ",
        "Cục",
        "Vụ",
        "Viện",
        "Đoàn",
        "Chi",
        "Khối",
        "Kế",
        "Hoạch",
        "Thông",
        "Báo",
        "Các",
        "Những",
        "Năm",
        "Tháng",
        "Qua",
        "Với",
        "Để",
        "Về",
        "Từ",
        "Khi",
        "Sau",
        "Đó",
    ]
)


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
            article_terms = _article_terms(q.accented, hit.title + "\n" + text)
            place_score = sum(
                w for t, w in weights.items() if t in q.place_terms and t in article_terms
            )
            spans = _sentences(text, c.start, c.end)
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
                if i > 0 and _anaphoric(sent):
                    # "Họ ...", "Công ty này ...": the previous sentence says who/what
                    inherited = lexical[i - 1][1] - covered
                    score += ANAPHORA * sum(weights[t] for t in inherited) / total
                in_title = {t for t in sentence_terms if t not in present and t in title_terms}
                score += (0.5 * sum(weights[t] for t in in_title) + place_score) / total
                if _has_kind(q.kind, sent):
                    score += 0.1
                if q.kind == "how_many":
                    score += COUNT_BONUS * _count_match(q, sent)
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
    ) -> Answer:
        t0 = time.perf_counter()
        query = standalone_query or question
        q = analyze(query)
        cands = self.candidates(q, retrieved, texts)
        best = cands[0] if cands else None
        if q.published and retrieved:
            return self._published(question, query, retrieved, texts, t0)
        missing = _missing_constraints(q, best, texts, self.idf) if best else []
        if (
            best is not None
            and q.kind == "how_many"
            and not missing
            and _count_match(q, best.text) == 0
            and not _any_quantity(q, best.text)
        ):
            missing = ["số liệu về " + _in_question(q, q.focus or q.terms[:3])]
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
        key = key_phrase(q, best.text)
        lead_n = chosen.index(best) + 1
        if key and search_key(key) != search_key(best.text):
            parts.insert(0, _cite(_capitalize(key), lead_n))
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
        date = _format_date(hit.date)
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
            date = _format_date(h.date) if h.date and not h.date.startswith("--") else None
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
    """A quoted sentence as shown in the answer text (the citation keeps it verbatim)."""
    return _SOURCE_MARKS.sub("", sentence)


def _cite(sentence: str, n: int) -> str:
    s = sentence.rstrip()
    m = re.search(r"[.!?…]+[\"'”’»)]*$", s)
    if m:
        return f"{s[: m.start()]} [{n}]{s[m.start() :]}"
    return f"{s} [{n}]."


_ANAPHORIC_START = re.compile(
    r"^\W*(?:họ|ông|bà|anh|cô|nó|chúng|hắn|ông ta|bà ta|anh ta|cô ta)\b", re.IGNORECASE
)
_DEMONSTRATIVE = re.compile(r"\b(?:này|đó|ấy|trên|nói trên)\b", re.IGNORECASE)


def _anaphoric(sentence: str) -> bool:
    """Does the sentence open by pointing back ("Họ ...", "Chính quyền này ...")?"""
    if _ANAPHORIC_START.match(sentence):
        return True
    head = " ".join(sentence.split()[:5])
    return bool(_DEMONSTRATIVE.search(head))


_TIME_UNITS = frozenset(["năm", "tháng", "ngày", "tuần", "giờ", "phút", "giây", "thế", "kỷ"])
_DOC_NUMBER = re.compile(
    r"(?:quyết định|nghị quyết|nghị định|chỉ thị|kết luận|thông tư|công văn|số|điều|khoản)\s*$",
    re.IGNORECASE,
)


_INITIAL = re.compile(r"(?:^|[\s(])[A-Z]\.$")  # ASCII only: "Ý." (Italy), "Á." are words


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans of a chunk, with a name's initials kept inside its sentence: the
    chunker splits "Michael E. Mann" after "E."; an answer must not end there."""
    out: list[tuple[int, int]] = []
    for a, b in split_sentences(text, start, end):
        if out and _INITIAL.search(text[out[-1][0] : out[-1][1]]):
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _any_quantity(q: Question, sentence: str) -> bool:
    """Does ``sentence`` state a quantity at all: a number that is not one the question
    states, not a year or date, not a document number ("quyết định 2898") and not a
    duration ("3 năm") unless the question asks about time ("bao lâu")?"""
    asked = _asked_numbers(q)
    wants_time = bool(set(q.focus) & _TIME_UNITS) or "bao lâu" in search_key(q.text)
    for m in list(_NUM.finditer(sentence)) + list(_NUM_WORDS.finditer(sentence)):
        num = m.group(0).strip()
        if num in asked or re.fullmatch(r"(?:19|20)\d\d", num) or "/" in num:
            continue
        if _DOC_NUMBER.search(sentence[: m.start()]):
            continue
        nxt = sentence[m.end() :].split()[:1]
        if nxt and search_key(nxt[0]) in _TIME_UNITS and not wants_time:
            continue
        return True
    return False


def _asked_numbers(q: Question) -> frozenset[str]:
    return frozenset(re.findall(r"\d+(?:[.,]\d+)*", q.text))


def _capitalize(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


def _has_kind(kind: str, sentence: str) -> bool:
    if kind == "how_many":
        return bool(re.search(r"\d", sentence))
    if kind == "when":
        return bool(_DATE.search(sentence))
    if kind == "who":
        return bool(person_names(sentence))
    if kind == "where":
        return bool(extract_places(sentence))
    return False


@dataclass(frozen=True)
class NameSpan:
    start: int
    end: int
    text: str


def find_names(text: str) -> list[NameSpan]:
    """Runs of 2-4 capitalised words separated by single spaces ("Trương Quốc Lâm")."""
    out: list[NameSpan] = []
    run: list[re.Match[str]] = []

    def flush() -> None:
        if 2 <= len(run) <= 4:
            out.append(
                NameSpan(run[0].start(), run[-1].end(), text[run[0].start() : run[-1].end()])
            )
        run.clear()

    for m in _WORD.finditer(text):
        w = m.group(0)
        if w[0].isupper() and (not run or text[run[-1].end() : m.start()] == " "):
            run.append(m)
        else:
            flush()
            if w[0].isupper():
                run.append(m)
    flush()
    return out


def person_names(text: str) -> list[NameSpan]:
    return [n for n in find_names(text) if _is_person(n.text)]


def _is_person(name: str) -> bool:
    words = name.split()
    if len(words) < 2 or any(search_key(w) in _ROLE_WORDS for w in words):
        return False
    if search_key(name) in ("việt nam", "trung ương", "trung quốc", "quốc hội"):
        return False
    return not is_place_name(name)


# Bounded: keyed on whole article texts, so an unbounded cache would grow for as long as a
# server runs. 256 articles covers the top-k of many consecutive questions.
@lru_cache(maxsize=256)
def _article_terms(accented: bool, text: str) -> frozenset[str]:
    return frozenset(tokens(text) if accented else ascii_tokens(text))


def _count_match(q: Question, sentence: str) -> float:
    """Share of the counted thing's terms right after a number (1.0: "151 cơ quan ...")."""
    focus = [t for t in q.focus if t not in q.place_terms][:3]
    before_terms = [t for t in q.terms if t not in q.place_terms]
    if not focus and not before_terms:
        return 0.0
    best = 0.0
    numbers = list(_NUM.finditer(sentence))
    if not q.percent:
        numbers += list(_NUM_WORDS.finditer(sentence))
    for m in numbers:
        if q.percent and "%" not in m.group(0):
            continue
        if focus:  # "bao nhiêu cơ quan" -> "151 cơ quan"; "bao nhiêu tuổi" -> "ở tuổi 39"
            after = set(q.analyze_text(" ".join(sentence[m.end() :].split()[:6])))
            near_before = set(q.analyze_text(" ".join(sentence[: m.start()].split()[-3:])))
            share = sum(t in after or t in near_before for t in focus) / len(focus)
        else:  # "tổng vốn đăng ký là bao nhiêu" -> "tổng vốn đăng ký 32.489 tỷ đồng"
            before = set(q.analyze_text(" ".join(sentence[: m.start()].split()[-8:])))
            share = min(1.0, 2 * sum(t in before for t in before_terms) / len(before_terms))
        best = max(best, share)
    if q.percent and "%" in sentence:
        best = max(best, 0.5)
    return best


@lru_cache(maxsize=256)
def _article_facts(text: str) -> tuple[str, str, frozenset[str]]:
    return (
        search_key(text),
        strip_diacritics(text),
        frozenset(place_key(p) for p in extract_places(text)),
    )


def _format_date(iso: str) -> str:
    parts = iso.lstrip("-").split("-")
    if iso.startswith("--") and len(parts) == 2:
        return f"ngày {int(parts[1])}/{int(parts[0])} (không rõ năm)"
    if len(parts) == 3:
        return f"ngày {int(parts[2]):02d}/{int(parts[1]):02d}/{parts[0]}"
    if len(parts) == 2:
        return f"tháng {int(parts[1])}/{parts[0]}"
    return f"năm {parts[0]}"


def _missing_constraints(
    q: Question, best: Candidate, texts: Mapping[str, str], idf: Callable[[str], float]
) -> list[str]:
    """What the question names that the evidence's article lacks: a year (when the article
    states other years), a number, a place, or a concept: two adjacent content syllables
    ("chăn nuôi", "cà phê") both absent from the article, one of them absent from the whole
    index and both rare (idf at least 60% of an unseen word's), so generic verbs such as
    "triển khai" and paraphrases of words the corpus does use do not count."""
    idf_max = idf("\x00unseen\x00")
    article = texts.get(best.hit.chunk.article_id, "")
    keyed, plain, places = _article_facts(f"{best.hit.title}\n{best.hit.date or ''}\n{article}")
    present = _article_terms(q.accented, f"{best.hit.title}\n{article}")
    missing = [
        _in_question(q, (a, b))
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
        if k not in places and k not in keyed and strip_diacritics(k) not in plain:
            missing.append(p)
    return missing


def _in_question(q: Question, toks: Sequence[str]) -> str:
    """The question's own words for these tokens, as the user wrote them ("Sơn La", not
    "sơn la"): the shortest span of the question covering them in order, else the tokens."""
    words = list(re.finditer(r"\S+", q.text))
    keys = [q.analyze_text(w.group(0)) for w in words]
    wanted = list(toks)
    best: tuple[int, int] | None = None
    for i in range(len(words)):
        rest = list(wanted)
        for j in range(i, len(words)):
            while rest and rest[0] in keys[j]:
                rest.pop(0)
            if not rest:
                if best is None or j - i < best[1] - best[0]:
                    best = (i, j)
                break
    if best is None:
        return " ".join(wanted)
    span = q.text[words[best[0]].start() : words[best[1]].end()]
    return span.strip(" ,.;:?!\"'“”()")


def key_phrase(q: Question, sentence: str) -> str | None:
    """The phrase of ``sentence`` that answers a who/when/where/how-many question."""
    if q.kind == "how_many":
        return _count_phrase(q, sentence)
    if q.kind == "when":
        m = _DATE.search(sentence)
        return m.group(0) if m else None
    if q.kind == "who":
        asked = set(q.terms)  # a name the question already contains is not the answer
        names = [n for n in person_names(sentence) if not set(q.analyze_text(n.text)) <= asked]
        return _nearest(q, sentence, names)
    if q.kind == "where":
        places = extract_places(sentence)
        return places[0] if places else None
    return None


def _nearest(q: Question, sentence: str, names: list[NameSpan]) -> str | None:
    if not names:
        return None
    keyed = search_key(sentence)
    anchors = [m.start() for t in q.focus or q.terms for m in re.finditer(re.escape(t), keyed)]
    if not anchors:
        return names[0].text
    return min(names, key=lambda n: min(abs(n.start - a) for a in anchors)).text


def _count_phrase(q: Question, sentence: str) -> str | None:
    """'... kiểm tra tại 151 cơ quan, đơn vị, doanh nghiệp, trong đó ...' -> '151 cơ quan, ...'."""
    best, best_score = None, -1.0
    focus = set(q.focus) or set(q.terms)
    asked = _asked_numbers(q)
    for m in _NUM.finditer(sentence):
        num = m.group(0).strip()
        if num in asked or (q.percent and "%" not in num):
            continue
        tail = sentence[m.end() :]
        cut = re.search(
            r"(?:;|\.\s|\.$|,\s*(?:trong đó|gồm|với|đạt|chiếm|tăng|giảm)\b|\s-\s|\(|:)", tail
        )
        phrase_tail = tail[: cut.start()] if cut else tail
        words = phrase_tail.split()[:12]
        # end the phrase at the last word the question asks about ("151 cơ quan, đơn vị,
        # doanh nghiệp"), keeping at least the unit right after the number ("410.000 tấn")
        wanted = set(q.asked) or set(q.terms)  # what is counted, not the whole question
        last = 0
        for i, w in enumerate(words):
            if set(q.analyze_text(w)) & wanted:
                last = i
        words = words[: last + 1]
        phrase = (num + " " + " ".join(words)).strip().rstrip(",;:")
        after = set(q.analyze_text(" ".join(words)))
        before = set(q.analyze_text(sentence[max(0, m.start() - 60) : m.start()]))
        score = 2 * len(focus & after) + 0.5 * len(set(q.terms) & before)
        if score > best_score:
            best, best_score = phrase, score
    return best
