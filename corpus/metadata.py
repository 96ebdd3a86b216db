"""Article metadata from cleaned text: publication date, source, author, places.

Everything here is a small pure function on strings. Format-level metadata (JSONL
fields, HTML ``<meta>``) always wins over what is inferred from the text.

Dates and source markers as lines are read by ``corpus.stamps``, which cleaning uses too.

>>> extract_source("(Baohatinh.vn) - Trước thực tiễn tình hình ...")
'Baohatinh.vn'
>>> extract_author(["Minh Thư (tổng hợp)", "Các tin khác"])
'Minh Thư'
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from corpus.clean import CleanedDoc, is_navigation
from corpus.places import extract_places, is_place_name
from corpus.stamps import (
    DOMAIN_PATTERN,
    extract_date,
    is_date_line,
    lead_event_date,
    parse_date_field,
    split_source_marker,
)
from corpus.text import nfc, search_key
from corpus.types import DatePrecision, RawDocument

__all__ = [
    "extract_author",
    "extract_places",
    "extract_source",
    "find_publication_date",
]


def find_publication_date(
    cleaned: CleanedDoc, raw: RawDocument
) -> tuple[str, DatePrecision] | None:
    """Publication date, by precedence:

    1. ``raw.date`` (JSONL field, HTML meta);
    2. a date-stamp line removed from the page header, then from the footer
       (an explicit dated header beats an event date in the text);
    3. the event date at the start of a sentence in the first paragraphs
       ("Sáng ngày 30/12, ..." gives ("--12-30", "day_month")).
    """
    found = parse_date_field(raw.date)
    if found:
        return found
    for lines in (cleaned.header_lines, cleaned.footer_lines):
        for line in lines:
            if is_date_line(line):
                got = extract_date(line)
                if got:
                    return got
    return lead_event_date(cleaned.body)


# --------------------------------------------------------------------------- source

_TRAILING_DOMAIN_RE = re.compile(
    rf"\(\s*(?:theo\s+)?({DOMAIN_PATTERN})\s*\)\s*\.?\s*$", re.IGNORECASE
)
_SOURCE_LINE_RE = re.compile(
    r"^\(?\s*(?:nguồn|theo)\s*:?\s+([^()]{2,80}?)\s*\)?\s*\.?$", re.IGNORECASE
)


def _source_from_line(line: str) -> str | None:
    src, _, _ = split_source_marker(line)
    if src:
        return src
    line = line.strip()
    m = _SOURCE_LINE_RE.match(line)
    if m and len(m.group(1).split()) <= 8:
        return m.group(1).strip().rstrip(".")
    m = _TRAILING_DOMAIN_RE.search(line)
    if m:
        return m.group(1)
    return None


def extract_source(text: str, edge_lines: Sequence[str] = ()) -> str | None:
    """The publishing source named by the page: "(Baohatinh.vn) - ..." → "Baohatinh.vn".

    Looks at ``edge_lines`` (lines the cleaner removed from the header and footer, where
    the marker usually ends up), then the start of ``text``, then its last paragraph
    ("Nguồn: Báo Sơn La", "(Theo TTXVN)", "... (dangcongsan.vn)").
    """
    for line in edge_lines:
        src = _source_from_line(line)
        if src:
            return src
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    if not paragraphs:
        return None
    src, _, _ = split_source_marker(paragraphs[0])
    if src:
        return src
    last = paragraphs[-1]
    m = _SOURCE_LINE_RE.match(last)
    if m and len(last.split()) <= 10:
        return m.group(1).strip().rstrip(".")
    m = _TRAILING_DOMAIN_RE.search(last)
    return m.group(1) if m else None


# --------------------------------------------------------------------------- author

_BYLINE_PREFIX = re.compile(
    r"^(?:(?:bài|tin|ảnh|bài\s*(?:và|,)\s*ảnh|tin\s*(?:và|,)\s*ảnh|tác\s+giả|phóng\s+viên)"
    r"\s*:\s*)",
    re.IGNORECASE,
)
_BYLINE_SUFFIX = re.compile(
    r"\s*(?:\([^()]{1,40}\)|[-–—/]\s*[A-ZĐ]{2,8}(?:\s*[A-ZĐ]{2,8})?)\s*\.?$"
)
_NAME_SPLIT = re.compile(r"\s*(?:,|\s[-–—]\s|\svà\s)\s*")
# Capitalised words that start headings and organisation names, never a personal name.
_NOT_NAME_WORDS = (
    "Ban", "Báo", "Tin", "Trang", "Đọc", "Xem", "Chủ", "Thứ", "Tỉnh", "Huyện", "Xã", "Sở",
    "Hội", "Đảng", "Ủy", "Bộ", "Cục", "Phòng", "Đài", "Quận", "Phường", "Chuyên", "Mục",
    "Video", "Ảnh", "Tổng",
)  # fmt: skip
_NOT_NAME_START = frozenset(search_key(w) for w in _NOT_NAME_WORDS)


def _is_name(text: str) -> bool:
    words = text.split()
    if not 2 <= len(words) <= 5:
        return False
    for w in words:
        if not w.isalpha() or not w[0].isupper() or (len(w) > 1 and not w[1:].islower()):
            return False
    return search_key(words[0]) not in _NOT_NAME_START


def _byline(line: str) -> str | None:
    line = nfc(line).strip()
    if not line or is_navigation(line) or is_place_name(line):
        return None
    line = _BYLINE_PREFIX.sub("", line)
    for _ in range(2):
        line = _BYLINE_SUFFIX.sub("", line).strip()
    if _is_name(line):
        return line
    parts = [p for p in _NAME_SPLIT.split(line) if p]
    if 2 <= len(parts) <= 3 and all(_is_name(p) for p in parts):
        return ", ".join(parts)
    return None


def extract_author(
    footer_lines: Sequence[str], body: str = "", header_lines: Sequence[str] = ()
) -> str | None:
    """The byline: the first footer line that is a personal name (2-5 capitalised words,
    no final punctuation), with "(tổng hợp)", "- TTXVN", "Bài, ảnh:" stripped.
    Falls back to the last paragraph of ``body`` and then to ``header_lines``.

    >>> extract_author(["Bùi Hiệp Thọ", "Ý kiến bạn đọc", "Tin khác"])
    'Bùi Hiệp Thọ'
    """
    paragraphs = [p for p in body.split("\n\n") if p.strip()]
    candidates = [*footer_lines, *paragraphs[-1:], *header_lines]
    for line in candidates:
        name = _byline(line)
        if name:
            return name
    return None
