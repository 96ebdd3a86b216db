"""PDF files via pypdf: the text layer of every page, pages separated by a blank line.

A PDF without extractable text (a scan) is reported as needing OCR; an encrypted one
is opened when it only has an owner password (the empty user password works), else
reported. Title, author and creation date come from the document information. Text
from PDFs made with legacy TCVN3/VNI fonts is repaired like DOCX text.
"""

from __future__ import annotations

import io
import logging

from corpus.encodings import fix_legacy_mojibake
from corpus.formats import LoadError, Parsed, clean_field, describe, normalize_text

__all__ = ["NO_TEXT_LAYER", "parse_pdf"]

NO_TEXT_LAYER = "PDF has no text layer (scanned image?) — needs OCR"


def parse_pdf(data: bytes) -> Parsed:
    from pypdf import PdfReader  # imported here so that loading plain text never needs it

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # malformed-but-readable noise
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError("encrypted PDF (a password is needed to read it)")
        pages = reader.pages
        count = len(pages)
    except LoadError:
        raise
    except Exception as exc:
        message = str(exc)
        if "decrypt" in message.lower() or "crypt" in type(exc).__name__.lower():
            raise LoadError(f"encrypted PDF that cannot be opened ({describe(exc)})") from None
        raise LoadError(f"corrupt PDF: {describe(exc)}") from None
    texts, failures = [], []
    for number in range(count):
        try:
            texts.append(normalize_text(pages[number].extract_text() or "").strip("\n"))
        except Exception as exc:
            failures.append(f"page {number + 1}: {describe(exc)}")
    text = "\n\n".join(t for t in texts if t.strip())
    if not text.strip():
        if failures:
            raise LoadError(f"corrupt PDF: no page could be read ({failures[0]})")
        raise LoadError(NO_TEXT_LAYER)
    text, legacy = fix_legacy_mojibake(text)
    title = author = date = None
    try:
        info = reader.metadata
        if info is not None:
            title, author = clean_field(info.title), clean_field(info.author)
            created = info.creation_date
            date = created.date().isoformat() if created else None
    except Exception:  # a malformed info dictionary must not lose the text
        pass
    return Parsed(text, legacy or "utf-8", title=title, date=date, author=author)
