"""The Assistant: one object the CLI, the web app and the evaluation runner ask through.

question (+ history, filters)
  -> validate -> follow-up -> standalone query (``Services.condenser``: LLM or rules)
  -> evidence gate (hybrid retrieval; one article version; instructions blanked)
  -> answer (``Services.answerer``: extractive, or LLM falling back to extractive)

The parts come from ``rag.services.build_services``; everything heavy (embedder, Chroma,
LLM client) loads on first use.

>>> from rag.settings import load_settings
>>> a = Assistant(load_settings("/tmp/hoidap-doc", env={}))
>>> a.validate("  Năm 2021   đã kiểm tra bao nhiêu cơ quan? ")
'Năm 2021 đã kiểm tra bao nhiêu cơ quan?'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from embeddings.base import Embedder
from rag.answer.answerer import AnswerRequest
from rag.answer.question import validate_question
from rag.services import Services, build_services
from rag.settings import Settings
from rag.types import Answer, Filters, Turn


class Assistant:
    """Asks through the parts of one ``Services`` (built from ``settings`` unless given)."""

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        refusal_threshold: float | None = None,
        services: Services | None = None,
    ) -> None:
        """``embedder`` / ``refusal_threshold``: see ``Services``. ``services``: parts already
        built (their settings are the Assistant's)."""
        self.services = services or build_services(
            settings, embedder=embedder, refusal_threshold=refusal_threshold
        )
        self.settings = self.services.settings

    # -- asking --------------------------------------------------------------------
    def validate(self, question: str) -> str:
        return validate_question(question, self.settings.max_question_chars)

    def standalone(self, question: str, history: Sequence[Turn]) -> tuple[str, str | None]:
        """(standalone query, notice) — via the LLM when configured, else deterministic."""
        return self.services.condenser(question, history)

    def ask(
        self,
        question: str,
        *,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> Answer:
        t0 = time.perf_counter()
        q = self.validate(question)
        timings: dict[str, float] = {}
        query, condense_notice = self.standalone(q, history)
        timings["contextualize"] = (time.perf_counter() - t0) * 1000
        evidence = self.services.evidence(query, filters=filters, timings=timings)
        request = AnswerRequest(q, query, tuple(history), on_token)
        answer = self.services.answerer.respond(request, evidence)
        answer.timings_ms = {
            **timings,
            **answer.timings_ms,
            "total": (time.perf_counter() - t0) * 1000,
        }
        answer.notice = " ".join(x for x in (condense_notice, answer.notice) if x) or None
        return answer
