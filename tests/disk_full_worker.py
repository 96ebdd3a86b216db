"""The full-disk scenario, run on a small real filesystem that the caller has mounted.

usage: python -m tests.disk_full_worker MOUNTPOINT   (prints one JSON object)

A tmpfs is used rather than a simulated error so that every writer (SQLite, Chroma's Rust
store, numpy) meets a real ENOSPC. Steps:

1. ingest the seed articles and answer a question;
2. fill the disk so that a bigger corpus cannot fit; ingest it: the run must stop with
   ``DiskFull`` between batches, and the old index must still answer, in this process,
   in a fresh process and through the CLI (which must print one line, no traceback);
3. again with ``min_free_mb = 0``, so that the disk fills inside SQLite or Chroma: the
   error must still be one ``DiskFull`` message;
4. free the space: the index answers and the next ingest completes, with Chroma holding
   exactly the catalog's chunks.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from rag.assistant import Assistant
from rag.index.index import DiskFull, Index
from rag.index.ingest import ingest
from rag.settings import load_settings
from tests.fakes import HashEmbedder
from tests.running import run_python
from tests.seeds import SEED_DIR
from tests.test_crash import write_corpus

QUESTION = (
    "Năm 2021, Ban Chỉ đạo các huyện đã kiểm tra tại bao nhiêu cơ quan, đơn vị, doanh nghiệp?"
)


def answer_in_fresh_process(home: Path) -> str:
    code = (
        "from rag.assistant import Assistant; from rag.settings import load_settings; "
        "from tests.fakes import HashEmbedder; "
        f"print(Assistant(load_settings({str(home)!r}, env={{}}), "
        f"embedder=HashEmbedder()).ask({QUESTION!r}).text)"
    )
    out = run_python(code, timeout=120)
    return out.stdout.strip() if out.returncode == 0 else f"FAILED: {out.stderr[-500:]}"


def cli_ingest(home: Path, corpus: Path, min_free_mb: int) -> dict[str, object]:
    """``hoidap ingest`` with the fake embedder is not possible, so the CLI's own error
    path is exercised through ``rag.cli.main`` in a child with the fake patched in."""
    code = (
        "import sys, rag.services as ci; from tests.fakes import HashEmbedder; "
        "ci.open_embedder = lambda s: HashEmbedder(); from rag.cli import main; "
        f"sys.exit(main(['ingest', {str(corpus)!r}, '--home', {str(home)!r}, '--no-progress']))"
    )
    out = run_python(
        code,
        timeout=300,
        env={"HOIDAP_MIN_FREE_MB": str(min_free_mb), "HOIDAP_EMBED_BATCH_SIZE": "16"},
    )
    return {"rc": out.returncode, "stderr": out.stderr, "stdout": out.stdout}


def fill(mount: Path, leave_bytes: int) -> Path:
    filler = mount / "filler.bin"
    free = shutil.disk_usage(mount).free
    with open(filler, "ab") as fh:
        fh.write(b"\0" * max(0, free - leave_bytes))
    return filler


def main(mount: Path) -> dict[str, object]:
    home = mount / "home"
    big = mount.parent / f"{mount.name}-corpus"
    shutil.rmtree(big, ignore_errors=True)
    write_corpus(big, 300)
    out: dict[str, object] = {}
    settings = load_settings(home, env={}, min_free_mb=2, embed_batch_size=16)
    emb = HashEmbedder()
    first = ingest([SEED_DIR], settings, embedder=emb)
    out["seed_added"] = len(first.added)
    out["answer_before"] = Assistant(settings, embedder=emb).ask(QUESTION).text

    # -- 2: the guard stops the run between batches
    filler = fill(mount, 4 * 1024 * 1024)  # 2 MB reserve + room for a few batches
    out["free_before_big"] = shutil.disk_usage(mount).free
    try:
        ingest([big], settings, embedder=emb)
        out["guarded_error"] = None
    except DiskFull as exc:
        out["guarded_error"] = str(exc)
    out["articles_after_guard"] = Index(settings, emb.model_id).catalog.counts()[0]
    out["answer_guarded_same_process"] = Assistant(settings, embedder=emb).ask(QUESTION).text
    out["answer_guarded_fresh_process"] = answer_in_fresh_process(home)
    out["cli_guarded"] = cli_ingest(home, big, min_free_mb=2)

    # -- 3: no reserve: the disk fills inside SQLite / Chroma
    fill(mount, 0)
    unguarded = load_settings(home, env={}, min_free_mb=0, embed_batch_size=16)
    try:
        ingest([big], unguarded, embedder=emb)
        out["unguarded_error"] = None
    except DiskFull as exc:
        out["unguarded_error"] = str(exc)
    except Exception as exc:  # reported as a failure by the test
        out["unguarded_error"] = f"NOT DiskFull: {type(exc).__name__}: {exc}"
    out["cli_unguarded"] = cli_ingest(home, big, min_free_mb=0)
    # recorded, not required: if the disk filled inside Chroma, Chroma itself cannot read
    # its store again until there is space to finish applying its write-ahead log
    out["answer_unguarded_while_full"] = answer_in_fresh_process(home)[:200]

    # -- 4: space is freed: answers, then the next ingest completes
    filler.unlink()
    out["answer_after_free_fresh_process"] = answer_in_fresh_process(home)
    final = ingest([SEED_DIR, big], settings, embedder=emb)
    index = Index(settings, emb.model_id)
    out["final_articles"] = index.catalog.counts()[0]
    out["final_repaired"] = list(final.repaired)
    out["final_store_matches_catalog"] = index.store.all_ids() == index.catalog.chunk_ids()
    out["answer_after_fresh_process"] = answer_in_fresh_process(home)
    leftovers = [p.name for p in home.rglob("*.tmp")]
    out["tmp_leftovers"] = leftovers
    shutil.rmtree(big, ignore_errors=True)
    return out


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1])), ensure_ascii=False))
