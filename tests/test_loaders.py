"""Loaders for each single-document format (corpus.formats.*): text and Markdown, HTML,
DOCX and PDF, through ``corpus.loaders``; JSONL and folder walking are in
``tests/test_loader_walk.py``.

Fixtures are generated in tmp_path; nothing here reads the shared data sets.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import zipfile
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader, PdfWriter

from corpus.encodings import encode_cp1258, encode_tcvn3, encode_vni
from corpus.formats import word
from corpus.loaders import iter_documents
from corpus.types import RawDocument, SkippedFile
from tests.loading import load, load_one, skip_reason

REPORT = (
    "Ban Dân vận Tỉnh ủy tổ chức hội nghị tổng kết công tác dân vận năm 2021, triển khai "
    "nhiệm vụ năm 2022.\n\n"
    "Đồng chí Trưởng Ban Dân vận Tỉnh ủy phát biểu chỉ đạo hội nghị. Năm qua, các cấp ủy "
    "đảng, chính quyền, Mặt trận Tổ quốc và các đoàn thể đã thực hiện tốt Quy chế dân chủ "
    "ở cơ sở; 98% khu dân cư đạt danh hiệu văn hóa.\n"
)


# ---------------------------------------------------------------------------- text


@pytest.mark.parametrize(
    ("encode", "encoding"),
    [
        (lambda t: t.encode("utf-8"), "utf-8"),
        (lambda t: t.encode("utf-8-sig"), "utf-8-sig"),
        (lambda t: t.encode("utf-16-le"), "utf-16-le"),
        (lambda t: b"\xfe\xff" + t.encode("utf-16-be"), "utf-16-be"),
        (encode_cp1258, "cp1258"),
        (lambda t: encode_tcvn3(t.replace("Đ", "đ")), "tcvn3"),  # plain TCVN3 has no "Đồ"
        (encode_vni, "vni"),
    ],
)
def test_txt_in_every_encoding(tmp_path, encode, encoding):
    text = REPORT if encoding != "tcvn3" else REPORT.replace("Đ", "đ")
    path = tmp_path / "000_bd9e0bf0f2c7e356.txt"
    data = encode(text.replace("\n", "\r\n"))
    path.write_bytes(data)
    doc = load_one(path)
    assert doc.text == text  # NFC, CRLF -> LF, nothing else changed
    assert doc.encoding == encoding
    assert doc.id == "000_bd9e0bf0f2c7e356"
    assert (doc.format, doc.path, doc.title) == ("txt", str(path), None)
    assert doc.fingerprint == hashlib.sha256(data).hexdigest()


def test_txt_stays_close_to_the_source(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("  Hội nghị  \n\n\n\nBan Dân vận   \n", encoding="utf-8")
    assert load_one(path).text == "  Hội nghị  \n\n\n\nBan Dân vận   \n"


def test_markdown_keeps_text_drops_markup_noise(tmp_path):
    path = tmp_path / "tin.md"
    path.write_text(
        '---\ntitle: "Hội nghị tổng kết"\ndate: 2021-12-30\nauthor: Minh Thư\n---\n'
        "# Hội nghị tổng kết\n\n"
        "![ảnh hội nghị](img/hoi-nghi.jpg)\n"
        "Xem [báo cáo](https://example.vn/bao-cao) và [Quy chế][qc]. #dân_vận\n\n"
        "## Kết quả ##\n"
        "- Khu dân cư văn hóa: **98%**\n\n"
        "[qc]: https://example.vn/quy-che\n",
        encoding="utf-8",
    )
    doc = load_one(path)
    assert doc.format == "md"
    assert doc.text == (
        "Hội nghị tổng kết\n\n\n"
        "Xem báo cáo và Quy chế. #dân_vận\n\n"
        "Kết quả\n"
        "- Khu dân cư văn hóa: **98%**\n\n\n"
    )
    assert (doc.title, doc.date, doc.author) == ("Hội nghị tổng kết", "2021-12-30", "Minh Thư")


def test_binary_and_empty_files(tmp_path):
    (tmp_path / "a_binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10)
    (tmp_path / "b_empty.txt").write_bytes(b"")
    (tmp_path / "c_blank.md").write_bytes(b"  \n\n\t")
    (tmp_path / "d_image_only.md").write_bytes(b"![a](b.png)\n")
    (tmp_path / "e_french.txt").write_bytes("Le café était célèbre à Genève".encode("cp1252"))
    (tmp_path / "f_ok.txt").write_text(REPORT, encoding="utf-8")
    items = load(tmp_path)
    assert [type(i).__name__ for i in items] == ["SkippedFile"] * 5 + ["RawDocument"]
    assert [i.reason for i in items[:5]] == [  # type: ignore[union-attr]
        "binary file",
        "empty file",
        "empty file",
        "no text",
        "not Vietnamese text in any supported encoding (utf-8, utf-16, windows-1258, TCVN3, VNI)",
    ]


def test_file_too_large_is_not_read(tmp_path, monkeypatch):
    path = tmp_path / "big.txt"
    path.write_bytes(b"Tin " * 12800)  # 50 KiB
    monkeypatch.setattr(Path, "open", lambda *a, **k: pytest.fail("must not be opened"))
    reason = skip_reason(path, max_bytes=1024)
    assert reason == "file too large (50.0 KB > 1.0 KB limit)"


def test_max_bytes_must_be_positive():
    with pytest.raises(ValueError, match="max_bytes"):
        iter_documents(["x"], max_bytes=0)


# ---------------------------------------------------------------------------- HTML

PAGE = """<!DOCTYPE html>
<html lang="vi"><head>
<meta charset="utf-8">
<title>Hội nghị tổng kết công tác dân vận năm 2021</title>
<meta property="og:title" content="OG title">
<meta property="og:site_name" content="Báo Gia Lai">
<meta property="og:url" content="https://baogialai.vn/og">
<meta property="article:published_time" content="2021-12-30T08:15:00+07:00">
<meta name="author" content="Minh Thư">
<link rel="canonical" href="https://baogialai.vn/hoi-nghi.html">
<style>p { color: red }</style>
<script>var tracking = "Đừng lấy tôi";</script>
</head><body>
<header><a href="/">Trang chủ</a> | Thời sự</header>
<nav><ul><li>Chính trị</li><li>Kinh tế</li></ul></nav>
<article>
<h1>Hội nghị tổng kết</h1>
<p>Sáng 30/12, Ban Dân vận Tỉnh ủy tổ chức
   hội nghị <b>tổng kết</b> công tác dân vận.</p>
<!-- comment that must not appear -->
<p>Tham dự có đồng chí Châu Ngọc Tuấn<br>Phó Bí thư Thường trực Tỉnh ủy.</p>
<table><tr><th>Chỉ tiêu</th><th>Kết quả</th></tr>
<tr><td>Khu dân cư văn hóa</td><td>98%</td></tr></table>
<div>Năm 2022 <div>tiếp tục</div> phát huy.</div>
</article>
<aside>Tin liên quan: Lorem</aside>
<form><input value="Tìm kiếm">Tìm kiếm</form>
<noscript>Bật JavaScript</noscript>
<iframe src="x"></iframe>
<footer>Bản quyền © Báo Gia Lai</footer>
</body></html>
"""


def test_html_text_and_metadata(tmp_path):
    path = tmp_path / "hoi-nghi.html"
    path.write_text(PAGE, encoding="utf-8")
    doc = load_one(path)
    assert doc.text == (
        "Hội nghị tổng kết\n\n"
        "Sáng 30/12, Ban Dân vận Tỉnh ủy tổ chức hội nghị tổng kết công tác dân vận.\n\n"
        "Tham dự có đồng chí Châu Ngọc Tuấn\nPhó Bí thư Thường trực Tỉnh ủy.\n\n"
        "Chỉ tiêu | Kết quả\n\n"
        "Khu dân cư văn hóa | 98%\n\n"
        "Năm 2022\n\ntiếp tục\n\nphát huy."
    )
    assert doc.title == "Hội nghị tổng kết công tác dân vận năm 2021"
    assert doc.date == "2021-12-30T08:15:00+07:00"
    assert doc.author == "Minh Thư"
    assert doc.url == "https://baogialai.vn/hoi-nghi.html"
    assert doc.source == "Báo Gia Lai"
    assert (doc.format, doc.encoding, doc.id) == ("html", "utf-8", "hoi-nghi")


def test_html_metadata_fallbacks(tmp_path):
    (tmp_path / "a.htm").write_text(
        '<html><head><meta property="og:title" content="Tiêu đề OG">'
        '<meta property="og:url" content="https://x.vn/a"></head>'
        '<body><h1>H1</h1><p>Nội dung <time datetime="2020-02-27">27/2</time></p></body></html>',
        encoding="utf-8",
    )
    (tmp_path / "b.htm").write_text(
        '<html><body><h1>  Tiêu đề\n H1 </h1><span itemprop="datePublished">'
        "2019-05-01</span><p>Nội dung</p></body></html>",
        encoding="utf-8",
    )
    a, b = load(tmp_path)
    assert isinstance(a, RawDocument) and isinstance(b, RawDocument)
    assert (a.title, a.date, a.url) == ("Tiêu đề OG", "2020-02-27", "https://x.vn/a")
    assert (b.title, b.date, b.url) == ("Tiêu đề H1", "2019-05-01", None)


def test_html_in_legacy_encodings(tmp_path):
    body = "<p>" + REPORT.replace("Đ", "đ") + "</p>"
    (tmp_path / "a_1258.html").write_bytes(
        b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1258">'
        b"</head><body>" + encode_cp1258(body) + b"</body></html>"
    )
    # Old provincial sites declared iso-8859-1 and used .VnTime (TCVN3) fonts.
    (tmp_path / "b_tcvn3.html").write_bytes(
        b'<html><head><meta charset="iso-8859-1"></head><body>'
        + encode_tcvn3(body)
        + b"</body></html>"
    )
    (tmp_path / "c_latin1.html").write_bytes(
        b'<html><head><meta charset="iso-8859-1"></head><body><p>Le caf\xe9 \xe9tait c\xe9l\xe8bre'
        b" \xe0 Gen\xe8ve</p></body></html>"
    )
    a, b, c = load(tmp_path)
    assert isinstance(a, RawDocument) and isinstance(b, RawDocument)
    assert isinstance(c, RawDocument)
    assert (a.encoding, b.encoding, c.encoding) == ("cp1258", "tcvn3", "cp1252")
    assert a.text == b.text == REPORT.replace("Đ", "đ").strip().replace("\n\n", " ")
    assert c.text == "Le café était célèbre à Genève"


def test_html_without_text(tmp_path):
    path = tmp_path / "empty.html"
    path.write_text("<html><body><nav>Menu</nav><script>x()</script></body></html>")
    assert skip_reason(path) == "no text found in HTML"


# ---------------------------------------------------------------------------- DOCX


def _docx(path: Path, paragraphs: list[str], *, title: str = "", author: str = "") -> Path:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Chỉ tiêu", "Kết quả"
    table.cell(1, 0).text, table.cell(1, 1).text = "Khu dân cư văn hóa", "98%"
    document.add_paragraph("")
    document.add_paragraph("Nơi nhận: như trên.")
    if title:
        document.core_properties.title = title
    if author:
        document.core_properties.author = author
        document.core_properties.created = datetime.datetime(2021, 12, 30, 9, 0)
    document.save(str(path))
    return path


def test_docx_paragraphs_tables_and_properties(tmp_path):
    path = _docx(
        tmp_path / "bao-cao.docx",
        ["Ban Dân vận Tỉnh ủy", "Báo cáo tổng kết công tác dân vận năm 2021"],
        title="Báo cáo tổng kết",
        author="Ban Dân vận",
    )
    doc = load_one(path)
    assert doc.text == (
        "Ban Dân vận Tỉnh ủy\n\nBáo cáo tổng kết công tác dân vận năm 2021\n\n"
        "Chỉ tiêu\n\nKết quả\n\nKhu dân cư văn hóa\n\n98%\n\nNơi nhận: như trên."
    )
    assert (doc.title, doc.author, doc.date) == ("Báo cáo tổng kết", "Ban Dân vận", "2021-12-30")
    assert (doc.format, doc.encoding, doc.id) == ("docx", "utf-8", "bao-cao")
    assert doc.fingerprint == hashlib.sha256(path.read_bytes()).hexdigest()


def test_docx_python_docx_template_properties_count_as_unset(tmp_path):
    doc = load_one(_docx(tmp_path / "a.docx", ["Nội dung"]))
    assert (doc.title, doc.author, doc.date) == (None, None, None)


def test_docx_typed_with_a_tcvn3_font_is_repaired(tmp_path):
    mojibake = encode_tcvn3(REPORT.replace("Đ", "đ")).decode("cp1252")  # what .VnTime stores
    doc = load_one(_docx(tmp_path / "vntime.docx", mojibake.split("\n\n")))
    assert doc.encoding == "tcvn3"
    assert doc.text.startswith("Ban Dân vận Tỉnh ủy tổ chức hội nghị tổng kết")


def test_docx_zip_bomb_is_rejected_before_parsing(tmp_path, monkeypatch):
    path = _docx(tmp_path / "bomb.docx", ["Nội dung"])
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/media/zeros.bin", b"\x00" * (20 * 1024 * 1024))
    monkeypatch.setattr(docx, "Document", lambda *a: pytest.fail("must not be parsed"))
    reason = skip_reason(path)
    assert reason.startswith("DOCX rejected as a possible zip bomb: compression ratio ")
    assert reason.endswith(":1 (limit 100:1)")


def test_docx_too_much_uncompressed_data(tmp_path, monkeypatch):
    path = _docx(tmp_path / "big.docx", ["Nội dung"])
    monkeypatch.setattr(word, "MAX_UNCOMPRESSED", 1000)
    reason = skip_reason(path)
    assert reason.startswith("DOCX rejected as a possible zip bomb: ")
    assert reason.endswith(" KB uncompressed (limit 1000 bytes)")


def test_corrupt_docx(tmp_path):
    (tmp_path / "a_not_zip.docx").write_bytes(b"PK\x03\x04 this is not really a zip")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a word document")
    (tmp_path / "b_wrong_zip.docx").write_bytes(buffer.getvalue())
    a, b = load(tmp_path)
    assert isinstance(a, SkippedFile) and isinstance(b, SkippedFile)
    assert a.reason.startswith("corrupt DOCX: not a valid zip archive")
    assert b.reason.startswith("corrupt DOCX: ")


# ----------------------------------------------------------------------------- PDF


def _escape(data: bytes) -> bytes:
    return data.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def make_pdf(pages: list[list[bytes]], info: dict[str, str] | None = None) -> bytes:
    """A minimal valid PDF: one page per list of lines, Helvetica with WinAnsiEncoding."""
    objects: list[bytes] = [b"", b""]  # catalog and page tree, filled in below
    objects.append(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    kids = []
    for lines in pages:
        ops = [b"BT /F1 12 Tf 72 720 Td 14 TL", *(b"(" + _escape(x) + b") Tj T*" for x in lines)]
        stream = b"\n".join([*ops, b"ET"]) if lines else b""
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (len(objects))
        )
        kids.append(len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    refs = b" ".join(b"%d 0 R" % k for k in kids)
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (refs, len(kids))
    trailer = b"<< /Size %d /Root 1 0 R" % (len(objects) + 1 + bool(info))
    if info:
        entries = b" ".join(
            b"/%s (%s)" % (k.encode(), _escape(v.encode("latin-1"))) for k, v in info.items()
        )
        objects.append(b"<< " + entries + b" >>")
        trailer += b" /Info %d 0 R" % len(objects)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n%s >>\nstartxref\n%d\n%%%%EOF\n" % (trailer, xref)
    return bytes(out)


def test_pdf_text_pages_and_metadata(tmp_path):
    path = tmp_path / "bao-cao.pdf"
    path.write_bytes(
        make_pdf(
            [[b"Ban Dan van Tinh uy", b"to chuc hoi nghi (tong ket)"], [], [b"Trang 3"]],
            {"Title": "Bao cao", "Author": "Ban Dan van", "CreationDate": "D:20211230083000"},
        )
    )
    doc = load_one(path)
    assert doc.text == "Ban Dan van Tinh uy\nto chuc hoi nghi (tong ket)\n\nTrang 3"
    assert (doc.title, doc.author, doc.date) == ("Bao cao", "Ban Dan van", "2021-12-30")
    assert (doc.format, doc.id) == ("pdf", "bao-cao")


def test_pdf_made_with_a_tcvn3_font_is_repaired(tmp_path):
    path = tmp_path / "vntime.pdf"
    path.write_bytes(make_pdf([[encode_tcvn3("Ban Dân vận Tỉnh ủy tổ chức hội nghị tổng kết")]]))
    doc = load_one(path)
    assert (doc.text, doc.encoding) == ("Ban Dân vận Tỉnh ủy tổ chức hội nghị tổng kết", "tcvn3")


def test_pdf_without_text_layer_needs_ocr(tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(make_pdf([[], []]))
    assert skip_reason(path) == "PDF has no text layer (scanned image?) — needs OCR"


def _encrypted(user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([[b"Noi dung mat"]]))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_encrypted_pdf(tmp_path):
    (tmp_path / "a_locked.pdf").write_bytes(_encrypted("secret"))
    (tmp_path / "b_owner_only.pdf").write_bytes(_encrypted(""))
    (tmp_path / "c_corrupt.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    a, b, c = load(tmp_path)
    assert (
        isinstance(a, SkippedFile) and a.reason == "encrypted PDF (a password is needed to read it)"
    )
    assert isinstance(b, RawDocument) and b.text == "Noi dung mat"
    assert isinstance(c, SkippedFile) and c.reason.startswith("corrupt PDF: ")
