"""What sentences say, for the extractive answerer: numbers, dates, person names, the
key phrase a question asks for, and the facts (years, numbers, places, concepts) an
article mentions.

>>> [n.text for n in person_names("Đồng chí Đặng Thị Hồng Liên dự hội nghị.")]
['Đặng Thị Hồng Liên']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from corpus.chunking import split_sentences
from corpus.places import extract_places, is_place_name
from corpus.text import ascii_tokens, search_key, strip_diacritics, tokens
from rag.answer.question import Question, place_key

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


_ANAPHORIC_START = re.compile(
    r"^\W*(?:họ|ông|bà|anh|cô|nó|chúng|hắn|ông ta|bà ta|anh ta|cô ta)\b", re.IGNORECASE
)


_DEMONSTRATIVE = re.compile(r"\b(?:này|đó|ấy|trên|nói trên)\b", re.IGNORECASE)


def anaphoric(sentence: str) -> bool:
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


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans of a chunk, with a name's initials kept inside its sentence: the
    chunker splits "Michael E. Mann" after "E."; an answer must not end there."""
    out: list[tuple[int, int]] = []
    for a, b in split_sentences(text, start, end):
        if out and _INITIAL.search(text[out[-1][0] : out[-1][1]]):
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def any_quantity(q: Question, sentence: str) -> bool:
    """Does ``sentence`` state a quantity at all: a number that is not one the question
    states, not a year or date, not a document number ("quyết định 2898") and not a
    duration ("3 năm") unless the question asks about time ("bao lâu")?"""
    asked = _asked_numbers(q)
    wants_time = _wants_time(q)
    for m in list(_NUM.finditer(sentence)) + list(_NUM_WORDS.finditer(sentence)):
        if m.group(0).strip() in asked or "/" in m.group(0) or _is_year(m):
            continue  # a number the question states, a date, a year
        if _is_duration(sentence, m) and not wants_time:
            continue
        if _DOC_NUMBER.search(sentence[: m.start()]) or _numbered_name(sentence, m):
            continue
        return True
    return False


_ASKS_TIME = re.compile(
    r"bao lâu|(?:bao nhiêu|mấy|số) (?:năm|tháng|ngày|tuần|giờ|phút|giây|thế kỷ)"
    r"|(?:năm|tháng|ngày|thế kỷ) (?:bao nhiêu|mấy|nào)"
)


def _wants_time(q: Question) -> bool:
    """Does the question ask for a year, a date or a duration ("năm mấy", "bao lâu")?"""
    return bool(set(q.focus) & _TIME_UNITS) or bool(_ASKS_TIME.search(search_key(q.text)))


def _is_year(m: re.Match[str]) -> bool:
    return bool(re.fullmatch(r"(?:19|20)\d\d", m.group(0).strip()))


def _is_duration(sentence: str, m: re.Match[str]) -> bool:
    """The number is followed by a unit of time ("6 tháng")."""
    nxt = sentence[m.end() :].split()[:1]
    return bool(nxt) and search_key(nxt[0]) in _TIME_UNITS


# words after which a number is a quantity, not the end of a name ("có 215", "đến 50.000")
_COUNT_WORDS = frozenset((
    "có", "là", "đạt", "gồm", "được", "với", "tổng", "khoảng", "gần", "hơn", "trên", "dưới",
    "thêm", "còn", "bằng", "chỉ", "mới", "đến", "tới", "lên", "xuống",
))  # fmt: skip


def _numbered_name(sentence: str, m: re.Match[str]) -> bool:
    """A number that ends a name ("Cụm thi đua 3.", "Quận 9,"): nothing counted follows it
    and a capitalized word (not the sentence's first) stands among the 3 words before."""
    if re.match(r"\s*[^\W\d_]", sentence[m.end() :]):
        return False
    before = sentence[: m.start()].split()[-4:]
    window = before[-3:]
    if any(search_key(w).strip(":,") in _COUNT_WORDS for w in window):
        return False  # "... có 215.", "... đông đến 50.000,"
    return any(w[:1].isupper() for w in (window if len(before) > 3 else window[1:]))


# "bao nhiêu (triệu) tấn / ha / USD / km": the sentence must give the unit (or a near one)
_W = r"(?<![^\W\d])(?:{})(?!\w)"  # a whole word, digits allowed before it ("63.021ha")
_HA = "ha|héc-ta|hecta|hécta"
_UNITS = {
    "tấn": _W.format("tấn"), "ha": _W.format(_HA), "héc-ta": _W.format(_HA),
    "hecta": _W.format(_HA), "usd": _W.format("usd|đô la") + r"|\$",
    "km": _W.format("km|ki-lô-mét|cây số|m|mét|dặm"),
}  # fmt: skip
_UNIT_NAMES = {"usd": "USD", "ha": "ha", "km": "km"}
_AREA = re.compile(
    _W.format(_HA + "|m2|km2|mẫu|sào|mét vuông|km vuông|ki-lô-mét vuông|dặm vuông") + "|m²|km²"
)


def unit_missing(q: Question, sentence: str) -> list[str]:
    """What a how-many answer lacks when the question names its unit ("bao nhiêu triệu
    USD") or asks for an area ("diện tích … là bao nhiêu") and ``sentence`` gives neither
    that unit nor an area unit: "… đạt 410.000 tấn" does not answer "bao nhiêu USD"."""
    qk, sk = search_key(q.text), search_key(sentence)
    m = re.search(r"(?:bao nhiêu|mấy)\s+(?:triệu |tỷ |nghìn )?(\w+(?:-\w+)?)", qk)
    if m and m.group(1) in _UNITS and not re.search(_UNITS[m.group(1)], sk):
        return ["số liệu tính bằng " + _UNIT_NAMES.get(m.group(1), m.group(1))]
    share = re.search(r"phần trăm|%|phần|tỷ lệ|tỉ lệ", qk)  # a share of an area, not one
    if "diện tích" in qk and not share and not _AREA.search(sk) and "%" not in sk:
        return ["số liệu về diện tích (ha, m², km²)"]
    return []


def _asked_numbers(q: Question) -> frozenset[str]:
    return frozenset(re.findall(r"\d+(?:[.,]\d+)*", q.text))


def capitalize_first(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


def has_kind(kind: str, sentence: str) -> bool:
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
def article_term_set(accented: bool, text: str) -> frozenset[str]:
    return frozenset(tokens(text) if accented else ascii_tokens(text))


def count_match_score(q: Question, sentence: str, *, counts_only: bool = False) -> float:
    """Share of the counted thing's terms right after a number (1.0: "151 cơ quan ...").
    ``counts_only``: years, dates and durations are not numbers that count anything (the
    "cơ" of "ở cơ sở 6 tháng" is no answer to "bao nhiêu cơ quan")."""
    focus = [t for t in q.focus if t not in q.place_terms][:3]
    before_terms = [t for t in q.terms if t not in q.place_terms]
    if not focus and not before_terms:
        return 0.0
    best = 0.0
    wants_time = counts_only and _wants_time(q)
    numbers = list(_NUM.finditer(sentence))
    if not q.percent:
        numbers += list(_NUM_WORDS.finditer(sentence))
    for m in numbers:
        if q.percent and "%" not in m.group(0):
            continue
        if counts_only and not wants_time and (_is_year(m) or _is_duration(sentence, m)):
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
def article_fact_set(text: str) -> tuple[str, str, frozenset[str]]:
    return (
        search_key(text),
        strip_diacritics(text),
        frozenset(place_key(p) for p in extract_places(text)),
    )


def date_phrase(iso: str) -> str:
    parts = iso.lstrip("-").split("-")
    if iso.startswith("--") and len(parts) == 2:
        return f"ngày {int(parts[1])}/{int(parts[0])} (không rõ năm)"
    if len(parts) == 3:
        return f"ngày {int(parts[2]):02d}/{int(parts[1]):02d}/{parts[0]}"
    if len(parts) == 2:
        return f"tháng {int(parts[1])}/{parts[0]}"
    return f"năm {parts[0]}"


def in_question(q: Question, toks: Sequence[str]) -> str:
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


def with_counted_unit(q: Question, span: str, sentence: str) -> str:
    """A how-many answer span that is the number alone ("151") keeps what is counted, as
    the rules read it in the same sentence ("151 cơ quan, đơn vị, doanh nghiệp")."""
    if q.kind != "how_many" or not _NUM.fullmatch(span.strip()):
        return span
    num = span.strip()
    # the first occurrence of that number, as the reader's span names no offset
    phrase = next((p for n, p, _ in _count_phrases(q, sentence) if n == num), None)
    if phrase is None:
        return span
    # only what the question counts, right after the number: "151 cơ quan, đơn vị, doanh
    # nghiệp" for "bao nhiêu cơ quan, đơn vị, doanh nghiệp", not "136 lần, cùng với …"
    words = phrase[len(num) :].split()
    asked = set(q.asked)
    hits = [i for i, w in enumerate(words) if set(q.analyze_text(w)) & asked]
    if not hits or hits[0] != 0:
        return span
    return " ".join([num, *words[: hits[-1] + 1]]).rstrip(",;:")


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
    best = max(_count_phrases(q, sentence), key=lambda np: np[2], default=None)
    return best[1] if best else None


def _count_phrases(q: Question, sentence: str) -> list[tuple[str, str, float]]:
    """(number, number + what it counts, score) for each number of ``sentence``."""
    out = []
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
        out.append((num, phrase, 2 * len(focus & after) + 0.5 * len(set(q.terms) & before)))
    return out


# -- numbered names and offices the question asks about -------------------------------

_SERIAL = r"(\d{1,3}(?:\s*(?:,|và|;)\s*\d{1,3})*)(?![/.,:]?\d)"
_NOT_SERIAL = frozenset(
    ["tháng", "ngày", "năm", "quý", "tuần", "giờ", "phút", "lần", "thứ", "số", "điều", "khoản"]
)
_OFFICE = re.compile(
    r"(?<!phó )(?<!\w)(tổng bí thư|bí thư|chủ tịch|giám đốc|chánh văn phòng|chánh án|"
    r"viện trưởng|hiệu trưởng|trưởng ban|trưởng(?= bdv)|trưởng phòng|trưởng đoàn|chủ nhiệm)"
    r" ([^\W\d_]+)"
)
_ORGANS = (
    ("ủy ban nhân dân", "ubnd"), ("hội đồng nhân dân", "hđnd"),
    ("mặt trận tổ quốc", "mttq"), ("ủy ban mttq", "mttq"), ("ban dân vận", "bdv"),
)  # fmt: skip


def _organs(key: str) -> str:
    for long, short in _ORGANS:
        key = key.replace(long, short)
    return key.replace("trưởng ban bdv", "trưởng bdv")  # "Trưởng ban Ban Dân vận"


def other_numbered(question: str, article_key: str) -> list[str]:
    """Numbered names in the question ("Cụm thi đua 5") that the article numbers otherwise
    ("cụm thi đua 3", "các quận 2, 7, 9") and never with the question's number.
    ``article_key`` is ``search_key`` text. A name is capitalized ("Cụm", "Quận") past the
    question's first word, so counts and periods ("chỉ có 3", "thế kỷ 20") do not count,
    nor do dates and legal articles ("Tháng 7", "Điều 5")."""
    out: list[str] = []
    pattern = r"(?<!\w)((?:[^\W\d_]+ ){0,2})([^\W\d_]+) " + _SERIAL
    for m in re.finditer(pattern, question):
        names = f"{m.group(1)}{m.group(2)}".split()[1 if m.start() == 0 else 0 :]
        if not any(w[0].isupper() for w in names):  # the first word's capital says nothing
            continue
        word = search_key(names[-1])
        if word in _NOT_SERIAL:
            continue
        seen = {
            n
            for x in re.findall(rf"(?<!\w){re.escape(word)} " + _SERIAL, article_key)
            for n in re.findall(r"\d+", x)
        }
        phrase = search_key(" ".join(names))
        out.extend(
            f"{phrase} {n}" for n in re.findall(r"\d+", m.group(3)) if seen and n not in seen
        )
    return out


def deputy_only(question_key: str, article_key: str) -> list[str]:
    """Offices the question names ("chủ tịch ubnd") that the article gives only as a
    deputy's ("phó chủ tịch ubnd tỉnh"): the article does not say who holds the office."""
    q, a = _organs(question_key), _organs(article_key)
    out: list[str] = []
    for m in _OFFICE.finditer(q):
        phrase = m.group(0)
        where = [x.start() for x in re.finditer(rf"(?<!\w){re.escape(phrase)}(?!\w)", a)]
        if where and all(a[max(0, i - 4) : i] == "phó " for i in where):
            out.append(phrase)
    return out
