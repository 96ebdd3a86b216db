"""HTML pages (.html, .htm): main text and the metadata in ``<head>``.

>>> page = '''<html><head><title>Tin</title><meta name="author" content="Minh"></head>
... <body><nav>Trang chủ</nav><p>Đoạn một.</p><p>Đoạn <b>hai</b>.</p></body></html>'''
>>> parsed = parse_html(page.encode("utf-8"))
>>> parsed.text, parsed.title, parsed.author
('Đoạn một.\\n\\nĐoạn hai.', 'Tin', 'Minh')

Encoding: a byte-order mark, else valid UTF-8, else the ``<meta charset>`` when it
names something other than a Latin-1 family charset, else detection by
``decode_bytes`` (legacy Vietnamese sites often declared iso-8859-1 and used TCVN3
or VNI fonts), falling back to the declared charset (or windows-1252, the HTML
default) for pages that are not Vietnamese.

Text: navigation and other boilerplate elements are dropped; every block element
(p, div, li, h1-h6, tr, ...) becomes a paragraph, paragraphs are separated by a blank
line, ``<br>`` gives a line break, table cells in a row are joined by " | ".
"""

from __future__ import annotations

import codecs
import re

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import PreformattedString

from corpus.encodings import NOT_VIETNAMESE, DecodeError, decode_bytes
from corpus.formats import LoadError, Parsed, clean_field, normalize_text

__all__ = ["parse_html"]


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Boilerplate elements, dropped with everything inside them.
_DROP = _names(
    "script style noscript nav header footer aside form iframe svg template button select "
    "object embed canvas"
)
_BLOCKS = _names(
    "address article blockquote body caption center dd details dialog div dl dt fieldset "
    "figcaption figure h1 h2 h3 h4 h5 h6 hr li main ol p pre section summary table tbody "
    "tfoot thead tr ul"
)
_CELLS = frozenset(("td", "th"))
_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_LATIN1_FAMILY = frozenset(("ascii", "latin-1", "iso8859-1", "cp1252", "iso8859-15"))
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_WS_RE = re.compile(r"[ \t\n\r\f]+")
_DATE_KEYS = (
    "article:published_time",
    "datepublished",
    "og:published_time",
    "pubdate",
    "publishdate",
    "dc.date.issued",
    "dc.date",
    "date",
)


def _declared_charset(data: bytes) -> str | None:
    match = _CHARSET_RE.search(data[:4096])
    if match is None:
        return None
    try:
        return codecs.lookup(match.group(1).decode("ascii")).name
    except LookupError:
        return None


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(_BOMS):
        return decode_bytes(data)
    try:
        return normalize_text(data.decode("utf-8")), "utf-8"
    except UnicodeDecodeError:
        pass
    declared = _declared_charset(data)
    if declared is not None and declared not in _LATIN1_FAMILY and declared != "utf-8":
        return normalize_text(data.decode(declared, errors="replace")), declared
    try:
        return decode_bytes(data)
    except DecodeError as exc:
        if exc.reason != NOT_VIETNAMESE:
            raise
    # The HTML standard reads every Latin-1 family label as windows-1252.
    return normalize_text(data.decode("cp1252", errors="replace")), "cp1252"


def _meta_values(soup: BeautifulSoup) -> dict[str, str]:
    """``<meta>`` contents by lower-cased name / property / itemprop (first one wins)."""
    values: dict[str, str] = {}
    for meta in soup.find_all("meta"):
        content = meta.get("content")
        if not isinstance(content, str) or not content.strip():
            continue
        for attr in ("property", "name", "itemprop"):
            key = meta.get(attr)
            if isinstance(key, str):
                values.setdefault(key.strip().lower(), content.strip())
    return values


def _attr(tag: Tag | None, name: str) -> str | None:
    value = tag.get(name) if tag is not None else None
    return value if isinstance(value, str) else None


def _date(soup: BeautifulSoup, meta: dict[str, str]) -> str | None:
    for key in _DATE_KEYS:
        if meta.get(key):
            return meta[key]
    found = soup.find(True, attrs={"itemprop": "datePublished"})
    if isinstance(found, Tag):
        value = _attr(found, "content") or _attr(found, "datetime") or found.get_text(" ")
        if value.strip():
            return value
    time = soup.find("time", attrs={"datetime": True})
    return _attr(time if isinstance(time, Tag) else None, "datetime")


class _TextCollector:
    """Walks the tree; block elements close the current paragraph."""

    def __init__(self) -> None:
        self.paragraphs: list[str] = []
        self._buf: list[str] = []

    def flush(self) -> None:
        text = "".join(self._buf)
        self._buf = []
        lines = [line.strip(" ") for line in text.split("\n")]
        para = "\n".join(line.removesuffix(" |").strip() for line in lines if line)
        if para:
            self.paragraphs.append(para)

    def walk(self, node: Tag, pre: bool = False) -> None:
        for child in node.children:
            if isinstance(child, PreformattedString):  # comments, doctype, CDATA, ...
                continue
            if isinstance(child, NavigableString):
                self._buf.append(str(child) if pre else _WS_RE.sub(" ", str(child)))
            elif isinstance(child, Tag):
                name = child.name
                if name == "br":
                    self._buf.append("\n")
                elif name in _BLOCKS:
                    self.flush()
                    self.walk(child, pre or name == "pre")
                    self.flush()
                elif name in _CELLS:
                    self.walk(child, pre)
                    self._buf.append(" | ")
                else:
                    self.walk(child, pre)


def parse_html(data: bytes) -> Parsed:
    text, encoding = _decode(data)
    soup = BeautifulSoup(text, "lxml")
    meta = _meta_values(soup)
    title_tag = soup.find("title")
    h1 = soup.find("h1")
    title = (
        clean_field(title_tag.get_text(" ") if title_tag else None)
        or clean_field(meta.get("og:title"))
        or clean_field(h1.get_text(" ") if h1 else None)
    )
    canonical = soup.find("link", rel="canonical")
    url = _attr(canonical if isinstance(canonical, Tag) else None, "href") or meta.get("og:url")
    author = meta.get("author") or meta.get("article:author")
    date = _date(soup, meta)
    for tag in soup.find_all(list(_DROP)):
        tag.decompose()
    collector = _TextCollector()
    root = soup.body or soup
    collector.walk(root)
    collector.flush()
    body = "\n\n".join(collector.paragraphs)
    if not body.strip():
        raise LoadError("no text found in HTML")
    return Parsed(
        body,
        encoding,
        title=title,
        source=clean_field(meta.get("og:site_name")),
        date=clean_field(date),
        url=clean_field(url),
        author=clean_field(author),
    )
