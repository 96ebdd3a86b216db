"""One-article uploads on an existing home, the way the web app makes them.

Usage (from the repository root):

    .venv/bin/python bench/upload.py --home DIR --uploads 10

A serving process (one ``Assistant``, its index already open and a first question
answered) stays up while each upload runs ``ingest([file], index=services.index)`` with
the default embedder, as the app's upload tab does: the upload writes through the serving
index, whose BM25 segments are already loaded. ``--fresh-index`` runs ``ingest([file])``
instead, which opens an ``Index`` per upload and loads the segments from disk (the app's
path before that change). For each upload it times the ingest (split into load, clean and
chunk, embed and write, BM25) and then the serving process's next retrieval (with
``--fresh-index`` it first catches up with the change log), and checks that the new
article is among the hits.

The new articles are real ones of ``--source`` with their paragraphs in another order
(seeded), so each one is new to the embedding cache and pays a real embedding; they are
deleted again one by one at the end, timed (``--keep`` leaves them), so the home holds
the articles it held before.
Prints a JSON record.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench.offline  # noqa: E402, F401 - sets the environment before the models load
from bench.common import percentile, rss_mb  # noqa: E402
from rag.assistant import Assistant  # noqa: E402
from rag.index.ingest import delete_articles, ingest  # noqa: E402
from rag.settings import load_settings  # noqa: E402

DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "news" / "dantri_2653.jsonl.gz"


def new_articles(source: Path, n: int, seed: int, run: str) -> list[tuple[str, str]]:
    """``n`` (title, text) pairs: articles of ``source`` with at least three paragraphs,
    their paragraphs shuffled, under a title that starts with upload ``run``-k (the title's
    first 40 words are part of every chunk's embedded text, so a rerun on the same home is
    not served from the embedding cache)."""
    with gzip.open(source, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    rng = random.Random(seed)
    rng.shuffle(rows)
    out: list[tuple[str, str]] = []  # (title, text)
    for row in rows:
        paras = [p.strip() for p in str(row.get("text", "")).split("\n") if p.strip()]
        if len(paras) < 3:
            continue
        rng.shuffle(paras)
        title = f"Bản tải lên {run}-{len(out) + 1}: {str(row.get('title', '')).strip()}"
        out.append((title, "\n\n".join(paras)))
        if len(out) == n:
            break
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--home",
        required=True,
        help="an ingested home (the uploads are deleted again unless --keep)",
    )
    ap.add_argument("--uploads", type=int, default=10)
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--keep", action="store_true", help="leave the uploaded articles in")
    ap.add_argument(
        "--fresh-index",
        action="store_true",
        help="open an Index per upload and delete (loads BM25 from disk each time)",
    )
    args = ap.parse_args()

    settings = load_settings(Path(args.home), env={})
    run = time.strftime("%Y%m%d-%H%M%S")
    t0 = time.perf_counter()
    assistant = Assistant(settings)
    services = assistant.services
    assistant.ask("Các địa phương đã đạt những kết quả gì trong công tác dân vận?")
    t_open = time.perf_counter() - t0
    chunks_before = services.index.catalog.counts()
    rss_open = rss_mb()

    through = None if args.fresh_index else services.index
    rows: list[dict[str, float]] = []
    added: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hoidap-upload-") as tmp:
        for k, (title, text) in enumerate(new_articles(args.source, args.uploads, args.seed, run)):
            path = Path(tmp) / f"upload_{k:03d}.txt"
            path.write_text(f"{title}\n\n{text}\n", encoding="utf-8")
            t0 = time.perf_counter()
            report = ingest([path], settings, embedder=services.embedder, index=through)
            t_ingest = time.perf_counter() - t0
            assert report.added and not report.skipped, report.as_dict()
            added += report.added
            t0 = time.perf_counter()
            hits = services.retriever.retrieve(title)
            t_next = time.perf_counter() - t0
            rows.append(
                {
                    "ingest_s": t_ingest,
                    "next_retrieve_s": t_next,
                    "found": float(any(h.chunk.article_id in report.added for h in hits)),
                    "chunks": float(report.chunks_written),
                    "embedded": float(report.embedded),
                    **{f"{name}_s": v for name, v in report.timings.items()},
                }
            )
    deletes: list[float] = []
    for aid in [] if args.keep else added:  # one at a time, as a user deletes them
        t0 = time.perf_counter()
        deleted = delete_articles([aid], settings, services.embedder.model_id, index=through)
        assert deleted == [aid]
        deletes.append((time.perf_counter() - t0) * 1000)
    services.close()

    def stat(key: str) -> dict[str, float]:
        vals = [r[key] * 1000 for r in rows if key in r]
        return {
            f"{key[:-2]}_ms_p50": round(percentile(vals, 50), 1),
            f"{key[:-2]}_ms_p95": round(percentile(vals, 95), 1),
        }

    keys = sorted({k for r in rows for k in r if k.endswith("_s")})
    record: dict[str, object] = {
        "home": str(args.home),
        "through": "a fresh Index per upload" if args.fresh_index else "the serving index",
        "articles_chunks_before": chunks_before,
        "uploads": len(rows),
        "open_and_first_answer_s": round(t_open, 1),
        "chunks_per_upload_mean": round(sum(r["chunks"] for r in rows) / max(len(rows), 1), 1),
        "found_after_upload": sum(r["found"] for r in rows) / max(len(rows), 1),
        "embedded_share": sum(r["embedded"] for r in rows) / max(sum(r["chunks"] for r in rows), 1),
        **{k: v for key in keys for k, v in stat(key).items()},
        "delete_ms_p50": round(percentile(deletes, 50), 1) if deletes else None,
        "delete_ms_p95": round(percentile(deletes, 95), 1) if deletes else None,
        "rss_after_open_mb": rss_open,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "kept": bool(args.keep),
    }
    print(json.dumps(record, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
