"""The hand-made QA test set on the five seed articles (evals/seed_qa.jsonl): schema and grounding.

Fast and model-free: every answerable question's first accepted answer must occur verbatim
(after NFC) in the raw text of each of its gold articles.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
QA_PATH = ROOT / "evals" / "seed_qa.jsonl"
ARTICLES = ROOT / "corpus" / "articles"

TYPES = {"how_many", "who", "when", "where", "what", "why", "list", "yes_no"}
REQUIRED = {"id", "question", "answers", "gold_articles", "answerable", "type"}
OPTIONAL = {"history", "note", "follow_up_of", "answer_items"}


def nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


@cache
def article_text(article_id: str) -> str:
    return nfc((ARTICLES / f"{article_id}.txt").read_text(encoding="utf-8"))


@cache
def load() -> tuple[dict[str, Any], ...]:
    records = []
    for n, line in enumerate(QA_PATH.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"blank line {n}"
        records.append(json.loads(line))
    return tuple(records)


RECORDS = load()
IDS = [r["id"] for r in RECORDS]
ANSWERABLE = [r for r in RECORDS if r["answerable"]]


def test_file_is_nfc_utf8_without_ascii_escapes() -> None:
    raw = QA_PATH.read_text(encoding="utf-8")
    assert raw == nfc(raw)
    assert "\\u" not in raw  # written with ensure_ascii=False


@pytest.mark.parametrize("rec", RECORDS, ids=IDS)
def test_schema(rec: dict[str, Any]) -> None:
    keys = set(rec)
    assert keys >= REQUIRED, REQUIRED - keys
    assert keys <= REQUIRED | OPTIONAL, keys - REQUIRED - OPTIONAL
    assert isinstance(rec["id"], str) and rec["id"].startswith("seed-")
    assert isinstance(rec["question"], str) and rec["question"].strip()
    assert isinstance(rec["answerable"], bool)
    assert rec["type"] in TYPES
    assert isinstance(rec["answers"], list)
    assert all(isinstance(a, str) and a.strip() for a in rec["answers"])
    assert isinstance(rec["gold_articles"], list)
    assert all(isinstance(g, str) for g in rec["gold_articles"])
    if "note" in rec:
        assert isinstance(rec["note"], str) and rec["note"].strip()
    if "answer_items" in rec:
        assert rec["type"] == "list"
        assert all(isinstance(a, str) and a.strip() for a in rec["answer_items"])
    if "history" in rec:
        assert isinstance(rec["history"], list) and rec["history"]
        for turn in rec["history"]:
            assert set(turn) == {"question", "answer"}
            assert turn["question"].strip() and turn["answer"].strip()


def test_ids_unique() -> None:
    assert len(IDS) == len(set(IDS))


def test_counts() -> None:
    assert len(RECORDS) >= 44
    assert sum(not r["answerable"] for r in RECORDS) >= 10
    follow_ups = [r for r in RECORDS if r.get("follow_up_of") and r.get("history")]
    assert len(follow_ups) >= 5
    types = Counter(r["type"] for r in ANSWERABLE)
    for t in ("how_many", "who", "when", "where", "what", "list"):
        assert types[t] >= 1, t


def test_every_article_has_five_answerable_questions() -> None:
    per_article = Counter(g for r in ANSWERABLE for g in r["gold_articles"])
    for path in sorted(ARTICLES.glob("*.txt")):
        assert per_article[path.stem] >= 5, path.stem


@pytest.mark.parametrize("rec", ANSWERABLE, ids=[r["id"] for r in ANSWERABLE])
def test_answerable_first_answer_is_verbatim_in_gold(rec: dict[str, Any]) -> None:
    assert rec["answers"], "answerable question without accepted answers"
    gold = rec["gold_articles"]
    assert gold, "answerable question without gold article"
    existing = [g for g in gold if (ARTICLES / f"{g}.txt").is_file()]
    assert existing, f"no gold article on disk: {gold}"
    first = nfc(rec["answers"][0])
    for g in gold:
        assert first in article_text(g), f"{first!r} not in {g}"
    for item in rec.get("answer_items", []):
        for g in gold:
            assert nfc(item) in article_text(g), f"item {item!r} not in {g}"


@pytest.mark.parametrize(
    "rec",
    [r for r in RECORDS if not r["answerable"]],
    ids=[r["id"] for r in RECORDS if not r["answerable"]],
)
def test_unanswerable_have_no_answers(rec: dict[str, Any]) -> None:
    assert rec["answers"] == []
    assert "answer_items" not in rec
    assert rec["gold_articles"] == []
    assert rec.get("note"), "say why it is unanswerable (near miss or off-topic)"


@pytest.mark.parametrize(
    "rec",
    [r for r in RECORDS if "follow_up_of" in r],
    ids=[r["id"] for r in RECORDS if "follow_up_of" in r],
)
def test_follow_ups_point_back(rec: dict[str, Any]) -> None:
    by_id = {r["id"]: r for r in RECORDS}
    first = by_id.get(rec["follow_up_of"])
    assert first is not None, rec["follow_up_of"]
    assert IDS.index(first["id"]) < IDS.index(rec["id"])
    assert first["answerable"]
    assert rec.get("history")
    # the question it follows up is the last turn of the history
    assert rec["history"][-1]["question"] == first["question"]
