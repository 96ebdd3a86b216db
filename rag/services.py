"""The composition root: the one place where settings become the parts of hoidap.

``build_services(settings)`` returns a ``Services`` whose parts — embedder, index (catalog,
vector store, BM25), retriever, reranker, answerer, follow-up condenser, chat model — are
built on first use, once, from the settings. The CLI, the web app, the evaluation runner,
the briefing, the refusal calibration and the benchmarks all get their parts here; the
``answerer`` setting is read here and nowhere else.

>>> from rag.settings import load_settings
>>> services = build_services(load_settings("/tmp/hoidap-doc", env={}))
>>> services.uses_llm, services.answerer_label
(False, 'reader')
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from embeddings.base import Embedder
from rag.answer.answerer import Answerer, Condenser, FallbackAnswerer
from rag.answer.evidence import Evidence, gather_evidence
from rag.answer.extractive import ExtractiveAnswerer
from rag.answer.followup import rule_condenser
from rag.answer.question import OPEN_CHUNKS, OPEN_PER_ARTICLE, is_open_question
from rag.index.catalog import Catalog
from rag.index.index import Index
from rag.retrieval.retrieve import HybridRetriever
from rag.settings import OFFLINE_ANSWERERS, Settings
from rag.types import Filters

if TYPE_CHECKING:
    from rag.answer.chat import ChatModel
    from rag.answer.reader.answerer import ReaderAnswerer
    from rag.retrieval.retrieve import Reranker


def open_embedder(settings: Settings) -> Embedder:
    """The settings' embedder (``embedding_model``, ``embedding_threads``); loads lazily."""
    from embeddings.registry import load_embedder

    return load_embedder(settings.embedding_model, threads=settings.embedding_threads or None)


class Services:
    """The parts, built lazily and once (thread-safe); see the module docstring.

    ``embedder``: an already loaded embedder to use instead of the settings' (tests, a
    second index over the same model). ``refusal_threshold``: overrides the calibrated
    threshold of the extractive answerer (calibration, threshold sweeps). ``retriever``: a
    retriever to use as it is, with its index (benchmarks comparing retrievers).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        refusal_threshold: float | None = None,
        retriever: HybridRetriever | None = None,
    ) -> None:
        self.settings = settings
        self._embedder = embedder
        self._threshold = refusal_threshold
        self._lock = threading.RLock()
        self._index: Index | None = retriever.index if retriever else None
        self._retriever: HybridRetriever | None = retriever
        if retriever is not None and embedder is None:
            self._embedder = retriever.embedder
        self._extractive: ExtractiveAnswerer | None = None
        self._reader: ReaderAnswerer | None = None
        self._open_retriever: HybridRetriever | None = None
        self._answerer: Answerer | None = None
        self._condenser: Condenser | None = None
        self._chat_models: dict[int, ChatModel] = {}

    # -- what the settings say -----------------------------------------------------
    @property
    def uses_llm(self) -> bool:
        return self.settings.answerer not in OFFLINE_ANSWERERS

    @property
    def answerer_label(self) -> str:
        """``Answer.answerer`` of a normal answer: "reader", "extractive" or
        "llm:<provider>:<model>"."""
        from rag.answer.chat import model_label

        s = self.settings
        return model_label(s.answerer, s.llm_model) if self.uses_llm else s.answerer

    # -- the parts -------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = open_embedder(self.settings)
            return self._embedder

    @property
    def index(self) -> Index:
        with self._lock:
            if self._index is None:
                self._index = Index(self.settings, self.embedder.model_id)
            return self._index

    @property
    def catalog(self) -> Catalog:
        return self.index.catalog

    def reranker(self) -> Reranker | None:
        if not self.settings.reranker:
            return None
        from rag.retrieval.rerank import CrossEncoderReranker

        return CrossEncoderReranker(self.settings.reranker)

    def make_retriever(
        self,
        *,
        top_k: int | None = None,
        candidates: int | None = None,
        per_article: int | None = None,
        reranker: bool = True,
        **overrides: Any,
    ) -> HybridRetriever:
        """A retriever over this index; keyword arguments override the settings (the
        briefing reads more passages, benchmarks compare fusion methods)."""
        s = self.settings
        return HybridRetriever(
            self.index,
            self.embedder,
            top_k=s.top_k if top_k is None else top_k,
            candidates=s.retrieval_candidates if candidates is None else candidates,
            rrf_k=overrides.pop("rrf_k", s.rrf_k),
            fusion=overrides.pop("fusion", s.fusion),
            per_article=s.per_article if per_article is None else per_article,
            reranker=self.reranker() if reranker else None,
            **overrides,
        )

    @property
    def retriever(self) -> HybridRetriever:
        with self._lock:
            if self._retriever is None:
                self._retriever = self.make_retriever()
            return self._retriever

    @property
    def open_retriever(self) -> HybridRetriever:
        """The retriever for open questions: more chunks of an article (see ``evidence``)."""
        with self._lock:
            if self._open_retriever is None:
                per = max(OPEN_PER_ARTICLE, self.settings.per_article)
                self._open_retriever = self.make_retriever(per_article=per)
            return self._open_retriever

    def idf(self) -> Callable[[str], float]:
        """idf from the BM25 vocabularies, so common words weigh little in the evidence."""
        index = self.index

        def idf(token: str) -> float:
            for analyzer in ("vi", "ascii"):
                bm = index.bm25(analyzer)
                df = bm.doc_freq(token)
                if df:
                    return bm.idf(df)
            return math.log1p(index.bm25("vi").n_docs + 0.5)

        return idf

    @property
    def extractive(self) -> ExtractiveAnswerer:
        with self._lock:
            if self._extractive is None:
                self._extractive = ExtractiveAnswerer(idf=self.idf(), threshold=self._threshold)
            return self._extractive

    @property
    def reader_answerer(self) -> ReaderAnswerer:
        """The trained reader over the extractive answerer (its fallback); loads lazily."""
        with self._lock:
            if self._reader is None:
                from rag.answer.reader.answerer import ReaderAnswerer
                from rag.answer.reader.reader import Reader

                threads = self.settings.embedding_threads or 2
                self._reader = ReaderAnswerer(
                    Reader(threads=threads, precision=self.settings.reader_precision),
                    self.extractive,
                    factoid=self.settings.reader_factoid,
                )
            return self._reader

    def chat_model(self, *, max_tokens: int | None = None) -> ChatModel:
        """The settings' chat model (only with an LLM answerer); ``max_tokens`` at least."""
        from rag.answer.chat import make_chat_model

        s = self.settings
        if not self.uses_llm:
            raise ValueError("no LLM is configured (answerer = extractive)")
        tokens = max(s.llm_max_tokens, max_tokens or 0)
        with self._lock:
            if tokens not in self._chat_models:
                self._chat_models[tokens] = make_chat_model(
                    s.answerer,
                    base_url=s.llm_base_url,
                    model=s.llm_model,
                    temperature=s.llm_temperature,
                    timeout_s=s.llm_timeout_s,
                    api_key=s.llm_api_key or None,
                    max_tokens=tokens,
                )
            return self._chat_models[tokens]

    @property
    def answerer(self) -> Answerer:
        """The configured answerer: the reader (falling back to extractive without its
        model), extractive, or the LLM falling back to extractive."""
        with self._lock:
            if self._answerer is None:
                if self.uses_llm:
                    from rag.answer.llm import LLMAnswerer

                    s = self.settings
                    llm = LLMAnswerer(
                        self.chat_model(),
                        self.answerer_label,
                        max_passages=s.llm_max_passages,
                        max_passage_chars=s.llm_max_passage_chars,
                        deadline_s=s.llm_timeout_s,
                    )
                    primary: Answerer = llm
                    if s.llm_reader_passages:
                        from rag.answer.reader.answerer import ReaderPassages

                        primary = ReaderPassages(llm, self.reader_answerer)
                    self._answerer = FallbackAnswerer(primary, self.extractive)
                elif self.settings.answerer == "reader":
                    self._answerer = self.reader_answerer
                else:
                    self._answerer = self.extractive
            return self._answerer

    @property
    def condenser(self) -> Condenser:
        """How follow-up questions become standalone: the LLM when configured, else rules."""
        with self._lock:
            if self._condenser is None:
                if self.uses_llm:
                    from rag.answer.llm import LLMCondenser

                    self._condenser = LLMCondenser(
                        self.chat_model(), deadline_s=self.settings.llm_timeout_s
                    )
                else:
                    self._condenser = rule_condenser
            return self._condenser

    # -- the evidence gate, over this index ------------------------------------------
    def evidence(
        self,
        query: str,
        *,
        filters: Filters | None = None,
        k: int | None = None,
        retriever: HybridRetriever | None = None,
        timings: dict[str, float] | None = None,
    ) -> Evidence:
        """Retrieve for ``query`` and pass the hits through ``gather_evidence``.

        Open questions ("… đã làm gì?", "Nêu các nhiệm vụ …") read more of each article:
        up to ``OPEN_CHUNKS`` chunks, ``OPEN_PER_ARTICLE`` per article (unless a
        retriever or ``k`` is given)."""
        if retriever is None and k is None and is_open_question(query):
            retriever, k = self.open_retriever, max(OPEN_CHUNKS, self.settings.top_k)
        r = retriever or self.retriever
        return gather_evidence(
            self.catalog, lambda: r.retrieve(query, k=k, filters=filters, timings=timings)
        )

    def close(self) -> None:
        """Close what was opened (the catalog's connections)."""
        with self._lock:
            if self._index is not None:
                self._index.close()


def build_services(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    refusal_threshold: float | None = None,
    retriever: HybridRetriever | None = None,
) -> Services:
    """The parts of hoidap for these settings (built on first use). See ``Services``."""
    return Services(
        settings, embedder=embedder, refusal_threshold=refusal_threshold, retriever=retriever
    )
