"""Boilerplate removal for scraped news pages.

A page is cut into lines (one paragraph each; hard-wrapped lines are re-joined) and
split into three zones:

* **header**: lines before the title, and after it everything up to the first content
  line: date stamps, bullets, the title printed twice, short lines without sentence
  punctuation (category labels, bylines), and photo captions standing between the title
  and a lead that opens with a source marker ("(Thanhuytphcm.vn) – ..."). The marker
  itself is cut off the paragraph it opens (the lead, or the one after a sapo);
* **footer**: after the last long paragraph, everything from the first "cut" line
  ("Tin khác", "Đọc thêm", "Ý kiến bạn đọc", "Quay lại" ...) on; then, walking back,
  every line that is not content (bylines, counters, menus, all-caps banners);
* **body**: the rest, where only unambiguous noise is removed: lines with no letters,
  view counters, navigation vocabulary, menu lines made of section names, lines learnt
  as repeated across the source (``learn_repeated_lines``), the title repeated as a photo
  alt text together with the caption that follows it, and a short caption glued to the
  end of a paragraph ("... hành chính hóa.ĐVTN xã Phiêng Pằn giúp hộ nghèo.").

Short sentences that end with "." inside the body, list items ending with ";" and the
lead paragraph are kept. Everything removed is kept in order in ``CleanedDoc.removed``;
the header and footer parts also separately, for metadata extraction (dates and bylines
live there; the source marker is counted with the header).

>>> doc = RawDocument(id="a", path="x/a.txt", format="txt", text=(
...     "Ngày 2 tháng 3 năm 2021\\n\\nHội nghị tổng kết công tác dân vận\\n\\n"
...     "Sáng 2/3, Ban Dân vận tổ chức hội nghị tổng kết công tác năm.\\n\\n"
...     "Minh Thư\\n\\nTin khác"))
>>> cleaned = clean_document(doc)
>>> cleaned.title
'Hội nghị tổng kết công tác dân vận'
>>> cleaned.body
'Sáng 2/3, Ban Dân vận tổ chức hội nghị tổng kết công tác năm.'
>>> cleaned.header_lines, cleaned.footer_lines
(('Ngày 2 tháng 3 năm 2021',), ('Minh Thư', 'Tin khác'))
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath

from corpus.noise import (
    CUT_LINES,
    MAX_REPEAT_CHARS,
    ends_sentence,
    has_letters,
    is_all_caps,
    is_caption_like,
    is_edge_noise,
    is_navigation,
    is_noise,
    is_title_repeat,
    line_key,
    nav_key,
    word_count,
)
from corpus.stamps import is_date_line, split_source_marker
from corpus.text import clean_display, search_key
from corpus.types import RawDocument

__all__ = [
    "CleanedDoc",
    "RepeatedLines",
    "clean_document",
    "group_key",
    "is_navigation",
    "learn_repeated_lines",
]

# --- thresholds (see the module docstring and docs in each helper; the line predicates'
# own are in corpus.noise) ---
MARKER_CAPTION_MAX_WORDS = 20  # stricter before a source marker: a short sapo may sit there
GLUED_CAPTION_MAX_WORDS = 25
LONG_PARAGRAPH_WORDS = 25  # the footer starts after the last paragraph this long
MARKER_LOOKAHEAD = 4  # captions between the title and a "(Source.vn) -" lead
SMALL_GROUP_MAX_CHARS = 80  # in a group smaller than min_docs, only short lines are learnt
TITLE_SEARCH_LINES = 40  # the title is searched for past this many leading noise lines

_GLUED_BOUNDARY = re.compile(r"(?<=[^\W\d_)%])[.!?](?=[^\W\d_])")  # case checked in code


# ------------------------------------------------------------------ repeated lines


def group_key(doc: RawDocument) -> str:
    """Documents of one source: ``doc.source`` if set, else the parent folder of the path."""
    if doc.source:
        return "source:" + search_key(doc.source)
    return "dir:" + PurePath(doc.path).parent.as_posix()


@dataclass(frozen=True)
class RepeatedLines:
    """Lines (search form) that repeat across documents of one group; see ``group_key``."""

    groups: Mapping[str, frozenset[str]] = field(default_factory=dict)
    min_docs: int = 3

    def lines_for(self, doc: RawDocument) -> frozenset[str]:
        return self.groups.get(group_key(doc), frozenset())


def learn_repeated_lines(docs: Sequence[RawDocument], *, min_docs: int = 3) -> RepeatedLines:
    """Learn boilerplate lines: a line is boilerplate for a group when it appears in at
    least ``min_docs`` distinct documents of that group.

    Thresholds: documents with identical text count once. In a group of n < min_docs
    distinct documents the threshold drops to max(2, n), but then only lines up to
    SMALL_GROUP_MAX_CHARS characters are learnt; lines over MAX_REPEAT_CHARS are never
    learnt. A line that is the title of exactly one document is not learnt (it is that
    document's title, repeated in other pages' "related" lists).
    """
    if min_docs < 2:
        raise ValueError(f"min_docs must be >= 2, got {min_docs}")
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    titles: dict[str, Counter[str]] = defaultdict(Counter)
    seen: dict[str, set[str]] = defaultdict(set)
    for doc in docs:
        group = group_key(doc)
        lines = _lines(doc.text)
        digest = hashlib.blake2b("\n".join(lines).encode(), digest_size=16).hexdigest()
        if digest in seen[group]:
            continue
        seen[group].add(digest)
        keys = {line_key(s) for s in lines if len(s) <= MAX_REPEAT_CHARS and has_letters(s)}
        counts[group].update(k for k in keys if k)
        title, _ = _find_title(lines, doc.title, frozenset())
        titles[group][line_key(title)] += 1
    groups: dict[str, frozenset[str]] = {}
    for group, counter in counts.items():
        n = len(seen[group])
        threshold = max(2, min(min_docs, n))
        max_chars = MAX_REPEAT_CHARS if n >= min_docs else SMALL_GROUP_MAX_CHARS
        learned = frozenset(
            k
            for k, c in counter.items()
            if c >= threshold and len(k) <= max_chars and titles[group][k] != 1
        )
        if learned:
            groups[group] = learned
    return RepeatedLines(groups=groups, min_docs=min_docs)


# ------------------------------------------------------------------ cleaning


@dataclass(frozen=True)
class CleanedDoc:
    """A page split into title, body (display form, paragraphs separated by a blank
    line) and what was removed (all of it in order; header and footer parts apart)."""

    title: str
    body: str
    removed: tuple[str, ...] = ()
    header_lines: tuple[str, ...] = ()
    footer_lines: tuple[str, ...] = ()


def _lines(text: str) -> list[str]:
    """Non-empty display-form lines; a line starting in lower case continues the line
    above it (same block, no sentence end there) -- hard-wrapped text is re-joined."""
    out: list[str] = []
    prev_blank = True
    for raw in clean_display(text).split("\n"):
        line = raw.strip()
        if not line:
            prev_blank = True
            continue
        if (
            out
            and not prev_blank
            and line[0].islower()
            and not ends_sentence(out[-1])
            and word_count(out[-1]) >= 4
            and not is_navigation(line)
        ):
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
        prev_blank = False
    return out


def _title_candidate(line: str, learned: frozenset[str]) -> bool:
    return (
        word_count(line) >= 3
        and not is_noise(line, learned)
        and not is_date_line(line)
        and split_source_marker(line)[0] is None
        and not (is_all_caps(line) and word_count(line) <= 5)
        and not (ends_sentence(line) and word_count(line) > 40)
    )


def _find_title(
    lines: list[str], given: str | None, learned: frozenset[str]
) -> tuple[str, int | None]:
    """(title, index of its line or None). ``given`` (format metadata) wins; when the
    page heading is the same title without a " - Site name" suffix, the heading is used.

    The title must come before any content line: only edge noise (dates, bullets,
    banners) may precede it, so a page without a heading loses nothing to the header.
    """
    title = " ".join(clean_display(given).split()) if given else ""
    key = line_key(title)
    for i, line in enumerate(lines[:TITLE_SEARCH_LINES]):
        if title and is_title_repeat(line, key):
            # "<title>X - Báo Sơn La</title>" with "X" as the page heading: keep "X"
            return (line if len(line) < len(title) else title), i
        if not title and _title_candidate(line, learned):
            return line, i
        if not is_edge_noise(line, learned, key):
            break
    return title, None


def _split_glued_caption(para: str) -> tuple[str, str | None]:
    """Cut a photo caption glued to the end of a paragraph: "...hóa.ĐVTN xã X giúp ...".

    Only when the glued boundary (no space after the full stop, lower case before it,
    upper case after it) is the only one in the paragraph -- several would mean the
    page lost its spaces, not a caption -- and what follows is one short sentence.
    """
    glued = [
        m
        for m in _GLUED_BOUNDARY.finditer(para)
        if not para[m.start() - 1].isupper() and para[m.end()].isupper()
    ]
    if len(glued) != 1:
        return para, None
    cut = glued[0].end()
    head, tail = para[:cut].rstrip(), para[cut:].strip()
    if (
        word_count(head) >= 10
        and word_count(tail) <= GLUED_CAPTION_MAX_WORDS
        and tail.count(",") <= 1
        and is_caption_like(tail)
    ):
        return head, tail
    return para, None


def _header_end(lines: list[str], start: int, learned: frozenset[str], title_key: str) -> int:
    i = start
    while (
        i < len(lines)
        and split_source_marker(lines[i])[0] is None
        and is_edge_noise(lines[i], learned, title_key)
    ):
        i += 1
    # Captions between the title and a lead that opens with "(Source.vn) - ".
    for k in range(i, min(len(lines), i + MARKER_LOOKAHEAD)):
        if split_source_marker(lines[k])[0] is not None:
            between = lines[i:k]
            if all(
                is_caption_like(s, MARKER_CAPTION_MAX_WORDS) or is_edge_noise(s, learned, title_key)
                for s in between
            ):
                return k
            break
    return i


def _footer_start(lines: list[str], start: int, learned: frozenset[str], title_key: str) -> int:
    end = len(lines)
    long_paragraphs = [i for i in range(start, end) if word_count(lines[i]) >= LONG_PARAGRAPH_WORDS]
    after = long_paragraphs[-1] + 1 if long_paragraphs else start
    for i in range(after, end):
        if nav_key(lines[i]) in CUT_LINES:
            end = i
            break
    while end > start and is_edge_noise(lines[end - 1], learned, title_key):
        end -= 1
    return end


def clean_document(doc: RawDocument, repeated: RepeatedLines | None = None) -> CleanedDoc:
    """Split a scraped page into title, body and removed boilerplate (see module doc)."""
    learned = repeated.lines_for(doc) if repeated else frozenset()
    lines = _lines(doc.text)
    title, title_idx = _find_title(lines, doc.title, learned)
    title_key = line_key(title)
    header: list[str] = [s for i, s in enumerate(lines) if title_idx is not None and i < title_idx]
    first = title_idx + 1 if title_idx is not None else 0
    start = _header_end(lines, first, learned, title_key)
    header += lines[first:start]
    # The source marker opens the lead, or the paragraph after a sapo: cut it off.
    for k in range(start, min(len(lines), start + MARKER_LOOKAHEAD)):
        _, marker, rest = split_source_marker(lines[k])
        if marker:
            header.append(marker)
            if rest:
                lines[k] = rest
            else:
                del lines[k]
            break
    end = max(start, _footer_start(lines, start, learned, title_key))
    footer = lines[end:]

    body: list[str] = []
    middle_removed: list[str] = []
    after_alt = False  # the previous line was the title used as a photo's alt text
    for line in lines[start:end]:
        if is_title_repeat(line, title_key):
            middle_removed.append(line)
            after_alt = True
            continue
        if after_alt and is_caption_like(line):
            middle_removed.append(line)
            after_alt = False
            continue
        after_alt = False
        if is_noise(line, learned):
            middle_removed.append(line)
            continue
        para, caption = _split_glued_caption(line)
        body.append(para)
        if caption:
            middle_removed.append(caption)

    if not title and body:  # no heading at all: the first words of the text
        words = body[0].split()
        title = " ".join(words[:15]) + (" …" if len(words) > 15 else "")
    return CleanedDoc(
        title=title,
        body=clean_display("\n\n".join(body)),
        removed=(*header, *middle_removed, *footer),
        header_lines=tuple(header),
        footer_lines=tuple(footer),
    )
