"""What one line of a scraped news page is: navigation, a menu, a view counter, a photo
credit or caption, the title again, or edge noise (dates, bylines, banners).

The predicates behind ``corpus.clean``; lines are compared in search form
(``corpus.text.search_key``), so case, diacritics and final ":" / "…" do not matter.

>>> is_navigation("Đọc thêm: Sơn La tổ chức hội nghị"), is_navigation("Thông tin về hội nghị")
(True, False)
>>> is_caption_like("Các đại biểu dự hội nghị."), word_count("Sáng 2/3, Ban Dân vận")
(True, 6)
"""

from __future__ import annotations

import re
from functools import lru_cache

from corpus.stamps import is_date_line
from corpus.text import search_key

# --- thresholds (see the docs in each helper) ---
HEADER_SHORT_WORDS = 10  # an unpunctuated line this short in the header/footer is not content
CAPTION_MAX_WORDS = 30  # a photo caption is one sentence of at most this many words
MAX_REPEAT_CHARS = 300  # longer lines are never learnt as boilerplate

# Whole lines that are navigation, compared in search form without final ":" / "…".
_NAV_LINES = frozenset(
    search_key(s)
    for s in (
        "Quay lại", "Trở lại", "Trở về", "Về trang chủ", "Trang chủ", "Tin khác", "Các tin khác",
        "Tin liên quan", "Bài liên quan", "Các bài liên quan", "Tin cùng chuyên mục",
        "Tin mới", "Tin mới nhất", "Tin nổi bật", "Tin đã đưa", "Đọc nhiều", "Xem nhiều",
        "Đọc thêm", "Xem thêm", "Xem tiếp", "Ý kiến bạn đọc", "Ý kiến", "Bình luận",
        "Gửi bình luận", "Viết bình luận", "Tổng lượt bình luận", "refresh", "Thông báo",
        "Tìm kiếm", "Tìm kiếm theo ngày", "In bài", "In trang", "Bản in", "Chia sẻ",
        "Gửi email", "Gửi bài", "Email", "Facebook", "Twitter", "Zalo", "Quảng cáo",
        "Lên đầu trang", "Về đầu trang", "Đầu trang", "Top", "Print", "Share", "Like",
        "Tweet", "Đăng nhập", "Đăng ký", "Liên hệ", "Chuyên mục", "Danh mục", "Menu",
        "Tải về", "Download", "Theo dõi", "Xem tất cả", "Mới nhất", "Video", "Podcast",
        "Emagazine", "Infographic", "Ảnh", "Bản đồ", "Sitemap", "RSS",
    )
)  # fmt: skip
# Navigation lines after which (past the last long paragraph) nothing is article text.
CUT_LINES = frozenset(
    search_key(s)
    for s in (
        "Quay lại", "Trở lại", "Trở về", "Tin khác", "Các tin khác", "Tin liên quan",
        "Bài liên quan", "Các bài liên quan", "Tin cùng chuyên mục", "Tin mới", "Tin mới nhất",
        "Tin đã đưa", "Đọc thêm", "Xem thêm", "Ý kiến bạn đọc", "Bình luận", "Gửi bình luận",
        "Viết bình luận", "Tổng lượt bình luận", "Đọc nhiều", "Xem nhiều",
    )
)  # fmt: skip
# "Chủ đề Chủ trương - Chính sách", "Từ khóa: dân vận", "Đọc thêm: <headline>".
_NAV_PREFIX = re.compile(
    r"^(?:chủ đề|từ khóa|tags?|tin liên quan|bài liên quan|đọc thêm|xem thêm|xem tiếp)\b\s*:?",
    re.IGNORECASE,
)
# Section names that make up site menus ("Tin mới Emagazine Truyền hình Podcast").
_MENU_WORDS = frozenset(
    search_key(s)
    for s in (
        "tin mới", "tin tức", "thời sự", "chính trị", "kinh tế", "xã hội", "văn hóa",
        "thể thao", "giáo dục", "pháp luật", "quốc tế", "sức khỏe", "đời sống", "du lịch",
        "khoa học", "công nghệ", "trang chủ", "liên hệ", "video", "podcast", "emagazine",
        "infographic", "truyền hình", "phát thanh", "ảnh", "multimedia", "media", "rss",
        "đăng nhập", "đăng ký", "tìm kiếm", "quảng cáo", "bạn đọc", "tin ảnh", "longform",
        "megastory", "góc nhìn", "thư viện", "english",
    )
)  # fmt: skip
_COUNTER_RE = re.compile(
    r"^[\W_]*\d[\d.,]*\s*(?:lượt\s+(?:xem|đọc|thích|chia sẻ|bình luận)|views?|likes?|"
    r"comments?|bình luận)?[\W_]*$",
    re.IGNORECASE,
)
_PHOTO_CREDIT_RE = re.compile(
    r"^\(?\s*(?:ảnh|nguồn ảnh|ảnh minh họa|ảnh minh hoạ)\s*:", re.IGNORECASE
)
_SOURCE_LINE_RE = re.compile(r"^\(?\s*(?:nguồn|theo)\s*:?\s+[^()]{2,80}\)?\.?$", re.IGNORECASE)
_WORD_RE = re.compile(r"[^\W_]+")
_LETTER_RE = re.compile(r"[^\W\d_]")
_SENTENCE_END = frozenset(".!?…;:")
_TRAILING_CLOSERS = " \"'”’»)]*"
_INNER_BOUNDARY = re.compile(r"[.!?…]\s+(?=[^\W\d_])")
# ------------------------------------------------------------------ line predicates


def word_count(line: str) -> int:
    return len(_WORD_RE.findall(line))


def has_letters(line: str) -> bool:
    return bool(_LETTER_RE.search(line))


def ends_sentence(line: str) -> bool:
    s = line.rstrip(_TRAILING_CLOSERS)
    return bool(s) and s[-1] in _SENTENCE_END


@lru_cache(maxsize=4096)
def _skey(line: str) -> str:
    """``search_key`` is costly on long lines and each line is tested several times."""
    return search_key(line)


def nav_key(line: str) -> str:
    return _skey(line).strip(" :.…|•-–>»")


def is_navigation(line: str) -> bool:
    """True for a navigation or page-furniture line ("Quay lại", "Tin khác", "Đọc thêm:
    ...", "Chủ đề Chủ trương - Chính sách", a menu of section names)."""
    if len(line) > 300:  # navigation lines are short; skip the costly key
        return False
    key = nav_key(line)
    if key in _NAV_LINES:
        return True
    if _NAV_PREFIX.match(key) and not ends_sentence(line) and word_count(line) <= 25:
        return True
    return _is_menu(key)


def _is_menu(key: str) -> bool:
    """A line made (>= 70% of its words) of at least two section names."""
    if ends_sentence(key):
        return False
    words = _WORD_RE.findall(key)
    if not 2 <= len(words) <= 10:
        return False
    covered, hits, i = 0, 0, 0
    while i < len(words):
        for n in (2, 1):
            if " ".join(words[i : i + n]) in _MENU_WORDS:
                covered, hits, i = covered + n, hits + 1, i + n
                break
        else:
            i += 1
    return hits >= 2 and covered >= 0.7 * len(words)


def is_all_caps(line: str) -> bool:
    letters = _LETTER_RE.findall(line)
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def line_key(line: str) -> str:
    return _skey(line).strip(" :.…|•-–")


def is_noise(line: str, learned: frozenset[str]) -> bool:
    """Noise wherever it appears."""
    return (
        not has_letters(line)
        or bool(_COUNTER_RE.match(line))
        or is_navigation(line)
        or bool(_PHOTO_CREDIT_RE.match(line) and word_count(line) <= 8)
        or (len(line) <= MAX_REPEAT_CHARS and line_key(line) in learned)
    )


def _is_short_unpunctuated(line: str) -> bool:
    return not ends_sentence(line) and word_count(line) <= HEADER_SHORT_WORDS


def is_edge_noise(line: str, learned: frozenset[str], title_key: str) -> bool:
    """Noise at the start or the end of a page (not content there)."""
    return (
        is_noise(line, learned)
        or is_title_repeat(line, title_key)
        or is_date_line(line)
        or _is_short_unpunctuated(line)
        or (is_all_caps(line) and word_count(line) <= HEADER_SHORT_WORDS)
        or bool(_SOURCE_LINE_RE.match(line) and word_count(line) <= 10)
    )


def is_caption_like(line: str, max_words: int = CAPTION_MAX_WORDS) -> bool:
    """One sentence of at most ``max_words`` words, not a list item."""
    s = line.rstrip(_TRAILING_CLOSERS)
    return (
        has_letters(line)
        and word_count(line) <= max_words
        and not _INNER_BOUNDARY.search(s)
        and not (s and s[-1] in ";:")
    )


def is_title_repeat(line: str, title_key: str) -> bool:
    """The title again, possibly with a " - Site name" suffix on one side."""
    if not title_key or len(line) > 2 * len(title_key) + 40:
        return False
    key = line_key(line)
    if key == title_key:
        return True
    short, long_ = sorted((key, title_key), key=len)
    return (
        len(short) >= 20 and long_.startswith(short) and long_[len(short) :][:3] in (" - ", " | ")
    )
