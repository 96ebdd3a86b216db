"""Vietnamese text utilities: Unicode and tone-mark normalisation, search keys, tokens.

Two forms of text exist in hoidap:

* the **display form** (``clean_display``): NFC, tidy whitespace and punctuation. Articles
  are stored in this form and citation offsets point into it;
* the **search form** (``search_key``): additionally one tone-mark placement per syllable
  ("hoá"/"hóa", "uỷ"/"ủy", "thuỷ"/"thủy" become the same string) and lower case. The BM25
  index and queries both go through it, so a word matches whatever form it was typed in.

>>> search_key("Thuỷ lợi HOÁ")
'thủy lợi hóa'
>>> tokens("Đã hỗ trợ 11.562/11.615 trường hợp, đạt 99,54%")
['đã', 'hỗ', 'trợ', '11.562', '11.615', 'trường', 'hợp', 'đạt', '99,54']
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Combining tone marks (NFD): grave, acute, hook above, tilde, dot below.
_TONES = "\u0300\u0301\u0309\u0303\u0323"
_TONE_SET = frozenset(_TONES)
# Vowels after removing tone marks (NFC, lower case).
_VOWELS = frozenset("aăâeêioôơuưy")
_MODIFIED = frozenset("ăâêôơư")

# A run of letters, each with the combining marks that follow it: a letter with two marks
# ("ạ̀", no precomposed form) must not leave a stray mark outside the syllable.
_SYLLABLE_RE = re.compile(r"(?:[^\W\d_][\u0300-\u036f]*)+", re.UNICODE)
_TOKEN_RE = re.compile(r"\d+(?:[.,:]\d+)*|[^\W\d_]+", re.UNICODE)
_WS_RE = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_CTRL_RE = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufeff\u200c\u200d\u2060]")

_PUNCT_MAP = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u00b4": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u2026": "...",
    }
)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def clean_display(text: str) -> str:
    """Display form: NFC, no control characters, single spaces, trimmed lines.

    Line breaks are kept (paragraph structure matters for cleaning and chunking);
    runs of 3+ blank lines collapse to one blank line.
    """
    # controls first: one between a letter and its combining mark would block NFC
    text = _CTRL_RE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = nfc(text)
    lines = [_WS_RE.sub(" ", line).strip() for line in text.split("\n")]
    out = "\n".join(lines)
    out = re.sub(r"\n{3,}", "\n\n", out)
    # space before , . ; : ! ? is a common scraping artefact ("cấp ủy , chính quyền", "mới .")
    out = re.sub(r" +([,;:!?.])(?=\s|$)", r"\1", out)
    return out.strip()


def _split_tone(syllable: str) -> tuple[str, str]:
    """Return (syllable without tone mark in NFC, tone mark or '')."""
    decomposed = unicodedata.normalize("NFD", syllable)
    tone = ""
    kept = []
    for ch in decomposed:
        if ch in _TONE_SET:
            tone = ch
        else:
            kept.append(ch)
    return unicodedata.normalize("NFC", "".join(kept)), tone


def _tone_position(base: str) -> int | None:
    """Index in ``base`` (toneless, NFC) where the tone mark belongs, or None.

    Traditional placement, the one most Vietnamese news text uses: a vowel with a
    shape mark (ă â ê ô ơ ư) takes it (the last one, for "ươ"); otherwise a closed
    syllable puts it on the last vowel; an open syllable with two vowels on the first
    ("hòa", "thủy", "khỏe", "mùa"), with three on the middle one ("khoái", "khuỷu").
    The onsets "qu" and "gi" are consonants.
    """
    low = base.lower()
    start = 0
    if (low.startswith("qu") and len(low) > 2) or (
        low.startswith("gi") and len(low) > 2 and low[2] in _VOWELS
    ):
        start = 2
    i = start
    while i < len(low) and low[i] not in _VOWELS:
        i += 1
    if i == len(low):
        return None
    j = i
    while j < len(low) and low[j] in _VOWELS:
        j += 1
    cluster = range(i, j)
    modified = [k for k in cluster if low[k] in _MODIFIED]
    if modified:
        return modified[-1]
    closed = j < len(low)
    n = j - i
    if closed or n == 1:
        return j - 1
    if n == 2:
        return i
    return i + 1


@lru_cache(maxsize=65536)  # the syllable vocabulary of Vietnamese is small
def _canonical_syllable(syllable: str) -> str:
    base, tone = _split_tone(syllable)
    if not tone:
        return base
    pos = _tone_position(base)
    if pos is None:
        return nfc(syllable)
    return nfc(base[: pos + 1] + tone + base[pos + 1 :])


def canonical_tones(text: str) -> str:
    """Put every syllable's tone mark in one canonical place (see ``_tone_position``)."""
    return _SYLLABLE_RE.sub(lambda m: _canonical_syllable(m.group(0)), nfc(text))


def search_key(text: str) -> str:
    """Search form: NFC, canonical tone marks, lower case, ASCII quotes/dashes, one space."""
    text = nfc(text).translate(_PUNCT_MAP)
    text = canonical_tones(text).lower()
    return _WS_RE.sub(" ", text.replace("\n", " ")).strip()


def strip_diacritics(text: str) -> str:
    """'Quy chế dân chủ' -> 'quy che dan chu' (for queries typed without diacritics)."""
    return _SYLLABLE_RE.sub(lambda m: _strip_word(m.group(0)), search_key(text))


@lru_cache(maxsize=65536)
def _strip_word(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word)
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return kept.replace("đ", "d").replace("Đ", "D")


def has_diacritics(text: str) -> bool:
    """True if any letter carries a Vietnamese mark (or is đ): 'kiem tra' -> False."""
    return strip_diacritics(text) != search_key(text)


def ascii_tokens(text: str) -> list[str]:
    """``tokens`` with diacritics removed: the key for queries typed without marks."""
    return _TOKEN_RE.findall(strip_diacritics(text))


def tokens(text: str) -> list[str]:
    """Search tokens of ``search_key``: syllables and numbers ("11.562", "99,54").

    "/" and "-" separate tokens ("30/12" -> "30", "12"; "QĐ-TTg" -> "qđ", "ttg").
    """
    return _TOKEN_RE.findall(search_key(text))


def count_tokens(text: str) -> int:
    """Number of syllable/number/punctuation tokens; the unit of chunk sizes."""
    return len(re.findall(r"\w+|[^\w\s]", text, re.UNICODE))
