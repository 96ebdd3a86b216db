"""JSON Lines (.jsonl, .jsonl.gz), streamed one line at a time.

Each line is a JSON object ``{"id", "title", "text", "source"?, "date"?, "url"?,
"author"?}``; other fields are ignored. Lines are read with a length cap, so a file of
any size (or a single runaway line) never has to fit in memory. A truncated or corrupt
gzip stream ends the file with an error at the line where it broke; the records read
before it have already been yielded.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from corpus.formats import human_size

__all__ = ["JsonlError", "JsonlRecord", "iter_jsonl"]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class JsonlRecord:
    line: int  # 1-based
    raw: bytes  # the line without its line break (the fingerprint's input)
    data: dict[str, Any]


@dataclass(frozen=True)
class JsonlError:
    line: int
    reason: str  # without the "JSONL line N: " prefix
    fatal: bool = False  # nothing after this line could be read


class _LineReader(Protocol):
    def readline(self, size: int = -1, /) -> bytes: ...


def _skip_rest_of_line(stream: _LineReader) -> None:
    while True:
        chunk = stream.readline(_CHUNK)
        if not chunk or chunk.endswith(b"\n"):
            return


def _parse_line(number: int, line: bytes) -> JsonlRecord | JsonlError | None:
    raw = line.rstrip(b"\r\n")
    if number == 1:
        raw = raw.removeprefix(b"\xef\xbb\xbf")
    if not raw.strip():
        return None
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return JsonlError(number, f"invalid UTF-8 at byte {exc.start + 1}")
    try:
        data = json.loads(decoded)
    except json.JSONDecodeError as exc:
        return JsonlError(number, f"invalid JSON ({exc.msg} at column {exc.colno})")
    except RecursionError:
        return JsonlError(number, "invalid JSON (nested too deeply)")
    if not isinstance(data, dict):
        return JsonlError(number, f"expected a JSON object, got {type(data).__name__}")
    return JsonlRecord(number, raw, data)


def iter_jsonl(path: Path, max_line_bytes: int) -> Iterator[JsonlRecord | JsonlError]:
    """Records and per-line errors of one JSONL file (gzip-compressed if ``.gz``)."""
    compressed = path.name.lower().endswith(".gz")
    number = 0
    try:
        with gzip.open(path, "rb") if compressed else path.open("rb") as stream:
            while True:
                line = stream.readline(max_line_bytes + 1)
                if not line:
                    return
                number += 1
                if len(line) > max_line_bytes and not line.endswith(b"\n"):
                    _skip_rest_of_line(stream)
                    limit = human_size(max_line_bytes)
                    yield JsonlError(number, f"record larger than the {limit} limit")
                    continue
                item = _parse_line(number, line)
                if item is not None:
                    yield item
    except gzip.BadGzipFile as exc:
        what = "not a gzip file" if number == 0 else "corrupt gzip data"
        yield JsonlError(number + 1, f"{what} ({exc})", fatal=True)
    except (EOFError, zlib.error) as exc:
        yield JsonlError(number + 1, f"truncated or corrupt gzip data ({exc})", fatal=True)
    except OSError as exc:
        yield JsonlError(number + 1, f"cannot read file ({exc.strerror or exc})", fatal=True)
