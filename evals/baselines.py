"""Baselines: what an evaluator would otherwise build, run on the same articles.

Both are **retrieval-only** (they produce a ranked list of passages, no answer), so they are
scored with the retrieval metrics only. Both split the index's articles (the cleaned text
hoidap stores, without the title) the way the LangChain RAG tutorial does:
``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)``.

* ``langchain``: the tutorial recipe: the splits in a ``langchain_chroma.Chroma`` vector
  store (in-memory Chroma, default distance) and ``similarity_search(question, k)``, with the
  **same embedder** as hoidap, wrapped as a LangChain ``Embeddings`` (passage vectors go
  through hoidap's embedding cache, so a second run embeds nothing).
* ``bm25``: LangChain's ``BM25Retriever`` defaults: ``rank_bm25.BM25Okapi`` (k1=1.5,
  b=0.75, epsilon=0.25) over ``text.split()`` tokens, top-n by ``get_top_n``. The
  ``langchain_community`` package that holds ``BM25Retriever`` is not installed here, so this
  is the same computation written against ``rank_bm25`` directly.

Neither uses the conversation history: follow-up questions are searched as typed.

>>> arts = [("a1", "Ban Dân vận kiểm tra 151 cơ quan."), ("a2", "Trời mưa to ở Huế."),
...         ("a3", "Giá vàng hôm nay tăng.")]
>>> bm = BM25Baseline(arts)
>>> [p.article_id for p in bm.retrieve("kiểm tra bao nhiêu cơ quan", 2)][:1]
['a1']
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from embeddings.base import Embedder

CHUNK_SIZE, CHUNK_OVERLAP = 1000, 200  # the LangChain tutorial's splitter settings


@dataclass(frozen=True)
class BaselinePassage:
    id: str  # "<article_id>#lc<ordinal>"
    article_id: str
    text: str


class BaselineRetriever(Protocol):
    name: str
    description: str

    def retrieve(self, question: str, k: int) -> list[BaselinePassage]: ...

    def passages_of(self, article_id: str) -> list[BaselinePassage]: ...


def split_articles(articles: Sequence[tuple[str, str]]) -> list[BaselinePassage]:
    """The tutorial's splits of each (article_id, text), ids ``<article_id>#lc<n>``."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    out = []
    for aid, text in articles:
        for i, piece in enumerate(splitter.split_text(text)):
            out.append(BaselinePassage(f"{aid}#lc{i:04d}", aid, piece))
    return out


class _Passages:
    def __init__(self, passages: list[BaselinePassage]) -> None:
        self.passages = passages
        self._by_article: dict[str, list[BaselinePassage]] = {}
        for p in passages:
            self._by_article.setdefault(p.article_id, []).append(p)

    def passages_of(self, article_id: str) -> list[BaselinePassage]:
        return self._by_article.get(article_id, [])


class BM25Baseline(_Passages):
    name = "bm25"
    description = (
        "BM25 (rank_bm25.BM25Okapi, LangChain BM25Retriever defaults: whitespace tokens, "
        "k1=1.5, b=0.75) over RecursiveCharacterTextSplitter(1000, 200) splits; retrieval only"
    )

    def __init__(self, articles: Sequence[tuple[str, str]]) -> None:
        from rank_bm25 import BM25Okapi

        super().__init__(split_articles(articles))
        self._bm25 = BM25Okapi([p.text.split() for p in self.passages])

    def retrieve(self, question: str, k: int) -> list[BaselinePassage]:
        if not self.passages:
            return []
        return list(self._bm25.get_top_n(question.split(), self.passages, n=k))


def as_langchain_embeddings(embedder: Embedder) -> Any:
    """Our Embedder (passage and query sides) as a LangChain ``Embeddings`` object."""
    from langchain_core.embeddings import Embeddings

    class _Wrapped(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [row.tolist() for row in embedder.embed_documents(texts)]

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed_query(text).tolist()

    return _Wrapped()


class LangChainRecipe(_Passages):
    name = "langchain"
    description = (
        "LangChain RAG tutorial: RecursiveCharacterTextSplitter(1000, 200) + Chroma "
        "(in-memory) + similarity_search top-k, same embedder as hoidap; retrieval only"
    )

    def __init__(
        self, articles: Sequence[tuple[str, str]], embedder: Embedder, *, batch: int = 64
    ) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from langchain_chroma import Chroma
        from langchain_core.documents import Document

        super().__init__(split_articles(articles))
        t0 = time.perf_counter()
        client = chromadb.EphemeralClient(ChromaSettings(anonymized_telemetry=False))
        digest = hashlib.sha256(
            "\0".join([embedder.model_id, *(p.id for p in self.passages)]).encode()
        ).hexdigest()[:16]
        name = f"baseline-{digest}"
        if name in [c.name for c in client.list_collections()]:
            client.delete_collection(name)  # one process, one fresh store per run
        self.store = Chroma(
            collection_name=name,
            embedding_function=as_langchain_embeddings(embedder),
            client=client,
        )
        for i in range(0, len(self.passages), batch):
            part = self.passages[i : i + batch]
            self.store.add_documents(
                [
                    Document(page_content=p.text, metadata={"article_id": p.article_id})
                    for p in part
                ],
                ids=[p.id for p in part],
            )
        self._by_id = {p.id: p for p in self.passages}
        self.build_s = time.perf_counter() - t0

    def retrieve(self, question: str, k: int) -> list[BaselinePassage]:
        if not self.passages:
            return []
        docs = self.store.similarity_search(question, k=k)
        return [self._by_id[d.id] for d in docs if d.id in self._by_id]
