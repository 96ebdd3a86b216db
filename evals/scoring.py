"""Scoring one question: hoidap's answer and rankings, the baselines' rankings, every metric.

Used by ``evals.runner`` (which asks, writes and resumes) and read back by
``evals.aggregate`` and ``evals.compare`` through the row dicts of ``results.jsonl``.

How each system is scored (definitions in ``evals.metrics``, docs/EVALUATION.md):

* hoidap: ``Assistant.ask`` (the configured answerer) gives the answer; the retrieval
  metrics use ``retriever.retrieve(standalone query, k=10)``: its 10 chunks are the passage
  ranking, their distinct articles in order the article ranking.
* baselines (``evals.baselines``): their top 10 passages for the question as typed;
  retrieval metrics only;
* ``rules`` (with the baselines, when hoidap's answerer is not the rule-based one): the
  rule-based extractive answerer on the same evidence as hoidap's answer (the same
  standalone query through ``Services.evidence``); answer and refusal metrics only, so the
  trained reader or an LLM is compared with the rules question by question.

Gold passages: the chunks of a gold article that contain a gold answer (after Vietnamese
normalisation); every chunk of a gold article when the question has no gold answer.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from evals import metrics as m
from evals.testset import QAItem, item_to_dict
from rag.assistant import Assistant
from rag.types import Answer

K = 10  # ranking depth of the retrieval metrics
SYSTEM = "hoidap"
RULES = "rules"
RULES_DESCRIPTION = "the rule-based extractive answerer on hoidap's evidence (baseline)"
HOIDAP_DESCRIPTION = (
    "hoidap: follow-up resolution, hybrid retrieval (BM25 + dense, fused), the configured "
    "answerer with citations"
)


class GoldPassages:
    """Gold passages of each system, computed once per (system, article)."""

    def __init__(self, assistant: Assistant, baselines: Sequence[Any]) -> None:
        self.assistant = assistant
        self.baselines = {b.name: b for b in baselines}
        self._cache: dict[tuple[str, str], list[tuple[str, str]]] = {}

    def _passages(self, system: str, aid: str) -> list[tuple[str, str]]:
        key = (system, aid)
        if key not in self._cache:
            if system == SYSTEM:
                chunks = self.assistant.services.catalog.chunks_of(aid)
                self._cache[key] = [(c.id, c.text) for c in chunks]
            else:
                ps = self.baselines[system].passages_of(aid)
                self._cache[key] = [(p.id, p.text) for p in ps]
        return self._cache[key]

    def passages(self, system: str, item: QAItem) -> set[str]:
        out: set[str] = set()
        for aid in item.gold_articles:
            for pid, text in self._passages(system, aid):
                if not item.answers or any(m.contains(text, g) for g in item.answers):
                    out.add(pid)
        return out


def retrieval_metrics(
    item: QAItem, passages: Sequence[str], articles: Sequence[str], gold_passages: set[str]
) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    gold_articles = set(item.gold_articles) if item.answerable else set()
    gold_passages = gold_passages if item.answerable else set()
    for level, ranked, relevant in (
        ("article", articles, gold_articles),
        ("passage", passages, gold_passages),
    ):
        for name, fn, k in m.RETRIEVAL_METRICS:
            out[f"{level}_{name}"] = fn(ranked, relevant, k)
    return out


def answer_metrics(
    item: QAItem, answer: Answer
) -> tuple[dict[str, float | None], m.CitationScores | None]:
    """Answer, citation and outcome metrics of hoidap's answer to ``item``."""
    golds = item.answers if item.answerable else ()
    stmts = [] if answer.refused else m.statements(answer.text)
    first = stmts[0].claim if stmts else ""
    passages = {}
    by_chunk = {h.chunk.id: h for h in answer.retrieved}
    for c in answer.citations:
        hit = by_chunk.get(c.chunk_id)
        body = hit.chunk.text if hit is not None else c.quote
        passages[c.n] = f"{c.title}\n{body}"
    cites = None if answer.refused else m.citation_scores(stmts, passages)
    if answer.refused:  # a refusal contains no answer, whatever its wording
        contains = 0.0 if golds else None
    else:
        contains = m.gold_containment(answer.text, golds)
    out: dict[str, float | None] = {
        "exact_match": m.exact_match(first, golds),
        "token_f1": m.token_f1(first, golds),
        "contains_gold": contains,
        "citation_precision": cites.precision if cites else None,
        "citation_recall": cites.recall if cites else None,
        "refused": 1.0 if answer.refused else 0.0,
    }
    correct = m.is_correct(
        answerable=item.answerable, refused=answer.refused, contains_gold=contains
    )
    out["correct"] = None if correct is None else float(correct)
    return out, cites


def _ranking(passages: Sequence[str], articles: Sequence[str]) -> dict[str, list[str]]:
    return {"passages": list(passages), "articles": m.distinct(articles)}


def rules_answer(assistant: Assistant, answer: Answer) -> Answer:
    """The rule-based answerer's answer on the evidence of ``answer``'s standalone query."""
    query = answer.standalone_query or answer.question
    ev = assistant.services.evidence(query)
    return assistant.services.extractive.answer(
        answer.question, ev.hits, ev.texts, standalone_query=query
    )


def evaluate_item(
    item: QAItem,
    assistant: Assistant,
    baselines: Sequence[Any],
    gold: GoldPassages,
    *,
    rules: bool = False,
) -> dict[str, Any]:
    """Ask, rank, score: the results.jsonl row of one question (``rules``: also score the
    rule-based answerer on the same evidence)."""
    from rag.answer.render import answer_to_dict

    answer = assistant.ask(item.question, history=item.history)
    t0 = time.perf_counter()
    hits = assistant.services.retriever.retrieve(answer.standalone_query or answer.question, k=K)
    rank_ms = (time.perf_counter() - t0) * 1000
    row: dict[str, Any] = answer_to_dict(answer, item_id=item.id)
    gold_item = item_to_dict(item)
    row.update(
        {
            "line": item.line,
            "gold_answers": gold_item["answers"],
            "gold_articles": gold_item["gold_articles"],
            "answerable": item.answerable,
            "history": gold_item.get("history", []),
        }
    )
    p_ids = [h.chunk.id for h in hits]
    a_ids = [h.chunk.article_id for h in hits]
    rankings = {SYSTEM: _ranking(p_ids, a_ids)}
    scores = {
        SYSTEM: retrieval_metrics(item, p_ids, m.distinct(a_ids), gold.passages(SYSTEM, item))
    }
    answer_scores, cites = answer_metrics(item, answer)
    scores[SYSTEM].update(answer_scores)
    latency = {f"{SYSTEM}_ranking@{K}": round(rank_ms, 2)}
    if rules:
        t0 = time.perf_counter()
        base = rules_answer(assistant, answer)
        latency[RULES] = round((time.perf_counter() - t0) * 1000, 2)
        scores[RULES] = answer_metrics(item, base)[0]
        row["rules_answer"] = base.text
    for b in baselines:
        t0 = time.perf_counter()
        got = b.retrieve(item.question, K)
        latency[b.name] = round((time.perf_counter() - t0) * 1000, 2)
        bp, ba = [p.id for p in got], [p.article_id for p in got]
        rankings[b.name] = _ranking(bp, ba)
        scores[b.name] = retrieval_metrics(item, bp, m.distinct(ba), gold.passages(b.name, item))
    given = {h.chunk.article_id for h in answer.retrieved}
    gold_given = (
        (1.0 if given & set(item.gold_articles) else 0.0)
        if item.gold_articles and item.answerable
        else None
    )
    row.update(
        {
            "rankings": rankings,
            "metrics": scores,
            "citation_detail": None
            if cites is None
            else {
                "statements": cites.statements,
                "covered": cites.covered,
                "citations": cites.citations,
                "correct": cites.correct,
            },
            "correct": None if answer_scores["correct"] is None else bool(answer_scores["correct"]),
            "failure": m.failure_category(
                answerable=item.answerable,
                refused=answer.refused,
                gold_retrieved=gold_given,
                contains_gold=answer_scores["contains_gold"],
                citations=cites,
            ),
            "other_latency_ms": latency,
        }
    )
    return row


def metric_names(system: str) -> list[str]:
    """The per-question metrics of ``system`` (``evals.metrics``: the names, defined once)."""
    names = [f"{lvl}_{n}" for lvl in m.LEVELS for n, _, _ in m.RETRIEVAL_METRICS]
    if system == RULES:
        return list(m.ANSWER_METRICS)
    return names + list(m.ANSWER_METRICS) if system == SYSTEM else names
