"""How the index's costs grow with the corpus: build, one-article upload, queries, memory.

Simulated corpora of ``--sizes`` chunks: articles of 3-12 real Vietnamese sentences drawn
from ``../shared/data/news/dantri_2653.jsonl.gz``, with vectors that skip the embedder
(a deterministic random 384-d unit vector per chunk), so embedding time stays out. Each
size is built in a fresh home through ``Index.write`` (catalog + local Chroma) and one
``refresh_bm25`` (``--phase build``); then a fresh process opens it as a server would
(``--phase measure``: ``open_s``, RSS) and times ``--uploads`` one-article uploads as the
web app does them (``ingest`` of one file through the serving process's ``Index``: load,
chunk, write, lexical catch-up for both analyzers, merges above
``bm25_inline_merge_docs`` left to a background thread), their deletes, and ``--queries``
questions made of news sentences (half "… là gì?", half "… đã đạt những kết quả gì?")
through BM25, dense, the hybrid retriever and the whole offline answer (``Assistant.ask``
with the default answerer: rules for the short questions, the reader over the top 5
chunks for the open ones; 10 before commit b9e7904). ``--homes DIR`` keeps the homes, so
that the long build and the measurement can run at different times. ``full_bm25_rebuild_s``
is what every upload cost before the segmented index (a rebuild from the catalog, one
analyzer); ``merge_all_segments_s`` the largest merge the tiered policy can make (all
segments into one), now made by a background thread; ``peak_rss_largest_merge_mb`` is the
process's peak during that merge, ``peak_rss_uploads_mb`` during the uploads and the
background merges they started, ``peak_rss_serving_mb`` the peak before the largest merge.

    .venv/bin/python bench/scale.py --sizes 10000,100000 --out bench/out/scale.json
    .venv/bin/python bench/scale.py --sizes 1000000 --phase build --homes /work/scale  # ~2 h
    .venv/bin/python bench/scale.py --sizes 1000000 --phase measure --homes /work/scale
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import PeakRss, percentile
from corpus.chunking import article_version, chunk_article
from corpus.types import Article
from rag.assistant import Assistant
from rag.index.bm25 import Segment
from rag.index.index import PIPELINE_VERSION, Index, WriteItem
from rag.index.ingest import delete_articles, ingest
from rag.retrieval.retrieve import HybridRetriever
from rag.services import Services
from rag.settings import load_settings

NEWS = Path(__file__).resolve().parents[2] / "shared" / "data" / "news" / "dantri_2653.jsonl.gz"
DIM = 384


class RandomVectors:
    """Deterministic random unit vectors: the vector side without the embedder's cost."""

    model_id = "bench-random-384"
    dim = DIM

    def _vec(self, text: str) -> np.ndarray:
        rng = np.random.default_rng(zlib.crc32(text.encode()))
        v = rng.standard_normal(DIM).astype(np.float32)
        return v / np.linalg.norm(v)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, DIM))

    def embed_query(self, text: str) -> np.ndarray:
        return self._vec(text)


def sentences(limit: int = 40000) -> list[str]:
    out: list[str] = []
    with gzip.open(NEWS, "rt", encoding="utf-8") as fh:
        for line in fh:
            text = json.loads(line)["text"]
            out.extend(s.strip() + "." for s in text.split(". ") if 40 < len(s.strip()) < 400)
            if len(out) >= limit:
                break
    return out


def make_item(aid: str, sents: list[str], rng: random.Random, emb: RandomVectors) -> WriteItem:
    text = " ".join(rng.sample(sents, rng.randint(3, 12)))
    art = Article(id=aid, title=f"Bài {aid}", text=text, fingerprint=f"fp-{aid}-{rng.random()}")
    chunks = chunk_article(art, target_tokens=200, overlap_tokens=40)
    return WriteItem(
        art,
        article_version(art, 200, 40),
        chunks,
        emb.embed_documents([c.embed_text for c in chunks]),
    )


def build(home: Path, n_chunks: int, sents: list[str], full_rebuild: bool) -> dict[str, object]:
    """A fresh home of about ``n_chunks`` chunks: catalog + Chroma writes, then BM25."""
    rng = random.Random(n_chunks)
    emb = RandomVectors()
    idx = Index(load_settings(home, env={}), emb.model_id, DIM)
    t0 = time.perf_counter()
    made = i = 0
    while made < n_chunks:
        batch = [make_item(f"n{i + j:07d}", sents, rng, emb) for j in range(200)]
        i += len(batch)
        made += sum(len(it.chunks) for it in batch)
        idx.write(batch, PIPELINE_VERSION)
    t_write = time.perf_counter() - t0
    t0 = time.perf_counter()
    idx.refresh_bm25()
    t_bm25 = time.perf_counter() - t0
    row: dict[str, object] = {"write_s": round(t_write, 1), "bm25_build_s": round(t_bm25, 2)}
    if full_rebuild:
        t0 = time.perf_counter()
        idx._rebuild_bm25("vi")
        row["full_bm25_rebuild_s"] = round(time.perf_counter() - t0, 2)
    row["build_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    idx.close()
    return row


def measure(home: Path, sents: list[str], uploads: int, queries: int) -> dict[str, object]:
    """What a serving process pays on the home ``build`` made: open, upload, ask."""
    rng = random.Random(len(sents) + uploads)
    emb = RandomVectors()
    settings = load_settings(home, env={})
    t0 = time.perf_counter()
    idx = Index(settings, emb.model_id, DIM)
    retriever = HybridRetriever(idx, emb)  # type: ignore[arg-type]
    retriever.retrieve("mở chỉ mục")  # loads BM25 and opens Chroma, as a first question does
    t_open = time.perf_counter() - t0
    rss = {"rss_after_open_mb": _rss_mb()}  # BM25 of both analyzers and Chroma loaded
    up: list[float] = []
    added: list[str] = []
    stamp = f"{int(time.time() * 1000) % 10**9:09d}"
    with tempfile.TemporaryDirectory(prefix="scale-up-") as tmp, PeakRss() as upload_peak:
        for u in range(uploads):  # as the web app does: ingest through the serving index
            path = Path(tmp) / f"up{stamp}{u:03d}.txt"
            body = " ".join(rng.sample(sents, rng.randint(3, 12)))
            path.write_text(f"Bài tải lên {stamp}-{u}\n\n{body}\n", encoding="utf-8")
            t0 = time.perf_counter()
            report = ingest([path], settings, embedder=emb, index=idx)  # type: ignore[arg-type]
            up.append(time.perf_counter() - t0)
            added += report.added
        deletes: list[float] = []
        for aid in added:
            t0 = time.perf_counter()
            delete_articles([aid], settings, emb.model_id, index=idx)
            deletes.append(time.perf_counter() - t0)
        idx.wait_for_merges()  # the merges the uploads left to the background
    rss["peak_rss_uploads_mb"] = upload_peak.peak_mb  # background merges included
    assistant = Assistant(settings, services=Services(settings, retriever=retriever))
    # half short questions (the factoid path), half open ones (the reader's list of points)
    heads = [" ".join(s.split()[:10]).rstrip(".,") for s in rng.sample(sents, queries)]
    qs = [
        h + (" là gì?" if k % 2 == 0 else " đã đạt những kết quả gì?") for k, h in enumerate(heads)
    ]
    assistant.ask("Các địa phương đã đạt những kết quả gì?")  # loads the reader (not timed)
    lat: dict[str, list[float]] = {k: [] for k in ("bm25", "dense", "hybrid", "answer")}
    lat |= {"answer_short": [], "answer_open": []}
    for k, q in enumerate(qs):
        for name, fn in (
            ("bm25", lambda q=q: retriever.bm25(q, 50, None)),
            ("dense", lambda q=q: retriever.dense(q, 50, None)),
            ("hybrid", lambda q=q: retriever.retrieve(q)),
            ("answer", lambda q=q: assistant.ask(q)),
        ):
            t0 = time.perf_counter()
            fn()
            lat[name].append((time.perf_counter() - t0) * 1000)
        lat["answer_open" if k % 2 else "answer_short"].append(lat["answer"][-1])
    rss["rss_serving_mb"] = _rss_mb()  # after the uploads and questions, reader loaded
    rss["peak_rss_serving_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    bm = idx.bm25()
    t0 = time.perf_counter()
    with PeakRss() as merge_peak:
        Segment.merge(list(zip(bm.segments, bm.live, strict=True)))  # the largest merge there is
    t_merge = time.perf_counter() - t0
    rss["peak_rss_largest_merge_mb"] = merge_peak.peak_mb
    return {
        "chunks": bm.n_docs,
        "articles": idx.catalog.counts()[0],
        "open_s": round(t_open, 2),
        "upload_ms_p50": round(percentile([x * 1000 for x in up], 50), 1),
        "upload_ms_p95": round(percentile([x * 1000 for x in up], 95), 1),
        "delete_ms_p50": round(percentile([x * 1000 for x in deletes], 50), 1),
        "delete_ms_p95": round(percentile([x * 1000 for x in deletes], 95), 1),
        "segments_after_uploads": len(bm.segments),
        "merge_all_segments_s": round(t_merge, 2),
        **{f"{k}_ms_p50": round(percentile(v, 50), 1) for k, v in lat.items()},
        **{f"{k}_ms_p95": round(percentile(v, 95), 1) for k, v in lat.items()},
        "answerer": assistant.services.answerer_label,
        **rss,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "disk_mb": round(idx.size_bytes() / 2**20),
    }


def _rss_mb() -> int:
    import psutil

    return round(psutil.Process().memory_info().rss / 2**20)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--uploads", type=int, default=20)
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--phase", choices=("all", "build", "measure"), default="all")
    ap.add_argument("--homes", type=Path, help="keep the homes here (scale-N), to measure later")
    ap.add_argument("--no-full-rebuild", action="store_true", help="skip the one-analyzer rebuild")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--measure-home", type=Path, help=argparse.SUPPRESS)  # the child process
    args = ap.parse_args()
    sents = sentences()
    if args.measure_home:
        print(json.dumps(measure(args.measure_home, sents, args.uploads, args.queries)))
        return
    base = args.homes or Path(tempfile.mkdtemp(prefix="scale-"))
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        home = base / f"scale-{n}"
        row: dict[str, object] = {"size": n}
        if args.phase in ("all", "build"):
            if home.exists():
                sys.exit(f"{home} exists: remove it, or run --phase measure on it")
            row |= build(home, n, sents, not args.no_full_rebuild)
        if args.phase in ("all", "measure"):
            # a fresh process for the serving side, so its RSS is not the build's
            res = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--measure-home",
                    str(home),
                    "--uploads",
                    str(args.uploads),
                    "--queries",
                    str(args.queries),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            row |= json.loads(res.stdout.strip().splitlines()[-1])
        print(json.dumps(row, ensure_ascii=False), flush=True)
        rows.append(row)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
