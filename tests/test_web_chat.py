"""rag.web.chat: one session's turns, streaming, errors, sources; and the examples."""

import pytest

from corpus.types import Chunk
from rag.answer.question import QuestionError
from rag.assistant import Assistant
from rag.retrieval.retrieve import FilterError
from rag.types import Answer, Citation, Filters, ScoredChunk
from rag.web.chat import ChatSession, new_chat, parse_filters, respond
from rag.web.examples import example_questions

SEED_Q = "Năm 2021, Ban Chỉ đạo các huyện đã kiểm tra tại bao nhiêu cơ quan, đơn vị, doanh nghiệp?"
A000 = "000_bd9e0bf0f2c7e356"


class Texts:
    def __init__(self, texts):
        self.texts = texts

    def article_text(self, aid):
        return self.texts.get(aid)


class StreamingFake:
    """An assistant whose answer arrives as tokens, like an LLM's."""

    def __init__(self, pieces, error=None):
        self.pieces, self.error, self.calls = pieces, error, []

    def validate(self, q):
        if not q.strip():
            raise QuestionError("Câu hỏi trống.")
        return " ".join(q.split())

    def ask(self, question, *, history=(), filters=None, on_token=None):
        self.calls.append((question, list(history), filters))
        if self.error:
            raise self.error
        for p in self.pieces:
            if on_token:
                on_token(p)
        text = "".join(self.pieces)
        chunk = Chunk("a#v-0", "a", 0, "Văn bản gốc có 151 đơn vị.", 0, 26, "")
        cite = Citation(1, "a", "a#v-0", "Bài A", "151 đơn vị", 15, 25, "2021-01-02", "Báo")
        return Answer(
            question, text, [cite], False, [ScoredChunk(chunk, 1.0, "Bài A")], "llm:openai:m"
        )


def test_tokens_stream_then_the_final_answer_links_its_source():
    fake = StreamingFake(["Có ", "151 đơn vị ", "[1]."])
    texts = Texts({"a": "Văn bản gốc có 151 đơn vị."})
    views = list(respond(fake, texts, None, "  Bao nhiêu   đơn vị? "))
    partial = [v.messages[-1]["content"] for v in views if not v.done]
    assert any("Có 151 đơn vị" in p and "hd-streaming" in p for p in partial)
    final = views[-1]
    assert final.done and len(final.session.turns) == 1
    assert fake.calls[0][0] == "Bao nhiêu đơn vị?"
    assert 'href="#hd-src-1-1"' in final.messages[-1]["content"]
    assert 'id="hd-src-1-1"' in final.sources_html
    assert '<mark class="hd-quote">151 đơn vị</mark>' in final.sources_html
    assert "mô hình ngôn ngữ m" in final.messages[-1]["content"]
    assert final.copy_text.startswith("Câu hỏi: Bao nhiêu đơn vị?") and "Nguồn:" in final.copy_text


def test_history_is_passed_and_sessions_do_not_share_it():
    fake = StreamingFake(["Đáp [1]."])
    s1 = list(respond(fake, Texts({}), None, "Câu một?"))[-1].session
    s1 = list(respond(fake, Texts({}), s1, "Câu hai?"))[-1].session
    s2 = list(respond(fake, Texts({}), None, "Câu khác?"))[-1].session
    assert [h.question for h in fake.calls[1][1]] == ["Câu một?"]
    assert fake.calls[2][1] == []
    assert len(s1.turns) == 2 and len(s2.turns) == 1
    assert [m["role"] for m in s1.messages()] == ["user", "assistant"] * 2


@pytest.mark.parametrize(
    ("q", "error", "message"),
    [
        ("   ", None, "Câu hỏi trống"),
        ("x?", FilterError("'20x1' không phải ngày"), "không phải ngày"),
    ],
)
def test_user_errors_become_a_status_and_leave_the_chat_unchanged(q, error, message):
    session = ChatSession()
    views = list(respond(StreamingFake(["a"], error=error), Texts({}), session, q))
    assert message in views[-1].status_html and views[-1].done
    assert session.turns == [] and views[-1].messages == []


def test_other_failures_are_raised_not_hidden():
    with pytest.raises(RuntimeError):
        list(respond(StreamingFake([], error=RuntimeError("hỏng")), Texts({}), None, "x?"))


def test_new_chat_and_filters():
    v = new_chat()
    assert v.session.turns == [] and v.messages == [] and "mới" in v.status_html
    assert parse_filters(["Báo A", ""], " 2021 ", "") == Filters(sources=("Báo A",), since="2021")


@pytest.fixture(scope="module")
def assistant(seed_index):
    return Assistant(seed_index.settings(), embedder=seed_index.embedder)


def test_seed_question_through_the_real_assistant(assistant):
    views = list(respond(assistant, assistant.services.catalog, None, SEED_Q))
    final = views[-1]
    turn = final.session.turns[0]
    assert "151" in turn.answer.text and not turn.answer.refused
    cite = turn.answer.citations[0]
    assert cite.article_id == A000
    passage = turn.sources.cards[0][1]
    assert passage.quote == cite.quote and "151" in passage.quote
    text = assistant.services.catalog.article_text(A000)
    assert text.index(passage.before + passage.quote + passage.after) >= 0
    assert "Trả lời bởi: trích xuất ngoại tuyến" in final.messages[-1]["content"]


def test_follow_up_and_refusal_through_the_real_assistant(assistant):
    s = list(respond(assistant, assistant.services.catalog, None, SEED_Q))[-1].session
    s = list(
        respond(
            assistant, assistant.services.catalog, s, "Trong số đó có bao nhiêu là xã, thị trấn?"
        )
    )[-1].session
    assert "65" in s.turns[1].answer.text
    s = list(
        respond(assistant, assistant.services.catalog, s, "Giá vàng SJC hôm nay là bao nhiêu?")
    )[-1].session
    last = s.turns[2]
    assert last.answer.refused and last.sources.cards == [] and last.sources.closest
    assert "Từ chối trả lời" in s.messages()[-1]["content"]
    assert "Không có đoạn nào đủ căn cứ" in s.sources_html()


def test_examples_come_from_indexed_articles(assistant, tmp_path):
    meta = assistant.services.catalog.article_meta()
    qs = example_questions(meta, limit=6)
    assert len(qs) == 6 and len(set(qs)) == 6
    # without a seed QA file: one "when was it published" question per dated article
    qs = example_questions(meta, limit=6, seed_path=tmp_path / "none.jsonl")
    dated = [m for m in meta.values() if m.date_precision == "day"]
    assert len(qs) == len(dated) and all(q.startswith("Bài viết «") for q in qs)
    ans = assistant.ask(qs[0])
    assert not ans.refused and "được đăng" in ans.text
