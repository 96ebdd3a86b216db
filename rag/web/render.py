"""HTML for the web app, built from escaped text only.

Nothing that comes from a document, a question or a model reaches the page unescaped:
``esc`` turns the HTML metacharacters *and* the characters that Markdown, LaTeX or a
template would act on (``[ ] ( ) * _ ` ~ # ! | $ { } \\``) into numeric character
references, so the chat's Markdown renderer shows them literally (no links, no emphasis,
no script). The only tags in the output are the ones written here.

>>> esc('<img src=x onerror="alert(1)"> [a](javascript:x)')
'&lt;img src=x onerror=&quot;alert&#40;1&#41;&quot;&gt; &#91;a&#93;&#40;javascript:x&#41;'
>>> answer_text_html("151 cơ quan [1].", turn=2, known={1})
'151 cơ quan <a class="hd-cite" href="#hd-src-2-1" title="Xem nguồn [1]">[1]</a>.'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from rag.briefing.model import Briefing, answerer_label, date_label
from rag.types import Answer, Citation

# One pass over the text: the HTML metacharacters, and the characters that Markdown
# (emphasis, links, code, tables, headings), LaTeX delimiters or JS template literals would
# interpret, all become character references.
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}
_ESCAPES |= {c: f"&#{ord(c)};" for c in "[]()*_`~#!|${}\\"}
_TABLE = str.maketrans(_ESCAPES)
_MARKER = re.compile(r"\[(\d{1,3})\]")

REFUSAL_NOTE = "Từ chối trả lời: tài liệu không đủ căn cứ."


def esc(text: object) -> str:
    """Escape for HTML that may also pass through a Markdown renderer (see module doc)."""
    return str(text).translate(_TABLE)


def esc_multiline(text: str) -> str:
    """``esc`` with line breaks kept as ``<br>``."""
    return "<br>".join(esc(line) for line in text.split("\n"))


def safe_url_html(url: str | None) -> str:
    """A link for http(s) URLs (opens in a new tab, no referrer); anything else as text."""
    if not url:
        return ""
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        scheme = ""
    if scheme in ("http", "https"):
        return (
            f'<a class="hd-url" href="{esc(url.strip())}" target="_blank" '
            f'rel="noopener noreferrer nofollow">{esc(url.strip())}</a>'
        )
    return f'<span class="hd-url">{esc(url)}</span>'


# ----------------------------------------------------------------------------- chat


def answer_text_html(text: str, *, turn: int, known: Iterable[int]) -> str:
    """Escaped answer text whose [n] markers link to the source cards of ``turn``."""
    known = set(known)
    out, pos = [], 0
    for m in _MARKER.finditer(text):
        out.append(esc(text[pos : m.start()]))
        n = int(m.group(1))
        if n in known:
            out.append(
                f'<a class="hd-cite" href="#hd-src-{turn}-{n}" title="Xem nguồn [{n}]">[{n}]</a>'
            )
        else:
            out.append(esc(m.group(0)))
        pos = m.end()
    out.append(esc(text[pos:]))
    return "".join(out)


def answer_message_html(answer: Answer, *, turn: int) -> str:
    """The assistant's chat message: the answer, then who answered and any notice."""
    body = answer_text_html(answer.text, turn=turn, known={c.n for c in answer.citations})
    meta = [f"Trả lời bởi: {esc(answerer_label(answer.answerer))}"]
    if answer.refused:
        meta.append(f'<span class="hd-refused">{esc(REFUSAL_NOTE)}</span>')
    parts = [f'<div class="hd-answer">{body}</div>']
    q = " ".join(answer.question.split())
    if answer.standalone_query and answer.standalone_query != q:
        parts.append(f'<div class="hd-understood">Hiểu là: {esc(answer.standalone_query)}</div>')
    if answer.notice:
        parts.append(f'<div class="hd-notice">Lưu ý: {esc(answer.notice)}</div>')
    parts.append(f'<div class="hd-meta">{" · ".join(meta)}</div>')
    return "".join(parts)


def user_message_html(question: str) -> str:
    return f'<div class="hd-question">{esc(question)}</div>'


def streaming_message_html(partial: str) -> str:
    """Model output while it streams: plain escaped text (markers are linked at the end)."""
    return (
        f'<div class="hd-answer hd-streaming">{esc(partial)}<span class="hd-caret">▍</span></div>'
    )


@dataclass(frozen=True)
class Passage:
    """A passage shown in a source card: ``before`` + highlighted ``quote`` + ``after``."""

    before: str
    quote: str
    after: str


def passage_for(
    article_text: str | None, span: tuple[int, int], window: tuple[int, int] | None
) -> Passage:
    """The window (usually the cited chunk) around the cited span ``article_text[a:b]``."""
    a, b = span
    if not article_text or not 0 <= a <= b <= len(article_text):
        return Passage("", article_text[a:b] if article_text else "", "")
    lo, hi = window or (a, b)
    lo, hi = max(0, min(lo, a)), min(len(article_text), max(hi, b))
    return Passage(article_text[lo:a], article_text[a:b], article_text[b:hi])


def passage_html(p: Passage) -> str:
    lead = "… " if p.before and not p.before[:1].isupper() else ""
    tail = " …" if p.after and p.after.rstrip()[-1:] not in ".!?" else ""
    return (
        f'<div class="hd-passage">{esc(lead)}{esc_multiline(p.before)}'
        f'<mark class="hd-quote">{esc_multiline(p.quote)}</mark>'
        f"{esc_multiline(p.after)}{esc(tail)}</div>"
    )


def source_meta_html(
    *, date: str | None, source: str | None, url: str | None, extra: str = ""
) -> str:
    rows = []
    if date:
        rows.append(f"<dt>Ngày</dt><dd>{esc(date_label(date))}</dd>")
    if source:
        rows.append(f"<dt>Nguồn</dt><dd>{esc(source)}</dd>")
    if url:
        rows.append(f"<dt>URL</dt><dd>{safe_url_html(url)}</dd>")
    if extra:
        rows.append(extra)
    return f'<dl class="hd-meta-list">{"".join(rows)}</dl>' if rows else ""


def source_card_html(turn: int, c: Citation, passage: Passage, *, open_: bool = False) -> str:
    return (
        f'<details class="hd-source" id="hd-src-{turn}-{c.n}"{" open" if open_ else ""}>'
        f'<summary><span class="hd-n">[{c.n}]</span> {esc(c.title)}</summary>'
        f"{source_meta_html(date=c.date, source=c.source, url=c.url)}"
        f"{passage_html(passage)}</details>"
    )


@dataclass(frozen=True)
class TurnSources:
    """What the sources panel shows for one answered turn."""

    turn: int
    question: str
    refused: bool
    cards: Sequence[tuple[Citation, Passage]]
    closest: Sequence[tuple[str, str | None, str | None, str]] = ()  # title, date, source, text


def sources_panel_html(turns: Sequence[TurnSources]) -> str:
    """Newest turn first; its cards are open, older turns are folded."""
    if not turns:
        return (
            '<div class="hd-sources-empty">Nguồn của câu trả lời sẽ hiện ở đây. '
            "Bấm vào [n] trong câu trả lời để mở đoạn trích.</div>"
        )
    blocks = []
    for i, t in enumerate(reversed(turns)):
        newest = i == 0
        cards = "".join(source_card_html(t.turn, c, p, open_=newest) for c, p in t.cards)
        if t.refused or not t.cards:
            items = []
            for title, d, src, text in t.closest:
                bits = ", ".join(x for x in (date_label(d), src) if x)
                items.append(
                    f'<li><span class="hd-title">{esc(title)}</span>'
                    f"{esc(f' ({bits})') if bits else ''}"
                    f'<div class="hd-passage">{esc(text)}</div></li>'
                )
            closest = "".join(items)
            cards += (
                '<div class="hd-nosource">Không có đoạn nào đủ căn cứ để trích dẫn.'
                + (f" Các đoạn gần nhất:<ul>{closest}</ul>" if closest else "")
                + "</div>"
            )
        blocks.append(
            f'<section class="hd-turn" id="hd-turn-{t.turn}"{" data-newest" if newest else ""}>'
            f'<div class="hd-turn-q">Lượt {t.turn}: {esc(t.question)}</div>{cards}</section>'
        )
    return '<div class="hd-sources">' + "".join(blocks) + "</div>"


def notice_html(text: str, *, kind: str = "info") -> str:
    """A status line (kind: info, ok, warn, error)."""
    return f'<div class="hd-status hd-{esc(kind)}">{esc_multiline(text)}</div>'


# ----------------------------------------------------------------------------- briefing


def _brefs(refs: Iterable[int]) -> str:
    return "".join(
        f'<a class="hd-cite" href="#hd-bsrc-{n}" title="Xem nguồn [{n}]">[{n}]</a>' for n in refs
    )


def _list_section(title: str, items: Iterable[str], *, tag: str = "ul") -> str:
    """``<h2>title</h2>`` and a list of the ``<li>`` items; ``tag`` may carry attributes."""
    return f"<h2>{title}</h2><{tag}>{''.join(items)}</{tag.split()[0]}>"


def briefing_html(b: Briefing) -> str:
    """The briefing as shown (and printed) on the page; every document string escaped."""
    from rag.briefing.export import meta_line

    out = [
        f'<article class="hd-brief"><h1>Tài liệu tóm tắt: {esc(b.topic)}</h1>',
        f'<p class="hd-meta">{esc(meta_line(b))}</p>',
    ]
    if b.notice:
        out.append(f'<p class="hd-notice">Lưu ý: {esc(b.notice)}</p>')
    overview = " ".join(f"{esc(s.text)} {_brefs(s.refs)}" for s in b.overview)
    out.append(f"<h2>Tổng quan</h2><p>{esc(b.summary)} {overview}</p>")
    if b.key_points:
        items = (f"<li>{esc(s.text)} {_brefs(s.refs)}</li>" for s in b.key_points)
        out.append(_list_section("Các ý chính", items))
    if b.key_figures:
        rows = "".join(
            f"<tr><td><strong>{esc(f.value)}</strong></td><td>{esc(f.what)}</td>"
            f"<td>{_brefs((f.ref,))} «{esc(f.context or f.quote.text)}»</td></tr>"
            for f in b.key_figures
        )
        out.append(
            "<h2>Số liệu chính</h2><table><thead><tr><th>Số liệu</th><th>Nội dung</th>"
            f"<th>Nguồn</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    if b.timeline:
        items = (
            f'<li><span class="hd-date">{esc(e.label)}</span> — '
            f"{esc(e.text)} {_brefs((e.ref,))}</li>"
            for e in b.timeline
        )
        out.append(_list_section("Dòng thời gian", items))
    if b.sources:
        items = (
            f'<li id="hd-bsrc-{s.n}"><span class="hd-n">[{s.n}]</span> {esc(s.title)}'
            f"{source_meta_html(date=s.date, source=s.source, url=s.url)}</li>"
            for s in b.sources
        )
        out.append(_list_section("Nguồn", items, tag='ol class="hd-brief-sources"'))
    out.append("</article>")
    return "".join(out)


# ----------------------------------------------------------------------------- corpus


def upload_report_html(
    saved: Sequence[str],
    errors: Sequence[tuple[str, str]],
    *,
    added: int,
    updated: int,
    unchanged: int,
    chunks: int,
    seconds: float,
) -> str:
    parts = []
    if saved:
        parts.append(
            notice_html(
                f"Đã nạp {len(saved)} tệp: {added} bài mới, {updated} bài cập nhật, "
                f"{unchanged} bài không đổi; {chunks} đoạn; {seconds:.1f} giây.",
                kind="ok",
            )
        )
    if errors:
        rows = "".join(f"<tr><td>{esc(n)}</td><td>{esc(r)}</td></tr>" for n, r in errors)
        parts.append(
            notice_html(f"{len(errors)} tệp không nạp được:", kind="error")
            + f'<table class="hd-errors"><tbody>{rows}</tbody></table>'
        )
    if not parts:
        parts.append(notice_html("Chưa có tệp nào được chọn.", kind="warn"))
    return "".join(parts)
