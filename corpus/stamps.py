"""Line-level stamps that cleaning and metadata both read: dates ("Chủ Nhật, ngày 19 tháng 1
năm 2020", "Sáng 21/10") and the source marker opening a lead paragraph ("(Baohatinh.vn) - ").

>>> extract_date("Chủ Nhật, ngày 19 tháng 1 năm 2020")
('2020-01-19', 'day')
>>> extract_date("Sáng 21/10, Ban Dân vận Tỉnh ủy tổ chức hội nghị")
('--10-21', 'day_month')
>>> is_date_line("Cập nhật lúc 10:50 ngày 2/12/2013")
True
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from corpus.text import nfc, search_key
from corpus.types import DatePrecision

__all__ = [
    "extract_date",
    "is_date_line",
    "lead_event_date",
    "parse_date_field",
    "split_source_marker",
]

# ---------------------------------------------------------------------------- dates

_SEP = r"[/.\-]"
_NOT_YEAR_AFTER = r"(?!\d)(?!\s*[/.\-]\s*\d)(?!\s*,?\s*năm\s+\d)"
# Words that announce a day without a year: "Sáng ngày 30/12", "Chiều 1/7", "Thứ Hai, 21/10".
_CUE = (
    r"(?:(?:sáng|chiều|tối|trưa|đêm|khuya|hôm)(?:\s+(?:nay|qua|mai|ngày))?"
    r"|thứ\s+(?:hai|ba|tư|năm|sáu|bảy|[2-7])|chủ\s+nhật|ngày|mùng|mồng)"
)

# (regex, precision, group order: which groups are year, month, day)
_DATE_PATTERNS: tuple[tuple[re.Pattern[str], DatePrecision, tuple[int, int, int]], ...] = (
    # 2020-02-27, 2020/02/27 (also the date part of an ISO timestamp)
    (re.compile(r"(?<![\d.,/-])(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?!\d)"), "day", (1, 3, 4)),
    # 27/02/2020, 27-02-2020, 2.12.2013 (the same separator twice)
    (re.compile(r"(?<![\d.,/-])(\d{1,2})([-/.])(\d{1,2})\2(\d{4})(?!\d)"), "day", (4, 3, 1)),
    # [ngày] 27 tháng 02 [,] năm 2020 ; 27 tháng 02/2020
    (
        re.compile(
            r"(?<![\w])(?:ngày\s+)?(\d{1,2})\s+tháng\s+(\d{1,2})\s*(?:,?\s*năm\s+|[/.\-]\s*)(\d{4})(?!\d)",
            re.IGNORECASE,
        ),
        "day",
        (3, 2, 1),
    ),
    # tháng 3/2021, tháng 3 năm 2021
    (
        re.compile(
            r"(?<![\w])tháng\s+(\d{1,2})\s*(?:[/.\-]\s*|,?\s*năm\s+)(\d{4})(?!\d)",
            re.IGNORECASE,
        ),
        "month",
        (2, 1, 0),
    ),
    # Sáng ngày 30/12 ; Chiều 1/7 ; ngày 30 tháng 12 (no year: day_month)
    (
        re.compile(
            rf"(?<![\w]){_CUE}\s*,?\s+(?:ngày\s+)?(\d{{1,2}})\s*(?:{_SEP}\s*|\s+tháng\s+)"
            rf"(\d{{1,2}}){_NOT_YEAR_AFTER}",
            re.IGNORECASE,
        ),
        "day_month",
        (0, 2, 1),
    ),
)


@dataclass(frozen=True)
class _DateMatch:
    start: int
    end: int
    value: str
    precision: DatePrecision


def _valid(year: int, month: int, day: int) -> bool:
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


def _iter_dates(text: str) -> Iterator[_DateMatch]:
    for pattern, precision, (gy, gm, gd) in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            year = int(m.group(gy)) if gy else 2000  # 2000 is a leap year: 29/02 is valid
            month = int(m.group(gm))
            day = int(m.group(gd)) if gd else 1
            if gy and not 1900 <= year <= 2100:
                continue
            if not _valid(year, month, day):
                continue
            if precision == "day":
                value = f"{year:04d}-{month:02d}-{day:02d}"
            elif precision == "month":
                value = f"{year:04d}-{month:02d}"
            else:
                value = f"--{month:02d}-{day:02d}"
            yield _DateMatch(m.start(), m.end(), value, precision)


def _find_dates(text: str) -> list[_DateMatch]:
    """All valid dates, by position; at one position the longest match wins."""
    found = sorted(_iter_dates(text), key=lambda d: (d.start, -(d.end - d.start)))
    out: list[_DateMatch] = []
    for d in found:
        if out and d.start < out[-1].end:
            continue
        out.append(d)
    return out


def extract_date(text: str) -> tuple[str, DatePrecision] | None:
    """The first date written in ``text``, as (ISO value, precision), or None.

    Day precision gives "YYYY-MM-DD", month "YYYY-MM"; a day and month without a year
    ("Sáng ngày 30/12") give "--MM-DD" with precision "day_month": no year is invented.
    A bare "30/12" without a cue word ("ngày", "sáng", "chiều", a weekday ...) is not taken
    as a date (it is too often a fraction or a document number); neither is a bare year.

    >>> extract_date("2.12.2013 - 10:50")
    ('2013-12-02', 'day')
    >>> extract_date("tháng 3 năm 2021")
    ('2021-03', 'month')
    >>> extract_date("ngày 31/02/2020") is None
    True
    """
    dates = _find_dates(nfc(text))
    if not dates:
        return None
    return dates[0].value, dates[0].precision


_TIME_RE = re.compile(r"\d{1,2}\s*[:h]\s*\d{2}(?:\s*:\s*\d{2})?", re.IGNORECASE)
_DATE_LINE_FILLER = frozenset(
    ("ngày", "cập", "nhật", "đăng", "lúc", "giờ", "gmt", "am", "pm", "cn", "thứ", "hai", "ba",
     "tư", "năm", "sáu", "bảy", "chủ")
)  # fmt: skip


def is_date_line(line: str) -> bool:
    """True for a line that is a date stamp ("Chủ Nhật, ngày 19 tháng 1 năm 2020",
    "• 2.12.2013 - 10:50", "Cập nhật lúc 10:50 ngày 2/12/2013", "Hà Tĩnh, ngày 10 tháng
    3 năm 2021"): a date plus at most three other words."""
    line = nfc(line)
    if len(line) > 100:
        return False
    dates = _find_dates(line)
    if not dates:
        return False
    rest = line
    for d in reversed(dates):
        rest = rest[: d.start] + " " + rest[d.end :]
    rest = _TIME_RE.sub(" ", rest)
    words = [w for w in re.findall(r"[^\W\d_]+", search_key(rest)) if w not in _DATE_LINE_FILLER]
    return len(words) <= 3


_ISO_FIELD = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:[T ].*)?$")


def parse_date_field(value: str | None) -> tuple[str, DatePrecision] | None:
    """A date from a metadata field: ISO ("2020-02-27", "2020-02-27T10:50:00+07:00",
    "2020-02", "2020"), RFC 2822, or anything ``extract_date`` understands."""
    if not value or not value.strip():
        return None
    value = value.strip()
    m = _ISO_FIELD.match(value)
    if m:
        year, month, day = int(m.group(1)), m.group(2), m.group(3)
        if 1900 <= year <= 2100:
            if day and _valid(year, int(month), int(day)):
                return f"{year:04d}-{int(month):02d}-{int(day):02d}", "day"
            if month and not day and 1 <= int(month) <= 12:
                return f"{year:04d}-{int(month):02d}", "month"
            if not month:
                return f"{year:04d}", "year"
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        parsed = None
    if parsed is not None and 1900 <= parsed.year <= 2100:
        return parsed.date().isoformat(), "day"
    return extract_date(value)


_SENTENCE_START = re.compile(r"(?:^|(?<=[.!?…])\s+)")
_EVENT_WINDOW = 30  # an event date must start within this many characters of a sentence
_LEAD_PARAGRAPHS = 3


def lead_event_date(body: str) -> tuple[str, DatePrecision] | None:
    paragraphs = [p for p in body.split("\n\n") if p.strip()][:_LEAD_PARAGRAPHS]
    for para in paragraphs:
        _, _, para = split_source_marker(para)
        for m in _SENTENCE_START.finditer(para):
            window = para[m.end() : m.end() + _EVENT_WINDOW + 40]
            dates = _find_dates(window)
            if dates and dates[0].start <= _EVENT_WINDOW:
                return dates[0].value, dates[0].precision
    return None


# --------------------------------------------------------------------------- source marker

DOMAIN_PATTERN = r"(?:www\.)?[\w-]+(?:\.[\w-]+)*\.[a-z]{2,6}"
_DOMAIN_RE = re.compile(rf"^{DOMAIN_PATTERN}$", re.IGNORECASE)
_ACRONYM_RE = re.compile(r"^[A-ZĐ]{2,8}(?:[-/][A-ZĐ]{2,8})?$")
_MARKER_RE = re.compile(r"^\(\s*([^()\n]{2,60}?)\s*\)\s*([-–—:]\s*)?")


def split_source_marker(line: str) -> tuple[str | None, str, str]:
    """Split a leading source marker off a lead paragraph.

    Returns (source, marker text, rest); (None, "", line) when there is none.
    A marker is a domain in parentheses ("(Baohatinh.vn) - ") or an agency acronym
    followed by a dash ("(TTXVN) - ").

    >>> split_source_marker("(Thanhuytphcm.vn) – Chiều 1/7, tại Quận ủy Quận 9")
    ('Thanhuytphcm.vn', '(Thanhuytphcm.vn) –', 'Chiều 1/7, tại Quận ủy Quận 9')
    """
    m = _MARKER_RE.match(line)
    if m:
        name = m.group(1).strip()
        if _DOMAIN_RE.match(name) or (_ACRONYM_RE.match(name) and m.group(2)):
            return name, m.group(0).strip(), line[m.end() :].strip()
    return None, "", line
