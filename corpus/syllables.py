"""How Vietnamese does a piece of text look? A compact syllable validator and a score.

Used to pick the right legacy encoding: decoding bytes with the wrong table gives
tokens such as "D©n", "vaän" or "ViÖt", which are not Vietnamese syllables.

>>> is_syllable("nghiêng"), is_syllable("quyết"), is_syllable("vaän"), is_syllable("hàt")
(True, True, False, False)
>>> vietnamese_score("Ban Dân vận Tỉnh ủy tổ chức hội nghị")
(1.0, 8)
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["is_syllable", "vietnamese_score"]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_TONES = frozenset("\u0300\u0301\u0309\u0303\u0323")
_VOWEL_BASES = frozenset("aeiouy\u0302\u0306\u031b")  # base vowels and shape marks (NFD)
_ONSETS = _words("ngh ng gh nh kh ph th tr ch gi qu b c d đ g h k l m n p r s t v x")

# Main vowel (with its medial glide, if any) -> codas it takes ("" = open syllable).
_RHYMES_SPEC = {
    "a": " c ch i m n ng nh o p t u y",
    "ă": "c m n ng p t",
    "â": "c m n ng p t u y",
    "e": " c m n ng o p t",
    "ê": " ch m n nh p t u",
    "i": " a ch m n nh p t u",
    "iê": "c m n ng p t u",
    "o": " c i m n ng p t",
    "oo": "c ng",
    "ô": " c i m n ng p t",
    "ơ": " i m n p t",
    "u": " a c i m n ng p t y",
    "uô": "c i m n ng t",
    "ư": " a c i m n ng t u",
    "ươ": "c i m n ng p t u",
    "y": " ch n nh p t u",
    "yê": "m n ng t u",
    "oa": " c ch i m n ng nh o p t y",
    "oă": "c m n ng t",
    "oe": " c n o t",
    "uâ": "n ng t y",
    "uê": " ch n nh",
    "uy": " a ch n nh p t u",
    "uyê": "n t",
    "uơ": "",
}
_RHYMES = sorted(
    {vowel + coda for vowel, codas in _RHYMES_SPEC.items() for coda in codas.split(" ")},
    key=len,
    reverse=True,
)
_SYLLABLE_RE = re.compile(
    "(" + "|".join(_ONSETS) + ")?(" + "|".join(_RHYMES) + ")",
)
_STOPS = ("c", "ch", "p", "t")
_FRONT = ("i", "e", "ê", "y")

# Runs of characters that are not ASCII non-letters, whitespace or general punctuation.
_TOKEN_RE = re.compile(r"[^\x00-\x40\x5b-\x60\x7b-\x7f\s\u2010-\u206f]+")


@lru_cache(maxsize=65536)
def is_syllable(word: str) -> bool:
    """Whether a lower-case word is a well-formed Vietnamese syllable (loose rules).

    Onset + rhyme from fixed inventories, at most one tone mark, on a vowel; a syllable
    ending in c/ch/p/t takes only the sắc or nặng tone; k/gh/ngh only before i e ê y.
    """
    decomposed = unicodedata.normalize("NFD", word)
    tone = ""
    kept = []
    for i, ch in enumerate(decomposed):
        if ch in _TONES:
            if tone or i == 0 or decomposed[i - 1] not in _VOWEL_BASES:
                return False
            tone = ch
        else:
            kept.append(ch)
    base = unicodedata.normalize("NFC", "".join(kept))
    match = _SYLLABLE_RE.fullmatch(base)
    if match is None:
        return False
    onset, rhyme = match.group(1) or "", match.group(2)
    if rhyme.endswith(_STOPS) and tone not in ("", "\u0301", "\u0323"):
        return False
    return not (onset in ("k", "gh", "ngh") and not rhyme.startswith(_FRONT))


def vietnamese_score(text: str) -> tuple[float, int]:
    """(share of valid syllables among non-ASCII tokens, number of such tokens).

    Only tokens with a non-ASCII character count: ASCII words read the same in every
    encoding, so they say nothing about which one is right.
    """
    marked = valid = 0
    for token in _TOKEN_RE.findall(text):
        if token.isascii():
            continue
        marked += 1
        if token.isalpha() and is_syllable(token.lower()):
            valid += 1
    return (valid / marked if marked else 0.0), marked
