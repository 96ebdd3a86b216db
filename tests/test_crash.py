"""kill -9 an ingest at random moments: the index opens, answers, and the next run completes."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.assistant import Assistant
from rag.index.index import Index
from rag.index.ingest import ingest
from rag.settings import load_settings
from tests.fakes import HashEmbedder

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def write_corpus(folder: Path, n: int, variant: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        body = " ".join(
            f"Năm 202{i % 3}, xã số {i} tổ chức {j + i} buổi đối thoại với nhân dân{variant}."
            for j in range(40)
        )
        (folder / f"bai_{i:03d}.txt").write_text(
            f"Báo cáo công tác dân vận số {i}\n\n{body}\n", encoding="utf-8"
        )


def check_usable(settings, n_expected=None):
    emb = HashEmbedder()
    idx = Index(settings, emb.model_id)
    live = idx.catalog.chunk_ids()
    # every live chunk is searchable in both indexes; extra vectors are invisible orphans
    assert live <= idx.store.all_ids()
    bm25_live = idx.bm25().live_ids()  # tombstoned positions of replaced chunks excluded
    assert set(bm25_live) == live and len(bm25_live) == len(live)
    for aid in idx.catalog.article_ids():
        chunks = idx.catalog.chunks_of(aid)
        assert (
            chunks and len({c.id.rsplit("-", 1)[0] for c in chunks}) == 1
        )  # one version per article
    if n_expected is not None:
        assert idx.catalog.counts()[0] == n_expected
    if live:
        hit = idx.bm25().search("đối thoại với nhân dân", 1)
        assert hit and hit[0][0] in live
    # and it answers: citations quote the live text of their article
    ans = Assistant(settings, embedder=emb).ask("Xã số 7 tổ chức bao nhiêu buổi đối thoại?")
    if not live:
        assert ans.refused  # nothing indexed yet: a refusal, not an error
    for c in ans.citations:
        assert idx.catalog.get_article(c.article_id).text[c.start : c.end] == c.quote
        assert c.chunk_id in live
    if any(a.startswith("bai_007") for a in idx.catalog.article_ids()):
        assert not ans.refused and ans.citations


def test_repeated_kills_never_break_the_index(tmp_path):
    rng = random.Random(1234)
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 30)
    home = tmp_path / "home"
    settings = load_settings(home, env={})
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    kills = 0
    for round_ in range(12):
        if round_ == 6:  # halfway, change every article so updates get killed too
            write_corpus(corpus, 30, variant=" mới")
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.ingest_worker", str(home), str(corpus), "0.25"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(rng.uniform(0.5, 4.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
        check_usable(settings)
    assert kills >= 6
    rep = ingest([corpus], settings, embedder=HashEmbedder())
    check_usable(settings, n_expected=30)
    idx = Index(settings, HashEmbedder().model_id)
    assert idx.store.all_ids() == idx.catalog.chunk_ids()  # reconciled: no orphans left
    assert all("mới" in idx.catalog.get_article(a).text for a in idx.catalog.article_ids())
    assert rep.exit_code == 0
