"""What every answerer is: one protocol, and the one "LLM, falling back to extractive" wrapper.

An answerer turns a request (the question, its standalone form, the conversation) and the
evidence from the gate (``rag.answer.evidence``) into an ``Answer``. The offline extractive
answerer and the LLM answerer implement ``Answerer``; ``FallbackAnswerer`` tries one and,
when the model fails (``LLMError``: unreachable, timed out, empty), answers with the other
and says so in ``Answer.notice``. ``rag.services.build_services`` chooses which from the
settings; nothing else tests the ``answerer`` setting.

>>> from corpus.types import Chunk
>>> from rag.answer.chat import LLMError
>>> from rag.answer.evidence import Evidence
>>> from rag.types import Answer
>>> class Down:
...     label = "llm:fake:down"
...     def respond(self, request, evidence):
...         raise LLMError("LLM server at http://127.0.0.1:9/v1 is not reachable")
>>> class Echo:
...     label = "extractive"
...     def respond(self, request, evidence):
...         return Answer(request.question, "85 hộ [1].", [], False, evidence.hits, self.label)
>>> ans = FallbackAnswerer(Down(), Echo()).respond(AnswerRequest("Bao nhiêu hộ?"), Evidence([]))
>>> ans.answerer, ans.notice.startswith("Mô hình ngôn ngữ không trả lời được")
('extractive', True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from rag.answer.chat import LLMError
from rag.answer.evidence import Evidence
from rag.types import Answer, Turn


@dataclass(frozen=True)
class AnswerRequest:
    """What was asked: the question as typed, its standalone form (follow-ups resolved;
    empty = the question itself), the conversation, and where streamed text goes."""

    question: str
    standalone_query: str = ""
    history: Sequence[Turn] = ()
    on_token: Callable[[str], None] | None = None

    @property
    def query(self) -> str:
        return self.standalone_query or self.question


# (question, history) -> (standalone question, notice): how follow-ups are resolved
Condenser = Callable[[str, Sequence[Turn]], tuple[str, str | None]]


class Answerer(Protocol):
    """Answers a request from the evidence; ``label`` goes to ``Answer.answerer``."""

    label: str

    def respond(self, request: AnswerRequest, evidence: Evidence) -> Answer: ...


def fallback_notice(exc: LLMError) -> str:
    return (
        f"Mô hình ngôn ngữ không trả lời được ({exc}); "
        "dưới đây là câu trả lời trích xuất trực tiếp từ tài liệu."
    )


class FallbackAnswerer:
    """``primary`` (an LLM answerer); on ``LLMError``, ``fallback`` with a notice."""

    def __init__(self, primary: Answerer, fallback: Answerer) -> None:
        self.primary = primary
        self.fallback = fallback
        self.label = primary.label

    def respond(self, request: AnswerRequest, evidence: Evidence) -> Answer:
        try:
            return self.primary.respond(request, evidence)
        except LLMError as exc:
            answer = self.fallback.respond(request, evidence)
            answer.notice = " ".join(x for x in (fallback_notice(exc), answer.notice) if x)
            return answer
