"""What a BM25 segment merge costs, by size: the bound on what an upload pays inline, and
how long a background merge holds the BM25 folder's lock when it is put in.

An upload merges segments only up to ``bm25_inline_merge_docs`` chunks (default 20,000);
larger merges run in a background thread and take the folder's lock only to write the
merged segment and the manifest (``rag.index.index.Index.merge_bm25``). For each size N
this builds two segments of N/2 chunks from real Dân trí sentences (about 200 tokens a
chunk, as in ``bench/scale.py``), then times ``Segment.merge`` of the two (the CPU part,
done outside the lock in the background), and ``save_index`` of the result into a fresh
folder (segment file + manifest, fsynced: what an upload may wait for), per analyzer.

    .venv/bin/python bench/merge_cost.py --sizes 5000,20000,100000
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import PeakRss, rss_mb
from bench.scale import sentences
from rag.index.bm25 import BM25Index, Segment, folder_lock, save_index


def measure(n: int, sents: list[str], analyzer: str) -> dict[str, object]:
    rng = random.Random(n)
    half = n // 2
    texts = [" ".join(rng.sample(sents, 6)) for _ in range(2 * half)]
    ids = [f"a{i // 5:07d}#{i}" for i in range(2 * half)]
    t0 = time.perf_counter()
    a = Segment.build(ids[:half], texts[:half], analyzer)
    b = Segment.build(ids[half:], texts[half:], analyzer)
    build_s = time.perf_counter() - t0
    before = rss_mb()
    idx = BM25Index([a, b], analyzer=analyzer)
    t0 = time.perf_counter()
    with PeakRss() as peak:
        merged = Segment.merge(list(zip(idx.segments, idx.live, strict=True)))
    merge_s = time.perf_counter() - t0
    grew = rss_mb() - before
    nnz = int(merged.tf.nnz)
    with tempfile.TemporaryDirectory(prefix="hoidap-merge-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        with folder_lock(folder):
            save_index(BM25Index([merged], analyzer=analyzer), folder, 1)
        save_s = time.perf_counter() - t0
        size_mb = sum(p.stat().st_size for p in folder.glob("bm25-*.npz")) / 2**20
    return {
        "chunks": 2 * half,
        "analyzer": analyzer,
        "tokenise_s": round(build_s, 1),
        "merge_s": round(merge_s, 2),
        "save_under_lock_s": round(save_s, 2),
        "segment_mb": round(size_mb, 1),
        "postings": nnz,
        "merge_rss_growth_mb": grew,  # what the merged segment keeps
        "merge_peak_extra_mb": peak.peak_mb - before,  # the most the merge held at once
        "merge_peak_bytes_per_posting": round((peak.peak_mb - before) * 2**20 / max(nnz, 1), 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="5000,20000,100000")
    ap.add_argument("--analyzers", default="vi,ascii")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    sents = sentences()
    rows = [
        measure(int(n), sents, analyzer)
        for n in args.sizes.split(",")
        for analyzer in args.analyzers.split(",")
    ]
    for row in rows:
        print(json.dumps(row, ensure_ascii=False), flush=True)
    print(
        "\n| chunks | analyzer | merge s (outside the lock) | save under lock s | segment MB"
        " | merge peak extra MB | bytes per posting |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['chunks']:,} | {r['analyzer']} | {r['merge_s']} | {r['save_under_lock_s']} "
            f"| {r['segment_mb']} | {r['merge_peak_extra_mb']} "
            f"| {r['merge_peak_bytes_per_posting']} |"
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
