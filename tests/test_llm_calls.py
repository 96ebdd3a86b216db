"""LLM calls with fake chat models: streaming, deadlines, errors, ``condense_question``
and ``make_chat_model``.
"""

from __future__ import annotations

import re
import socket
import time

import httpx
import httpx2
import openai
import pytest
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage

from rag.answer.chat import LLMError, make_chat_model, model_label
from rag.answer.llm import LLMAnswerer, condense_question
from rag.answer.prompts import load_prompt
from rag.types import Turn
from tests.llm_fakes import ARTICLES, HITS, FailingModel, ScriptedModel, answer

# ------------------------------------------------------------------ streaming, deadline, errors


def test_real_clients_fail_fast_when_nothing_listens() -> None:
    for provider, url in (
        ("openai", f"http://127.0.0.1:{_closed_port()}/v1"),
        ("ollama", f"http://127.0.0.1:{_closed_port()}"),
    ):
        model = make_chat_model(provider, base_url=url, model="m", timeout_s=30)
        t = time.perf_counter()
        with pytest.raises(LLMError, match=re.escape(f"LLM server at {url} is not reachable")):
            LLMAnswerer(model, "x").answer("q", HITS, ARTICLES)
        assert time.perf_counter() - t < 2.0


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_streaming_calls_on_token_with_langchain_fake() -> None:
    reply = "Có 300 cán bộ làm công tác dân vận tham gia [1]."
    model = GenericFakeChatModel(messages=iter([AIMessage(content=reply)]))
    pieces: list[str] = []
    ans = LLMAnswerer(model, "x").answer("q", HITS, ARTICLES, on_token=pieces.append)
    assert len(pieces) > 5 and "".join(pieces) == reply
    assert ans.text == reply
    assert set(ans.timings_ms) >= {"llm", "llm_first_token"}
    assert 0 <= ans.timings_ms["llm_first_token"] <= ans.timings_ms["llm"]


def test_deadline_raises_in_time() -> None:
    model = FakeListChatModel(responses=["Có 300 cán bộ [1]."], sleep=0.5)
    pieces: list[str] = []
    t = time.perf_counter()
    with pytest.raises(LLMError, match=r"did not answer within 0\.3 s"):
        LLMAnswerer(model, "x").answer("q", HITS, ARTICLES, deadline_s=0.3, on_token=pieces.append)
    assert time.perf_counter() - t < 0.45
    assert pieces == []


def test_deadline_counts_the_whole_stream() -> None:
    model = ScriptedModel(["Có ", "300 ", "cán ", "bộ ", "[1]."], delay_s=0.1)
    pieces: list[str] = []
    with pytest.raises(LLMError, match=r"did not finish its answer within 0\.25 s"):
        LLMAnswerer(model, "x").answer("q", HITS, ARTICLES, deadline_s=0.25, on_token=pieces.append)
    assert 1 <= len(pieces) <= 3  # tokens before the deadline were delivered


REQUEST = httpx2.Request(
    "POST", "http://127.0.0.1:8080/v1/chat/completions"
)  # openai 3 uses httpx2


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (openai.APIConnectionError(request=REQUEST), "is not reachable"),
        (openai.APITimeoutError(request=REQUEST), "did not answer"),
        (httpx.ConnectError("[Errno 111] Connection refused"), r"not reachable \(\[Errno 111\]"),
        (httpx.ReadTimeout("timed out"), "did not answer"),
        (
            openai.NotFoundError(
                "model not found",
                response=httpx2.Response(404, request=REQUEST),
                body=None,
            ),
            "answered HTTP 404",
        ),
        (RuntimeError("boom"), "failed: RuntimeError: boom"),
    ],
)
def test_errors_become_llm_errors(exc: BaseException, message: str) -> None:
    with pytest.raises(LLMError, match=message):
        LLMAnswerer(FailingModel(exc), "x").answer("q", HITS, ARTICLES)


def test_error_after_some_tokens_is_still_an_error() -> None:
    pieces: list[str] = []
    with pytest.raises(LLMError):
        LLMAnswerer(FailingModel(httpx.ReadError("reset"), after=2), "x").answer(
            "q", HITS, ARTICLES, on_token=pieces.append
        )
    assert pieces == ["x ", "x "]


def test_empty_output_is_an_error() -> None:
    with pytest.raises(LLMError, match="empty answer"):
        answer(["", "  "])


def test_error_names_the_server() -> None:
    m = make_chat_model("openai", base_url="http://127.0.0.1:9/v1", model="m")
    err = LLMError("x")
    try:
        LLMAnswerer(FailingModel(openai.APIConnectionError(request=REQUEST)), "x").answer(
            "q", HITS, ARTICLES
        )
    except LLMError as e:
        err = e
    assert "LLM (FailingModel)" in str(err)
    assert m.openai_api_base == "http://127.0.0.1:9/v1"


def test_on_token_exception_propagates() -> None:
    def boom(piece: str) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        answer("Có 300 cán bộ [1].", on_token=boom)


# ------------------------------------------------------------------ condense_question


def test_condense_question_cleans_the_output() -> None:
    history = [Turn("Ai chủ trì hội nghị tổng kết?", "Đồng chí Châu Ngọc Tuấn chủ trì [1].")]
    model = ScriptedModel(
        "Câu hỏi độc lập: “Đồng chí Châu Ngọc Tuấn giữ chức vụ gì?”\nGiải thích: …"
    )
    out = condense_question(model, history, "Ông ấy giữ chức vụ gì?", timeout_s=5)
    assert out == "Đồng chí Châu Ngọc Tuấn giữ chức vụ gì?"
    [(_, system), (_, user)] = model.calls[0]
    assert system == load_prompt("condense_vi").system
    assert "Người dùng: Ai chủ trì hội nghị tổng kết?" in user
    assert "Trợ lý: Đồng chí Châu Ngọc Tuấn chủ trì." in user
    assert "Câu hỏi tiếp theo: Ông ấy giữ chức vụ gì?" in user


@pytest.mark.parametrize(
    "reply",
    [
        "  ",
        "Hội thoại:",
        "x " * 400,
        "**Câu hỏi:**",
        "Người dùng: A?\nTrợ lý: B.",
        "Câu hỏi tiếp theo: Còn năm 2022 thì sao?",
    ],
)
def test_condense_question_falls_back_to_the_question(reply: str) -> None:
    history = [Turn("A?", "B [1].")]
    model = ScriptedModel([reply])
    assert condense_question(model, history, "Còn năm 2022 thì sao?", timeout_s=5) == (
        "Còn năm 2022 thì sao?"
    )


def test_condense_question_without_history_does_not_call_the_model() -> None:
    model = ScriptedModel("X?")
    assert condense_question(model, [], "  Câu hỏi   gốc? ", timeout_s=5) == "Câu hỏi gốc?"
    assert model.calls == []


def test_condense_question_errors_and_timeout() -> None:
    history = [Turn("A?", "B.")]
    with pytest.raises(LLMError, match="not reachable"):
        condense_question(
            FailingModel(openai.APIConnectionError(request=REQUEST)), history, "C?", timeout_s=5
        )
    t = time.perf_counter()
    with pytest.raises(LLMError, match=r"within 0\.2 s"):
        condense_question(
            FakeListChatModel(responses=["X?"], sleep=1.0), history, "C?", timeout_s=0.2
        )
    assert time.perf_counter() - t < 0.5


# ------------------------------------------------------------------ make_chat_model


def test_make_chat_model_openai() -> None:
    m = make_chat_model(
        "openai", base_url="http://127.0.0.1:8080/v1", model="g", timeout_s=7, max_tokens=99
    )
    assert type(m).__name__ == "ChatOpenAI"
    assert m.max_retries == 0 and m.streaming and m.request_timeout == 7
    assert m.extra_body == {"max_tokens": 99} and m.temperature == 0.1
    assert m.openai_api_key.get_secret_value() == "not-needed"


def test_make_chat_model_ollama() -> None:
    m = make_chat_model(
        "ollama", base_url="http://127.0.0.1:11434", model="qwen", api_key="k", max_tokens=50
    )
    assert type(m).__name__ == "ChatOllama"
    assert m.num_predict == 50 and m.base_url == "http://127.0.0.1:11434"
    assert m.client_kwargs == {"timeout": 60.0, "headers": {"Authorization": "Bearer k"}}


def test_make_chat_model_rejects_unknown_provider() -> None:
    with pytest.raises(ValueError, match="unknown LLM provider"):
        make_chat_model("gpt", base_url="x", model="y")
    assert model_label("openai", "gemma-3-270m") == "llm:openai:gemma-3-270m"


def test_answerer_validates_its_settings() -> None:
    with pytest.raises(ValueError):
        LLMAnswerer(ScriptedModel("x"), "x", max_passages=0)
    with pytest.raises(ValueError):
        LLMAnswerer(ScriptedModel("x"), "x", support_threshold=1.5)
