"""The Assistant: one object the CLI, the web app and the evaluation runner all use.

>>> # a = Assistant(load_settings())                              # doctest: +SKIP
>>> # ans = a.ask("Năm 2021 đã kiểm tra bao nhiêu cơ quan?")      # doctest: +SKIP
>>> # ans.text, [c.title for c in ans.citations]                  # doctest: +SKIP

question (+ history, filters)
  -> validate -> follow-up -> standalone query (LLM when configured, else deterministic)
  -> hybrid retrieval -> answer (LLM when configured, falling back to extractive)
Everything heavy (embedder, Chroma, LLM client) loads on first use.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from embeddings.base import Embedder
from rag.answer.extractive import ExtractiveAnswerer
from rag.answer.followup import contextualize
from rag.answer.injection import blank_instructions
from rag.index.index import Index
from rag.retrieval.retrieve import HybridRetriever
from rag.settings import Settings
from rag.types import Answer, Filters, ScoredChunk, Turn


class QuestionError(ValueError):
    """The question cannot be asked as given; the message is for the user (Vietnamese)."""


class Assistant:
    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        refusal_threshold: float | None = None,
    ) -> None:
        """``refusal_threshold`` overrides the calibrated one (for calibration runs)."""
        self.settings = settings
        self._embedder = embedder
        self._threshold = refusal_threshold
        self._lock = threading.Lock()
        self._index: Index | None = None
        self._retriever: HybridRetriever | None = None
        self._extractive: ExtractiveAnswerer | None = None
        self._llm: Any = None
        self._chat_model: Any = None

    # -- lazily built parts --------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from embeddings.registry import load_embedder

            s = self.settings
            self._embedder = load_embedder(s.embedding_model, threads=s.embedding_threads or None)
        return self._embedder

    @property
    def index(self) -> Index:
        with self._lock:
            if self._index is None:
                self._index = Index(self.settings, self.embedder.model_id)
            return self._index

    @property
    def retriever(self) -> HybridRetriever:
        if self._retriever is None:
            s = self.settings
            reranker = None
            if s.reranker:
                from rag.retrieval.rerank import CrossEncoderReranker

                reranker = CrossEncoderReranker(s.reranker)
            self._retriever = HybridRetriever(
                self.index,
                self.embedder,
                top_k=s.top_k,
                candidates=s.retrieval_candidates,
                rrf_k=s.rrf_k,
                fusion=s.fusion,
                per_article=s.per_article,
                reranker=reranker,
            )
        return self._retriever

    @property
    def extractive(self) -> ExtractiveAnswerer:
        if self._extractive is None:
            self._extractive = ExtractiveAnswerer(idf=self._idf(), threshold=self._threshold)
        return self._extractive

    def _idf(self) -> Callable[[str], float]:
        """idf from the BM25 vocabularies, so common words weigh little in the evidence."""
        index = self.index

        def idf(token: str) -> float:
            for analyzer in ("vi", "ascii"):
                bm = index.bm25(analyzer)
                row = bm.vocab.get(token)
                if row is not None:
                    df = int(bm.matrix.indptr[row + 1] - bm.matrix.indptr[row])
                    n = len(bm.ids)
                    return math.log1p((n - df + 0.5) / (df + 0.5))
            return math.log1p(len(index.bm25("vi").ids) + 0.5)

        return idf

    def _llm_parts(self) -> tuple[Any, Any]:
        if self._llm is None:
            from rag.answer.llm import LLMAnswerer, make_chat_model

            s = self.settings
            self._chat_model = make_chat_model(
                s.answerer,
                base_url=s.llm_base_url,
                model=s.llm_model,
                temperature=s.llm_temperature,
                timeout_s=s.llm_timeout_s,
                api_key=s.llm_api_key or None,
                max_tokens=s.llm_max_tokens,
            )
            self._llm = LLMAnswerer(
                self._chat_model,
                f"llm:{s.answerer}:{s.llm_model}",
                max_passages=s.llm_max_passages,
                max_passage_chars=s.llm_max_passage_chars,
            )
        return self._llm, self._chat_model

    # -- asking --------------------------------------------------------------------
    def validate(self, question: str) -> str:
        q = " ".join((question or "").split())
        if not any(ch.isalnum() for ch in q):
            raise QuestionError(
                "Câu hỏi trống hoặc không có chữ. Hãy nhập một câu hỏi bằng tiếng Việt."
            )
        limit = self.settings.max_question_chars
        if len(q) > limit:
            raise QuestionError(
                f"Câu hỏi quá dài ({len(q)} ký tự, tối đa {limit}). Hãy hỏi ngắn gọn hơn."
            )
        return q

    def standalone(self, question: str, history: Sequence[Turn]) -> tuple[str, str | None]:
        """(standalone query, notice) — via the LLM when configured, else deterministic."""
        if not history:
            return question, None
        if self.settings.answerer != "extractive":
            from rag.answer.llm import LLMError, condense_question

            try:
                _, chat = self._llm_parts()
                return condense_question(
                    chat, history, question, timeout_s=self.settings.llm_timeout_s
                ), None
            except LLMError as exc:
                return contextualize(
                    question, history
                ), f"Không dùng được LLM để hiểu câu hỏi nối tiếp ({exc})."
        return contextualize(question, history), None

    def _retrieve_consistent(
        self, query: str, filters: Filters | None, timings: dict[str, float]
    ) -> tuple[list[ScoredChunk], dict[str, str]]:
        """Retrieve, then read the hits' article texts and metadata in one transaction.

        An ingest may replace an article while a question is answered. Only hits whose
        chunk is still live in that transaction are kept, so every chunk, text and title
        given to the answerer belongs to one version of its article. If the index changed
        during the retrieval (its BM25 and vector lists may then hold the old version's
        chunks, which are dropped, so the article would be missing), it is run again, up to
        3 times, rather than answer without it.
        """
        catalog = self.index.catalog
        kept: list[ScoredChunk] = []
        texts: dict[str, str] = {}
        for _ in range(3):
            before = catalog.generation
            retrieved = self.retriever.retrieve(query, filters=filters, timings=timings)
            generation, live, metas, texts = catalog.live_view(
                [h.chunk.id for h in retrieved], [h.chunk.article_id for h in retrieved]
            )
            kept = []
            for hit in retrieved:
                m = metas.get(hit.chunk.article_id)
                if hit.chunk.id not in live or m is None:
                    continue  # replaced or deleted since it was retrieved
                if (hit.title, hit.date, hit.source, hit.url) != (m.title, m.date, m.source, m.url):
                    hit = dataclasses.replace(
                        hit, title=m.title, date=m.date, source=m.source, url=m.url
                    )
                kept.append(hit)
            if generation == before and len(kept) == len(retrieved):
                break
        return kept, texts

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
        notices = [condense_notice] if condense_notice else []
        timings["contextualize"] = (time.perf_counter() - t0) * 1000
        retrieved, texts = self._retrieve_consistent(query, filters, timings)
        answer = None
        if self.settings.answerer != "extractive":
            from rag.answer.llm import LLMError

            try:
                llm, _ = self._llm_parts()
                answer = llm.answer(
                    q,
                    retrieved,
                    texts,
                    history=history,
                    standalone_query=query,
                    on_token=on_token,
                    deadline_s=self.settings.llm_timeout_s,
                )
            except LLMError as exc:
                notices.append(
                    f"Mô hình ngôn ngữ không trả lời được ({exc}); "
                    "dưới đây là câu trả lời trích xuất trực tiếp từ tài liệu."
                )
        if answer is None:
            # orders to the AI inside a document are never quoted as an answer
            evidence = {aid: blank_instructions(text) for aid, text in texts.items()}
            answer = self.extractive.answer(q, retrieved, evidence, standalone_query=query)
            if on_token is not None:
                on_token(answer.text)
        answer.timings_ms = {
            **timings,
            **answer.timings_ms,
            "total": (time.perf_counter() - t0) * 1000,
        }
        if answer.notice:
            notices.append(answer.notice)
        answer.notice = " ".join(notices) or None
        return answer
