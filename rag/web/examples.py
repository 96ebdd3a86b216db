"""Example questions for the chat, drawn from what is indexed.

First the standalone, answerable questions of the seed QA set whose articles are in the
index (one per article, round robin); then, for other dated articles, the question the
offline answerer can always answer from the article's metadata: when was it published.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from rag.index.catalog import ArticleMeta

SEED_QA = Path(__file__).resolve().parents[2] / "evals" / "seed_qa.jsonl"


def _seed_questions(path: Path, live: set[str]) -> dict[str, list[str]]:
    by_article: dict[str, list[str]] = {}
    if not path.is_file():
        return by_article
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue
        gold = item.get("gold_articles") or []
        if item.get("history") or not item.get("answerable") or len(gold) != 1:
            continue
        if gold[0] in live and isinstance(item.get("question"), str):
            by_article.setdefault(gold[0], []).append(item["question"])
    return by_article


def example_questions(
    meta: Mapping[str, ArticleMeta], *, limit: int = 6, seed_path: Path = SEED_QA
) -> list[str]:
    by_article = _seed_questions(seed_path, set(meta))
    out: list[str] = []
    round_ = 0
    while len(out) < limit and any(len(q) > round_ for q in by_article.values()):
        for aid in sorted(by_article):
            qs = by_article[aid]
            if round_ < len(qs) and len(out) < limit:
                out.append(qs[round_])
        round_ += 1
    for m in sorted(meta.values(), key=lambda m: (m.date or "", m.id), reverse=True):
        if len(out) >= limit:
            break
        if m.id not in by_article and m.date and m.date_precision == "day":
            out.append(f"Bài viết «{m.title}» được đăng ngày nào?")
    return out
