"""Facts a trainer wants from a sentence: the figures it states and the date it is about.

Pure functions over Vietnamese text, no model.

>>> [(f.value, f.what) for f in find_figures(
...     "Năm 2021, Ban Chỉ đạo các huyện đã kiểm tra tại 151 cơ quan, đơn vị, doanh nghiệp, "
...     "trong đó có 65 xã, thị trấn.")]
[('151', 'cơ quan, đơn vị, doanh nghiệp'), ('65', 'xã, thị trấn')]
>>> find_date("Sáng ngày 30/12, Ban Chỉ đạo tổ chức hội nghị.", article_date="2021-12-31")
('2021-12-30', '30/12/2021')
>>> find_date("Năm 2021, các cấp ủy tiếp tục quan tâm.")
('2021', '2021')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUM = re.compile(r"(?<![\w.,/:-])\d+(?:[.,]\d+)*(?:/\d+(?:[.,]\d+)*)?(?:\s*%)?(?![\w/])")
_UNITS = (
    "tỷ đồng",
    "tỉ đồng",
    "triệu đồng",
    "nghìn đồng",
    "ngàn đồng",
    "đồng",
    "ha",
    "km",
    "tấn",
    "m2",
    "m²",
)
# a figure right after one of these is a name or a reference, not a quantity
_NOT_AFTER = {
    "số",
    "quận",
    "cụm",
    "đợt",
    "khu",
    "tổ",
    "ấp",
    "thôn",
    "bản",
    "điều",
    "khoản",
    "mục",
    "lần",
    "thứ",
    "khóa",
    "khoá",
    "kỳ",
    "quyết định",
    "chỉ thị",
    "nghị quyết",
    "nghị định",
    "kết luận",
    "thông tư",
    "kế hoạch",
    "quy định",
    "hướng dẫn",
    "công văn",
    "luật",
    "ngày",
    "sáng",
    "chiều",
    "tối",
    "trưa",
    "đêm",
    "hôm",
    "tháng",
    "năm",
    "quý",
    "giai đoạn",
    "pháp lệnh",
    "chương trình",
    "đề án",
    "cụm thi đua",
    "phường",
    "xã",
}
# the counted phrase ends before these (a new clause starts)
_CLAUSE = re.compile(
    r"[,;]?\s+(?:trong đó|trong|đạt|chiếm|tăng|giảm|so với|với|bằng|gồm|là|được|đã|sẽ|để|"
    r"nhằm|của|cho|tại|ở|và|từ|đến|theo|thuộc|góp|có)\s"
)
_STOP_CHARS = re.compile(r"[;:.()!?\"“”\[\]]")


@dataclass(frozen=True)
class Figure:
    value: str
    what: str
    start: int  # offsets in the sentence
    end: int


def _words_before(text: str, limit: int) -> str:
    """The words of the clause just before a number ("đạt tỷ lệ 96%" -> "tỷ lệ")."""
    seg = re.split(r"[;:()!?\"“”]|[,.](?=\s|$)", text)[-1]
    seg = re.split(r"\d", seg)[-1]  # nothing from before an earlier number
    parts = [p for p in _CLAUSE.split(" " + seg + " ") if p.strip()]
    seg = parts[-1] if parts else ""
    return " ".join(seg.split()[-limit:]).strip(" ,-–")


def _what_after(text: str) -> str:
    m = _STOP_CHARS.search(text)
    seg = text[: m.start()] if m else text
    c = _CLAUSE.search(" " + seg + " ")
    if c:
        seg = (" " + seg)[: c.start()]
    nxt = re.search(r"\d", seg)
    if nxt:
        seg = seg[: nxt.start()]
    words = seg.strip(" ,").split()[:8]
    what = " ".join(words).strip(" ,-–")
    return what if what[:1].isalpha() else ""


def _is_excluded(sentence: str, m: re.Match[str]) -> bool:
    value = m.group(0)
    digits = value.rstrip("% ")
    before = sentence[: m.start()].rstrip().lower()
    after = sentence[m.end() :]
    if re.fullmatch(r"(19|20)\d\d", digits):  # a year
        return True
    if re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{4}", digits) or re.fullmatch(
        r"\d{1,2}/\d{1,2}(/\d{4})?", digits
    ):
        # a date (2.12.2013, 30/12, 16/7/2010) unless it is a fraction like 196/204
        parts = re.split(r"[./]", digits)
        if int(parts[0]) <= 31 and int(parts[1]) <= 12:
            return True
    if after[:1] in ("/", "-", ":"):  # 22/2013/QĐ-TTg, 10:50
        return True
    if any(before.endswith(w) for w in _NOT_AFTER):
        return True
    prev = sentence[: m.start()].split()[-1:] or [""]
    if len(prev[0]) >= 2 and prev[0].isupper():  # "BCĐ 68", "QĐ 22": a name
        return True
    if "%" not in value and "/" not in value:
        plain = digits.replace(".", "").replace(",", "")
        if plain.isdigit() and int(plain) < 10 and "," not in digits:
            return True  # small counts ("2 lần", "3 năm") are rarely key figures
    return False


def find_figures(sentence: str) -> list[Figure]:
    """The quantities a sentence states, each with what it counts."""
    out = []
    for m in _NUM.finditer(sentence):
        if _is_excluded(sentence, m):
            continue
        value = re.sub(r"\s+%", "%", m.group(0))
        end = m.end()
        rest = sentence[end:]
        for unit in _UNITS:
            if re.match(rf"\s+{re.escape(unit)}(?!\w)", rest, re.IGNORECASE):
                value += " " + unit
                end += len(re.match(rf"\s+{re.escape(unit)}", rest, re.IGNORECASE).group(0))  # type: ignore[union-attr]
                break
        if "%" in value:
            what = _words_before(sentence[: m.start()], 8)
        else:
            what = _what_after(sentence[end:])
            if not what:
                what = _words_before(sentence[: m.start()], 8)
        if what:
            out.append(Figure(value, what, m.start(), end))
    return out


# ------------------------------------------------------------------------------ dates

_D = r"(\d{1,2})"
_Y = r"(\d{4})"
_DATE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("dmy", re.compile(rf"(?<![\d/]){_D}/{_D}/{_Y}(?!\d)")),
    ("dmy", re.compile(rf"ngày\s+{_D}\s+tháng\s+{_D}\s+năm\s+{_Y}", re.IGNORECASE)),
    (
        "dm",
        re.compile(
            rf"(?:ngày|sáng|chiều|tối|trưa|đêm|hôm)\s+(?:ngày\s+)?{_D}/{_D}(?![/\d])",
            re.IGNORECASE,
        ),
    ),
    ("dm", re.compile(rf"ngày\s+{_D}\s+tháng\s+{_D}(?!\s*(?:năm|/)\s*\d)", re.IGNORECASE)),
    ("my", re.compile(rf"tháng\s+{_D}(?:/|\s+năm\s+){_Y}", re.IGNORECASE)),
    ("y", re.compile(rf"năm\s+{_Y}(?!\d)", re.IGNORECASE)),
]


def _valid(y: int, m: int = 1, d: int = 1) -> bool:
    return 1945 <= y <= 2100 and 1 <= m <= 12 and 1 <= d <= 31


def find_date(sentence: str, *, article_date: str | None = None) -> tuple[str, str] | None:
    """(ISO date, label) of the first date the sentence names, or None.

    A day and month without a year ("Sáng 30/12") take the year of the article's date; if
    that would put them after the article was published (by more than a month), the year
    before.
    """
    found: list[tuple[int, str, re.Match[str]]] = []
    for kind, pat in _DATE_PATTERNS:
        for m in pat.finditer(sentence):
            found.append((m.start(), kind, m))
    order = {"dmy": 0, "dm": 1, "my": 2, "y": 3}
    for _, kind, m in sorted(found, key=lambda f: (f[0], order[f[1]])):
        if kind == "dmy":
            d, mo, y = (int(x) for x in m.groups())
            if _valid(y, mo, d):
                return f"{y:04d}-{mo:02d}-{d:02d}", f"{d:02d}/{mo:02d}/{y}"
        elif kind == "dm":
            d, mo = (int(x) for x in m.groups())
            year = _year_for(mo, d, article_date)
            if year is not None and _valid(year, mo, d):
                return f"{year:04d}-{mo:02d}-{d:02d}", f"{d:02d}/{mo:02d}/{year}"
        elif kind == "my":
            mo, y = (int(x) for x in m.groups())
            if _valid(y, mo):
                return f"{y:04d}-{mo:02d}", f"{mo:02d}/{y}"
        else:
            y = int(m.group(1))
            if _valid(y):
                return f"{y:04d}", str(y)
    return None


def _year_for(month: int, day: int, article_date: str | None) -> int | None:
    if not article_date or article_date.startswith("--") or not article_date[:4].isdigit():
        return None
    y = int(article_date[:4])
    parts = article_date.split("-")
    if len(parts) >= 2 and parts[1].isdigit():
        published = int(parts[1]) * 31 + (int(parts[2]) if len(parts) > 2 else 31)
        if month * 31 + day > published + 31:
            return y - 1
    return y


def snippet(sentence: str, start: int, end: int, width: int = 70) -> str:
    """The figure with about ``width`` characters of context on each side, cut at spaces.

    >>> snippet("một hai ba bốn năm sáu bảy", 11, 14, width=6)
    '… ba bốn năm …'
    """
    a = max(0, start - width)
    b = min(len(sentence), end + width)
    if a > 0:
        a = sentence.find(" ", a) + 1 or a
    if b < len(sentence):
        cut = sentence.rfind(" ", end, b)
        b = cut if cut > end else b
    return ("… " if a > 0 else "") + sentence[a:b].strip() + (" …" if b < len(sentence) else "")
