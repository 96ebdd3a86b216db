"""Ingest benchmark: speed, peak memory and index size, then an unchanged re-ingest.

Usage (from the repository root):

    .venv/bin/python bench/ingest.py corpus/articles
    .venv/bin/python bench/ingest.py ../shared/data/news/dantri_2653.jsonl.gz

Each run uses a fresh temporary home (or --home DIR) so nothing of the user's is touched.
The first ingest runs in this process (peak RSS = ru_maxrss of this process); the
re-ingest runs as a separate ``hoidap ingest`` process, as a user would, so its wall time
includes interpreter start-up and imports. Prints a JSON record and a Markdown table row.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench.offline  # noqa: E402, F401 - sets the environment before the models load
from rag.index.ingest import IngestProgress, ingest  # noqa: E402
from rag.services import build_services  # noqa: E402
from rag.settings import load_settings  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("corpus", nargs="+")
    ap.add_argument("--home", help="home folder (default: a new temporary folder)")
    ap.add_argument("--embedding-model", default=None)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()

    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="hoidap-bench-"))
    settings = load_settings(
        home, env={}, embedding_model=args.embedding_model, embedding_threads=args.threads
    )
    last = {"t": time.perf_counter()}

    def progress(p: IngestProgress) -> None:
        now = time.perf_counter()
        if now - last["t"] > 30:
            last["t"] = now
            rate = p.chunks_done / p.elapsed_s if p.elapsed_s else 0
            print(
                f"  {p.articles_done}/{p.articles_total} articles, "
                f"{p.chunks_done}/{p.chunks_total} chunks, {rate:.1f} chunks/s",
                file=sys.stderr,
                flush=True,
            )

    t0 = time.perf_counter()
    services = build_services(settings)
    report = ingest(args.corpus, settings, embedder=services.embedder, progress=progress)
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    articles = len(report.added) + len(report.updated)

    stats = services.index.stats()
    services.close()

    t1 = time.perf_counter()
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "hoidap"),
            "ingest",
            *args.corpus,
            "--json",
            "--no-progress",
            "--home",
            str(home),
        ]
        + (["--embedding-model", args.embedding_model] if args.embedding_model else []),
        capture_output=True,
        text=True,
        check=False,
    )
    reingest_s = time.perf_counter() - t1
    re_report = (
        json.loads(proc.stdout)
        if proc.stdout.strip().startswith("{")
        else {"error": proc.stderr[-500:]}
    )

    embed_s = report.timings.get("embed_write", 0.0)
    record = {
        "corpus": [str(c) for c in args.corpus],
        "embedding_model": services.embedder.model_id,
        "articles": articles,
        "skipped": len(report.skipped),
        "chunks": report.chunks_written,
        "embedded": report.embedded,
        "wall_s": round(wall, 1),
        "articles_per_s": round(articles / wall, 2) if wall else None,
        "chunks_per_s": round(report.chunks_written / wall, 2) if wall else None,
        "embeddings_per_s_during_embed": round(report.embedded / embed_s, 2) if embed_s else None,
        "timings_s": report.as_dict()["timings_s"],
        "peak_rss_mb": round(peak_mb),
        "index_size_mb": round(stats["index_size_bytes"] / 1e6, 1),
        "reingest_unchanged_wall_s": round(reingest_s, 2),
        "reingest_embedded": re_report.get("embedded"),
        "reingest_unchanged": re_report.get("unchanged"),
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
        "home": str(home),
    }
    print(json.dumps(record, ensure_ascii=False, indent=2))
    print(
        f"| {', '.join(Path(c).name for c in args.corpus)} | {articles} | {report.chunks_written} "
        f"| {record['wall_s']} s | {record['articles_per_s']} | {record['chunks_per_s']} "
        f"| {record['embeddings_per_s_during_embed']} | {record['peak_rss_mb']} MB "
        f"| {record['index_size_mb']} MB | {record['reingest_unchanged_wall_s']} s |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
