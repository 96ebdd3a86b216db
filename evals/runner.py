"""Run a test set through hoidap (and the baselines) and score every question.

On the seed set, with the default settings (their index and embedding model)::

    from evals.runner import run_eval
    s = run_eval(Path("evals/seed_qa.jsonl"), load_settings(), Path("/tmp/run"))
    s["systems"]["hoidap"]["metrics"]["contains_gold"]["mean"]

What it writes into ``out_dir``:

* ``results.jsonl``: one line per question, appended and flushed as soon as the question
  is scored: the answer (``rag.answer.render.answer_to_dict``: text, refused, citations, retrieved,
  timings), the rankings used for the retrieval metrics, every metric per system, the
  outcome (``correct``, ``failure``). A question that cannot be asked gets ``{"id",
  "error"}``.
* ``run.json``: what the run was (test-set hash, settings, baselines); a second run into the
  same folder must match it, and then **resumes**: questions already in ``results.jsonl``
  are skipped (a line cut short by a crash is dropped and redone).
* ``summary.json`` (returned), ``report.md`` and ``report.html`` (``evals.report``).

Scoring of one question: ``evals.scoring``; the summary: ``evals.aggregate``; the reports:
``evals.report``.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from corpus.errors import EXIT_USAGE, HoidapError
from evals.aggregate import summarize
from evals.scoring import (
    HOIDAP_DESCRIPTION,
    RULES,
    RULES_DESCRIPTION,
    SYSTEM,
    GoldPassages,
    K,
    evaluate_item,
    metric_names,
)
from evals.testset import QASet, load_qa_set, write_corpus
from rag.answer.question import QuestionError
from rag.answer.support import SUPPORT_THRESHOLD
from rag.assistant import Assistant
from rag.settings import Settings

__all__ = ["SYSTEM", "EvalError", "load_results", "metric_names", "run_eval"]


class EvalError(HoidapError, RuntimeError):
    """The run cannot start; the message is for the user (Vietnamese)."""

    exit_code = EXIT_USAGE


# -- set-up ----------------------------------------------------------------------------------
def settings_for(qa: QASet, settings: Settings) -> Settings:
    """A set with its own passages gets an index named after it, unless one was chosen."""
    if qa.passages and settings.index == "default":
        return replace(settings, index=qa.name)
    return settings


def _ingest(paths: Sequence[Path], settings: Settings, assistant: Assistant) -> None:
    from rag.index.ingest import ingest

    report = ingest(list(paths), settings, embedder=assistant.services.embedder)
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
    if assistant.services.catalog.counts()[0] == 0:
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


# -- the run -------------------------------------------------------------------------------------
def _assistant_for(settings: Settings, given: Assistant | None) -> Assistant:
    if given is None:
        return Assistant(settings)
    if given.settings.index == settings.index and given.settings.home == settings.home:
        return given
    return Assistant(settings, embedder=given.services.embedder)  # same (loaded) embedder


def build_baselines(assistant: Assistant) -> list[Any]:
    """The two baselines over the articles of the assistant's index."""
    from embeddings.cache import CachedEmbedder, EmbeddingCache
    from evals.baselines import BM25Baseline, LangChainRecipe

    catalog = assistant.services.catalog
    articles = [(aid, catalog.article_text(aid) or "") for aid in catalog.article_ids()]
    cache = EmbeddingCache(assistant.settings.cache_dir / "embeddings.sqlite")
    cached = CachedEmbedder(assistant.services.embedder, cache)
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
    used = _assistant_for(settings, assistant)
    try:
        return _evaluate(qa, used, out_dir, corpus, baselines, progress, t_start)
    finally:
        if used is not assistant:  # what this run opened, it closes (the catalog)
            used.services.close()


def _evaluate(
    qa: QASet,
    assistant: Assistant,
    out_dir: Path,
    corpus: Path | None,
    baselines: bool,
    progress: Callable[[int, int], None] | None,
    t_start: float,
) -> dict[str, Any]:
    settings = assistant.settings  # what actually runs (a given assistant keeps its own)
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
    gold = GoldPassages(assistant, built)
    if todo:  # warm-up, not timed: model load, Chroma open, BM25 load, idf
        with contextlib.suppress(QuestionError):
            assistant.ask(todo[0].question)
        for b in built:
            b.retrieve(todo[0].question, K)

    rules = baselines and settings.answerer != "extractive"
    n = resumed
    t_loop = time.perf_counter()
    with open(results, "a", encoding="utf-8") as fh:
        for item in todo:
            try:
                row = evaluate_item(item, assistant, built, gold, rules=rules)
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
        if settings.answerer != "extractive":
            systems[RULES] = RULES_DESCRIPTION
    a_count, c_count = assistant.services.catalog.counts()
    extra = {
        "run": {
            "out_dir": str(out_dir),
            "index": settings.index,
            "articles": a_count,
            "chunks": c_count,
            "embedding_model": assistant.services.embedder.model_id,
            "answerer": settings.answerer
            + (f":{settings.llm_model}" if assistant.services.uses_llm else ""),
            "top_k": settings.top_k,
            "fusion": settings.fusion,
            "k": K,
            "resumed_questions": resumed,
            "evaluated_now": len(todo),
            "seconds_questions": round(loop_s, 1),
            "seconds_baseline_build": round(baselines_build_s, 1),
            "seconds_total": round(time.perf_counter() - t_start, 1),
            "bootstrap": "percentile, 1000 resamples, seed 0, 95%",
            "support_scorer": f"rag.answer.support.support_score >= {SUPPORT_THRESHOLD}",
        }
    }
    summary = summarize(qa, rows, systems, extra)
    (out_dir / "summary.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    from evals.report import write_reports

    write_reports(summary, rows, out_dir)
    return summary
