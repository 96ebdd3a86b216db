"""Plain text (.txt) and Markdown (.md, .markdown).

The text stays close to the source: decoded (any supported encoding), NFC, line
breaks unified. Markdown loses only what would read as noise: images, link targets
(``[text](url)`` -> ``text``), reference definitions and heading markers (``## ``).
A leading front-matter block (``---`` ... ``---``) gives title/date/author/source/url.

>>> parse_markdown(b"# Tin tuc\\n\\nXem [bao cao](http://x.vn/a) ![anh](a.png)\\n").text
'Tin tuc\\n\\nXem bao cao \\n'
"""

from __future__ import annotations

import re

from corpus.encodings import decode_bytes
from corpus.formats import Parsed, clean_field, normalize_text

__all__ = ["parse_markdown", "parse_text"]

_IMAGE_RE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_LINK_RE = re.compile(r"\[([^\]\n]*)\]\([^)\n]*\)")
_REF_LINK_RE = re.compile(r"\[([^\]\n]+)\]\[[^\]\n]*\]")
_REF_DEF_RE = re.compile(r"^ {0,3}\[[^\]\n]+\]:[ \t]+\S.*$", re.MULTILINE)
_HEADING_RE = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FRONT_KEY_RE = re.compile(r"^([A-Za-z_]+)[ \t]*:[ \t]*(.*)$")
_FRONT_FIELDS = {"title", "date", "author", "source", "url"}


def parse_text(data: bytes) -> Parsed:
    text, encoding = decode_bytes(data)
    return Parsed(normalize_text(text), encoding)


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    match = _FRONT_MATTER_RE.match(text)
    if match is None or len(match.group(1)) > 8192:
        return {}, text
    fields: dict[str, str] = {}
    for line in match.group(1).splitlines():
        kv = _FRONT_KEY_RE.match(line)
        if kv is None:
            continue
        key, value = kv.group(1).lower(), kv.group(2).strip().strip("\"'")
        if key in _FRONT_FIELDS and value and key not in fields:
            fields[key] = value
    return fields, text[match.end() :]


def parse_markdown(data: bytes) -> Parsed:
    text, encoding = decode_bytes(data)
    text = normalize_text(text)
    fields, text = _front_matter(text)
    text = _IMAGE_RE.sub("", text)
    text = _LINK_RE.sub(r"\1", text)
    text = _REF_LINK_RE.sub(r"\1", text)
    text = _REF_DEF_RE.sub("", text)
    text = _HEADING_RE.sub(lambda m: m.group(1) or "", text)
    return Parsed(
        text,
        encoding,
        title=clean_field(fields.get("title")),
        source=clean_field(fields.get("source")),
        date=clean_field(fields.get("date")),
        url=clean_field(fields.get("url")),
        author=clean_field(fields.get("author")),
    )
