"""Offline support scoring: how well does a passage back up a claim?

Used by the LLM answer post-check (``rag.answer.llm``) and by the evaluation suite's ALCE-style
citation metrics. Lexical, deterministic, no model: a cheap stand-in for an NLI judge that
catches the failures that matter most for citations — a sentence about something the passage
does not mention, and a wrong number.

Definition of ``support_score(claim, passage)``:

1. The claim is cleaned: citation markers (``[1]``, ``[1, 2]``, ``[1-3]``) and a leading
   list marker ("- ", "1. ", "•") are removed.
2. Both sides are tokenised with ``corpus.text.tokens`` (search form: NFC, canonical tone
   marks, lower case; syllables and numbers). Numbers are canonicalised (``_canon_number``):
   separators of thousands groups dropped ("11.562" = "11,562" = "11562"), the decimal
   comma read as a point ("99,54" = "99.54"), leading zeros dropped ("05" = "5").
3. Content tokens are tokens not in ``STOPWORDS`` (function syllables such as "là", "của",
   "đã", "được"; negations and comparatives are content). A claim with no content token
   scores 0.
4. ``U`` = share of the claim's distinct content tokens that occur in the passage.
   ``B`` = share of the claim's distinct *content bigrams* (two adjacent claim tokens, both
   content) that occur adjacently in the passage; ``B = U`` when the claim has none.
   Vietnamese words are mostly two-syllable compounds, so ``B`` checks that the passage
   has the claim's words, not only its syllables ("chủ tịch" is not "chủ trì" + "tịch").
5. Number rule: if any number of the claim is missing from the passage, the score is 0
   (a wrong or invented figure or date is unsupported, however many words match).
6. Name rule: a *name* is a run of two or more capitalised syllables separated only by
   spaces ("Châu Ngọc Tuấn", "Hà Tĩnh", "Ban Dân"); when the run starts the claim, its
   first syllable may be capitalised only because it starts the sentence, so the run
   without it is accepted too. A name is found when its tokens occur contiguously in the
   passage (case-insensitively). ``F`` = share of the claim's names found (1 with none).
7. ``support_score = (U + B) / 2 * F``, in [0, 1].

Known limits (it is lexical): a claim that recombines words of the passage into a false
statement ("X là Trưởng ban" when X is "Phó Trưởng ban" and another person is "Trưởng
ban") scores high; a faithful paraphrase with synonyms scores low. Use an NLI model for
those; this scorer is for fast, offline, explainable checks.

>>> round(support_score("Tỉnh đã hỗ trợ 11.562 trường hợp [1].", "Đã hỗ trợ 11.562 trường hợp."), 2)
0.92
>>> support_score("Tỉnh đã hỗ trợ 11.600 trường hợp.", "Tỉnh đã hỗ trợ 11.562 trường hợp.")
0.0
>>> text = "Mở đầu. Năm 2021 có 300 cán bộ dự tập huấn. Kết thúc."
>>> a, b, s = best_supporting_span("300 cán bộ dự tập huấn năm 2021", text)
>>> text[a:b], round(s, 2)
('Năm 2021 có 300 cán bộ dự tập huấn.', 0.93)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

from corpus.chunking import split_sentences
from corpus.text import nfc, search_key, tokens

# Function syllables that carry no checkable content. Kept small on purpose: content words
# ("dân", "vận", "tỉnh", "năm", numbers) must never be here.
STOPWORDS: frozenset[str] = frozenset(
    [
        "là",
        "của",
        "và",
        "các",
        "những",
        "có",
        "được",
        "bị",
        "trong",
        "với",
        "cho",
        "đã",
        "này",
        "đó",
        "thì",
        "mà",
        "ở",
        "tại",
        "về",
        "theo",
        "để",
        "một",
        "như",
        "khi",
        "từ",
        "đến",
        "cũng",
        "vẫn",
        "sẽ",
        "đang",
        "rằng",
        "nhiều",
        "nên",
        "nhưng",
        "hoặc",
        "hay",
        "nếu",
        "vì",
        "do",
        "bởi",
        "qua",
        "lại",
        "ra",
        "vào",
        "nữa",
        "rất",
        "đều",
        "chỉ",
        "còn",
        "đây",
        "kia",
        "ấy",
        "nào",
        "gì",
        "vậy",
        "thế",
        "nhằm",
        "việc",
        "sự",
        "cuộc",
        "điều",
        "cái",
        "chiếc",
        "bằng",
        "đối",
    ]
)

# SUPPORT_THRESHOLD: a claim counts as supported when support_score >= this value.
# Chosen on the hand-written calibration set in tests/test_support.py (26 supported pairs:
# verbatim, shortened, reordered, LLM-style paraphrases with connectives such as "Theo tài
# liệu, ..."; 26 unsupported: other topic, same topic but other facts, same words but another
# event, wrong number, wrong name or place). Supported pairs score 0.741-1.0, unsupported
# ones 0-0.603, so every threshold in (0.603, 0.741] separates all 52; 0.67 is the middle of
# that gap. Without the bigram and name rules (plain token share) the two groups overlapped
# (wrong-name claims scored up to 0.83). Re-measure after changing STOPWORDS or the scoring.
SUPPORT_THRESHOLD = 0.67

_CITATION_RE = re.compile(r"\[\s*\d+(?:\s*[,;\-–]\s*\d+)*\s*\]")
_LIST_MARKER_RE = re.compile(r"^\s*(?:[-*•+]|\d{1,2}[.)])\s+")
_WORD_RE = re.compile(r"\d+(?:[.,:]\d+)*|[^\W\d_]+", re.UNICODE)  # as corpus.text.tokens


def _canon_number(tok: str) -> str:
    """Canonical form of a number token (see the module docstring)."""
    groups = re.split(r"[.,:]", tok)
    if len(groups) > 1 and ":" in tok:  # a time "7:30" stays as it is (minus leading zeros)
        return ":".join(g.lstrip("0") or "0" for g in groups)
    if len(groups) > 1 and all(len(g) == 3 for g in groups[1:]):
        return (tok.replace(".", "").replace(",", "")).lstrip("0") or "0"
    if len(groups) == 2:
        return (groups[0].lstrip("0") or "0") + "." + groups[1]
    if len(groups) > 2:  # "2.12.2013" (a date written with dots): keep each part
        return ".".join(g.lstrip("0") or "0" for g in groups)
    return tok.lstrip("0") or "0"


def _is_number(tok: str) -> bool:
    return tok[:1].isdigit()


@dataclass(frozen=True)
class _Profile:
    words: frozenset[str]  # canonical tokens (numbers canonicalised)
    bigrams: frozenset[tuple[str, str]]
    joined: str  # " tok1 tok2 ... " for contiguous-name lookups


@dataclass(frozen=True)
class _Claim:
    words: frozenset[str]  # content tokens
    bigrams: frozenset[tuple[str, str]]  # content bigrams
    numbers: frozenset[str]
    names: tuple[tuple[str, ...], ...]  # alternatives per name, each " a b c "


def _canon_tokens(text: str) -> list[str]:
    return [_canon_number(t) if _is_number(t) else t for t in tokens(text)]


def _profile(text: str) -> _Profile:
    toks = _canon_tokens(text)
    return _Profile(frozenset(toks), frozenset(pairwise(toks)), _join(toks))


def _join(toks: list[str]) -> str:
    return " " + " ".join(toks) + " "


def _merge(a: _Profile, b: _Profile) -> _Profile:
    return _Profile(a.words | b.words, a.bigrams | b.bigrams, a.joined + b.joined)


def clean_claim(claim: str) -> str:
    """The claim without citation markers and leading list marker, spaces tidied.

    >>> clean_claim("- Có 300 cán bộ [1][2].")
    'Có 300 cán bộ.'
    """
    text = _LIST_MARKER_RE.sub("", _CITATION_RE.sub(" ", claim))
    return re.sub(r"\s+([,.;:!?…])", r"\1", re.sub(r"\s+", " ", text)).strip()


def _names(claim: str) -> tuple[tuple[str, ...], ...]:
    """Runs of 2+ capitalised syllables, each as its accepted search-form alternatives."""
    text = nfc(claim)
    runs: list[tuple[list[str], bool]] = []  # (search-form tokens, run starts the claim)
    cur: list[str] = []
    cur_first = False
    prev_end = 0
    for i, m in enumerate(_WORD_RE.finditer(text)):
        tok = m.group(0)
        if tok[0].isupper() and cur and not text[prev_end : m.start()].strip():
            cur.append(search_key(tok))
        else:
            runs.append((cur, cur_first))
            cur = [search_key(tok)] if tok[0].isupper() else []
            cur_first = i == 0
        prev_end = m.end()
    runs.append((cur, cur_first))
    out: list[tuple[str, ...]] = []
    for toks, at_start in runs:
        if len(toks) >= 2:
            out.append((_join(toks), _join(toks[1:])) if at_start else (_join(toks),))
    return tuple(out)


def _claim(claim: str) -> _Claim:
    cleaned = clean_claim(claim)
    toks = _canon_tokens(cleaned)
    content = [t for t in toks if t not in STOPWORDS]
    bigrams = frozenset(
        (a, b) for a, b in pairwise(toks) if a not in STOPWORDS and b not in STOPWORDS
    )
    numbers = frozenset(t for t in content if _is_number(t))
    return _Claim(frozenset(content), bigrams, numbers, _names(cleaned))


def _score(claim: _Claim, passage: _Profile) -> float:
    if not claim.words or not claim.numbers <= passage.words:
        return 0.0
    u = len(claim.words & passage.words) / len(claim.words)
    b = len(claim.bigrams & passage.bigrams) / len(claim.bigrams) if claim.bigrams else u
    f = 1.0
    if claim.names:
        found = sum(any(alt in passage.joined for alt in name) for name in claim.names)
        f = found / len(claim.names)
    return (u + b) / 2 * f


def support_score(claim: str, passage: str) -> float:
    """How well ``passage`` supports ``claim``, in [0, 1]; 0 on a missing number.

    See the module docstring for the exact definition.
    """
    return _score(_claim(claim), _profile(passage))


def best_supporting_span(
    claim: str, text: str, start: int = 0, end: int | None = None
) -> tuple[int, int, float]:
    """The sentence, or pair of adjacent sentences, of ``text[start:end]`` that best
    supports ``claim``: ``(span_start, span_end, score)`` with offsets into ``text``.

    Sentences come from ``corpus.chunking.split_sentences``. A pair is chosen only when it
    scores strictly higher than every single sentence; among equal scores the earlier span
    wins. An empty range gives ``(start, start, 0.0)``.
    """
    end = len(text) if end is None else end
    sentences = split_sentences(text, start, end)
    if not sentences:
        return start, start, 0.0
    cp = _claim(claim)
    profiles = [_profile(text[a:b]) for a, b in sentences]
    best = (sentences[0][0], sentences[0][1], -1.0)
    for (a, b), prof in zip(sentences, profiles, strict=True):
        s = _score(cp, prof)
        if s > best[2]:
            best = (a, b, s)
    for i in range(len(sentences) - 1):
        s = _score(cp, _merge(profiles[i], profiles[i + 1]))
        if s > best[2]:
            best = (sentences[i][0], sentences[i + 1][1], s)
    return best
