import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corpus.text import (
    canonical_tones,
    clean_display,
    count_tokens,
    nfc,
    search_key,
    strip_diacritics,
    tokens,
)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("hoá", "hóa"),
        ("Hoà bình", "hòa bình"),
        ("uỷ ban", "ủy ban"),
        ("thuỷ lợi", "thủy lợi"),
        ("khoẻ", "khỏe"),
        ("Tỉnh uỷ", "tỉnh ủy"),
        ("QUÝ", "quý"),
    ],
)
def test_tone_placements_are_one_search_key(a, b):
    assert search_key(a) == search_key(b)


def test_nfd_and_nfc_inputs_give_the_same_key():
    word = "Quy chế dân chủ ở cơ sở"
    assert search_key(unicodedata.normalize("NFD", word)) == search_key(word)


@pytest.mark.parametrize(
    "word", ["hoàng", "thuyết", "người", "việt", "giữa", "quyết", "khuỷu", "xoáy", "gìn", "của"]
)
def test_canonical_tones_keep_correct_words(word):
    assert canonical_tones(word) == word


def test_closed_syllable_moves_tone_to_last_vowel():
    # closed syllables take the tone on the last vowel of the nucleus
    assert canonical_tones("hóang") == "hoáng"


def test_tokens_keep_numbers_and_split_codes_and_dates():
    assert tokens("Đã hỗ trợ 11.562 trường hợp, đạt 99,54%") == [
        "đã",
        "hỗ",
        "trợ",
        "11.562",
        "trường",
        "hợp",
        "đạt",
        "99,54",
    ]
    assert tokens("QĐ-TTg ngày 30/12") == ["qđ", "ttg", "ngày", "30", "12"]
    assert tokens("TP.HCM") == ["tp", "hcm"]


def test_strip_diacritics():
    assert strip_diacritics("Kiểm tra bao nhiêu đơn vị") == "kiem tra bao nhieu don vi"


def test_clean_display_tidies_but_keeps_paragraphs():
    raw = "Dòng  một\u00a0 ,  tiếp\r\n\r\n\r\n\r\nĐoạn\u200b hai\ufeff "
    assert clean_display(raw) == "Dòng một, tiếp\n\nĐoạn hai"


def test_count_tokens():
    assert count_tokens("Năm 2021, kiểm tra 151 đơn vị.") == 9  # 7 words + "," + "."


@given(st.text())
def test_normalisers_never_crash_and_are_idempotent(s):
    k = search_key(s)
    assert search_key(k) == k
    assert nfc(clean_display(s)) == clean_display(s)
    assert isinstance(tokens(s), list)
