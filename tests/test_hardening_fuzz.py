"""Property-based tests (hypothesis) over the loaders and the normalisers (issue #6).

The loaders' contract: any bytes under any supported name give a ``RawDocument`` or a
``SkippedFile`` with a reason, never an exception, and what they give can be stored
(NFC, no lone surrogates, no ``\\r``). Valid files are also damaged on purpose (cut short,
bytes overwritten) because real corruption looks like that more than like random bytes.
The normalisers must never raise and must be idempotent.

Other property tests live beside their modules: ``decode_bytes`` (test_encodings),
cleaning (test_clean), chunk offsets (test_chunking), metadata (test_metadata) and
``search_key`` / ``clean_display`` (test_text).
"""

from __future__ import annotations

import gzip
import io
import json
import tempfile
import unicodedata
from pathlib import Path

import docx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus.formats import clean_field, normalize_text
from corpus.loaders import SUPPORTED_SUFFIXES, iter_documents
from corpus.text import canonical_tones, clean_display, nfc, search_key, strip_diacritics, tokens
from corpus.types import RawDocument, SkippedFile
from tests.test_loaders import make_pdf

FUZZ = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SENTENCE = "Ban Dân vận Tỉnh ủy tổ chức hội nghị tổng kết công tác dân vận năm 2021."


def load_bytes(name: str, data: bytes) -> list[RawDocument | SkippedFile]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        return list(iter_documents([path], max_bytes=1024 * 1024))


def check_items(items: list[RawDocument | SkippedFile]) -> None:
    assert items, "a file must give at least one item"
    for item in items:
        if isinstance(item, SkippedFile):
            assert item.reason and item.reason.strip() == item.reason
            item.reason.encode("utf-8")  # printable, storable
            continue
        assert isinstance(item, RawDocument)
        assert item.text.strip()
        assert "\r" not in item.text
        assert item.text == unicodedata.normalize("NFC", item.text)
        for value in (item.id, item.text, item.title, item.source, item.date, item.author):
            if value is not None:
                value.encode("utf-8")  # raises on lone surrogates: SQLite/Chroma would
        assert len(item.fingerprint) == 64


# --------------------------------------------------------------- valid files to damage


def _docx_bytes() -> bytes:
    d = docx.Document()
    d.core_properties.title = "Hội nghị tổng kết"
    for _ in range(3):
        d.add_paragraph(SENTENCE)
    table = d.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Xã An Phú"
    table.rows[0].cells[1].text = "151 đơn vị"
    buffer = io.BytesIO()
    d.save(buffer)
    return buffer.getvalue()


VALID = {
    ".txt": f"{SENTENCE}\n\n{SENTENCE}\n".encode(),
    ".md": f"---\ntitle: Tin\n---\n# Tiêu đề\n\n{SENTENCE} [xem](http://x.vn)\n".encode(),
    ".html": (
        f"<html><head><title>Tin</title><meta charset='utf-8'></head>"
        f"<body><nav>Trang chủ</nav><p>{SENTENCE}</p><table><tr><td>a</td><td>b</td></tr>"
        f"</table></body></html>"
    ).encode(),
    ".docx": _docx_bytes(),
    ".pdf": make_pdf(
        [[b"Hoi nghi tong ket cong tac dan van nam 2021.", b"151 don vi."], [b"Trang hai."]],
        {"Title": "Hoi nghi"},
    ),
    ".jsonl": b"\n".join(
        json.dumps({"id": f"r{i}", "title": "Tin", "text": SENTENCE}, ensure_ascii=False).encode()
        for i in range(3)
    ),
}
VALID[".jsonl.gz"] = gzip.compress(VALID[".jsonl"])


def test_the_valid_fixtures_load() -> None:
    """The damage tests below start from files that do load."""
    for suffix, data in VALID.items():
        items = load_bytes(f"ok{suffix}", data)
        assert items and all(isinstance(i, RawDocument) for i in items), (suffix, items)


@FUZZ
@given(st.sampled_from(SUPPORTED_SUFFIXES), st.binary(max_size=4096))
def test_any_bytes_under_any_supported_name(suffix: str, data: bytes) -> None:
    check_items(load_bytes(f"doc{suffix}", data))


@FUZZ
@given(st.sampled_from(sorted(VALID)), st.data())
def test_damaged_valid_files(suffix: str, data: st.DataObject) -> None:
    blob = bytearray(VALID[suffix])
    cut = data.draw(st.integers(0, len(blob)), label="cut")
    damaged = bytes(blob[:cut])
    if data.draw(st.booleans(), label="also overwrite bytes"):
        damaged = bytearray(VALID[suffix])
        for _ in range(data.draw(st.integers(1, 8), label="n")):
            pos = data.draw(st.integers(0, len(damaged) - 1))
            damaged[pos] = data.draw(st.integers(0, 255))
        damaged = bytes(damaged)
    check_items(load_bytes(f"doc{suffix}", damaged))


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
_RECORDS = st.fixed_dictionaries(
    {},
    optional={
        "id": _JSON_VALUES | st.text(max_size=20),
        "text": _JSON_VALUES | st.text(max_size=200),
        "title": _JSON_VALUES,
        "date": _JSON_VALUES,
        "source": _JSON_VALUES,
    },
)
_LINES = st.one_of(
    _RECORDS.map(lambda r: json.dumps(r, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    st.binary(max_size=80),
    st.text(max_size=80).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


@FUZZ
@given(st.lists(_LINES, max_size=12), st.booleans())
def test_jsonl_lines_of_any_kind(lines: list[bytes], compressed: bool) -> None:
    data = b"\n".join(lines)
    name = "records.jsonl.gz" if compressed else "records.jsonl"
    items = load_bytes(name, gzip.compress(data) if compressed else data)
    check_items(items)
    blank = not data.removeprefix(b"\xef\xbb\xbf").strip()
    if blank:
        assert items == [SkippedFile(items[0].path, "empty file (no JSON records)")]
        return
    for item in items:
        if isinstance(item, SkippedFile):
            assert item.reason.startswith("JSONL line ")


# ------------------------------------------------------------------------ normalisers

_MESSY = st.text(
    alphabet=st.sampled_from(
        [
            *"aăâeêioôơuưy dđĐÂ\r\n\t\u00a0\u200b\ufeff.,;:!?…—–“”‘’«»0123456789",
            *("\u0300", "\u0301", "\u0309", "\u0303", "\u0323", "\ud800", "\udfff", "😀", "\x00"),
        ]
    ),
    max_size=200,
)


@settings(max_examples=400, deadline=None, database=None)
@given(st.text(max_size=200) | _MESSY)
def test_normalize_text_is_idempotent_nfc_and_storable(text: str) -> None:
    out = normalize_text(text)
    assert normalize_text(out) == out
    assert out == unicodedata.normalize("NFC", out)
    assert "\r" not in out
    out.encode("utf-8")  # no lone surrogates left


@settings(max_examples=400, deadline=None, database=None)
@given(st.text(max_size=120) | _MESSY | st.integers() | st.floats() | st.none() | st.booleans())
def test_clean_field_is_one_trimmed_line_or_none(value: object) -> None:
    out = clean_field(value)
    if out is None:
        return
    assert out and out == out.strip() and "\n" not in out and "\r" not in out
    assert clean_field(out) == out
    out.encode("utf-8")


@settings(max_examples=400, deadline=None, database=None)
@given(st.text(max_size=200) | _MESSY)
def test_rag_text_normalisers_are_idempotent(text: str) -> None:
    shown = clean_display(text)
    assert clean_display(shown) == shown
    assert nfc(nfc(text)) == nfc(text)
    canon = canonical_tones(text)
    assert canonical_tones(canon) == canon
    plain = strip_diacritics(text)
    assert strip_diacritics(plain) == plain
    assert tokens(search_key(text)) == tokens(text)
