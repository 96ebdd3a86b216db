"""One browser session's conversation, and streaming a turn through the Assistant.

No Gradio here: ``respond`` is a generator of ``ChatView`` snapshots that the UI maps onto
its components, so it is tested with a fake assistant.

>>> s = ChatSession()
>>> s.history()
[]
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from corpus.errors import HoidapError
from rag.answer.render import format_answer
from rag.types import Answer, Filters, Turn
from rag.web.errors import error_html
from rag.web.render import (
    Passage,
    TurnSources,
    answer_message_html,
    notice_html,
    passage_for,
    sources_panel_html,
    streaming_message_html,
    user_message_html,
)

MAX_TURNS_SHOWN_IN_SOURCES = 10


class Asker(Protocol):
    """The part of ``rag.assistant.Assistant`` the chat needs."""

    def validate(self, question: str) -> str: ...

    def ask(
        self,
        question: str,
        *,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> Answer: ...


class TextLookup(Protocol):
    def article_text(self, article_id: str) -> str | None: ...


@dataclass
class ChatTurn:
    question: str
    answer: Answer
    sources: TurnSources


@dataclass
class ChatSession:
    """Per-browser-session state (a ``gr.State``): nothing is shared between sessions."""

    turns: list[ChatTurn] = field(default_factory=list)

    def history(self) -> list[Turn]:
        return [Turn(t.question, t.answer.text) for t in self.turns]

    def messages(self) -> list[dict[str, str]]:
        out = []
        for i, t in enumerate(self.turns, 1):
            out.append({"role": "user", "content": user_message_html(t.question)})
            out.append({"role": "assistant", "content": answer_message_html(t.answer, turn=i)})
        return out

    def sources_html(self) -> str:
        return sources_panel_html([t.sources for t in self.turns[-MAX_TURNS_SHOWN_IN_SOURCES:]])

    def copy_text(self) -> str:
        """The last answer with its sources, as plain text for the clipboard."""
        if not self.turns:
            return ""
        t = self.turns[-1]
        return f"Câu hỏi: {t.question}\n\n{format_answer(t.answer)}"


@dataclass(frozen=True)
class ChatView:
    """What the page shows after each step of a turn."""

    messages: list[dict[str, str]]
    sources_html: str
    copy_text: str
    status_html: str
    session: ChatSession
    done: bool


def turn_sources(turn: int, answer: Answer, texts: TextLookup) -> TurnSources:
    """Source cards for an answer: each citation's chunk with the quoted span marked."""
    chunks = {h.chunk.id: h.chunk for h in answer.retrieved}
    cache: dict[str, str | None] = {}

    def text_of(aid: str) -> str | None:
        if aid not in cache:
            cache[aid] = texts.article_text(aid)
        return cache[aid]

    cards: list[tuple[Any, Passage]] = []
    for c in answer.citations:
        ch = chunks.get(c.chunk_id)
        window = (ch.start, ch.end) if ch is not None else None
        cards.append((c, passage_for(text_of(c.article_id), (c.start, c.end), window)))
    closest = []
    if not answer.citations:
        seen = set()
        for h in answer.retrieved:
            if h.chunk.article_id in seen:
                continue
            seen.add(h.chunk.article_id)
            closest.append((h.title, h.date, h.source, h.chunk.text))
            if len(closest) == 3:
                break
    return TurnSources(turn, answer.question, answer.refused, cards, closest)


def _view(
    session: ChatSession, status: str, *, done: bool, pending: list[dict[str, str]]
) -> ChatView:
    return ChatView(
        messages=session.messages() + pending,
        sources_html=session.sources_html(),
        copy_text=session.copy_text(),
        status_html=status,
        session=session,
        done=done,
    )


def respond(
    assistant: Asker,
    texts: TextLookup,
    session: ChatSession | None,
    question: str,
    filters: Filters | None = None,
    *,
    stream: bool = True,
) -> Iterator[ChatView]:
    """Ask one question in this session; yield views while the answer streams.

    Known errors (``HoidapError``: an empty or too long question, bad filters, an LLM server
    that does not answer) come back as a status message (``rag.web.errors``) and leave the
    conversation unchanged; any other exception is raised.
    """
    session = session if session is not None else ChatSession()
    try:
        question = assistant.validate(question)
    except HoidapError as exc:
        yield _view(session, error_html(exc), done=True, pending=[])
        return
    pending = [
        {"role": "user", "content": user_message_html(question)},
        {"role": "assistant", "content": streaming_message_html("")},
    ]
    yield _view(session, notice_html("Đang tìm trong tài liệu…"), done=False, pending=pending)

    tokens: queue.Queue[str | None] = queue.Queue()
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["answer"] = assistant.ask(
                question,
                history=session.history(),
                filters=filters,
                on_token=tokens.put if stream else None,
            )
        except BaseException as exc:  # delivered to the generator below
            result["error"] = exc
        finally:
            tokens.put(None)

    worker = threading.Thread(target=work, name="hoidap-web-ask", daemon=True)
    worker.start()
    partial = ""
    while True:
        tok = tokens.get()
        if tok is None:
            break
        partial += tok
        pending[-1] = {"role": "assistant", "content": streaming_message_html(partial)}
        yield _view(session, notice_html("Đang trả lời…"), done=False, pending=pending)
    worker.join()

    error = result.get("error")
    if isinstance(error, HoidapError):
        yield _view(session, error_html(error), done=True, pending=[])
        return
    if error is not None:
        raise error
    answer: Answer = result["answer"]
    n = len(session.turns) + 1
    session.turns.append(ChatTurn(question, answer, turn_sources(n, answer, texts)))
    kind = "warn" if answer.refused else "ok"
    status = (
        "Không đủ căn cứ trong tài liệu để trả lời câu hỏi này."
        if answer.refused
        else f"Đã trả lời với {len(answer.citations)} trích dẫn. Bấm [n] để xem đoạn nguồn."
    )
    yield _view(session, notice_html(status, kind=kind), done=True, pending=[])


def new_chat() -> ChatView:
    session = ChatSession()
    return _view(session, notice_html("Đã bắt đầu cuộc trò chuyện mới."), done=True, pending=[])


def parse_filters(sources: Sequence[str] | None, since: str | None, until: str | None) -> Filters:
    """UI filter values -> Filters (dates are checked by the retriever)."""
    return Filters(
        sources=tuple(s for s in (sources or []) if s),
        since=(since or "").strip() or None,
        until=(until or "").strip() or None,
    )
