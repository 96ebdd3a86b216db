"""Sentence-aware chunking for Vietnamese with character offsets into the article text.

Sentence boundaries: ``.``, ``!``, ``?``, ``…`` (optionally followed by closing quotes or
brackets), then white space, then something that can start a sentence — or a paragraph
break. These are NOT boundaries: a full stop inside a number ("11.562"), with no space after
it ("TP.HCM", "QĐ-TTg"), after a known abbreviation ("TP. Hồ Chí Minh", "PGS. TS."), or
before a lower-case word. Vietnamese upper-case letters count (a sentence may end after
"hóa." and the next may start with "Đ").

Chunks pack whole sentences up to ``target_tokens``; the next chunk repeats the trailing
sentences of the previous one up to ``overlap_tokens``. A sentence longer than the target
is cut at clause punctuation or, failing that, between words. Every chunk satisfies
``chunk.text == article.text[chunk.start:chunk.end]``.

>>> text = "Đã hỗ trợ 11.562 trường hợp. TP.HCM đạt 99,54%. Đồng chí PGS. TS. Lê B phát biểu."
>>> [text[a:b] for a, b in split_sentences(text)]
['Đã hỗ trợ 11.562 trường hợp.', 'TP.HCM đạt 99,54%.', 'Đồng chí PGS. TS. Lê B phát biểu.']
"""

from __future__ import annotations

import hashlib
import re

from corpus.text import count_tokens
from corpus.types import Article, Chunk

# Abbreviations that end with a full stop and are followed by a capitalised word.
_ABBREVIATIONS = frozenset(
    [
        "tp",
        "tx",
        "q",
        "p",
        "tt",
        "ts",
        "pgs",
        "gs",
        "ths",
        "th.s",
        "bs",
        "ks",
        "cn",
        "ls",
        "nxb",
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "no",
        "vs",
    ]
)
_SENT_END = re.compile(r"""[.!?…]+["'”’»)\]]*(?=\s)""")
_STARTER = re.compile(r"""["'“‘«(\[]*[\w\d]""", re.UNICODE)
_PARA = re.compile(r"\n\s*\n")
_CLAUSE = re.compile(r"[;:,]\s")


def _is_boundary(text: str, end: int, mark: str) -> bool:
    """Is the sentence-end ``mark`` ending at ``end`` a real boundary?"""
    rest = text[end:].lstrip(" \t")
    if not rest or rest[0] == "\n":
        return True
    m = _STARTER.match(rest)
    if not m:
        return True  # followed by a dash, bullet, etc.
    first = m.group(0)[-1]
    if first.isalpha() and first.islower():
        return False
    if mark.startswith("."):
        word = re.search(r"([\w.]+)\.+$", text[: end - len(mark) + 1])
        if word and word.group(1).lower() in _ABBREVIATIONS:
            return False
    return True


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` in ``text[start:end]``, trimmed of white space."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for para in _paragraphs(text, start, end):
        cur = para[0]
        for m in _SENT_END.finditer(text, para[0], para[1]):
            if _is_boundary(text, m.end(), m.group(0)):
                spans.append((cur, m.end()))
                cur = m.end()
        spans.append((cur, para[1]))
    return [s for s in (_trim(text, a, b) for a, b in spans) if s[1] > s[0]]


def _paragraphs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    out, cur = [], start
    for m in _PARA.finditer(text, start, end):
        out.append((cur, m.start()))
        cur = m.end()
    out.append((cur, end))
    return out


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _split_long(text: str, a: int, b: int, limit: int) -> list[tuple[int, int]]:
    """Cut one over-long sentence into pieces of at most ``limit`` tokens."""
    pieces: list[tuple[int, int]] = []
    while count_tokens(text[a:b]) > limit:
        cut = None
        # the last clause break (or else word break) that keeps the piece under the limit
        for pattern in (_CLAUSE, re.compile(r"\s")):
            best = None
            for m in pattern.finditer(text, a, b):
                if count_tokens(text[a : m.end()]) > limit:
                    break
                best = m.end()
            if best is not None and best > a:
                cut = best
                break
        if cut is None:  # a single "word" longer than the limit: cut by characters
            cut = a + max(1, (b - a) // 2)
        pieces.append(_trim(text, a, cut))
        a = _trim(text, cut, b)[0]
    pieces.append((a, b))
    return [p for p in pieces if p[1] > p[0]]


def article_version(article: Article, target_tokens: int, overlap_tokens: int) -> str:
    """Short hash of everything that determines the chunks and their embedded text."""
    h = hashlib.sha256()
    for part in (
        article.title,
        article.date or "",
        article.text,
        f"{target_tokens}/{overlap_tokens}",
    ):
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:10]


def _context(article: Article, max_title_tokens: int = 40) -> str:
    title = article.title.strip()
    words = title.split()
    if len(words) > max_title_tokens:
        title = " ".join(words[:max_title_tokens]) + " …"
    if article.date and article.date_precision in ("day", "month", "year"):
        return f"{title} ({article.date})"
    return title


def chunk_article(
    article: Article, *, target_tokens: int = 160, overlap_tokens: int = 32
) -> list[Chunk]:
    """Split ``article.text`` into overlapping, sentence-aligned chunks."""
    text = article.text
    sentences: list[tuple[int, int]] = []
    for a, b in split_sentences(text):
        sentences.extend(_split_long(text, a, b, target_tokens))
    sizes = [count_tokens(text[a:b]) for a, b in sentences]
    version = article_version(article, target_tokens, overlap_tokens)
    context = _context(article)
    chunks: list[Chunk] = []
    i = 0
    while i < len(sentences):
        j, total = i, 0
        while j < len(sentences) and (j == i or total + sizes[j] <= target_tokens):
            total += sizes[j]
            j += 1
        start, end = sentences[i][0], sentences[j - 1][1]
        body = text[start:end]
        chunks.append(
            Chunk(
                id=f"{article.id}#{version}-{len(chunks):04d}",
                article_id=article.id,
                ordinal=len(chunks),
                text=body,
                start=start,
                end=end,
                embed_text=f"{context}\n{body}" if context else body,
            )
        )
        if j >= len(sentences):
            break
        # overlap: restart at the trailing sentences of this chunk that fit the budget
        k, back = j, 0
        while k - 1 > i and back + sizes[k - 1] <= overlap_tokens:
            k -= 1
            back += sizes[k]
        # no overlap when it would leave no room for a new sentence (every chunk must advance)
        i = k if back + sizes[j] <= target_tokens else j
    return chunks
