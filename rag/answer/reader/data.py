"""Training and tuning examples for the reader, made from a SQuAD-style QA file.

Every question gives one **answerable** example (its passage, the window of whole
sentences around the answer) and, for a seeded share of the questions, **unanswerable**
ones the model must learn to refuse:

* ``other``: the question against another passage of the same article, or the part of
  its own passage without the answer sentence (the gold passage removed);
* ``retrieved``: against the best BM25 passage of the whole set that lacks the answer;
* ``near_miss``: the question changed so that its passage no longer answers it: a year
  or number moved, a name swapped for one of another article, an office swapped
  ("Chủ tịch" -> "Bí thư") — only where the new value is nowhere in the passage.

Unanswerable examples are dropped when the passage still contains an answer string.
The same generator builds the unanswerable tuning set from ``viquad1_dev``
(``evals/unanswerable.py``). Deterministic for a seed.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from corpus.text import search_key, tokens
from rag.answer.reader.windows import sentence_spans
from rag.index.bm25 import BM25Index

OFFICES = (
    "Chủ tịch", "Phó Chủ tịch", "Bí thư", "Phó Bí thư", "Thủ tướng", "Tổng thống",
    "Bộ trưởng", "Giám đốc", "Hiệu trưởng", "Tổng Bí thư", "Chủ nhiệm", "Trưởng ban",
)  # fmt: skip
_NUMBER = re.compile(r"(?<![\w.,])\d{1,4}(?![\w.,]\d)")
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


@dataclass(frozen=True)
class QARow:
    id: str
    question: str
    answers: tuple[str, ...]
    context_id: str
    context: str
    title: str
    answer_start: int  # -1: not known


@dataclass(frozen=True)
class Example:
    """A question against a passage. ``answer``: (start, end) in ``text`` or None."""

    qid: str
    question: str
    text: str
    spans: tuple[tuple[int, int], ...]  # the passage's sentences
    centre: int  # the sentence the window is built around
    answer: tuple[int, int] | None
    kind: str  # "answerable", "other", "retrieved", "near_miss"


def read_rows(path: Path) -> list[QARow]:
    titles: dict[str, str] = {}
    ctx_path = path.with_name(path.name.replace(".jsonl", ".contexts.jsonl"))
    if ctx_path.is_file():
        for line in ctx_path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                c = json.loads(line)
                titles[c["context_id"]] = c.get("title", "")
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        if r.get("is_impossible") or not r.get("answers"):
            continue
        spans = r.get("answer_spans") or []
        start = spans[0]["start"] if spans else -1
        rows.append(
            QARow(
                r["id"], r["question"], tuple(r["answers"]), r["context_id"], r["context"],
                titles.get(r["context_id"], ""), start,
            )
        )  # fmt: skip
    return rows


def locate(row: QARow) -> tuple[int, int] | None:
    """The gold answer's characters in the context (offsets checked; some are wrong)."""
    ans = row.answers[0]
    if row.answer_start >= 0 and row.context[row.answer_start : row.answer_start + len(ans)] == ans:
        return row.answer_start, row.answer_start + len(ans)
    i = row.context.find(ans)
    return (i, i + len(ans)) if i >= 0 else None


def holds_answer(text: str, answers: Sequence[str]) -> bool:
    key = search_key(text)
    return any(search_key(a) and search_key(a) in key for a in answers)


def sentence_of(spans: Sequence[tuple[int, int]], pos: int) -> int:
    for i, (a, b) in enumerate(spans):
        if a <= pos < b:
            return i
    return min(range(len(spans)), key=lambda i: abs(spans[i][0] - pos))


def best_sentence(question: str, text: str, spans: Sequence[tuple[int, int]]) -> int:
    """The sentence sharing most question syllables (the hardest window of a negative)."""
    q = set(tokens(question))
    return max(range(len(spans)), key=lambda i: len(q & set(tokens(text[slice(*spans[i])]))))


def find_names(text: str) -> list[tuple[int, int]]:
    """Runs of two or more capitalised words: "Phạm Văn Đồng", "Quế Lâm"."""
    out: list[tuple[int, int]] = []
    run: list[re.Match[str]] = []
    for m in _WORD.finditer(text):
        if run and not (m.group(0)[0].isupper() and text[run[-1].end() : m.start()] == " "):
            if len(run) >= 2:
                out.append((run[0].start(), run[-1].end()))
            run = []
        if m.group(0)[0].isupper():
            run.append(m)
    if len(run) >= 2:
        out.append((run[0].start(), run[-1].end()))
    return out


def near_miss(row: QARow, rng: random.Random, names: Sequence[str]) -> str | None:
    """The question with one fact changed so that the context no longer holds it."""
    q, ctx = row.question, row.context
    key = search_key(ctx)
    options: list[str] = []
    for m in _NUMBER.finditer(q):
        n = int(m.group(0))
        if m.group(0) not in ctx:
            continue
        delta = rng.choice([1, 2, 3, 5, 10, 11, 20]) * rng.choice([-1, 1])
        new = n + delta if n >= 1000 else max(2, n + delta if n > 12 else n + abs(delta))
        if str(new) not in ctx:
            options.append(q[: m.start()] + str(new) + q[m.end() :])
    for a, b in find_names(q):
        name = q[a:b]
        if search_key(name) not in key:
            continue
        n_syl = len(name.split())
        pool = [x for x in names if len(x.split()) == n_syl and search_key(x) not in key]
        if pool:
            options.append(q[:a] + rng.choice(pool) + q[b:])
    for office in OFFICES:
        i = q.find(office)
        if i >= 0 and not (i > 0 and q[i - 1].isalpha()):
            pool = [o for o in OFFICES if o != office and search_key(o) not in key]
            if pool:
                options.append(q[:i] + rng.choice(pool) + q[i + len(office) :])
            break
    return rng.choice(options) if options else None


def make_examples(
    rows: Sequence[QARow],
    *,
    seed: int = 13,
    p_other: float = 0.3,
    p_retrieved: float = 0.4,
    p_near: float = 0.45,
) -> Iterator[Example]:
    """Answerable and unanswerable examples (see the module docstring), in a seeded order."""
    rng = random.Random(seed)
    contexts: dict[str, str] = {}
    by_title: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        if r.context_id not in contexts:
            contexts[r.context_id] = r.context
            by_title[r.title].append(r.context_id)
    ctx_ids = list(contexts)
    bm25 = BM25Index.build(ctx_ids, [contexts[c] for c in ctx_ids])
    names = sorted({c[a:b] for c in contexts.values() for a, b in find_names(c)})
    spans_of = {c: tuple(sentence_spans(t)) for c, t in contexts.items()}
    for r in rows:
        spans = spans_of[r.context_id]
        loc = locate(r)
        if not spans or loc is None:
            continue
        gold = sentence_of(spans, loc[0])
        yield Example(r.id, r.question, r.context, spans, gold, loc, "answerable")
        if rng.random() < p_other:
            others = [c for c in by_title[r.title] if c != r.context_id]
            cid = rng.choice(others) if others else None
            if cid is not None and not holds_answer(contexts[cid], r.answers):
                t, sp = contexts[cid], spans_of[cid]
                yield Example(
                    r.id, r.question, t, sp, best_sentence(r.question, t, sp), None, "other"
                )
            elif len(spans) > 3:
                rest = tuple(s for i, s in enumerate(spans) if i != gold)
                t = r.context
                if not holds_answer(" ".join(t[a:b] for a, b in rest), r.answers):
                    yield Example(
                        r.id, r.question, t, rest, best_sentence(r.question, t, rest), None, "other"
                    )  # fmt: skip
        if rng.random() < p_retrieved:
            for cid, _ in bm25.search(r.question, 5):
                if cid != r.context_id and not holds_answer(contexts[cid], r.answers):
                    t, sp = contexts[cid], spans_of[cid]
                    c = best_sentence(r.question, t, sp)
                    yield Example(r.id, r.question, t, sp, c, None, "retrieved")
                    break
        if rng.random() < p_near:
            q2 = near_miss(r, rng, names)
            if q2 is not None:
                yield Example(r.id + "~near", q2, r.context, spans, gold, None, "near_miss")


def summary(examples: Sequence[Example]) -> dict[str, int]:
    return dict(Counter(e.kind for e in examples))


def log_odds(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))
