"""Word documents (.docx) via python-docx, with a zip-bomb guard.

Body paragraphs and table cells in document order (content controls included), one
block each, blocks separated by a blank line; a cell's own paragraphs are joined by
line breaks. Headers, footers, comments and text boxes are not read. Title, author and
creation date come from the core properties when they are set (python-docx's own
template values "python-docx" / 2013-12-23 count as unset). Text typed with legacy
TCVN3/VNI fonts is repaired (``fix_legacy_mojibake``) and ``encoding`` names the
legacy encoding; otherwise it is "utf-8" (the XML's).
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from typing import Any

from corpus.encodings import fix_legacy_mojibake
from corpus.formats import LoadError, Parsed, clean_field, describe, human_size, normalize_text

__all__ = ["MAX_RATIO", "MAX_UNCOMPRESSED", "check_zip", "parse_docx"]

MAX_UNCOMPRESSED = 200 * 1024 * 1024  # bytes, all members together
MAX_RATIO = 100  # uncompressed / compressed, checked once more than 1 MiB is unpacked
_RATIO_FLOOR = 1024 * 1024
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_TEMPLATE_AUTHOR = "python-docx"
_TEMPLATE_CREATED = dt.datetime(2013, 12, 23, 23, 15)


def check_zip(data: bytes, kind: str = "DOCX") -> None:
    """Reject archives that would unpack to too much, before anything unpacks them.

    zipfile never inflates a member past its declared size, so the declared sizes
    checked here bound what python-docx can read.
    """
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise LoadError(f"corrupt {kind}: not a valid zip archive ({exc})") from None
    total = sum(i.file_size for i in infos)
    packed = max(1, sum(i.compress_size for i in infos))
    if total > MAX_UNCOMPRESSED:
        raise LoadError(
            f"{kind} rejected as a possible zip bomb: {human_size(total)} uncompressed "
            f"(limit {human_size(MAX_UNCOMPRESSED)})"
        )
    if total > _RATIO_FLOOR and total / packed > MAX_RATIO:
        raise LoadError(
            f"{kind} rejected as a possible zip bomb: compression ratio "
            f"{total / packed:.0f}:1 (limit {MAX_RATIO}:1)"
        )


def _blocks(element: Any) -> Iterator[str]:
    for child in element.iterchildren():
        tag = child.tag
        if tag == f"{_W}p":
            yield child.text
        elif tag == f"{_W}tbl":
            for row in child.iterchildren(f"{_W}tr"):
                for cell in row.iterchildren(f"{_W}tc"):
                    text = "\n".join(t for t in _blocks(cell) if t.strip())
                    if text:
                        yield text
        elif tag == f"{_W}sdt":
            for content in child.iterchildren(f"{_W}sdtContent"):
                yield from _blocks(content)


def parse_docx(data: bytes) -> Parsed:
    check_zip(data)
    import docx  # python-docx; imported here so that loading plain text never needs it

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise LoadError(f"corrupt DOCX: {describe(exc)}") from None
    blocks = [b for b in (normalize_text(t) for t in _blocks(document.element.body)) if b.strip()]
    text = "\n\n".join(blocks)
    if not text.strip():
        raise LoadError("DOCX has no text")
    text, legacy = fix_legacy_mojibake(text)
    title = author = date = None
    try:
        props = document.core_properties
        title = clean_field(props.title)
        author = clean_field(props.author if props.author != _TEMPLATE_AUTHOR else None)
        created = props.created
        if created is not None and created.replace(tzinfo=None) != _TEMPLATE_CREATED:
            date = created.date().isoformat()
    except Exception:  # malformed core properties must not lose the text
        pass
    return Parsed(text, legacy or "utf-8", title=title, date=date, author=author)
