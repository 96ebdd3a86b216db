"""End to end against a REAL OpenAI-compatible server: llama.cpp serving gemma-3-270m.

gemma-3-270m is a tiny BASE model: its answers are poor. These tests check the plumbing —
streaming over HTTP, the prompt fitting the context, the post-check, citations pointing
into real passages, timeouts and connection errors — not the quality of the answers.

Needs ``scripts/install_llm_test_server.sh``; without it the tests FAIL (not skip).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from corpus.chunking import chunk_article
from corpus.types import Article
from rag.answer.chat import LLMError, make_chat_model, model_label
from rag.answer.llm import REFUSAL_TEXT, LLMAnswerer, condense_question
from rag.types import Answer, Citation, ScoredChunk, Turn
from tests.llm_server import LlamaServer, free_port, llama_server, missing_requirements, model_path

pytestmark = pytest.mark.slow

ARTICLES_DIR = Path(__file__).resolve().parents[1] / "corpus" / "articles"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    reason = missing_requirements()
    if reason:
        pytest.fail(reason, pytrace=False)
    gguf = model_path()
    with llama_server(gguf, tmp_path_factory.mktemp("llm")) as s:
        print(f"\n[llm] llama.cpp server ready in {s.startup_s:.1f} s at {s.base_url}")
        yield s


@pytest.fixture(scope="module")
def corpus() -> tuple[list[ScoredChunk], dict[str, str]]:
    """Retrieved-like hits from two real articles of the default corpus."""
    texts: dict[str, str] = {}
    hits: list[ScoredChunk] = []
    for name in ("000_bd9e0bf0f2c7e356", "003_026d41383b2fb761"):
        text = (ARTICLES_DIR / f"{name}.txt").read_text(encoding="utf-8")
        title = text.strip().split("\n")[0]
        article = Article(id=name, title=title, text=text, date="2021-12-30", source="test")
        texts[name] = text
        for chunk in chunk_article(article)[:2]:
            hits.append(ScoredChunk(chunk, 1.0, title=title, date="2021-12-30", source="test"))
    return hits, texts


def _check_answer(ans: Answer, hits: list[ScoredChunk], texts: dict[str, str], k: int) -> None:
    assert isinstance(ans, Answer) and isinstance(ans.text, str) and ans.text
    assert isinstance(ans.refused, bool)
    assert all(isinstance(c, Citation) for c in ans.citations)
    assert ans.answerer == "llm:openai:gemma-3-270m"
    assert ans.retrieved == hits
    # the post-check ran: it timed itself, and its output is consistent
    assert {"llm", "llm_first_token", "llm_postcheck"} <= set(ans.timings_ms)
    if ans.refused:
        assert ans.text == REFUSAL_TEXT and ans.citations == []
    else:
        assert [c.n for c in ans.citations] == list(range(1, len(ans.citations) + 1))
        for c in ans.citations:
            assert f"[{c.n}]" in ans.text
        assert ans.citations or ans.notice  # every kept sentence is cited unless flagged
    shown = {h.chunk.id: h for h in hits[:k]}
    for c in ans.citations:  # citations point into the real passages shown to the model
        assert c.chunk_id in shown
        chunk = shown[c.chunk_id].chunk
        assert chunk.start <= c.start < c.end <= chunk.end
        assert texts[c.article_id][c.start : c.end] == c.quote
    if ans.notice:
        assert ans.notice.startswith(("Đã bỏ", "Có "))


def test_streamed_answer_through_a_real_server(
    server: LlamaServer, corpus: tuple[list[ScoredChunk], dict[str, str]]
) -> None:
    hits, texts = corpus
    model = make_chat_model(
        "openai", base_url=server.base_url, model=server.model, timeout_s=240, max_tokens=64
    )
    answerer = LLMAnswerer(
        model, model_label("openai", server.model), max_passages=3, max_passage_chars=600
    )
    stamps: list[float] = []
    pieces: list[str] = []

    def on_token(piece: str) -> None:
        stamps.append(time.perf_counter())
        pieces.append(piece)

    ans = answerer.answer(
        "Ai chủ trì hội nghị tổng kết công tác dân vận năm 2021?",
        hits,
        texts,
        on_token=on_token,
        deadline_s=300,
    )
    assert len(pieces) >= 5, pieces  # streamed, not one block
    _check_answer(ans, hits, texts, k=3)
    gen_s = stamps[-1] - stamps[0]
    rate = (len(pieces) - 1) / gen_s if gen_s > 0 else float("inf")
    print(
        f"\n[llm] {len(pieces)} pieces; first token {ans.timings_ms['llm_first_token']:.0f} ms; "
        f"total {ans.timings_ms['llm']:.0f} ms; generation {rate:.1f} tokens/s\n"
        f"[llm] raw: {''.join(pieces)[:300]!r}\n[llm] answer: {ans.text[:300]!r} "
        f"refused={ans.refused} notice={ans.notice!r} citations={len(ans.citations)}"
    )


def test_condense_question_through_a_real_server(server: LlamaServer) -> None:
    model = make_chat_model(
        "openai", base_url=server.base_url, model=server.model, timeout_s=120, max_tokens=40
    )
    history = [
        Turn(
            "Ai chủ trì hội nghị tổng kết công tác dân vận năm 2021?",
            "Đồng chí Châu Ngọc Tuấn, Phó Bí thư Thường trực Tỉnh ủy, chủ trì hội nghị [1].",
        )
    ]
    question = "Ông ấy còn giữ chức vụ gì?"
    out = condense_question(model, history, question, timeout_s=180)
    assert isinstance(out, str) and out.strip() and "\n" not in out
    assert len(out) <= max(300, 3 * len(question))
    print(f"\n[llm] condensed: {out!r}")


def test_too_short_timeouts_raise(
    server: LlamaServer, corpus: tuple[list[ScoredChunk], dict[str, str]]
) -> None:
    hits, texts = corpus
    # the overall deadline of the answer call
    model = make_chat_model("openai", base_url=server.base_url, model=server.model)
    t = time.perf_counter()
    with pytest.raises(LLMError, match=r"did not answer within 0\.05 s"):
        LLMAnswerer(model, "x").answer("Ai?", hits, texts, deadline_s=0.05)
    assert time.perf_counter() - t < 1.0
    # the HTTP timeout of the client (prompt processing alone takes longer than this)
    model = make_chat_model("openai", base_url=server.base_url, model=server.model, timeout_s=0.3)
    t = time.perf_counter()
    with pytest.raises(LLMError, match=r"did not answer within 0\.3 s"):
        LLMAnswerer(model, "x").answer("Ai?", hits, texts)
    assert time.perf_counter() - t < 2.0


def test_server_not_listening_fails_fast(corpus: tuple[list[ScoredChunk], dict[str, str]]) -> None:
    hits, texts = corpus
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    model = make_chat_model("openai", base_url=url, model="gemma-3-270m", timeout_s=30)
    t = time.perf_counter()
    with pytest.raises(LLMError, match=re.escape(f"LLM server at {url} is not reachable")):
        LLMAnswerer(model, "x").answer("Ai?", hits, texts)
    assert time.perf_counter() - t < 2.0
