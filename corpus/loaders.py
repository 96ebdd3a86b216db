"""Read documents from files and folders: .txt .md .html .docx .pdf .jsonl(.gz).

>>> stream = iter_documents(["corpus/articles"])
>>> docs = list(stream)
>>> docs[0].id, docs[0].format, docs[0].encoding
('000_bd9e0bf0f2c7e356', 'txt', 'utf-8')
>>> stream.ignored_total   # unsupported files met inside folders
0

Rules:

* Folders are walked recursively in sorted order. Hidden entries (".name") and Word
  lock files ("~$name") are skipped; so are unsupported files, which are only counted
  (``DocumentStream.ignored``, by suffix). A path named directly is always tried: an
  unsupported one gives ``SkippedFile("unsupported file type .xyz")``.
* One bad file never stops the run: every problem becomes a ``SkippedFile`` with a
  reason ("binary file", "empty file", "file too large (...)", "corrupt DOCX: ...",
  "JSONL line 17: invalid JSON (...)", ...). Files are size-checked before they are
  read (a 200 MB file is refused from its size alone); JSONL is streamed and only each
  line is capped at ``max_bytes``. A file whose name is not valid UTF-8 is skipped
  ("rename it"); other names, ``..`` in them or any script, are kept as they are.
* Ids: the file stem, or the record's "id" for JSONL. Ids are unique within one
  stream: a later file with a stem already used gets its parent folders (relative to
  the walked folder) as a prefix, "2020/bao-cao", then its suffix, then "~2", ...; a
  JSONL record whose id was already used is skipped as a duplicate.
* Fingerprints: sha256 of the file's bytes, or of the JSONL line's bytes.
* Text is NFC with ``\\n`` line breaks and otherwise as close to the source as the
  format allows; cleaning happens later (``corpus.text.clean_display`` and friends).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from corpus.encodings import DecodeError
from corpus.formats import (
    SUPPORTED_SUFFIXES,
    LoadError,
    Parsed,
    clean_field,
    describe,
    human_size,
    normalize_text,
)
from corpus.formats.jsonl import JsonlError, JsonlRecord, iter_jsonl
from corpus.formats.pdf import parse_pdf
from corpus.formats.text import parse_markdown, parse_text
from corpus.formats.webpage import parse_html
from corpus.formats.word import parse_docx
from corpus.types import RawDocument, SkippedFile

__all__ = [
    "SUPPORTED_SUFFIXES",
    "DocumentStream",
    "iter_documents",
    "printable_path",
    "suffix_of",
]

DEFAULT_MAX_BYTES = 50 * 1024 * 1024

# suffix -> (RawDocument.format, parser, prefix for unexpected parser errors)
_PARSERS: dict[str, tuple[str, Callable[[bytes], Parsed], str]] = {
    ".txt": ("txt", parse_text, "cannot read text"),
    ".md": ("md", parse_markdown, "cannot read Markdown"),
    ".markdown": ("md", parse_markdown, "cannot read Markdown"),
    ".html": ("html", parse_html, "HTML parse error"),
    ".htm": ("html", parse_html, "HTML parse error"),
    ".docx": ("docx", parse_docx, "corrupt DOCX"),
    ".pdf": ("pdf", parse_pdf, "corrupt PDF"),
}
_JSONL_SUFFIXES = tuple(s for s in SUPPORTED_SUFFIXES if s.startswith(".jsonl"))


def suffix_of(path: Path) -> str:
    """Lower-case suffix, with ".jsonl.gz" as one suffix."""
    name = path.name.lower()
    return ".jsonl.gz" if name.endswith(".jsonl.gz") else path.suffix.lower()


def _is_hidden(name: str) -> bool:
    return name.startswith((".", "~$"))


def _os_reason(prefix: str, exc: OSError) -> str:
    return f"{prefix} ({exc.strerror or exc})"


def _undecodable(path: Path) -> bool:
    """True for a name with bytes that are not UTF-8 (Python keeps them as surrogates)."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def printable_path(path: Path | str) -> str:
    """The path as a valid string: undecodable bytes shown as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")


class _Ids:
    """Ids handed out so far in one stream, and where each was first seen."""

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def first_seen(self, doc_id: str) -> str | None:
        return self._seen.get(doc_id)

    def claim(self, doc_id: str, where: str) -> None:
        self._seen[doc_id] = where

    def file_id(self, path: Path, parents: tuple[str, ...]) -> str:
        stem = path.name[: -len(path.suffix)] if path.suffix else path.name
        candidates = [stem]
        candidates += ["/".join((*parents[-k:], stem)) for k in range(1, len(parents) + 1)]
        candidates.append("/".join((*parents, path.name)))
        for candidate in candidates:
            if candidate not in self._seen:
                break
        else:
            n = 2
            while f"{candidates[-1]}~{n}" in self._seen:
                n += 1
            candidate = f"{candidates[-1]}~{n}"
        self.claim(candidate, str(path))
        return candidate


class DocumentStream(Iterator[RawDocument | SkippedFile]):
    """The iterator ``iter_documents`` returns.

    ``ignored`` counts, by suffix ("" for none), the unsupported files met inside
    walked folders; it is complete once the stream is exhausted.
    """

    def __init__(self, paths: Iterable[str | Path], max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        if isinstance(paths, (str, Path)):
            paths = [paths]
        self.max_bytes = max_bytes
        self.ignored: Counter[str] = Counter()
        self._ids = _Ids()
        self._items = self._run([Path(p) for p in paths])

    @property
    def ignored_total(self) -> int:
        return sum(self.ignored.values())

    def __iter__(self) -> DocumentStream:
        return self

    def __next__(self) -> RawDocument | SkippedFile:
        return next(self._items)

    # ------------------------------------------------------------------ walking

    def _run(self, paths: list[Path]) -> Iterator[RawDocument | SkippedFile]:
        for path in paths:
            if path.is_dir():
                yield from self._walk(path, (), set())
            elif not path.exists():
                yield SkippedFile(printable_path(path), "no such file or directory")
            elif suffix_of(path) not in SUPPORTED_SUFFIXES:
                suffix = suffix_of(path)
                what = suffix if suffix else "(no extension)"
                yield SkippedFile(printable_path(path), f"unsupported file type {what}")
            else:
                yield from self._load(path, ())

    def _walk(
        self, folder: Path, parents: tuple[str, ...], visited: set[str]
    ) -> Iterator[RawDocument | SkippedFile]:
        real = os.path.realpath(folder)
        if real in visited:  # a symlink loop
            return
        visited.add(real)
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            yield SkippedFile(printable_path(folder), _os_reason("cannot read folder", exc))
            return
        for entry in entries:
            if _is_hidden(entry.name):
                continue
            path = folder / entry.name
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                yield from self._walk(path, (*parents, entry.name), visited)
            elif suffix_of(path) in SUPPORTED_SUFFIXES:
                yield from self._load(path, parents)
            else:
                self.ignored[suffix_of(path)] += 1

    # ------------------------------------------------------------------ loading

    def _load(self, path: Path, parents: tuple[str, ...]) -> Iterator[RawDocument | SkippedFile]:
        if _undecodable(path):  # it could not be stored, printed or searched as it is
            yield SkippedFile(
                printable_path(path), "file or folder name is not valid UTF-8 (rename it)"
            )
            return
        suffix = suffix_of(path)
        if suffix in _JSONL_SUFFIXES:
            yield from self._load_jsonl(path)
            return
        fmt, parse, error_prefix = _PARSERS[suffix]
        try:
            data, parsed = self._parse_file(path, parse)
        except (LoadError, DecodeError) as exc:
            yield SkippedFile(str(path), exc.reason)
            return
        except OSError as exc:
            yield SkippedFile(str(path), _os_reason("cannot read file", exc))
            return
        except Exception as exc:  # one bad file never stops the run
            yield SkippedFile(str(path), f"{error_prefix}: {describe(exc)}")
            return
        yield RawDocument(
            id=self._ids.file_id(path, parents),
            text=parsed.text,
            path=str(path),
            format=fmt,
            encoding=parsed.encoding,
            title=parsed.title,
            source=parsed.source,
            date=parsed.date,
            url=parsed.url,
            author=parsed.author,
            fingerprint=hashlib.sha256(data).hexdigest(),
        )

    def _too_large(self, size: int) -> LoadError:
        return LoadError(
            f"file too large ({human_size(size)} > {human_size(self.max_bytes)} limit)"
        )

    def _parse_file(self, path: Path, parse: Callable[[bytes], Parsed]) -> tuple[bytes, Parsed]:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise LoadError("not a regular file")
        if info.st_size > self.max_bytes:
            raise self._too_large(info.st_size)
        with path.open("rb") as stream:
            # read(n) allocates n bytes up front: ask for the file's size, not the limit
            data = stream.read(info.st_size + 1)
            if len(data) > info.st_size:  # it grew since stat()
                data += stream.read(self.max_bytes + 1 - len(data))
        if len(data) > self.max_bytes:
            raise self._too_large(len(data))
        parsed = parse(data)
        if not parsed.text.strip():
            raise LoadError("no text")
        return data, parsed

    def _load_jsonl(self, path: Path) -> Iterator[RawDocument | SkippedFile]:
        where = str(path)
        lines = 0
        for item in iter_jsonl(path, self.max_bytes):
            lines += 1
            if isinstance(item, JsonlError):
                yield SkippedFile(where, f"JSONL line {item.line}: {item.reason}")
                continue
            problem = _record_problem(item)
            if problem is not None:
                yield SkippedFile(where, f"JSONL line {item.line}: {problem}")
                continue
            data = item.data
            doc_id = normalize_text(str(data["id"])).strip()
            first = self._ids.first_seen(doc_id)
            if first is not None:
                yield SkippedFile(
                    where,
                    f"JSONL line {item.line}: duplicate id {doc_id!r} (first seen in {first})",
                )
                continue
            self._ids.claim(doc_id, f"{where} line {item.line}")
            yield RawDocument(
                id=doc_id,
                text=normalize_text(data["text"]),
                path=where,
                format="jsonl",
                encoding="utf-8",
                title=clean_field(data.get("title")),
                source=clean_field(data.get("source")),
                date=clean_field(data.get("date")),
                url=clean_field(data.get("url")),
                author=clean_field(data.get("author")),
                fingerprint=hashlib.sha256(item.raw).hexdigest(),
            )
        if not lines:  # only blank lines: say so rather than load nothing silently
            yield SkippedFile(where, "empty file (no JSON records)")


def _record_problem(record: JsonlRecord) -> str | None:
    data = record.data
    doc_id = data.get("id")
    if doc_id is None or (isinstance(doc_id, str) and not doc_id.strip()):
        return "missing 'id'"
    if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int, float)):
        return f"invalid 'id' (expected a string or number, got {type(doc_id).__name__})"
    text = data.get("text")
    if text is None:
        return "missing 'text'"
    if not isinstance(text, str):
        return f"invalid 'text' (expected a string, got {type(text).__name__})"
    if not text.strip():
        return "empty 'text'"
    return None


def iter_documents(
    paths: Iterable[str | Path], *, max_bytes: int = DEFAULT_MAX_BYTES
) -> DocumentStream:
    """Load every supported document under ``paths`` (files or folders).

    Yields ``RawDocument`` for each loaded file or JSONL record and ``SkippedFile`` for
    each one that could not be loaded; see the module docstring for the rules.

    >>> for item in iter_documents(["corpus/articles"], max_bytes=10 * 1024 * 1024):
    ...     print(type(item).__name__, item.id[:3], len(item.text) > 0)  # doctest: +ELLIPSIS
    RawDocument 000 True
    ...
    """
    return DocumentStream(paths, max_bytes)
