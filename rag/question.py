"""What a Vietnamese question asks for: its type, content terms and hard constraints.

>>> q = analyze("Năm 2021, Ban Chỉ đạo các huyện đã kiểm tra tại bao nhiêu cơ quan?")
>>> q.kind, q.years, "kiểm" in q.terms
('how_many', ('2021',), True)
>>> analyze("kiem tra bao nhieu don vi").kind
'how_many'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

from corpus.places import extract_places
from rag.text import ascii_tokens, has_diacritics, search_key, strip_diacritics, tokens

# Question phrases by type, in diacritic-free form (matched on strip_diacritics(question));
# longer phrases first. "ai" only counts as a whole word in an accented question.
_KINDS: list[tuple[str, tuple[str, ...]]] = [
    ("how_many", ("bao nhieu", "may ", "so luong", "ty le", "bao lau")),
    (
        "when",
        (
            "khi nao",
            "bao gio",
            "ngay nao",
            "nam nao",
            "thang nao",
            "luc nao",
            "thoi gian nao",
            "thoi diem nao",
            "ngay may",
            "hom nao",
            "dip nao",
            "giai doan nao",
            "thoi ky nao",
        ),
    ),
    (
        "where",
        (
            "o dau",
            "tai dau",
            "noi nao",
            "dia phuong nao",
            "tinh nao",
            "huyen nao",
            "xa nao",
            "thanh pho nao",
            "quan nao",
            "dia diem nao",
            "dau",
        ),
    ),
    ("who", ("nguoi nao", "dong chi nao", "ong nao", "ba nao", "ai", "ca nhan nao")),
]

# Words that carry no content for matching (search-key form). Question words included.
STOPWORDS = frozenset(
    """
    là của và các những có được trong với cho đã này đó thì mà ở tại về theo để một như khi từ
    đến cũng vẫn sẽ đang rằng nhiều bao nhiêu mấy ai gì nào đâu sao không hay hoặc nhưng nên vì
    do bởi nếu thế vậy ra vào lên xuống đi lại còn chỉ rất hơn nhất việc sự cái con người nhằm
    hãy xin cho biết nêu kể gồm ông bà anh chị họ ấy kia nọ đây bao giờ tổng cộng số lượng
    ngày tháng năm bài viết văn giai đoạn đích nay đợt lần loại giữ ngoài điều lâu
    """.split()  # noqa: SIM905 - a word list reads better as text
)
# Without diacritics many function words collide with content words ("vì"/"vị" -> "vi",
# "có"/"cơ" -> "co", "năm"/"nam" -> "nam"), so unaccented questions use only unambiguous ones.
_ASCII_STOP = frozenset(
    """la cua va cac nhung duoc trong voi cho nay thi mot nhu khi cung se dang rang bao nhieu
    may gi nao sao khong hay hoac nen neu vay rat hon nhat viec""".split()  # noqa: SIM905
)
_YEAR = re.compile(r"\b(19\d\d|20\d\d)\b")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class Question:
    text: str
    kind: str  # how_many | when | where | who | what
    accented: bool
    terms: tuple[str, ...]  # content tokens (same analyzer as the matching BM25)
    years: tuple[str, ...]
    numbers: tuple[str, ...]  # numbers other than years
    places: tuple[str, ...]
    focus: tuple[str, ...]  # terms right after "bao nhiêu" etc.: what is being counted/asked
    pairs: tuple[tuple[str, str], ...] = ()  # adjacent content tokens ("chăn", "nuôi")
    place_terms: frozenset[str] = frozenset()  # tokens of the places (matched per article)
    percent: bool = False  # asks for a rate ("tỷ lệ", "phần trăm", "%")
    published: bool = False  # "bài viết ... được đăng ngày nào": the publication date

    def analyze_text(self, text: str) -> list[str]:
        """Tokens of ``text`` with this question's analyzer (accented or not)."""
        return tokens(text) if self.accented else ascii_tokens(text)


def _kind(plain: str) -> tuple[str, int]:
    """(kind, character index in ``plain`` where the question phrase ends, or -1)."""
    padded = f" {plain} "
    for kind, phrases in _KINDS:
        for ph in phrases:
            m = re.search(rf"(?<![a-z0-9]){re.escape(ph.strip())}(?![a-z0-9])", padded)
            if m:
                return kind, m.end() - 1
    return "what", -1


def analyze(question: str) -> Question:
    accented = has_diacritics(question)
    # "question (context from the previous turn)": type and focus come from the question part
    head = question.split(" (", 1)[0]
    plain = strip_diacritics(head)
    kind, end = _kind(plain)
    if kind == "who" and not accented:
        # unaccented "ai" is ambiguous (ái, ải, ...); keep it only as a whole word
        kind = "who" if re.search(r"(?<![a-z])ai(?![a-z])", plain) else "what"
    analyzer = tokens if accented else ascii_tokens
    stop = STOPWORDS if accented else _ASCII_STOP
    toks = analyzer(question)
    terms = tuple(dict.fromkeys(t for t in toks if t not in stop))
    pairs = tuple(
        (a, b)
        for a, b in pairwise(toks)
        if a not in stop and b not in stop and not a.isdigit() and not b.isdigit()
    )
    focus: tuple[str, ...] = ()
    if end >= 0:
        after = analyzer(head[end:]) if accented else ascii_tokens(plain[end:])
        focus = tuple(t for t in after if t not in stop)[:4]
    years = tuple(dict.fromkeys(_YEAR.findall(question)))
    numbers = tuple(
        n for n in dict.fromkeys(_NUMBER.findall(question)) if n not in years and len(n) > 1
    )
    places = extract_places(question) if accented else ()
    place_terms = frozenset(t for p in places for t in analyzer(place_key(p)))
    percent = bool(re.search(r"ty le|phan tram|%", plain))
    published = (
        kind == "when"
        and bool(re.search(r"\b(?:bai viet|bai bao|ban tin|tin bai|bai nay|bai)\b", plain))
        and bool(re.search(r"\b(?:dang|xuat ban|dua tin|phat hanh)\b", plain))
    )
    return Question(
        text=question,
        kind=kind,
        accented=accented,
        terms=terms,
        pairs=pairs,
        years=years,
        numbers=numbers,
        places=places,
        focus=focus,
        place_terms=place_terms,
        percent=percent,
        published=published,
    )


def place_key(place: str) -> str:
    """Comparable form of a place name: 'huyện Hàm Thuận Bắc' -> 'hàm thuận bắc'."""
    key = search_key(place)
    return re.sub(r"^(tỉnh|thành phố|tp\.?|huyện|quận|thị xã|xã|phường|thị trấn)\s+", "", key)
