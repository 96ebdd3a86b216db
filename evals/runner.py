"""Run a test set through hoidap (and the baselines) and score every question.

>>> from evals.runner import run_eval                                   # doctest: +SKIP
>>> s = run_eval(Path("evals/seed_qa.jsonl"), load_settings(), Path("/tmp/run"))  # doctest: +SKIP
>>> s["systems"]["hoidap"]["metrics"]["contains_gold"]["mean"]          # doctest: +SKIP

What it writes into ``out_dir``:

* ``results.jsonl``: one line per question, appended and flushed as soon as the question
  is scored: the answer (``rag.render.answer_to_dict``: text, refused, citations, retrieved,
  timings), the rankings used for the retrieval metrics, every metric per system, the
  outcome (``correct``, ``failure``). A question that cannot be asked gets ``{"id",
  "error"}``.
* ``run.json``: what the run was (test-set hash, settings, baselines); a second run into the
  same folder must match it, and then **resumes**: questions already in ``results.jsonl``
  are skipped (a line cut short by a crash is dropped and redone).
* ``summary.json`` (returned), ``report.md`` and ``report.html`` (``evals.report``).

How each system is scored (definitions in ``evals.metrics``, docs/EVALUATION.md):

* hoidap: ``Assistant.ask`` (the configured answerer) gives the answer; the retrieval
  metrics use ``retriever.retrieve(standalone query, k=10)``: its 10 chunks are the passage
  ranking, their distinct articles in order the article ranking.
* baselines (``--baselines``, ``evals.baselines``): their top 10 passages for the question
  as typed; retrieval metrics only.

Gold passages: the chunks of a gold article that contain a gold answer (after Vietnamese
normalisation); every chunk of a gold article when the question has no gold answer.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from evals import metrics as m
from evals.stats import mean_ci, statistic_ci
from evals.testset import QAItem, QASet, item_to_dict, load_qa_set, write_corpus
from rag.assistant import Assistant, QuestionError
from rag.settings import Settings
from rag.support import SUPPORT_THRESHOLD
from rag.types import Answer

__all__ = ["EvalError", "run_eval"]

K = 10  # ranking depth of the retrieval metrics
SYSTEM = "hoidap"
HOIDAP_DESCRIPTION = (
    "hoidap: follow-up resolution, hybrid retrieval (BM25 + dense, fused), the configured "
    "answerer with citations"
)
RETRIEVAL_METRICS: tuple[tuple[str, Callable[..., float | None], int], ...] = (
    ("hit@1", m.hit_at_k, 1),
    ("hit@5", m.hit_at_k, 5),
    ("hit@10", m.hit_at_k, 10),
    ("recall@5", m.recall_at_k, 5),
    ("recall@10", m.recall_at_k, 10),
    ("mrr@10", m.mrr_at_k, 10),
    ("ndcg@10", m.ndcg_at_k, 10),
)
ANSWER_METRICS = (
    "exact_match",
    "token_f1",
    "contains_gold",
    "citation_precision",
    "citation_recall",
    "correct",
    "refused",
)


class EvalError(RuntimeError):
    """The run cannot start; the message is for the user (Vietnamese)."""


# -- set-up ----------------------------------------------------------------------------------
def settings_for(qa: QASet, settings: Settings) -> Settings:
    """A set with its own passages gets an index named after it, unless one was chosen."""
    if qa.passages and settings.index == "default":
        return replace(settings, index=qa.name)
    return settings


def _ingest(paths: Sequence[Path], settings: Settings, assistant: Assistant) -> None:
    from corpus.ingest import ingest

    report = ingest(list(paths), settings, embedder=assistant.embedder)
    if report.skipped and not (report.added or report.updated or report.unchanged):
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in report.skipped[:3])
        raise EvalError(f"Không nạp được tài liệu nào ({reasons}).")


def prepare_index(qa: QASet, settings: Settings, assistant: Assistant, corpus: Path | None) -> None:
    """Ingest the set's passages and/or ``corpus`` (unchanged articles cost nothing)."""
    paths = []
    if qa.passages:
        paths.append(write_corpus(qa, settings.home / "eval-corpora"))
    if corpus is not None:
        if not corpus.exists():
            raise EvalError(f"Không tìm thấy tài liệu {corpus}.")
        paths.append(corpus)
    if paths:
        _ingest(paths, settings, assistant)
    if assistant.index.catalog.counts()[0] == 0:
        raise EvalError(
            f"Chỉ mục {settings.index!r} trống. Nạp tài liệu trước (hoidap ingest) "
            "hoặc dùng --corpus."
        )


def run_identity(qa: QASet, settings: Settings, baselines: bool) -> dict[str, Any]:
    """What must stay the same for a run to be resumed."""
    s = settings.as_dict()
    for key in ("home", "llm_api_key", "embedding_threads", "embed_batch_size", "chroma_url"):
        s.pop(key, None)
    return {
        "testset": {"path": str(qa.path), "format": qa.format, "sha256": qa.fingerprint},
        "settings": s,
        "baselines": baselines,
        "k": K,
    }


def _check_run_file(out_dir: Path, identity: dict[str, Any], has_results: bool) -> None:
    path = out_dir / "run.json"
    if path.is_file() and has_results:
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            old = None
        if old != identity:
            diff = []
            if isinstance(old, dict):
                for key in ("testset", "baselines", "k"):
                    if old.get(key) != identity[key]:
                        diff.append(key)
                olds, news = old.get("settings") or {}, identity["settings"]
                diff += [f"settings.{k}" for k in news if olds.get(k) != news[k]]
            raise EvalError(
                f"Thư mục {out_dir} đã có kết quả của một lần chạy khác"
                + (f" (khác: {', '.join(diff)})" if diff else "")
                + ". Dùng --out khác hoặc xoá thư mục đó để chạy lại từ đầu."
            )
    path.write_text(json.dumps(identity, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def load_results(path: Path) -> dict[str, dict[str, Any]]:
    """Rows already written, by id; a last line cut short by a crash is removed."""
    if not path.is_file():
        return {}
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with open(path, "r+b") as fh:
            fh.truncate(cut)
        data = data[:cut]
    rows: dict[str, dict[str, Any]] = {}
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and isinstance(row.get("id"), str):
            rows[row["id"]] = row
    return rows


# -- scoring one question ----------------------------------------------------------------------
class _Gold:
    """Gold passages of each system, computed once per (system, article)."""

    def __init__(self, assistant: Assistant, baselines: Sequence[Any]) -> None:
        self.assistant = assistant
        self.baselines = {b.name: b for b in baselines}
        self._cache: dict[tuple[str, str], list[tuple[str, str]]] = {}

    def _passages(self, system: str, aid: str) -> list[tuple[str, str]]:
        key = (system, aid)
        if key not in self._cache:
            if system == SYSTEM:
                chunks = self.assistant.index.catalog.chunks_of(aid)
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
        for name, fn, k in RETRIEVAL_METRICS:
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


def evaluate_item(
    item: QAItem, assistant: Assistant, baselines: Sequence[Any], gold: _Gold
) -> dict[str, Any]:
    """Ask, rank, score: the results.jsonl row of one question."""
    from rag.render import answer_to_dict

    answer = assistant.ask(item.question, history=item.history)
    t0 = time.perf_counter()
    hits = assistant.retriever.retrieve(answer.standalone_query or answer.question, k=K)
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


# -- aggregation -------------------------------------------------------------------------------
def metric_names(system: str) -> list[str]:
    names = [f"{lvl}_{n}" for lvl in ("article", "passage") for n, _, _ in RETRIEVAL_METRICS]
    return names + list(ANSWER_METRICS) if system == SYSTEM else names


def _latency(values: Sequence[float]) -> dict[str, float | int]:
    return {
        "p50": round(m.percentile(values, 50), 2),
        "p95": round(m.percentile(values, 95), 2),
        "n": len(values),
    }


def summarize(
    qa: QASet,
    rows: Sequence[dict[str, Any]],
    systems: dict[str, str],
    extra: dict[str, Any],
) -> dict[str, Any]:
    """summary.json from the scored rows (``systems``: name -> description)."""
    scored = [r for r in rows if "error" not in r]
    out: dict[str, Any] = {
        "testset": qa.as_dict(),
        **extra,
        "questions": len(qa.items),
        "scored": len(scored),
        "errors": [
            {"id": r["id"], "line": r.get("line"), "error": r["error"]}
            for r in rows
            if "error" in r
        ],
        "systems": {},
    }
    for name, description in systems.items():
        block: dict[str, Any] = {
            "description": description,
            "kind": "answers" if name == SYSTEM else "retrieval only",
            "metrics": {},
        }
        for metric in metric_names(name):
            iv = mean_ci([(r["metrics"].get(name) or {}).get(metric) for r in scored])
            block["metrics"][metric] = iv.as_dict() if iv else None
        out["systems"][name] = block

    answerable = [bool(r["answerable"]) for r in scored]
    refused = [bool(r["refused"]) for r in scored]

    def refusal(which: int) -> Callable[[Any], float | None]:
        def stat(idx: Any) -> float | None:
            return m.refusal_scores([answerable[i] for i in idx], [refused[i] for i in idx])[which]

        return stat

    hoidap = out["systems"].setdefault(SYSTEM, {"metrics": {}})["metrics"]
    for which, key in ((0, "refusal_precision"), (1, "refusal_recall")):
        iv = statistic_ci(len(scored), refusal(which))
        hoidap[key] = iv.as_dict() if iv else None
    out["refusals"] = {
        "refused": sum(refused),
        "unanswerable": sum(not a for a in answerable),
        "refused_unanswerable": sum(r and not a for a, r in zip(answerable, refused, strict=True)),
    }

    stages: dict[str, list[float]] = {}
    for r in scored:
        for stage, ms in (r.get("timings_ms") or {}).items():
            stages.setdefault(stage, []).append(float(ms))
    latency: dict[str, Any] = {SYSTEM: {s: _latency(v) for s, v in stages.items()}}
    for name in systems:
        if name == SYSTEM:
            continue
        vals = [
            float(r["other_latency_ms"][name])
            for r in scored
            if name in (r.get("other_latency_ms") or {})
        ]
        latency[name] = {"retrieve": _latency(vals)}
    rank_vals = [
        float(v)
        for r in scored
        for k, v in (r.get("other_latency_ms") or {}).items()
        if k.startswith(f"{SYSTEM}_ranking")
    ]
    latency[SYSTEM][f"retrieve@{K} (evaluation)"] = _latency(rank_vals)
    out["latency_ms"] = latency

    failures = {f: 0 for f in m.FAILURES}
    for r in scored:
        if r.get("failure"):
            failures[r["failure"]] = failures.get(r["failure"], 0) + 1
    failures["ok"] = sum(1 for r in scored if not r.get("failure"))
    out["failures"] = failures
    return out


# -- the run -----------------------------------------------------------------------------------
def _assistant_for(settings: Settings, given: Assistant | None) -> Assistant:
    if given is None:
        return Assistant(settings)
    if given.settings.index == settings.index and given.settings.home == settings.home:
        return given
    return Assistant(settings, embedder=given.embedder)  # same (already loaded) embedder


def build_baselines(assistant: Assistant) -> list[Any]:
    """The two baselines over the articles of the assistant's index."""
    from embeddings.cache import CachedEmbedder, EmbeddingCache
    from evals.baselines import BM25Baseline, LangChainRecipe

    catalog = assistant.index.catalog
    articles = [(aid, catalog.article_text(aid) or "") for aid in catalog.article_ids()]
    cache = EmbeddingCache(assistant.settings.cache_dir / "embeddings.sqlite")
    cached = CachedEmbedder(assistant.embedder, cache)
    return [LangChainRecipe(articles, cached), BM25Baseline(articles)]


def run_eval(
    testset: Path,
    settings: Settings,
    out_dir: Path,
    *,
    corpus: Path | None = None,
    baselines: bool = False,
    progress: Callable[[int, int], None] | None = None,
    assistant: Assistant | None = None,
) -> dict[str, Any]:
    """Evaluate ``testset`` and write the four outputs into ``out_dir``; returns the summary.

    ``progress(done, total)`` is called after each question (``done`` counts questions
    finished in earlier, interrupted runs too). Raises ``QASetError`` / ``EvalError`` with a
    message for the user when the run cannot start.
    """
    t_start = time.perf_counter()
    testset, out_dir = Path(testset), Path(out_dir)
    qa = load_qa_set(testset)
    if not qa.items:
        raise EvalError(f"Tệp {testset} không có câu hỏi hợp lệ nào.")
    settings = settings_for(qa, settings)
    assistant = _assistant_for(settings, assistant)
    prepare_index(qa, settings, assistant, Path(corpus) if corpus is not None else None)

    out_dir.mkdir(parents=True, exist_ok=True)
    results = out_dir / "results.jsonl"
    done = load_results(results)
    _check_run_file(out_dir, run_identity(qa, settings, baselines), bool(done))
    todo = [i for i in qa.items if i.id not in done]
    resumed = len(qa.items) - len(todo)

    t = time.perf_counter()
    built = build_baselines(assistant) if baselines and todo else []
    baselines_build_s = time.perf_counter() - t
    gold = _Gold(assistant, built)
    if todo:  # warm-up, not timed: model load, Chroma open, BM25 load, idf
        with contextlib.suppress(QuestionError):
            assistant.ask(todo[0].question)
        for b in built:
            b.retrieve(todo[0].question, K)

    n = resumed
    t_loop = time.perf_counter()
    with open(results, "a", encoding="utf-8") as fh:
        for item in todo:
            try:
                row = evaluate_item(item, assistant, built, gold)
            except QuestionError as exc:
                row = {
                    "id": item.id,
                    "question": item.question,
                    "line": item.line,
                    "error": str(exc),
                }
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            fh.flush()
            n += 1
            if progress is not None:
                progress(n, len(qa.items))
    loop_s = time.perf_counter() - t_loop

    by_id = load_results(results)
    rows = [by_id[i.id] for i in qa.items if i.id in by_id]
    systems = {SYSTEM: HOIDAP_DESCRIPTION}
    if baselines:
        from evals.baselines import BM25Baseline, LangChainRecipe

        systems.update(
            {
                LangChainRecipe.name: LangChainRecipe.description,
                BM25Baseline.name: BM25Baseline.description,
            }
        )
    a_count, c_count = assistant.index.catalog.counts()
    extra = {
        "run": {
            "out_dir": str(out_dir),
            "index": settings.index,
            "articles": a_count,
            "chunks": c_count,
            "embedding_model": assistant.embedder.model_id,
            "answerer": settings.answerer
            + (f":{settings.llm_model}" if settings.llm_model else ""),
            "top_k": settings.top_k,
            "fusion": settings.fusion,
            "k": K,
            "resumed_questions": resumed,
            "evaluated_now": len(todo),
            "seconds_questions": round(loop_s, 1),
            "seconds_baseline_build": round(baselines_build_s, 1),
            "seconds_total": round(time.perf_counter() - t_start, 1),
            "bootstrap": "percentile, 1000 resamples, seed 0, 95%",
            "support_scorer": f"rag.support.support_score >= {SUPPORT_THRESHOLD}",
        }
    }
    summary = summarize(qa, rows, systems, extra)
    (out_dir / "summary.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    from evals.report import write_reports

    write_reports(summary, rows, out_dir)
    return summary
