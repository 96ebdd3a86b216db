"""The one path to a chat model: building the client, calling it under a deadline, and
turning every failure into ``LLMError`` with a message that says where and why.

Every model call of hoidap (answers, follow-up questions, briefings) goes through
``call_model``: the reply streams in a worker thread while the caller's thread enforces the
deadline, so a hung server costs at most ``deadline_s``. LangChain is imported only inside
``make_chat_model`` (it is slow to import); any object with a LangChain-style
``stream(messages)`` works.

>>> from langchain_core.language_models.fake_chat_models import FakeListChatModel
>>> call_model(FakeListChatModel(responses=["Xin chào"]), [("human", "?")], deadline_s=5).text
'Xin chào'
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from corpus.errors import HoidapError

Messages = list[tuple[str, str]]  # (role, content), roles "system" / "human" / "ai"


class LLMError(HoidapError, RuntimeError):
    """Talking to the model failed: not reachable, timed out, HTTP error or empty output."""


class ChatModel(Protocol):
    """What the answerer needs from a chat model (any LangChain ``BaseChatModel``)."""

    def stream(self, input: Any, /) -> Iterator[Any]: ...


def model_label(provider: str, model: str) -> str:
    """The ``Answer.answerer`` label: ``model_label("openai", "gemma-3-270m")`` is
    ``"llm:openai:gemma-3-270m"``."""
    return f"llm:{provider}:{model}"


def make_chat_model(
    provider: str,
    *,
    base_url: str,
    model: str,
    temperature: float = 0.1,
    timeout_s: float = 60.0,
    api_key: str | None = None,
    max_tokens: int = 512,
) -> ChatModel:
    """A streaming LangChain chat model for a local (or remote) server.

    ``provider="openai"``: any OpenAI-compatible server (vLLM, llama.cpp server, LM Studio,
    Ollama's ``/v1``), e.g. ``base_url="http://127.0.0.1:8080/v1"``. ``provider="ollama"``:
    Ollama's native API, e.g. ``base_url="http://127.0.0.1:11434"``. No retries: a server
    that is down fails at once (and the caller can fall back to the extractive answer).

    >>> m = make_chat_model("openai", base_url="http://127.0.0.1:9/v1", model="x")
    >>> type(m).__name__
    'ChatOpenAI'
    """
    if timeout_s <= 0 or max_tokens < 1:
        raise ValueError("timeout_s must be > 0 and max_tokens >= 1")
    if provider == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            model=model,
            base_url=base_url,
            api_key=api_key or "not-needed",  # type: ignore[arg-type]
            temperature=temperature,
            timeout=timeout_s,
            max_retries=0,
            streaming=True,
            # "max_tokens", not langchain's "max_completion_tokens": llama.cpp's server and
            # older OpenAI-compatible servers only understand the former.
            extra_body={"max_tokens": max_tokens},
        )
    if provider == "ollama":
        from langchain_ollama import ChatOllama

        client_kwargs: dict[str, Any] = {"timeout": timeout_s}
        if api_key:
            client_kwargs["headers"] = {"Authorization": f"Bearer {api_key}"}
        return ChatOllama(
            model=model,
            base_url=base_url,
            temperature=temperature,
            num_predict=max_tokens,
            client_kwargs=client_kwargs,
        )
    raise ValueError(f"unknown LLM provider {provider!r}: use 'openai' or 'ollama'")


# ---------------------------------------------------------------- talking to the model


def describe(chat_model: object) -> str:
    url = getattr(chat_model, "openai_api_base", None) or getattr(chat_model, "base_url", None)
    if isinstance(url, str) and url:
        return f"LLM server at {url}"
    if type(chat_model).__name__ == "ChatOllama":
        return "Ollama server at http://127.0.0.1:11434"
    return f"LLM ({type(chat_model).__name__})"


def _request_timeout(chat_model: object) -> float | None:
    t = getattr(chat_model, "request_timeout", None)
    if isinstance(t, int | float):
        return float(t)
    kwargs = getattr(chat_model, "client_kwargs", None)
    if isinstance(kwargs, dict) and isinstance(kwargs.get("timeout"), int | float):
        return float(kwargs["timeout"])
    return None


def _as_llm_error(exc: BaseException, chat_model: object) -> LLMError:
    where = describe(chat_model)
    chain: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and e not in chain and len(chain) < 6:
        chain.append(e)
        e = e.__cause__ or e.__context__
    names = {cls.__name__ for err in chain for cls in type(err).__mro__}
    # the innermost message is usually the useful one ("[Errno 111] Connection refused")
    messages = [str(err).strip().rstrip(".") for err in chain if str(err).strip()]
    detail = (messages[-1] if messages else type(exc).__name__)[:200]
    if names & {"APITimeoutError", "TimeoutException", "TimeoutError", "ReadTimeout"}:
        t = _request_timeout(chat_model)
        within = f" within {t:g} s" if t else " in time"
        return LLMError(f"{where} did not answer{within}")
    if names & {"APIConnectionError", "ConnectError", "ConnectionError", "NetworkError"}:
        return LLMError(f"{where} is not reachable ({detail}); is the server running?")
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return LLMError(f"{where} answered HTTP {status}: {str(exc).strip()[:200]}")
    return LLMError(f"{where} failed: {type(exc).__name__}: {detail}")


def _chunk_text(chunk: Any) -> str:
    content = getattr(chunk, "content", chunk)
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content blocks
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
        return "".join(parts)
    return ""


@dataclass
class ModelReply:
    """A model's whole reply, with when its first piece came (ms after the call)."""

    text: str
    first_token_ms: float | None
    total_ms: float
    pieces: int


def call_model(
    chat_model: ChatModel,
    messages: Messages,
    *,
    deadline_s: float,
    on_token: Callable[[str], None] | None = None,
) -> ModelReply:
    """Stream the reply in a worker thread; enforce the deadline here, in the caller's thread.

    ``on_token`` runs in the caller's thread. On timeout the worker is told to stop (it
    closes the HTTP stream at the next piece) and LLMError is raised at once.
    """
    q: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()

    def work() -> None:
        try:
            stream = chat_model.stream(messages)
            try:
                for chunk in stream:
                    if stop.is_set():
                        break
                    text = _chunk_text(chunk)
                    if text:
                        q.put(("token", text))
            finally:
                close = getattr(stream, "close", None)
                if callable(close):
                    close()
            q.put(("end", None))
        except BaseException as exc:  # delivered to the caller's thread
            q.put(("error", exc))

    if deadline_s <= 0:
        raise ValueError("deadline_s must be > 0")
    t0 = time.perf_counter()
    end = t0 + deadline_s
    threading.Thread(target=work, name="hoidap-llm-stream", daemon=True).start()
    parts: list[str] = []
    first: float | None = None
    try:
        while True:
            wait = end - time.perf_counter()
            try:
                if wait <= 0:
                    raise queue.Empty
                kind, value = q.get(timeout=wait)
            except queue.Empty:
                what = "did not answer" if first is None else "did not finish its answer"
                raise LLMError(f"{describe(chat_model)} {what} within {deadline_s:g} s") from None
            if kind == "token":
                if first is None:
                    first = time.perf_counter()
                parts.append(value)
                if on_token is not None:
                    on_token(value)
            elif kind == "error":
                raise _as_llm_error(value, chat_model) from value
            else:
                break
    finally:
        stop.set()
    total = (time.perf_counter() - t0) * 1000
    return ModelReply(
        "".join(parts), None if first is None else (first - t0) * 1000, total, len(parts)
    )
