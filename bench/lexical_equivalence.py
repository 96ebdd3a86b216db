"""Do the segmented BM25 scores equal the previous release's (one precomputed matrix)?

Chunks of the shared Dân trí news (``../shared/data/news/dantri_2653.jsonl.gz``) are
indexed three ways: the previous release's ``BM25Index`` (its module passed as
``--old``, e.g. ``git show 2a08d72:rag/index/bm25.py > /tmp/old_bm25.py``), a fresh
segmented build, and a segmented index grown incrementally (half built at once, the rest
added in 40 uploads, every 5th article of them uploaded twice). For ``--queries`` questions
(article titles, which the articles answer) it reports the share of identical top-10
lists and the largest score difference.

    .venv/bin/python bench/lexical_equivalence.py --old /tmp/old_bm25.py
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpus.chunking import chunk_article
from corpus.types import Article
from rag.index.bm25 import BM25Index, Segment

NEWS = Path(__file__).resolve().parents[2] / "shared" / "data" / "news" / "dantri_2653.jsonl.gz"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", type=Path, required=True)
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args()
    spec = importlib.util.spec_from_file_location("old_bm25", args.old)
    assert spec and spec.loader
    old_mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old_mod)
    arts = []
    with gzip.open(NEWS, "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            arts.append(Article(id=r["id"], title=r["title"], text=r["text"], fingerprint=""))
    per = [chunk_article(a, target_tokens=200, overlap_tokens=40) for a in arts]
    chunks = [c for cs in per for c in cs]
    ids, texts = [c.id for c in chunks], [c.embed_text for c in chunks]
    report: dict[str, object] = {"articles": len(arts), "chunks": len(chunks)}
    for analyzer in ("vi", "ascii"):
        old = old_mod.BM25Index.build(ids, texts, analyzer=analyzer)
        fresh = BM25Index.build(ids, texts, analyzer=analyzer)
        half = len(per) // 2
        first = [c for cs in per[:half] for c in cs]
        grown = BM25Index.build(
            [c.id for c in first], [c.embed_text for c in first], analyzer=analyzer
        )
        rest = list(range(half, len(per)))
        step = max(1, len(rest) // 40)
        for k in range(0, len(rest), step):
            group = rest[k : k + step]
            again = [g for g in group if g % 5 == 0]  # uploaded twice: old copy tombstoned
            for batch in (group, again):
                if not batch:
                    continue
                cs = [c for g in batch for c in per[g]]
                seg = Segment.build([c.id for c in cs], [c.embed_text for c in cs], analyzer)
                grown = grown.updated({arts[g].id for g in batch}, seg).compacted()
        same_old = same_grown = 0
        diff = 0.0
        queries = [a.title for a in arts[:: max(1, len(arts) // args.queries)]][: args.queries]
        for q in queries:
            o = [i for i, _ in old.search(q, 10)]
            f = [i for i, _ in fresh.search(q, 10)]
            g = [i for i, _ in grown.search(q, 10)]
            same_old += o == f
            same_grown += g == f
            so, sf = old.scores(q), fresh.scores(q)
            diff = max(diff, float(np.abs(so - sf).max()))
        report[analyzer] = {
            "queries": len(queries),
            "top10_identical_old_vs_segmented": same_old / len(queries),
            "top10_identical_grown_vs_fresh": same_grown / len(queries),
            "max_abs_score_diff_old_vs_segmented": diff,
            "segments_after_growth": len(grown.segments),
        }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
