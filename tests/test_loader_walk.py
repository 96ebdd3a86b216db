"""Loading many documents (corpus.loaders): JSONL and gzipped JSONL records, folder
walking, ids, fingerprints and per-file errors.

Fixtures are generated in tmp_path; nothing here reads the shared data sets.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import unicodedata
from pathlib import Path

from corpus import loaders
from corpus.loaders import SUPPORTED_SUFFIXES, iter_documents
from corpus.types import RawDocument, SkippedFile
from tests.loading import load, load_one, skip_reason

# --------------------------------------------------------------------------- JSONL


def _record(i: int | str, **extra: object) -> bytes:
    fields = {"id": i, "title": f"Tin số {i}", "text": f"Nội dung tin số {i}.", **extra}
    return json.dumps(fields, ensure_ascii=False).encode("utf-8")


JSONL_LINES = [
    _record("a1", source="baogialai.vn", date="2021-12-30", url="https://x.vn/1", extra=[1]),
    b'{"id": "a2", "title": "broken", "text": ',  # line 2
    b"",  # blank line: ignored
    _record(3),  # numeric id -> "3"
    b'{"title": "no id", "text": "x"}',  # line 5
    b'{"id": "a6", "title": "no text"}',  # line 6
    b'["not", "an", "object"]',  # line 7
    _record("a1"),  # line 8: duplicate
    b'{"id": "a9", "text": "  "}',  # line 9
    b'{"id": "a10", "text": "Bad \xff byte"}',  # line 10
    b'{"id": {"x": 1}, "text": "id is an object"}',  # line 11
    _record("a12", text="Dòng một\r\nDòng hai"),
]


def _check_jsonl_items(items: list[RawDocument | SkippedFile], path: Path) -> None:
    docs = [i for i in items if isinstance(i, RawDocument)]
    skipped = [i.reason for i in items if isinstance(i, SkippedFile)]
    assert [d.id for d in docs] == ["a1", "3", "a12"]
    first = docs[0]
    assert (first.title, first.text, first.source, first.date, first.url) == (
        "Tin số a1",
        "Nội dung tin số a1.",
        "baogialai.vn",
        "2021-12-30",
        "https://x.vn/1",
    )
    assert (first.format, first.encoding, first.path) == ("jsonl", "utf-8", str(path))
    assert first.fingerprint == hashlib.sha256(JSONL_LINES[0]).hexdigest()
    assert docs[2].text == "Dòng một\nDòng hai"
    assert skipped == [
        "JSONL line 2: invalid JSON (Expecting value at column 41)",
        "JSONL line 5: missing 'id'",
        "JSONL line 6: missing 'text'",
        "JSONL line 7: expected a JSON object, got list",
        f"JSONL line 8: duplicate id 'a1' (first seen in {path} line 1)",
        "JSONL line 9: empty 'text'",
        "JSONL line 10: invalid UTF-8 at byte 28",
        "JSONL line 11: invalid 'id' (expected a string or number, got dict)",
    ]


def test_jsonl_records_and_broken_lines(tmp_path):
    path = tmp_path / "tin.jsonl"
    path.write_bytes(b"\n".join(JSONL_LINES) + b"\n")
    _check_jsonl_items(load(path), path)


def test_jsonl_gz(tmp_path):
    path = tmp_path / "tin.jsonl.gz"
    path.write_bytes(gzip.compress(b"\r\n".join(JSONL_LINES)))  # CRLF, no final newline
    _check_jsonl_items(load(path), path)


def test_truncated_gzip_keeps_earlier_records(tmp_path):
    lines = b"".join(_record(f"r{i}", text="Nội dung " * 40) + b"\n" for i in range(500))
    compressed = gzip.compress(lines)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    stream = iter_documents([path])
    first = next(stream)  # streamed: the broken end is not read yet
    assert isinstance(first, RawDocument) and first.id == "r0"
    rest = list(stream)
    docs = [first, *(i for i in rest if isinstance(i, RawDocument))]
    assert 0 < len(docs) < 500
    assert [d.id for d in docs] == [f"r{i}" for i in range(len(docs))]
    assert isinstance(rest[-1], SkippedFile)
    assert rest[-1].reason.startswith(f"JSONL line {len(docs) + 1}: truncated or corrupt gzip")


def test_not_a_gzip_file(tmp_path):
    path = tmp_path / "plain.jsonl.gz"
    path.write_bytes(_record("x"))
    assert skip_reason(path).startswith("JSONL line 1: not a gzip file")


def test_jsonl_line_longer_than_max_bytes(tmp_path):
    path = tmp_path / "long.jsonl"
    path.write_bytes(b"\n".join([_record("a"), _record("b", text="x" * 5000), _record("c")]))
    items = load(path, max_bytes=1000)
    assert [getattr(i, "id", None) or i.reason for i in items] == [  # type: ignore[union-attr]
        "a",
        "JSONL line 2: record larger than the 1000 bytes limit",
        "c",
    ]


# ----------------------------------------------------------------- walking and ids


def test_folders_are_walked_sorted_hidden_and_unsupported_skipped(tmp_path):
    (tmp_path / "b.txt").write_text("Tin b", encoding="utf-8")
    (tmp_path / "a.md").write_text("Tin a", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.txt").write_text("Tin c", encoding="utf-8")
    (tmp_path / "sub" / "notes.xyz").write_text("?")
    (tmp_path / "sub" / "scan.JPG").write_bytes(b"\xff\xd8")
    (tmp_path / "sub" / "README").write_text("?")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.txt").write_text("hidden")
    (tmp_path / ".hidden.txt").write_text("hidden")
    (tmp_path / "~$lock.docx").write_bytes(b"junk")
    stream = iter_documents([tmp_path])
    items = list(stream)
    assert [i.id for i in items if isinstance(i, RawDocument)] == ["a", "b", "c"]
    assert len(items) == 3
    assert stream.ignored == {".xyz": 1, ".jpg": 1, "": 1}
    assert stream.ignored_total == 3


def test_paths_named_directly(tmp_path):
    (tmp_path / "notes.xyz").write_text("?")
    (tmp_path / "Makefile").write_text("?")
    (tmp_path / ".hidden.txt").write_text("Tin ẩn", encoding="utf-8")
    items = load(
        tmp_path / "notes.xyz",
        tmp_path / "Makefile",
        tmp_path / "missing.txt",
        tmp_path / ".hidden.txt",
    )
    assert [getattr(i, "reason", None) for i in items] == [
        "unsupported file type .xyz",
        "unsupported file type (no extension)",
        "no such file or directory",
        None,
    ]
    assert isinstance(items[3], RawDocument) and items[3].id == ".hidden"


def test_a_single_string_path_is_one_path(tmp_path):
    (tmp_path / "a.txt").write_text("Tin a", encoding="utf-8")
    assert [i.id for i in iter_documents(str(tmp_path))] == ["a"]  # type: ignore[union-attr]


def test_duplicate_stems_get_their_folder_as_prefix(tmp_path):
    for folder in ("2020", "2021", "2021/q4"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / "bao-cao.txt").write_text(f"Báo cáo {folder}", encoding="utf-8")
    (tmp_path / "2021" / "bao-cao.md").write_text("Báo cáo md", encoding="utf-8")
    (tmp_path / "x" / "q4").mkdir(parents=True)
    (tmp_path / "x" / "q4" / "bao-cao.txt").write_text("Báo cáo x/q4", encoding="utf-8")
    docs = [i for i in load(tmp_path) if isinstance(i, RawDocument)]
    assert [(d.id, d.text) for d in docs] == [
        ("bao-cao", "Báo cáo 2020"),
        ("2021/bao-cao", "Báo cáo md"),
        ("2021/bao-cao.txt", "Báo cáo 2021"),
        ("q4/bao-cao", "Báo cáo 2021/q4"),
        ("x/q4/bao-cao", "Báo cáo x/q4"),
    ]


def test_ids_are_unique_across_files_and_jsonl(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "tin-1.txt").write_text("Tin một", encoding="utf-8")
    (tmp_path / "b.jsonl").write_bytes(_record("tin-1") + b"\n" + _record("tin-2") + b"\n")
    (tmp_path / "c.jsonl").write_bytes(_record("tin-2") + b"\n")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "tin-2.txt").write_text("Tin hai", encoding="utf-8")
    items = load(tmp_path)
    assert [getattr(i, "id", None) or i.reason for i in items] == [  # type: ignore[union-attr]
        "tin-1",
        f"JSONL line 1: duplicate id 'tin-1' (first seen in {tmp_path / 'a' / 'tin-1.txt'})",
        "tin-2",
        f"JSONL line 1: duplicate id 'tin-2' (first seen in {tmp_path / 'b.jsonl'} line 2)",
        "d/tin-2",
    ]


def test_fingerprint_follows_the_bytes(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("Tin một", encoding="utf-8")
    first = load_one(path).fingerprint
    assert load_one(path).fingerprint == first
    path.write_text("Tin hai", encoding="utf-8")
    assert load_one(path).fingerprint != first


def test_an_unexpected_parser_error_skips_only_that_file(tmp_path, monkeypatch):
    def boom(data: bytes) -> None:
        raise RuntimeError("boom")

    monkeypatch.setitem(loaders._PARSERS, ".docx", ("docx", boom, "corrupt DOCX"))
    (tmp_path / "a.docx").write_bytes(b"whatever")
    (tmp_path / "b.txt").write_text("Tin b", encoding="utf-8")
    a, b = load(tmp_path)
    assert isinstance(a, SkippedFile) and a.reason == "corrupt DOCX: RuntimeError: boom"
    assert isinstance(b, RawDocument) and b.id == "b"


def test_every_supported_suffix_has_a_loader():
    assert set(SUPPORTED_SUFFIXES) == {*loaders._PARSERS, ".jsonl", ".jsonl.gz"}


def test_text_outputs_are_nfc(tmp_path):
    nfd = unicodedata.normalize("NFD", "Hội nghị tổng kết")
    (tmp_path / "a.txt").write_text(nfd, encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(json.dumps({"id": "b", "title": nfd, "text": nfd}))
    (tmp_path / "c.html").write_text(f"<title>{nfd}</title><p>{nfd}</p>", encoding="utf-8")
    docs = load(tmp_path)
    assert all(isinstance(d, RawDocument) for d in docs)
    for d in docs:
        assert d.text == unicodedata.normalize("NFC", nfd)  # type: ignore[union-attr]


def test_special_files_are_not_read(tmp_path):
    import os

    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)  # reading it would block forever
    assert skip_reason(fifo) == "not a regular file"
