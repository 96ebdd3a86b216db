"""A briefing as Markdown and as a Word document (python-docx).

Document text is escaped in Markdown (``md_escape``), so a title like ``[x](javascript:…)``
stays text in any Markdown viewer. Citations are written as [n] and the sources are listed
at the end with the same numbers, in both formats.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from rag.briefing.model import Briefing, Statement, answerer_label, cite, date_label

# The files a briefing can be written to (``write_briefing``; ``hoidap brief --out``).
BRIEFING_SUFFIXES = (".docx", ".md", ".markdown")
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~$])")


def md_escape(text: str) -> str:
    """Backslash-escape Markdown syntax; line breaks become spaces."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _filters_line(b: Briefing) -> str:
    f = b.filters
    bits = []
    if f.sources:
        bits.append("nguồn: " + ", ".join(f.sources))
    if f.since:
        bits.append(f"từ {f.since}")
    if f.until:
        bits.append(f"đến {f.until}")
    return "; ".join(bits)


def meta_line(b: Briefing) -> str:
    parts = [f"Soạn lúc {b.created_at.replace('T', ' ')}" if b.created_at else ""]
    parts.append(f"cách soạn: {answerer_label(b.answerer)}")
    filters = _filters_line(b)
    if filters:
        parts.append(f"bộ lọc: {filters}")
    return "; ".join(p for p in parts if p) + "."


def source_line(s_title: str, date: str | None, source: str | None, url: str | None) -> str:
    bits = [x for x in (date_label(date), source) if x]
    line = s_title + (f" ({', '.join(bits)})" if bits else "")
    return line + (f". {url}" if url else "")


def to_markdown(b: Briefing) -> str:
    def stmt(s: Statement) -> str:
        return f"{md_escape(s.text)} {cite(s.refs)}"

    out = [f"# Tài liệu tóm tắt: {md_escape(b.topic)}", "", f"_{md_escape(meta_line(b))}_", ""]
    if b.notice:
        out += [f"> Lưu ý: {md_escape(b.notice)}", ""]
    out += [
        "## Tổng quan",
        "",
        " ".join([md_escape(b.summary)] + [stmt(s) for s in b.overview]),
        "",
    ]
    if b.key_points:
        out += ["## Các ý chính", ""] + [f"- {stmt(s)}" for s in b.key_points] + [""]
    if b.key_figures:
        out += ["## Số liệu chính", "", "| Số liệu | Nội dung | Nguồn |", "|---|---|---|"]
        for f in b.key_figures:
            where = f"{cite((f.ref,))} «{md_escape(f.context or f.quote.text)}»"
            out.append(f"| {md_escape(f.value)} | {md_escape(f.what)} | {where} |")
        out.append("")
    if b.timeline:
        out += ["## Dòng thời gian", ""]
        out += [
            f"- **{md_escape(e.label)}** — {md_escape(e.text)} {cite((e.ref,))}" for e in b.timeline
        ]
        out.append("")
    if b.sources:
        out += ["## Nguồn", ""]
        for s in b.sources:
            out.append(
                f"[{s.n}] {md_escape(source_line(s.title, s.date, s.source, None))}"
                + (f" <{s.url}>" if s.url and re.match(r"https?://[^\s<>]+$", s.url) else "")
                + "  "
            )
        out.append("")
    return "\n".join(out)


def _x(text: str) -> str:
    """Text Word's XML can hold (control characters dropped)."""
    return _XML_BAD.sub("", text)


def to_docx_bytes(b: Briefing) -> bytes:
    """The briefing as a .docx file's bytes; every string goes through ``_x``."""
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "Times New Roman"
    style.font.size = Pt(12)
    title = _x(f"Tài liệu tóm tắt: {b.topic}")
    doc.core_properties.title = title[:250]
    doc.add_heading(title, level=0)
    meta = doc.add_paragraph(_x(meta_line(b)))
    meta.runs[0].italic = True
    if b.notice:
        doc.add_paragraph(_x(f"Lưu ý: {b.notice}"))

    doc.add_heading("Tổng quan", level=1)
    doc.add_paragraph(_x(" ".join([b.summary] + [f"{s.text} {cite(s.refs)}" for s in b.overview])))
    if b.key_points:
        doc.add_heading("Các ý chính", level=1)
        for s in b.key_points:
            doc.add_paragraph(_x(f"{s.text} {cite(s.refs)}"), style="List Bullet")
    if b.key_figures:
        doc.add_heading("Số liệu chính", level=1)
        table = doc.add_table(rows=1, cols=3)
        table.style = "Table Grid"
        for cell, head in zip(table.rows[0].cells, ("Số liệu", "Nội dung", "Nguồn"), strict=True):
            cell.text = head
            cell.paragraphs[0].runs[0].bold = True
        for f in b.key_figures:
            row = table.add_row().cells
            row[0].text, row[1].text = _x(f.value), _x(f.what)
            row[2].text = _x(f"{cite((f.ref,))} «{f.context or f.quote.text}»")
    if b.timeline:
        doc.add_heading("Dòng thời gian", level=1)
        for e in b.timeline:
            p = doc.add_paragraph(style="List Bullet")
            p.add_run(_x(e.label)).bold = True
            p.add_run(_x(f" — {e.text} {cite((e.ref,))}"))
    if b.sources:
        doc.add_heading("Nguồn", level=1)
        for src in b.sources:
            line = source_line(src.title, src.date, src.source, src.url)
            doc.add_paragraph(_x(f"[{src.n}] {line}"))
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def write_briefing(b: Briefing, path: str | Path) -> Path:
    """Write ``.md`` or ``.docx`` (by the file's suffix)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".docx":
        path.write_bytes(to_docx_bytes(b))
    elif suffix in BRIEFING_SUFFIXES:
        path.write_text(to_markdown(b), encoding="utf-8")
    else:
        raise ValueError(f"{path.name}: dùng đuôi .docx hoặc .md")
    return path
