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

from corpus.errors import EXIT_USAGE, HoidapError
from corpus.places import extract_places
from corpus.text import ascii_tokens, has_diacritics, search_key, strip_diacritics, tokens

# Question phrases by type (accented); longer phrases first within a type, types in
# priority order. Accented questions are matched on their accented form, so "lực nào",
# "trận đấu", "máy" and "khí nào" are not "lúc nào", "đâu", "mấy" and "khi nào";
# unaccented questions ("kiem tra bao nhieu") fall back to the diacritic-free phrases.
_KINDS: list[tuple[str, tuple[str, ...]]] = [
    ("how_many", ("bao nhiêu", "mấy", "số lượng", "tỷ lệ", "tỉ lệ", "bao lâu")),
    (
        "when",
        (
            "khi nào",
            "bao giờ",
            "ngày nào",
            "năm nào",
            "tháng nào",
            "lúc nào",
            "thời gian nào",
            "thời điểm nào",
            "ngày mấy",
            "hôm nào",
            "dịp nào",
            "giai đoạn nào",
            "thời kỳ nào",
            "thời kì nào",
        ),
    ),
    ("who", ("người nào", "đồng chí nào", "ông nào", "bà nào", "ai", "cá nhân nào")),
    (
        "where",
        (
            "ở đâu",
            "tại đâu",
            "nơi nào",
            "địa phương nào",
            "tỉnh nào",
            "huyện nào",
            "xã nào",
            "thành phố nào",
            "quận nào",
            "địa điểm nào",
            "đâu",
        ),
    ),
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
    asked: tuple[str, ...] = ()  # all content terms after the question phrase (focus: 4 first)
    pairs: tuple[tuple[str, str], ...] = ()  # adjacent content tokens ("chăn", "nuôi")
    place_terms: frozenset[str] = frozenset()  # tokens of the places (matched per article)
    percent: bool = False  # asks for a rate ("tỷ lệ", "phần trăm", "%")
    published: bool = False  # "bài viết ... được đăng ngày nào": the publication date

    def analyze_text(self, text: str) -> list[str]:
        """Tokens of ``text`` with this question's analyzer (accented or not)."""
        return tokens(text) if self.accented else ascii_tokens(text)


def _kind(text: str, accented: bool) -> tuple[str, int]:
    """(kind, character index in ``text`` where the question phrase ends, or -1).
    ``text`` is search_key(question) when accented, else its diacritic-free form."""
    padded = f" {text} "
    # "mấy" asks how many, but "ngày mấy" asks when: try when's longer phrases first
    order = [_KINDS[1], _KINDS[0], *_KINDS[2:]]
    for kind, phrases in order:
        for ph in phrases:
            ph = search_key(ph) if accented else strip_diacritics(ph)
            m = re.search(rf"(?<![\w]){re.escape(ph)}(?![\w])", padded)
            if m:
                return kind, m.end() - 1
    return "what", -1


def analyze(question: str) -> Question:
    accented = has_diacritics(question)
    # "question (context from the previous turn)": type and focus come from the question part
    head = question.split(" (", 1)[0]
    plain = strip_diacritics(head)
    keyed = search_key(head) if accented else plain
    kind, end = _kind(keyed, accented)
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
    asked: tuple[str, ...] = ()
    if end >= 0:
        after = analyzer(keyed[end:])
        asked = tuple(t for t in after if t not in stop)
        focus = asked[:4]
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
        asked=asked,
        place_terms=place_terms,
        percent=percent,
        published=published,
    )


def place_key(place: str) -> str:
    """Comparable form of a place name: 'huyện Hàm Thuận Bắc' -> 'hàm thuận bắc'."""
    key = search_key(place)
    return re.sub(r"^(tỉnh|thành phố|tp\.?|huyện|quận|thị xã|xã|phường|thị trấn)\s+", "", key)


class QuestionError(HoidapError, ValueError):
    """The question cannot be asked as given; the message is for the user (Vietnamese)."""

    exit_code = EXIT_USAGE


def validate_question(question: str, limit: int) -> str:
    """The question with its whitespace tidied; QuestionError (a Vietnamese message for
    the user) when it is empty, has no letters or digits, or is longer than ``limit``."""
    q = " ".join((question or "").split())
    if not any(ch.isalnum() for ch in q):
        raise QuestionError(
            "Câu hỏi trống hoặc không có chữ. Hãy nhập một câu hỏi bằng tiếng Việt."
        )
    if len(q) > limit:
        raise QuestionError(
            f"Câu hỏi quá dài ({len(q)} ký tự, tối đa {limit}). Hãy hỏi ngắn gọn hơn."
        )
    return q


# Open questions ask for a list of points; they read more of an article (per_article and k
# of their retrieval, chunks the reader reads), see rag.services.Services.evidence.
OPEN_CHUNKS = 10
OPEN_PER_ARTICLE = 6
_OPEN = re.compile(
    r"\b(?:da lam gi|lam gi|lam nhung gi|nhung gi|nhung (?:viec|cong viec|hoat dong) gi"
    r"|nhu the nao|the nao|ket qua|nhiem vu|giai phap|bien phap|han che|ton tai|kho khan"
    r"|quan diem|tom tat|so sanh|noi dung"
    r"|muc tieu|y nghia|vai tro|cach lam|mo hinh|nhung diem|diem moi|bai hoc)\b"
)
_OPEN_START = re.compile(r"^(?:neu|liet ke|ke ra|trinh bay|tom tat|so sanh|hay cho biet cac)\b")


def is_open_question(question: str, kind: str | None = None) -> bool:
    """Open questions ask for a list of points (actions, results, tasks, limitations…)."""
    plain = strip_diacritics(question)
    kind = analyze(question).kind if kind is None else kind
    if _OPEN_START.search(plain):
        return True
    return kind == "what" and bool(_OPEN.search(plain))
