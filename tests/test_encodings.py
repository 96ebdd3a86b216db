"""Encoding detection and the legacy Vietnamese tables (corpus.encodings, corpus.vnlegacy)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus.encodings import (
    NOT_VIETNAMESE,
    TCVN3_LOWERCASED,
    VIETNAMESE_LETTERS,
    DecodeError,
    decode_bytes,
    decode_tcvn3,
    decode_vni,
    encode_cp1258,
    encode_tcvn3,
    encode_vni,
    fix_legacy_mojibake,
)
from corpus.syllables import is_syllable, vietnamese_score

REPORT = (
    "Ban Dân vận Tỉnh ủy tổ chức hội nghị tổng kết công tác dân vận năm 2021, triển khai "
    "nhiệm vụ năm 2022.\n"
    "Đồng chí Trưởng Ban Dân vận Tỉnh ủy phát biểu chỉ đạo hội nghị. Năm qua, các cấp ủy "
    "đảng, chính quyền, Mặt trận Tổ quốc và các đoàn thể chính trị - xã hội đã thực hiện "
    "tốt Quy chế dân chủ ở cơ sở; 98% khu dân cư đạt danh hiệu văn hóa.\n"
)


def _tcvn3_expected(text: str) -> str:
    return "".join(c.lower() if c in TCVN3_LOWERCASED else c for c in text)


# ------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("encode", "name"),
    [
        (lambda t: t.encode("utf-8"), "utf-8"),
        (lambda t: t.encode("utf-8-sig"), "utf-8-sig"),
        (lambda t: t.encode("utf-16"), "utf-16-le"),  # BOM, native order
        (lambda t: b"\xfe\xff" + t.encode("utf-16-be"), "utf-16-be"),
        (lambda t: t.encode("utf-16-le"), "utf-16-le"),  # no BOM
        (lambda t: t.encode("utf-16-be"), "utf-16-be"),  # no BOM
        (encode_cp1258, "cp1258"),
        (encode_tcvn3, "tcvn3"),
        (encode_vni, "vni"),
    ],
)
def test_decode_bytes_detects_each_encoding(encode, name):
    text, encoding = decode_bytes(encode(REPORT))
    assert encoding == name
    assert text == REPORT


def test_windows_1258_tone_marks_are_composed_to_nfc():
    data = encode_cp1258("Hội nghị tổng kết công tác dân vận")
    assert b"\xf2" in data  # dot below written as a combining mark
    text, _ = decode_bytes(data + b" " + encode_cp1258(REPORT))
    assert text == unicodedata.normalize("NFC", text)
    assert text.startswith("Hội nghị tổng kết")


def test_tcvn3_upper_case_toned_letters_decode_to_lower_case():
    data = encode_tcvn3("ĐẢNG BỘ TỈNH GIA LAI. " + REPORT)
    assert data.startswith(b"\xa7\xb6NG B\xe9 T\xd8NH")
    text, encoding = decode_bytes(data)
    assert encoding == "tcvn3"
    assert text.startswith("ĐảNG Bộ TỉNH GIA LAI.")
    assert len(TCVN3_LOWERCASED) == 60  # 12 vowels x 5 tones; Ă Â Ê Ô Ơ Ư Đ have codes


def test_known_byte_values():
    assert encode_tcvn3("Dân vận đ") == b"D\xa9n v\xcbn \xae"
    assert encode_vni("Việt Nam Đđ") == b"Vie\xe4t Nam \xd1\xf1"
    assert encode_vni("ơ ư ỵ ô") == b"\xf4 \xf6 \xee o\xe2"
    assert decode_vni(b"Vie\xe4t Nam") == "Việt Nam"
    assert decode_tcvn3(b"Ban D\xa9n v\xcbn") == "Ban Dân vận"


def test_all_134_letters_round_trip_through_both_tables():
    letters = sorted(VIETNAMESE_LETTERS)
    assert len(letters) == 134
    for letter in letters:
        assert decode_vni(encode_vni(letter)) == letter
        assert decode_tcvn3(encode_tcvn3(letter)) == _tcvn3_expected(letter)
    lower = [c for c in letters if c.islower()]
    assert len({encode_tcvn3(c) for c in lower}) == len(lower) == 67
    assert len({encode_vni(c) for c in letters}) == 134


def test_unencodable_characters_raise_value_error():
    for encode in (encode_tcvn3, encode_vni, encode_cp1258):
        with pytest.raises(ValueError, match="cannot be encoded"):
            encode("Hà Nội 東京")
    with pytest.raises(ValueError):
        encode_vni("mañana")  # ñ is VNI's đ


@pytest.mark.parametrize("data", [b"", b"   \n\t\r\n", b"\xef\xbb\xbf", "  \n".encode("utf-16")])
def test_empty(data):
    with pytest.raises(DecodeError, match=r"^empty file$"):
        decode_bytes(data)


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"Ban D\xc3\xa2n v\xe1\xba\xadn\x00\x00 more",
        bytes(range(1, 32)) * 10 + b"text",
        b"%PDF-1.4\n\x01\x02\x03\x04\x05\x06\x07\x08" * 20,
    ],
)
def test_binary(data):
    with pytest.raises(DecodeError, match=r"^binary file$"):
        decode_bytes(data)


def test_text_that_is_not_vietnamese_in_a_legacy_encoding():
    data = "Le café résumé était très célèbre à Genève, où l'été dure.".encode("cp1252")
    with pytest.raises(DecodeError) as info:
        decode_bytes(data)
    assert info.value.reason == NOT_VIETNAMESE


def test_utf8_is_accepted_whatever_the_language():
    assert decode_bytes(b"Plain English report, 2021.") == ("Plain English report, 2021.", "utf-8")


def test_only_punctuation_outside_ascii_reads_as_windows_1258():
    text, encoding = decode_bytes("“Dan van” – 2021".encode("cp1252"))
    assert (text, encoding) == ("“Dan van” – 2021", "cp1258")


def test_mostly_utf8_with_a_few_bad_bytes_stays_utf8():
    data = REPORT.encode("utf-8") + b"\xff" + REPORT.encode("utf-8")
    text, encoding = decode_bytes(data)
    assert encoding == "utf-8"
    assert text == REPORT + "\ufffd" + REPORT


def test_legacy_text_misread_as_windows_1252_and_saved_as_utf8_is_repaired():
    for encode, name in ((encode_tcvn3, "tcvn3"), (encode_vni, "vni")):
        mojibake = encode(REPORT).decode("cp1252").encode("utf-8")
        text, encoding = decode_bytes(mojibake)
        assert encoding == f"utf-8+{name}"
        assert text == (_tcvn3_expected(REPORT) if name == "tcvn3" else REPORT)


def test_fix_legacy_mojibake_leaves_good_text_alone():
    for text in (REPORT, "Plain English.", "Le café était célèbre", "Tôi là người Việt"):
        assert fix_legacy_mojibake(text) == (text, None)


# ------------------------------------------------------------------------- syllables


def test_syllable_validator():
    good = [
        "nghiêng",
        "quyết",
        "giữ",
        "gì",
        "khuya",
        "thuở",
        "người",
        "được",
        "Việt",
        "oai",
        "ảnh",
        "kỳ",
        "quỳnh",
    ]
    bad = ["vaän", "ViÖt", "D©n", "hàt", "kê̄", "cea", "ngha", "ghá", "xyz", "ốá"]
    assert all(is_syllable(w.lower()) for w in good)
    assert not any(is_syllable(w.lower()) for w in bad)
    assert vietnamese_score("Ban D©n vËn TØnh ñy") == (0.0, 4)
    assert vietnamese_score("Ban Dân vận Tỉnh ủy, UBND") == (1.0, 4)


# ------------------------------------------------------------------- property tests

# The first onset is "" (a syllable that starts with its vowel).
_ONSETS = ("" + " b c ch d đ g gi h kh l m n ng nh ph qu r s t th tr v x").split(" ")
# "*" marks the vowel that carries the tone.
_RHYMES = [
    "a*",
    "a*n",
    "a*ng",
    "a*nh",
    "a*c",
    "a*t",
    "a*i",
    "a*o",
    "a*u",
    "a*y",
    "ă*n",
    "ă*ng",
    "ă*c",
    "ă*t",
    "â*n",
    "â*ng",
    "â*t",
    "â*u",
    "â*y",
    "e*",
    "e*n",
    "e*m",
    "e*o",
    "ê*",
    "ê*n",
    "ê*nh",
    "ê*ch",
    "ê*u",
    "i*",
    "i*n",
    "i*nh",
    "i*ch",
    "i*t",
    "iê*n",
    "iê*ng",
    "iê*t",
    "iê*u",
    "o*",
    "o*n",
    "o*ng",
    "o*c",
    "o*i",
    "ô*",
    "ô*n",
    "ô*ng",
    "ô*c",
    "ô*i",
    "ơ*",
    "ơ*n",
    "ơ*m",
    "ơ*i",
    "u*",
    "u*n",
    "u*ng",
    "u*c",
    "u*i",
    "uô*n",
    "uô*ng",
    "uô*c",
    "uô*i",
    "ư*",
    "ư*ng",
    "ư*c",
    "ư*a",
    "ươ*ng",
    "ươ*c",
    "ươ*i",
    "o*a",
    "oa*n",
    "oa*ng",
    "oa*t",
    "oa*i",
    "uy*",
    "uyê*n",
    "uyê*t",
    "y*",
]
_TONES = ["", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"]
# Words whose encodings read as nonsense in the other encodings. Texts made only of
# letters such as "ơ" are genuinely ambiguous (VNI "cô" = "cơ", TCVN3 of those bytes
# = "cụ"), so each generated text contains one of these.
_DISTINCTIVE = ["Việt", "được", "người", "những", "đồng", "chức", "thường", "nước"]


@st.composite
def _syllable(draw: st.DrawFn) -> str:
    onset = draw(st.sampled_from(_ONSETS))
    rhyme = draw(st.sampled_from(_RHYMES))
    if (onset == "gi" and rhyme.startswith("i")) or (onset == "qu" and rhyme[0] in "uo"):
        onset = "b"
    stop = rhyme.endswith(("c", "ch", "t", "p"))
    tone = draw(st.sampled_from(["\u0301", "\u0323"] if stop else _TONES))
    word = unicodedata.normalize("NFC", onset + rhyme.replace("*", tone))
    case = draw(st.sampled_from(["lower", "title", "upper"]))
    return {"lower": word, "title": word.capitalize(), "upper": word.upper()}[case]


@st.composite
def _vietnamese_text(draw: st.DrawFn) -> str:
    words = draw(st.lists(_syllable(), min_size=8, max_size=40))
    position = draw(st.integers(0, len(words)))
    words.insert(position, draw(st.sampled_from(_DISTINCTIVE)))
    text = " ".join(words)
    if sum(c.isalpha() for c in text) < 30:
        text += " " + " ".join(_DISTINCTIVE)
    return text


@settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(_vietnamese_text())
def test_legacy_encodings_round_trip(text):
    assert decode_bytes(encode_vni(text)) == (text, "vni")
    assert decode_bytes(encode_tcvn3(text)) == (_tcvn3_expected(text), "tcvn3")


@settings(max_examples=500, deadline=None, database=None)
@given(st.binary(max_size=2000))
def test_decode_bytes_only_raises_decode_error(data):
    try:
        text, encoding = decode_bytes(data)
    except DecodeError as exc:
        assert exc.reason
    else:
        assert text.strip()
        assert text == unicodedata.normalize("NFC", text)
        assert encoding


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(min_size=1, max_size=300))
def test_decode_bytes_on_utf8_of_any_text(text):
    try:
        decoded, encoding = decode_bytes(text.encode("utf-8"))
    except DecodeError:
        return
    if encoding == "utf-8":
        assert decoded == unicodedata.normalize("NFC", text)


def test_mojibake_repair_works_line_by_line_and_after_a_bom():
    legacy = encode_tcvn3("Ban Dân vận Tỉnh ủy tổ chức hội nghị tổng kết").decode("cp1252")
    unicode_line = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
    data = f"{unicode_line}\r\n{legacy}\r\nTôi là ai\r\n".encode("utf-8-sig")
    text, encoding = decode_bytes(data)
    assert encoding == "utf-8-sig+tcvn3"
    assert (
        text == f"{unicode_line}\r\nBan Dân vận Tỉnh ủy tổ chức hội nghị tổng kết\r\nTôi là ai\r\n"
    )
