"""Build the unanswerable tuning set from a SQuAD-style QA file (``viquad1_dev``).

``python -m evals.unanswerable ../shared/data/qa/viquad1_dev.jsonl --out DIR`` writes
``DIR/<name>_unans.jsonl`` and ``DIR/<name>_unans.contexts.jsonl`` (the shared QA format,
with ``is_impossible``, ``kind`` and ``split``):

* a seeded half of the passages is **removed** from the corpus: their questions become
  unanswerable (``kind`` "removed"), unless an answer string is still in a kept passage;
* the questions of the kept passages stay answerable (``kind`` "answerable");
* a **near miss** of each kept question where one can be made (a year or number moved, a
  name or an office swapped so that its passage no longer holds it;
  ``rag.answer.reader.data.near_miss``) is unanswerable (``kind`` "near_miss").

``split`` ("tune" / "report") halves the set by passage, so thresholds chosen on one half
are reported on the other. Deterministic for a seed. Only for dev data: the reader is
trained on ``viquad1_train`` and never sees these questions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from collections import Counter
from pathlib import Path

from rag.answer.reader.data import QARow, find_names, holds_answer, near_miss


def _split(context_id: str) -> str:
    return "tune" if int(hashlib.sha256(context_id.encode()).hexdigest(), 16) % 2 else "report"


def build(qa_path: Path, out: Path, seed: int = 7) -> dict[str, int]:
    rows = [json.loads(x) for x in qa_path.read_text(encoding="utf-8").splitlines() if x.strip()]
    ctx_path = qa_path.with_name(qa_path.name.replace(".jsonl", ".contexts.jsonl"))
    contexts = [
        json.loads(x) for x in ctx_path.read_text(encoding="utf-8").splitlines() if x.strip()
    ]
    rng = random.Random(seed)
    ids = sorted(c["context_id"] for c in contexts)
    removed = set(rng.sample(ids, len(ids) // 2))
    kept = [c for c in contexts if c["context_id"] not in removed]
    kept_text = "\n".join(c["text"] for c in kept)
    names = sorted({c["text"][a:b] for c in contexts for a, b in find_names(c["text"])})
    name = qa_path.name.removesuffix(".jsonl") + "_unans"
    out.mkdir(parents=True, exist_ok=True)
    counts: Counter[str] = Counter()
    with open(out / f"{name}.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            if r.get("is_impossible") or not r.get("answers"):
                continue
            base = {"answer_spans": None, "split": _split(r["context_id"])}
            if r["context_id"] in removed:
                if holds_answer(kept_text, r["answers"]):
                    counts["dropped"] += 1
                    continue
                rec = {**r, **base, "answers": [], "is_impossible": True, "kind": "removed"}
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                counts["removed"] += 1
                continue
            f.write(json.dumps({**r, **base, "is_impossible": False, "kind": "answerable"},
                               ensure_ascii=False) + "\n")  # fmt: skip
            counts["answerable"] += 1
            qa = QARow(r["id"], r["question"], tuple(r["answers"]), r["context_id"],
                       r["context"], "", -1)  # fmt: skip
            q2 = near_miss(qa, rng, names)
            if q2 is not None:
                rec = {**r, **base, "id": r["id"] + "~near", "question": q2, "answers": [],
                       "is_impossible": True, "kind": "near_miss"}  # fmt: skip
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                counts["near_miss"] += 1
    with open(out / f"{name}.contexts.jsonl", "w", encoding="utf-8") as f:
        for c in kept:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    return dict(counts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evals.unanswerable", description=__doc__)
    ap.add_argument("qa", type=Path, help="a shared QA file, e.g. viquad1_dev.jsonl")
    ap.add_argument("--out", type=Path, required=True, help="folder for the new set")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    print(json.dumps(build(args.qa, args.out, args.seed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
