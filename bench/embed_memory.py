"""Does a long-running process grow as the torch e5-small embedder sees texts of new lengths?

    .venv/bin/python bench/embed_memory.py              # padded (the default) vs exact lengths
    .venv/bin/python bench/embed_memory.py --variants shapes:bf16,exact:bf16,exact:fp32:8

A variant is PADDING[:PRECISION[:MAX_BATCH]] (``E5TorchEmbedder``'s ``padding``,
``precision`` and ``max_batch``; ``padded`` = ``shapes``).

Each variant runs in its own subprocess: load e5-small (torch), embed one query, then 40
batches of 2-15 passages of 200-1,800 characters cut at random from the Dân trí corpus
(seed 1), printing the resident memory (VmRSS) after every 10 batches. ``padded`` pads
every forward pass to one of the 14 lengths of ``embeddings.e5_torch.padded_length``;
``exact`` pads to the text's own token count (the behaviour before the fix), so nearly
every window is a new input shape for the CPU kernels. Prints one JSON line per variant.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse
import gzip
import json
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEWS = ROOT.parent / "shared" / "data" / "news" / "dantri_2653.jsonl.gz"


def child(variant: str, news: Path, batches: int) -> None:
    sys.path.insert(0, str(ROOT))
    import embeddings.e5_torch as e5
    from bench.common import rss_mb

    # PADDING[:PRECISION[:MAX_BATCH]], e.g. "shapes", "exact:fp32:8" (E5TorchEmbedder args)
    padding, _, rest = variant.partition(":")
    precision, _, batch = rest.partition(":")
    emb = e5.E5TorchEmbedder(
        padding={"padded": "shapes"}.get(padding, padding),
        precision=precision or "auto",
        max_batch=int(batch or 1),
    )
    emb.embed_query("xin chào")
    texts = []
    with gzip.open(news, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i >= 300:
                break
            texts.append(json.loads(line)["text"])
    rng = random.Random(1)
    rss = [rss_mb()]
    t0 = time.perf_counter()
    for b in range(1, batches + 1):
        batch = []
        for _ in range(rng.randint(2, 15)):
            t = rng.choice(texts)
            a = rng.randint(0, max(0, len(t) - 2000))
            batch.append(t[a : a + rng.randint(200, 1800)])
        emb.embed_documents(batch)
        if b % 10 == 0:
            rss.append(rss_mb())
    out = {
        "variant": variant,
        "batches": batches,
        "rss_mb_every_10_batches": rss,
        "growth_mb": rss[-1] - rss[0],
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(out))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--news", default=str(NEWS))
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--variants", default="padded,exact")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, Path(args.news), args.batches)
        return 0
    if not Path(args.news).is_file():
        print(f"corpus not found: {args.news} (see ../shared/data/README)", file=sys.stderr)
        return 2
    for variant in args.variants.split(","):
        cmd = [sys.executable, __file__, "--child", variant, "--news", args.news]
        subprocess.run([*cmd, "--batches", str(args.batches)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
