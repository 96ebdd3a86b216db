"""Per-format parsers used by ``corpus.loaders``: bytes in, ``Parsed`` out.

Each parser takes the raw bytes of one file (already size-checked by the loader) and
returns the text and whatever metadata the format carries, or raises ``LoadError``
with a human-readable reason. The loader turns both into ``RawDocument`` /
``SkippedFile``; any other exception is reported as a parse error of that format.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from corpus.errors import HoidapError

__all__ = [
    "SUPPORTED_SUFFIXES",
    "LoadError",
    "Parsed",
    "clean_field",
    "describe",
    "human_size",
    "normalize_text",
]

# Every file type hoidap reads, lower case; ".jsonl.gz" counts as one suffix. The one list:
# the loader (``corpus.loaders``), the upload check and the upload page's hint use it.
SUPPORTED_SUFFIXES: tuple[str, ...] = (
    ".txt",
    ".md",
    ".markdown",
    ".html",
    ".htm",
    ".docx",
    ".pdf",
    ".jsonl",
    ".jsonl.gz",
)

_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_FIELD_WS_RE = re.compile(r"\s+")


class LoadError(HoidapError):
    """A file that cannot be loaded, for a reason a user can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Parsed:
    """What a format parser found in one file."""

    text: str
    encoding: str = "utf-8"
    title: str | None = None
    source: str | None = None
    date: str | None = None
    url: str | None = None
    author: str | None = None


def normalize_text(text: str) -> str:
    """NFC, ``\\r\\n``/``\\r`` -> ``\\n``, lone surrogates -> U+FFFD. Nothing else."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _SURROGATE_RE.search(text):
        text = _SURROGATE_RE.sub("\ufffd", text)
    return unicodedata.normalize("NFC", text)


def clean_field(value: object) -> str | None:
    """A metadata value as one trimmed NFC line, or None when missing or empty.

    Strings and numbers are kept (numbers stringified); anything else is dropped.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    text = _FIELD_WS_RE.sub(" ", normalize_text(str(value))).strip()
    return text or None


def describe(exc: BaseException) -> str:
    """'ValueError: bad header', or just 'EOFError' when the exception has no message."""
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def human_size(n: int) -> str:
    """12345678 -> '11.8 MB'; small sizes in KB or bytes."""
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n} bytes"
