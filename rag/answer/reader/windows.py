"""Reader inputs: whole-sentence windows of an article, tokenized word by word.

The reader sees ``<s> query: QUESTION </s></s> passage: SENTENCES </s>``, at most
``MAX_TOKENS`` tokens. Passages are cut at sentence boundaries (``corpus.chunking
.split_sentences``), never inside a sentence unless one sentence alone is longer than the
budget, so a quote built from a window is always whole sentences of the article.

Words (white-space separated) are tokenized one at a time; the unigram tokenizer never
joins pieces across a space, so this gives the same tokens as the whole text and an exact
map token -> word -> characters. Answer spans are predicted on words and trimmed of
punctuation at their edges.

>>> words = split_words("Ông Lâm (1906) đến.")
>>> [w.text for w in words]
['Ông', 'Lâm', '(1906)', 'đến.']
>>> trim_span("Ông Lâm (1906) đến.", 8, 14)
(9, 13)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from corpus.chunking import split_sentences

MAX_TOKENS = 256  # question + passage + specials, one forward row
MAX_QUESTION_TOKENS = 48
_WORD = re.compile(r"\S+")
_EDGE_PUNCT = "\"'“”‘’«»()[]{}.,;:!?…-–—"


class Tokenize(Protocol):
    def content_ids(self, texts: Sequence[str]) -> list[list[int]]: ...


@dataclass(frozen=True)
class Word:
    start: int
    end: int
    text: str
    sentence: int  # index into the window's sentence list; -1 for question words


def split_words(
    text: str, start: int = 0, end: int | None = None, sentence: int = -1
) -> list[Word]:
    end = len(text) if end is None else end
    return [
        Word(m.start(), m.end(), m.group(0), sentence) for m in _WORD.finditer(text, start, end)
    ]


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` without punctuation at either edge (unless that leaves nothing)."""
    a, b = start, end
    while a < b and text[a] in _EDGE_PUNCT:
        a += 1
    while b > a and text[b - 1] in _EDGE_PUNCT:
        b -= 1
    return (a, b) if b > a else (start, end)


@dataclass
class Window:
    """One reader row: token ids, and for every passage token its word.

    ``sentences`` are ``(start, end)`` character spans in the article text, in order;
    ``words[k].sentence`` indexes them. ``token_word[t]`` is the word of token ``t`` or -1
    (specials, question, prefixes). ``first``/``last`` mark tokens that start/end a word.
    """

    ids: list[int]
    token_word: list[int]
    words: list[Word]
    sentences: list[tuple[int, int]]
    first: list[bool] = field(default_factory=list)
    last: list[bool] = field(default_factory=list)

    @property
    def span(self) -> tuple[int, int]:
        return (self.sentences[0][0], self.sentences[-1][1]) if self.sentences else (0, 0)


class WindowBuilder:
    """Builds reader windows with a tokenizer (``embeddings.e5_model.E5Tokenizer``)."""

    def __init__(self, tokenizer: Tokenize, bos: int, eos: int, max_tokens: int = MAX_TOKENS):
        self.tok = tokenizer
        self.bos, self.eos = bos, eos
        self.max_tokens = max_tokens
        self._cache: dict[str, list[int]] = {}

    def word_ids(self, words: Sequence[str]) -> list[list[int]]:
        missing = [w for w in dict.fromkeys(words) if w not in self._cache]
        if missing:
            for w, ids in zip(missing, self.tok.content_ids(missing), strict=True):
                self._cache[w] = ids
            if len(self._cache) > 200_000:
                self._cache.clear()
                return self.word_ids(words)
        return [self._cache[w] for w in words]

    def question_ids(self, question: str) -> list[int]:
        ids = [i for w in self.word_ids(["query:", *question.split()]) for i in w]
        return ids[:MAX_QUESTION_TOKENS]

    def sentence_tokens(self, text: str, spans: Sequence[tuple[int, int]]) -> list[int]:
        """Token count of each sentence."""
        out = []
        for a, b in spans:
            words = [w.text for w in split_words(text, a, b)]
            out.append(sum(len(x) for x in self.word_ids(words)))
        return out

    def budget(self, q_ids: Sequence[int]) -> int:
        """Passage tokens available after the question, prefix and 4 specials."""
        return self.max_tokens - len(q_ids) - len(self.word_ids(["passage:"])[0]) - 4

    def build(self, q_ids: Sequence[int], text: str, spans: Sequence[tuple[int, int]]) -> Window:
        """A window of the sentences ``spans`` (consecutive, whole), cut to the budget."""
        prefix = self.word_ids(["passage:"])[0]
        ids = [self.bos, *q_ids, self.eos, self.eos, *prefix]
        token_word = [-1] * len(ids)
        first = [False] * len(ids)
        last = [False] * len(ids)
        words: list[Word] = []
        room = self.budget(q_ids)
        kept: list[tuple[int, int]] = []
        for si, (a, b) in enumerate(spans):
            sent_words = split_words(text, a, b, si)
            for w, wids in zip(
                sent_words, self.word_ids([w.text for w in sent_words]), strict=True
            ):
                if not wids:
                    continue
                if len(wids) > room:
                    room = 0
                    break
                for k, t in enumerate(wids):
                    ids.append(t)
                    token_word.append(len(words))
                    first.append(k == 0)
                    last.append(k == len(wids) - 1)
                room -= len(wids)
                words.append(w)
            end = words[-1].end if words and words[-1].sentence == si else a
            if end > a:
                kept.append((a, end if room == 0 else b))
            if room == 0:
                break
        ids.append(self.eos)
        token_word.append(-1)
        first.append(False)
        last.append(False)
        return Window(ids, token_word, words, kept, first, last)


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentences of ``text[start:end]`` (the splitter the chunker uses)."""
    return split_sentences(text, start, end)


def windows_around(
    builder: WindowBuilder,
    q_ids: Sequence[int],
    text: str,
    spans: Sequence[tuple[int, int]],
    centre: int,
) -> Window:
    """The window of whole sentences around sentence ``centre``: it, then alternately the
    next and previous sentences while they fit."""
    sizes = builder.sentence_tokens(text, spans)
    room = builder.budget(q_ids)
    lo = hi = centre
    used = sizes[centre]
    grow = True
    while grow:
        grow = False
        if hi + 1 < len(spans) and used + sizes[hi + 1] <= room:
            hi += 1
            used += sizes[hi]
            grow = True
        if lo > 0 and used + sizes[lo - 1] <= room:
            lo -= 1
            used += sizes[lo]
            grow = True
    return builder.build(q_ids, text, spans[lo : hi + 1])
