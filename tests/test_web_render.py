"""rag.web.render: everything from documents, questions and models is escaped."""

import doctest
from html.parser import HTMLParser

import pytest

import rag.web.render as render
from corpus.types import Chunk
from rag.briefing.model import Briefing, KeyFigure, Quote, Source, Statement, TimelineEvent
from rag.types import Answer, Citation, Filters, ScoredChunk
from rag.web.render import (
    TurnSources,
    answer_message_html,
    answer_text_html,
    briefing_html,
    esc,
    passage_for,
    passage_html,
    safe_url_html,
    sources_panel_html,
    upload_report_html,
)

HOSTILE = (
    "<script>window.x=1</script> <img src=x onerror=\"alert('1')\"> "
    "[bấm](javascript:alert(1)) ![ảnh](http://example.com/a.png) **đậm** `mã` $x$ ${1+1} "
    '<a href="javascript:alert(2)">a</a> &amp; \\[1\\]'
)


class Tags(HTMLParser):
    """Every start tag with its attributes, to check what a browser would build."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> Tags:
    t = Tags()
    t.feed(html)
    return t


def assert_inert(html: str) -> Tags:
    t = parse(html)
    names = {tag for tag, _ in t.tags}
    assert not names & {"script", "img", "iframe", "object", "embed", "style", "svg"}, names
    for tag, attrs in t.tags:
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
        href = (attrs.get("href") or "").strip().lower()
        assert not href.startswith(("javascript:", "data:", "vbscript:")), (tag, attrs)
    return t


def test_doctests():
    assert doctest.testmod(render).failed == 0


def test_esc_leaves_no_markup_or_markdown_syntax():
    out = esc(HOSTILE)
    for ch in "<>\"'[]()*`$!{}\\":
        assert ch not in out, ch
    t = assert_inert(out)
    assert "".join(t.text) == HOSTILE  # a browser shows exactly the original text


def _answer(text: str, quote: str, title: str = "T") -> Answer:
    chunk = Chunk("a#v-0", "a", 0, "x", 0, 10, "x")
    cite = Citation(1, "a", "a#v-0", title, quote, 0, 3, "2021-12-30", "Báo", "javascript:x")
    hit = ScoredChunk(chunk, 1.0, title)
    return Answer("Câu hỏi?", text, [cite], False, [hit], "extractive", standalone_query="Câu hỏi?")


def test_answer_markers_link_only_known_citations():
    html = answer_text_html(f"Một [1] hai [2] {HOSTILE}", turn=3, known={1})
    t = assert_inert(html)
    links = [a for tag, a in t.tags if tag == "a"]
    assert links == [{"class": "hd-cite", "href": "#hd-src-3-1", "title": "Xem nguồn [1]"}]
    assert "hai [2]" in "".join(t.text)


def test_answer_message_says_who_answered_and_refusals():
    ans = _answer(HOSTILE + " [1]", HOSTILE)
    html = answer_message_html(ans, turn=1)
    t = assert_inert(html)
    assert "Trả lời bởi: trích xuất ngoại tuyến" in "".join(t.text)
    ans.refused, ans.answerer, ans.notice = True, "llm:openai:gemma-3", "<b>lưu ý</b>"
    text = "".join(assert_inert(answer_message_html(ans, turn=1)).text)
    assert "gemma-3" in text and "Từ chối trả lời" in text and "<b>lưu ý</b>" in text


def test_passage_marks_exactly_the_cited_span():
    article = "Mở đầu. Năm 2021 kiểm tra 151 đơn vị. Kết thúc <script>x</script>."
    a = article.index("Năm")
    b = article.index("Kết") - 1
    p = passage_for(article, (a, b), (0, len(article)))
    assert (p.before, p.quote) == ("Mở đầu. ", article[a:b])
    html = passage_html(p)
    t = assert_inert(html)
    marks = [i for i, (tag, _) in enumerate(t.tags) if tag == "mark"]
    assert len(marks) == 1
    assert "".join(t.text).replace("… ", "").startswith("Mở đầu. Năm 2021")
    # a window that does not contain the span is widened to it; bad offsets fall back
    assert passage_for(article, (a, b), (b, b)).quote == article[a:b]
    assert passage_for(None, (0, 5), None).quote == ""


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        ("https://baohatinh.vn/a?b=1&c=<x>", True),
        ("http://x.vn", True),
        ("javascript:alert(1)", False),
        (" JaVaScRiPt:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("//evil.example/x", False),
    ],
)
def test_only_http_urls_become_links(url, linked):
    t = assert_inert(safe_url_html(url))
    links = [a for tag, a in t.tags if tag == "a"]
    assert bool(links) == linked
    if linked:
        assert links[0]["rel"] == "noopener noreferrer nofollow"


def test_sources_panel_cards_and_refusals():
    ans = _answer("x [1]", HOSTILE, title=HOSTILE)
    cards = [(ans.citations[0], passage_for(HOSTILE, (0, 8), None))]
    turns = [
        TurnSources(1, HOSTILE, False, cards),
        TurnSources(2, "Giá vàng?", True, [], [(HOSTILE, "2020-01-19", "Nguồn", HOSTILE)]),
    ]
    html = sources_panel_html(turns)
    t = assert_inert(html)
    ids = [a.get("id") for _, a in t.tags if a.get("id")]
    assert ids == ["hd-turn-2", "hd-turn-1", "hd-src-1-1"]  # newest first
    text = "".join(t.text)
    assert "Không có đoạn nào đủ căn cứ" in text and "19/01/2020" in text
    assert "Nguồn của câu trả lời sẽ hiện ở đây" in sources_panel_html([])


def test_briefing_html_is_inert_and_links_sources():
    q = Quote("a", 0, 5, HOSTILE)
    b = Briefing(
        topic=HOSTILE,
        filters=Filters(sources=("<b>",)),
        summary=HOSTILE,
        overview=[Statement(HOSTILE, (1,), q)],
        key_points=[Statement(HOSTILE, (1, 2), q)],
        key_figures=[KeyFigure("151", HOSTILE, 2, q, HOSTILE)],
        timeline=[TimelineEvent("2021", "2021", HOSTILE, 1, q)],
        sources=[Source(1, "a", HOSTILE, "2021", HOSTILE, "javascript:x"), Source(2, "b", "B")],
        notice=HOSTILE,
    )
    t = assert_inert(briefing_html(b))
    hrefs = [a["href"] for tag, a in t.tags if tag == "a"]
    assert set(hrefs) == {"#hd-bsrc-1", "#hd-bsrc-2"}
    assert [a["id"] for tag, a in t.tags if tag == "li" and "id" in a] == ["hd-bsrc-1", "hd-bsrc-2"]


def test_upload_report_lists_each_error():
    html = upload_report_html(
        ["a.txt"], [(HOSTILE, "tệp rỗng")], added=1, updated=0, unchanged=0, chunks=3, seconds=0.5
    )
    text = "".join(assert_inert(html).text)
    assert "Đã nạp 1 tệp: 1 bài mới" in text and HOSTILE in text and "tệp rỗng" in text
