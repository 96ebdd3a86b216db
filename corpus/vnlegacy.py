"""The two legacy Vietnamese font encodings: TCVN3 (ABC) and VNI-Windows.

Both are single-byte "font encodings": the bytes are stored as if they were
windows-1252 text and a special font (.VnTime, VNI-Times, ...) draws Vietnamese
letters at some positions. Python has no codec for either, so the tables live here.

>>> decode_tcvn3(encode_tcvn3("Ban Dân vận Tỉnh ủy"))
'Ban Dân vận Tỉnh ủy'
>>> encode_vni("Việt Nam").decode("cp1252")
'Vieät Nam'
>>> decode_vni(b"Vie\\xe4t Nam \\xd1\\xf1")
'Việt Nam Đđ'

**TCVN3** (TCVN 5712:1993, the "VN3" subset used by the ABC fonts): precomposed
lower-case letters sit in 0xA8–0xAE and 0xB5–0xFE, the seven untoned upper-case
letters Ă Â Ê Ô Ơ Ư Đ in 0xA1–0xA7. Quirks:

* There are no upper-case *toned* letters. Documents typed in TCVN3 write them with the
  lower-case code and switch to an all-caps font (.VnTimeH) to display them, so the
  bytes of "ĐẢNG" are those of "Đảng" with ASCII "NG": ``decode_tcvn3`` gives "ĐảNG"
  and ``encode_tcvn3`` maps every upper-case toned letter (``TCVN3_LOWERCASED``) to its
  lower-case code. That is what the standard does; text is not re-capitalised here.
* The full TCVN 5712 "VN1" level also puts upper-case toned letters at control
  positions (0x01–0x17) and at 0x80–0xA0. ABC-font files use neither (their 0x80–0x9F
  hold windows-1252 punctuation such as “ ” –), so those positions decode as
  windows-1252 here.
* All other bytes decode as windows-1252; its five undefined bytes give U+FFFD.

**VNI-Windows**: an ASCII base letter followed by a mark character that windows-1252
shows as a Latin-1 letter ("Vieät" = "Việt": "ä" is circumflex + dot below), plus a
few letters with a byte of their own (ñ = đ, ô = ơ, ö = ư, æ ó ò í ì = ỉ ĩ ị í ì,
î = ỵ; upper case likewise). A mark byte is really a floating diacritic, so
``decode_vni`` maps each one to its combining marks and lets NFC compose them with the
preceding letter: "a" + "ù" -> "á", "ô" (ơ) + "ù" -> "ớ". A stray mark (one that
follows no vowel) therefore decodes to a combining mark, as the font would draw it.
"""

from __future__ import annotations

import unicodedata

__all__ = [
    "TCVN3_LOWERCASED",
    "VIETNAMESE_LETTERS",
    "decode_tcvn3",
    "decode_vni",
    "encode_cp1258",
    "encode_tcvn3",
    "encode_vni",
]

_TONES = "\u0300\u0301\u0309\u0303\u0323"  # huyền, sắc, hỏi, ngã, nặng


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _all_letters() -> frozenset[str]:
    bases = "aăâeêioôơuưy"
    lower = {_nfc(b + t) for b in bases for t in _TONES} | set("ăâêôơưđ")
    return frozenset(lower | {c.upper() for c in lower})


#: The 134 precomposed Vietnamese letters (lower and upper case, toned or with a
#: shape mark, plus đ/Đ). ASCII letters are not included.
VIETNAMESE_LETTERS: frozenset[str] = _all_letters()

# ---------------------------------------------------------------------------- TCVN3

# First byte of each run of consecutive TCVN3 positions, and the letters there.
_TCVN3_RUNS: dict[int, str] = {
    0xA1: "ĂÂÊÔƠƯĐăâêôơưđ",  # 0xA1-0xAE
    0xB5: "àảãáạ",  # 0xB5-0xB9
    0xBB: "ằẳẵắ",  # 0xBB-0xBE
    0xC6: "ặầẩẫấậè",  # 0xC6-0xCC
    0xCE: "ẻẽéẹềểễếệìỉ",  # 0xCE-0xD8
    0xDC: "ĩíịò",  # 0xDC-0xDF
    0xE1: "ỏõóọồổỗốộờởỡớợù",  # 0xE1-0xEF
    0xF1: "ủũúụừửữứựỳỷỹýỵ",  # 0xF1-0xFE
}


def _cp1252_table() -> list[str]:
    table = [chr(i) for i in range(128)]
    for i in range(128, 256):
        try:
            table.append(bytes([i]).decode("cp1252"))
        except UnicodeDecodeError:
            table.append("\ufffd")
    return table


_CP1252 = _cp1252_table()
_CP1252_BYTE = {ch: i for i, ch in enumerate(_CP1252) if ch != "\ufffd"}


def _tcvn3_tables() -> tuple[dict[int, str], dict[str, int]]:
    decode = {i: ch for i, ch in enumerate(_CP1252) if i >= 128}
    encode: dict[str, int] = {}
    for start, letters in _TCVN3_RUNS.items():
        for offset, letter in enumerate(letters):
            decode[start + offset] = letter
            encode[letter] = start + offset
    for letter in VIETNAMESE_LETTERS - encode.keys():
        encode[letter] = encode[letter.lower()]  # upper-case toned: lower-case code
    for ch, byte in _CP1252_BYTE.items():  # other windows-1252 characters pass through
        if byte >= 128 and decode[byte] == ch:
            encode.setdefault(ch, byte)
    return decode, encode


_TCVN3_DECODE, _TCVN3_ENCODE = _tcvn3_tables()

#: Upper-case letters that TCVN3 cannot store: they encode as, and decode to, lower case.
TCVN3_LOWERCASED: frozenset[str] = frozenset(
    c for c in VIETNAMESE_LETTERS if c.isupper() and _TCVN3_DECODE[_TCVN3_ENCODE[c]] != c
)


def decode_tcvn3(data: bytes) -> str:
    """Decode TCVN3 (ABC) bytes; never raises. Returns NFC text."""
    return _nfc(data.decode("latin-1").translate(_TCVN3_DECODE))


def encode_tcvn3(text: str) -> bytes:
    """Encode text as TCVN3 (ABC); upper-case toned letters get lower-case codes.

    Raises ``ValueError`` for characters TCVN3 cannot represent.
    """
    out = bytearray()
    for ch in _nfc(text):
        if ord(ch) < 128:
            out.append(ord(ch))
        elif ch in _TCVN3_ENCODE:
            out.append(_TCVN3_ENCODE[ch])
        else:
            raise ValueError(f"character {ch!r} cannot be encoded in TCVN3")
    return bytes(out)


# ------------------------------------------------------------------------------ VNI

# Mark bytes (as their windows-1252 characters) -> combining marks they draw.
_VNI_MARKS = {
    "ù": "\u0301",  # sắc
    "ø": "\u0300",  # huyền
    "û": "\u0309",  # hỏi
    "õ": "\u0303",  # ngã
    "ï": "\u0323",  # nặng
    "â": "\u0302",  # circumflex (â ê ô)
    "á": "\u0302\u0301",
    "à": "\u0302\u0300",
    "å": "\u0302\u0309",
    "ã": "\u0302\u0303",
    "ä": "\u0302\u0323",
    "ê": "\u0306",  # breve (ă)
    "é": "\u0306\u0301",
    "è": "\u0306\u0300",
    "ú": "\u0306\u0309",
    "ü": "\u0306\u0303",
    "ë": "\u0306\u0323",
}
# Letters with a byte of their own.
_VNI_LETTERS = {
    "ñ": "đ",
    "ô": "ơ",
    "ö": "ư",
    "í": "í",
    "ì": "ì",
    "æ": "ỉ",
    "ó": "ĩ",
    "ò": "ị",
    "î": "ỵ",
}
_VNI_TONE_MARK = {t: m for m, t in _VNI_MARKS.items() if len(t) == 1 and t in _TONES}


def _vni_tables() -> tuple[dict[int, str], dict[str, str]]:
    decode: dict[int, str] = {}
    for i, ch in enumerate(_CP1252):
        if i >= 128:
            decode[i] = ch
    pieces = {**_VNI_MARKS, **_VNI_LETTERS}
    for ch, repl in pieces.items():
        decode[_CP1252_BYTE[ch]] = repl
        decode[_CP1252_BYTE[ch.upper()]] = repl.upper()
    encode: dict[str, str] = {}
    letter_of = {v: k for k, v in _VNI_LETTERS.items()}
    mark_of = {v: k for k, v in _VNI_MARKS.items()}
    for letter in VIETNAMESE_LETTERS:
        low = letter.lower()
        if low in letter_of:
            vni = letter_of[low]
        else:
            parts = unicodedata.normalize("NFD", low)
            base, marks = parts[0], parts[1:]
            tone = "".join(m for m in marks if m in _TONES)
            shape = "".join(m for m in marks if m not in _TONES)
            if shape == "\u031b":  # horn: ơ/ư have their own byte, then a tone mark
                vni = letter_of[_nfc(base + shape)] + (_VNI_TONE_MARK[tone] if tone else "")
            else:
                vni = base + mark_of[shape + tone]
        encode[letter] = vni if letter == low else vni.upper()
    return decode, encode


_VNI_DECODE, _VNI_ENCODE = _vni_tables()
# windows-1252 characters that VNI does not reuse encode as themselves.
_VNI_PASSTHROUGH = frozenset(
    ch for ch, b in _CP1252_BYTE.items() if b >= 128 and _VNI_DECODE[b] == ch
)


def decode_vni(data: bytes) -> str:
    """Decode VNI-Windows bytes; never raises. Returns NFC text."""
    return _nfc(data.decode("latin-1").translate(_VNI_DECODE))


def encode_vni(text: str) -> bytes:
    """Encode text as VNI-Windows. Raises ``ValueError`` for unrepresentable characters."""
    out = []
    for ch in _nfc(text):
        if ord(ch) < 128 or ch in _VNI_PASSTHROUGH:
            out.append(ch)
        elif ch in _VNI_ENCODE:
            out.append(_VNI_ENCODE[ch])
        else:
            raise ValueError(f"character {ch!r} cannot be encoded in VNI")
    return "".join(out).encode("cp1252")


# -------------------------------------------------------------------- windows-1258


def encode_cp1258(text: str) -> bytes:
    """Encode text as windows-1258 the way Windows writes Vietnamese in it.

    The code page has only some precomposed letters (à, â, ơ, ...); any other toned
    letter is written as its untoned form followed by a combining tone mark ("ậ" is
    "â" + U+0323). Raises ``ValueError`` for unrepresentable characters.
    """
    out = []
    for ch in _nfc(text):
        try:
            out.append(ch.encode("cp1258"))
            continue
        except UnicodeEncodeError:
            pass
        decomposed = unicodedata.normalize("NFD", ch)
        base = _nfc("".join(c for c in decomposed if c not in _TONES))
        tones = "".join(c for c in decomposed if c in _TONES)
        try:
            out.append((base + tones).encode("cp1258"))
        except UnicodeEncodeError:
            raise ValueError(f"character {ch!r} cannot be encoded in windows-1258") from None
    return b"".join(out)
