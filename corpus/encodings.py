"""Decode text files of unknown encoding: Unicode, or a legacy Vietnamese encoding.

>>> decode_bytes("Ban Dân vận Tỉnh ủy".encode("utf-8"))
('Ban Dân vận Tỉnh ủy', 'utf-8')
>>> decode_bytes(encode_tcvn3("Ban Dân vận Tỉnh ủy tổ chức hội nghị tổng kết"))
('Ban Dân vận Tỉnh ủy tổ chức hội nghị tổng kết', 'tcvn3')

Detection, in order:

1. nothing but whitespace -> ``DecodeError("empty file")``;
2. a byte-order mark -> UTF-8 ("utf-8-sig") or UTF-16 ("utf-16-le"/"utf-16-be");
3. UTF-16 without a BOM, recognised by NUL bytes in every other position;
4. any other NUL byte, or more than 2% control bytes -> ``DecodeError("binary file")``;
5. valid UTF-8 -> "utf-8";
6. otherwise the first 64 KiB are decoded as UTF-8 with replacement characters,
   TCVN3, VNI and windows-1258 ("cp1258"), and the reading with the largest share
   of valid Vietnamese syllables wins (ties in that order). If none reaches 50%:
   ``DecodeError("not Vietnamese text in any supported encoding (...)")``.

Unicode text (2, 3, 5) can still hold legacy text that was once read as windows-1252
and saved as Unicode ("Ban D©n vËn"): such lines are repaired and the encoding is
named e.g. "utf-8+tcvn3" or "utf-8-sig+vni" (see ``fix_legacy_mojibake``).

Encoding names are Python codec names where Python has one; "tcvn3" and "vni" are
decoded by ``corpus.vnlegacy``. The text returned is NFC (windows-1258 writes tone
marks as combining characters); line breaks are left alone.

Known limit: a short text whose only non-ASCII letters are, say, "ơ" reads as valid
Vietnamese in more than one encoding (VNI "cô" is "cơ", windows-1258 "cô" is "cô");
real documents of a few lines contain enough other letters to decide.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from corpus.errors import HoidapError
from corpus.syllables import vietnamese_score
from corpus.vnlegacy import (
    TCVN3_LOWERCASED,
    VIETNAMESE_LETTERS,
    decode_tcvn3,
    decode_vni,
    encode_cp1258,
    encode_tcvn3,
    encode_vni,
)

__all__ = [
    "NOT_VIETNAMESE",
    "TCVN3_LOWERCASED",
    "VIETNAMESE_LETTERS",
    "DecodeError",
    "decode_bytes",
    "decode_tcvn3",
    "decode_vni",
    "encode_cp1258",
    "encode_tcvn3",
    "encode_vni",
    "fix_legacy_mojibake",
]

NOT_VIETNAMESE = (
    "not Vietnamese text in any supported encoding (utf-8, utf-16, windows-1258, TCVN3, VNI)"
)
_SAMPLE = 64 * 1024
_MIN_SCORE = 0.5
_MAX_CONTROL_SHARE = 0.02
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8", "utf-8-sig"),
    (b"\xff\xfe", "utf-16-le", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be", "utf-16-be"),
)
# Control bytes that never occur in text (tab, LF, VT, FF, CR are fine).
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F])
_TEXT_BYTES = bytes(b for b in range(256) if b not in _CONTROL_BYTES)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


class DecodeError(HoidapError, ValueError):
    """The bytes are not text we can decode; ``reason`` says why, in plain English."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _cp1252_bytes(text: str) -> bytes | None:
    try:
        return text.encode("cp1252")
    except UnicodeEncodeError:
        return None


# Letters that only Unicode-encoded Vietnamese contains: misread legacy bytes never
# produce them, since windows-1252 has none of them.
_UNICODE_ONLY_RE = re.compile(
    "[" + "".join(sorted(c for c in VIETNAMESE_LETTERS if _cp1252_bytes(c) is None)) + "]"
)
_LEGACY: tuple[tuple[str, Callable[[bytes], str]], ...] = (
    ("tcvn3", decode_tcvn3),
    ("vni", decode_vni),
    ("cp1258", lambda b: b.decode("cp1258", errors="replace")),
)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _finish(text: str) -> str:
    text = _nfc(text)
    if not text.strip().lstrip("\ufeff"):
        raise DecodeError("empty file")
    return text


def _control_share(data: bytes) -> float:
    return len(data.translate(None, _TEXT_BYTES)) / max(1, len(data))


def _decode_unicode(data: bytes, codec: str, name: str) -> str:
    text = data.decode(codec, errors="replace")
    if text.count("\ufffd") > max(2, len(text) // 100):
        raise DecodeError(f"not valid {name} text (many undecodable bytes)")
    if len(_CONTROL_RE.findall(text)) > _MAX_CONTROL_SHARE * len(text):
        raise DecodeError("binary file")
    return _finish(text)


def _utf16_without_bom(data: bytes) -> str | None:
    """The UTF-16 byte order when every other byte is mostly NUL, else None."""
    sample = data[: 2 * (min(len(data), _SAMPLE) // 2)]
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd >= 0.2 * pairs and even <= 0.02 * pairs:
        return "utf-16-le"
    if even >= 0.2 * pairs and odd <= 0.02 * pairs:
        return "utf-16-be"
    return None


def fix_legacy_mojibake(text: str) -> tuple[str, str | None]:
    """Repair legacy-encoded text that was misread as windows-1252: (text, encoding).

    Text typed with TCVN3 or VNI fonts often reaches us as Unicode that spells the
    font's bytes ("Ban D\u00a9n v\u00cbn" for "Ban Dân vận"): DOCX and PDF files made
    with .VnTime fonts, or legacy files once opened as windows-1252 and saved as UTF-8.
    Documents can mix both (a Unicode letterhead over a pasted TCVN3 body), so this
    works line by line: lines with letters that only real Unicode Vietnamese has (ư, ơ,
    đ, ạ, ...) are kept; the encoding is chosen on the other lines together, and each
    of them is repaired if that makes it read more like Vietnamese. Returns the text
    and the legacy encoding's name, or the text unchanged and None.

    >>> fix_legacy_mojibake("Ban D\u00a9n v\u00cbn T\u00d8nh \u00f1y")
    ('Ban Dân vận Tỉnh ủy', 'tcvn3')
    """
    if text.isascii():
        return text, None
    lines = text.split("\n")
    suspects = [
        i
        for i, line in enumerate(lines)
        if not line.isascii() and not _UNICODE_ONLY_RE.search(line) and _cp1252_bytes(line)
    ]
    if not suspects:
        return text, None
    sample = "\n".join(lines[i] for i in suspects)[:_SAMPLE]
    score, _ = vietnamese_score(sample)
    if score >= _MIN_SCORE:
        return text, None
    raw = _cp1252_bytes(sample) or b""
    best: tuple[float, str, Callable[[bytes], str]] | None = None
    for name, decode in _LEGACY:
        cand_score, cand_marked = vietnamese_score(_nfc(decode(raw)))
        if cand_score * cand_marked >= 2 and (best is None or cand_score > best[0]):
            best = (cand_score, name, decode)
    if best is None or best[0] < 0.7 or best[0] < score + 0.3:
        return text, None
    decode = best[2]
    for i in suspects:
        fixed = _nfc(decode(_cp1252_bytes(lines[i]) or b""))
        if vietnamese_score(fixed)[0] > vietnamese_score(lines[i])[0]:
            lines[i] = fixed
    return "\n".join(lines), best[1]


def _decode_legacy(data: bytes) -> tuple[str, str]:
    sample = data[:_SAMPLE]
    candidates: list[tuple[str, Callable[[bytes], str]]] = [
        ("utf-8", lambda b: b.decode("utf-8", errors="replace")),
        *_LEGACY,
    ]
    best_name, best_score, marked_by = "", -1.0, {}
    for name, decode in candidates:
        score, marked = vietnamese_score(_nfc(decode(sample)))
        marked_by[name] = marked
        if score > best_score:
            best_name, best_score = name, score
    if best_score < _MIN_SCORE:
        if marked_by["cp1258"] == 0:  # only punctuation depends on the encoding
            best_name = "cp1258"
        else:
            raise DecodeError(NOT_VIETNAMESE)
    decode = dict(candidates)[best_name]
    return _finish(decode(data)), best_name


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode a text file's bytes: (NFC text, encoding name), or raise ``DecodeError``.

    See the module docstring for how the encoding is chosen.
    """
    if not data.strip(b" \t\r\n\v\f"):
        raise DecodeError("empty file")
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            return _repaired(_decode_unicode(data[len(bom) :], codec, name), name)
    utf16 = _utf16_without_bom(data)
    if utf16 is not None:
        return _repaired(_decode_unicode(data[: len(data) // 2 * 2], utf16, utf16), utf16)
    if b"\x00" in data or _control_share(data) > _MAX_CONTROL_SHARE:
        raise DecodeError("binary file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _decode_legacy(data)
    return _repaired(_finish(text), "utf-8")


def _repaired(text: str, encoding: str) -> tuple[str, str]:
    # Notepad and friends saved many TCVN3/VNI files, read as windows-1252, as Unicode.
    repaired, legacy = fix_legacy_mojibake(text)
    return (repaired, f"{encoding}+{legacy}") if legacy else (text, encoding)
