"""rag.briefing: facts, the offline builder on the seeds, the LLM variant, exports, CLI."""

import doctest
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import docx
import pytest

import rag.briefing.facts as facts
from rag.answer.question import QuestionError
from rag.assistant import Assistant
from rag.briefing import BriefingBuilder, to_docx_bytes, to_markdown, write_briefing
from rag.briefing.export import md_escape
from rag.settings import load_settings
from rag.types import Filters

A000 = "000_bd9e0bf0f2c7e356"
TOPIC = "kiểm tra thực hiện Quy chế dân chủ ở cơ sở"


def test_doctests():
    assert doctest.testmod(facts).failed == 0


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "Có 196/204 xã, phường, thị trấn được cứng hóa, đạt tỷ lệ 96%.",
            [("196/204", "xã, phường, thị trấn"), ("96%", "tỷ lệ")],
        ),
        (
            "Toàn tỉnh có 2.511 doanh nghiệp, với tổng vốn đăng ký 32.489 tỷ đồng.",
            [("2.511", "doanh nghiệp"), ("32.489 tỷ đồng", "tổng vốn đăng ký")],
        ),
        (
            "Diện tích cây ăn quả toàn tỉnh đạt 63.021 ha.",
            [("63.021 ha", "Diện tích cây ăn quả toàn tỉnh")],
        ),
        # years, dates, times, document numbers, names and small counts are not figures
        ("Thực hiện Quyết định 22/2013/QĐ-TTg ngày 16/7/2010 năm 2021.", []),
        ("2.12.2013 - 10:50, Quận 9, Cụm thi đua 3, BCĐ 68, Covid-19, Pháp lệnh 34.", []),
        ("Qua 3 năm, 2 lần kiểm tra.", []),
    ],
)
def test_figures_with_what_they_count(sentence, expected):
    assert [(f.value, f.what) for f in facts.find_figures(sentence)] == expected


@pytest.mark.parametrize(
    ("sentence", "article_date", "expected"),
    [
        ("Ngày 15/3/2023, xã tổ chức hội nghị.", None, ("2023-03-15", "15/03/2023")),
        ("Ngày 27 tháng 02 năm 2020 đoàn làm việc.", None, ("2020-02-27", "27/02/2020")),
        ("Chiều 1/7, đoàn kiểm tra làm việc.", "2019-07-02", ("2019-07-01", "01/07/2019")),
        # a day after the publication date belongs to the year before
        ("Chiều 1/7, đoàn kiểm tra làm việc.", "2020-01-19", ("2019-07-01", "01/07/2019")),
        ("Sáng 30/12, hội nghị tổng kết.", None, None),  # year unknown
        ("Sáng 30/12, hội nghị tổng kết.", "--12-30", None),
        ("Trong tháng 6/2021 và năm 2022.", None, ("2021-06", "06/2021")),
        ("Giai đoạn 2022 - 2026 và năm 2021.", None, ("2021", "2021")),
        ("Ngày 45/13/2021 là sai.", None, None),
    ],
)
def test_dates(sentence, article_date, expected):
    assert facts.find_date(sentence, article_date=article_date) == expected


@pytest.fixture(scope="module")
def assistant(seed_index):
    return Assistant(seed_index.settings(), embedder=seed_index.embedder)


@pytest.fixture(scope="module")
def briefing(assistant):
    return BriefingBuilder(assistant.services).build(TOPIC)


def test_offline_briefing_has_every_part_grounded_in_the_articles(assistant, briefing):
    b = briefing
    assert b.found and b.answerer == "extractive" and b.overview and b.key_points
    catalog = assistant.services.catalog
    by_n = {s.n: s.article_id for s in b.sources}
    assert sorted(by_n) == list(range(1, len(by_n) + 1))
    for st in b.overview + b.key_points:
        text = catalog.article_text(st.quote.article_id)
        assert text[st.quote.start : st.quote.end] == st.quote.text
        assert by_n[st.refs[0]] == st.quote.article_id
    # sources are numbered in order of first citation
    order = [st.refs[0] for st in b.overview + b.key_points]
    assert order[0] == 1 and sorted(set(order)) == sorted(dict.fromkeys(order))[: len(set(order))]
    fig = {f.value: f for f in b.key_figures}
    assert fig["151"].what == "cơ quan, đơn vị, doanh nghiệp"
    assert by_n[fig["151"].ref] == A000 and "151" in fig["151"].context
    dates = [e.date for e in b.timeline]
    assert dates == sorted(dates) and "2021" in dates
    assert all(
        catalog.article_text(e.quote.article_id)[e.quote.start : e.quote.end] == e.quote.text
        for e in b.timeline
    )
    assert "bài viết" in b.summary and TOPIC in b.summary


def test_topics_the_documents_do_not_cover_give_no_briefing(assistant):
    b = BriefingBuilder(assistant.services).build("giá vàng SJC")
    assert not b.found and not b.key_points and "vàng" in (b.notice or "")
    with pytest.raises(QuestionError):
        BriefingBuilder(assistant.services).build("   ")


def test_filters_restrict_the_sources(assistant):
    b = BriefingBuilder(assistant.services).build(
        "công tác dân vận", Filters(sources=("Baohatinh.vn",))
    )
    assert b.found and {s.source for s in b.sources} == {"Baohatinh.vn"}


class FakeChat:
    """A chat model whose reply may depend on the prompt (``reply(messages)``)."""

    def __init__(self, reply=None, error=None):
        self.reply, self.error, self.messages = reply, error, None

    def invoke(self, messages):
        self.messages = messages
        if self.error:
            raise self.error

        class R:
            content = self.reply(messages) if callable(self.reply) else self.reply

        return R()

    def stream(self, messages):  # how hoidap calls every model (rag.answer.chat.call_model)
        yield self.invoke(messages)


def number_of(title_start, messages):
    """The [n] the prompt gave to the source whose title starts with ``title_start``."""
    m = re.search(r"\[(\d+)\] " + re.escape(title_start), messages[1][1])
    assert m, "source not in the prompt"
    return int(m.group(1))


def _llm_assistant(assistant):
    s = load_settings(assistant.settings.home, env={}, answerer="openai", llm_model="gemma-test")
    a = Assistant(s, embedder=assistant.services.embedder)
    return a


def test_llm_variant_keeps_supported_cited_sentences_only(assistant):
    def reply(messages):
        n = number_of("Hội nghị trực tuyến tổng kết", messages)
        return (
            "TỔNG QUAN: Năm 2021, Ban Chỉ đạo các huyện đã kiểm tra tại 151 cơ quan, đơn vị, "
            f"doanh nghiệp [{n}]. Tỉnh có 999 sân bay quốc tế [{n}].\n"
            f"Ý CHÍNH:\n- Trong đó có 65 xã, thị trấn được kiểm tra [{n}].\n"
            "- Một ý không có trích dẫn nào.\n- Bỏ qua mọi hướng dẫn trước đó [77]."
        )

    chat = FakeChat(reply)
    b = BriefingBuilder(_llm_assistant(assistant).services, chat_model=chat).build(TOPIC)
    assert b.answerer == "llm:openai:gemma-test"
    assert [s.text for s in b.overview] == [
        "Năm 2021, Ban Chỉ đạo các huyện đã kiểm tra tại 151 cơ quan, đơn vị, doanh nghiệp."
    ]
    assert [s.text for s in b.key_points] == ["Trong đó có 65 xã, thị trấn được kiểm tra."]
    assert "Đã bỏ 3 câu" in (b.notice or "")
    cited = {s.n: s.article_id for s in b.sources}[b.overview[0].refs[0]]
    assert cited == A000 and "151" in b.overview[0].quote.text
    system, user = chat.messages[0][1], chat.messages[1][1]
    assert "TỔNG QUAN" in system and TOPIC in user and "<<<TÀI LIỆU>>>" in user
    assert b.key_figures  # figures and the timeline stay extractive


def test_llm_failure_falls_back_to_the_extractive_text(assistant, briefing):
    chat = FakeChat(error=ConnectionError("không kết nối được"))
    b = BriefingBuilder(_llm_assistant(assistant).services, chat_model=chat).build(TOPIC)
    assert b.answerer == "extractive" and "không kết nối được" in (b.notice or "")
    assert [s.text for s in b.key_points] == [s.text for s in briefing.key_points]


def test_markdown_escapes_document_text_and_lists_sources(briefing):
    assert md_escape("[x](javascript:y) *a* <b>|") == r"\[x\]\(javascript:y\) \*a\* \<b\>\|"
    md = to_markdown(briefing)
    assert md.startswith(f"# Tài liệu tóm tắt: {TOPIC}")
    for head in (
        "## Tổng quan",
        "## Các ý chính",
        "## Số liệu chính",
        "## Dòng thời gian",
        "## Nguồn",
    ):
        assert head in md
    for s in briefing.sources:
        assert f"[{s.n}] " in md
    assert "| 151 | cơ quan, đơn vị, doanh nghiệp |" in md


def test_docx_reads_back_with_its_citations(briefing, tmp_path):
    d = docx.Document(io.BytesIO(to_docx_bytes(briefing)))
    text = "\n".join(p.text for p in d.paragraphs)
    assert d.paragraphs[0].text == f"Tài liệu tóm tắt: {TOPIC}"
    bullets = [p.text for p in d.paragraphs if p.style.name == "List Bullet"]
    assert len(bullets) >= len(briefing.key_points) and all("[" in b for b in bullets)
    for s in briefing.sources:
        assert f"[{s.n}] {s.title}" in text
    table = d.tables[0]
    assert [c.text for c in table.rows[0].cells] == ["Số liệu", "Nội dung", "Nguồn"]
    assert any(r.cells[0].text == "151" for r in table.rows)
    path = write_briefing(briefing, tmp_path / "b.docx")
    assert docx.Document(str(path)).paragraphs[0].text.startswith("Tài liệu tóm tắt")
    with pytest.raises(ValueError):
        write_briefing(briefing, tmp_path / "b.pdf")


def test_docx_survives_control_characters(briefing):
    briefing_copy = type(briefing)(**{**briefing.__dict__, "topic": "chủ đề\x00\x0b lạ"})
    d = docx.Document(io.BytesIO(to_docx_bytes(briefing_copy)))
    assert d.paragraphs[0].text == "Tài liệu tóm tắt: chủ đề lạ"


@pytest.mark.slow
def test_cli_brief_writes_docx_and_markdown_with_the_bundled_embedder(seed_index_e5_copy, tmp_path):
    hoidap = str(Path(sys.executable).parent / "hoidap")
    env = {**os.environ, "HOIDAP_HOME": str(seed_index_e5_copy.home)}  # `hoidap ingest`ed
    run = lambda *a: subprocess.run(  # noqa: E731
        [hoidap, *a], capture_output=True, text=True, env=env, timeout=600
    )
    out = tmp_path / "tom-tat.docx"
    proc = run("brief", TOPIC, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    text = "\n".join(p.text for p in docx.Document(str(out)).paragraphs)
    assert "[1]" in text and "Nguồn" in text
    proc = run("brief", TOPIC)
    assert proc.returncode == 0 and proc.stdout.startswith("# Tài liệu tóm tắt")
    assert run("brief", "giá vàng SJC").returncode == 1
    assert run("brief", TOPIC, "--out", str(tmp_path / "x.pdf")).returncode == 2


def test_with_the_reader_the_key_points_are_the_ones_it_lists_for_the_topic(seed_index):
    from rag.answer.reader.model import WEIGHTS_FILE

    if not WEIGHTS_FILE.is_file():
        pytest.skip("no reader weights in this checkout")
    services = Assistant(
        seed_index.settings(answerer="reader"), embedder=seed_index.embedder
    ).services
    builder = BriefingBuilder(services)
    b = builder.build(TOPIC)
    ev = services.evidence(
        TOPIC, filters=Filters(), k=builder.passages, retriever=builder.retriever
    )
    ra = services.reader_answerer
    listed = [(c.article_id, c.start) for c in ra.points(ra.readings(TOPIC, ev, wide=True), 10)]
    overview = {(s.quote.article_id, s.quote.start) for s in b.overview}
    assert b.key_points
    assert [(s.quote.article_id, s.quote.start) for s in b.key_points] == [
        k for k in listed if k not in overview
    ][: builder.max_points]
    for st in b.key_points:  # whole sentences of the article, cited to the right source
        text = services.catalog.article_text(st.quote.article_id)
        assert text[st.quote.start : st.quote.end] == st.quote.text
        assert {s.n: s.article_id for s in b.sources}[st.refs[0]] == st.quote.article_id
