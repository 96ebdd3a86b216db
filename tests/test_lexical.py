"""The segmented BM25 index: incremental catch-up with the catalog's change log, scores
equal to a fresh build, crash and damage handling, and opening a home of the previous
layout (one precomputed matrix, catalog schema 1)."""

from __future__ import annotations

import json
import logging
import random
import sqlite3
import tarfile
from pathlib import Path

import numpy as np
import pytest

from corpus.chunking import article_version, chunk_article
from corpus.types import Article
from rag.index.bm25 import BM25Index, Segment
from rag.index.catalog import SCHEMA_VERSION, Catalog
from rag.index.index import PIPELINE_VERSION, Index, WriteItem
from rag.settings import load_settings
from tests.fakes import HashEmbedder
from tests.seeds import SEED_DIR

LAYOUT1 = Path(__file__).parent / "data" / "home_layout1.tar.gz"
QUERIES = ["dân vận khéo", "kiểm tra bao nhiêu cơ quan", "quy che dan chu", "Bí thư Quận ủy"]


def _sentences() -> list[str]:
    out: list[str] = []
    for path in sorted(SEED_DIR.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        out.extend(s.strip() + "." for s in text.split(".") if len(s.strip()) > 30)
    return out


SENTENCES = _sentences()


def _article(aid: str, rng: random.Random) -> Article:
    text = " ".join(rng.sample(SENTENCES, rng.randint(2, 12)))
    return Article(id=aid, title=f"Bài {aid}", text=text, fingerprint=f"fp-{aid}-{rng.random()}")


def _item(article: Article, emb: HashEmbedder) -> WriteItem:
    chunks = chunk_article(article, target_tokens=40, overlap_tokens=8)
    vectors = emb.embed_documents([c.embed_text for c in chunks])
    return WriteItem(article, article_version(article, 40, 8), chunks, vectors)


def _fresh(idx: Index, analyzer: str) -> BM25Index:
    _gen, chunks = idx.catalog.snapshot()
    return BM25Index.build(
        [c.id for c in chunks], [c.embed_text for c in chunks], analyzer=analyzer
    )


def _live_scores(idx: BM25Index, query: str) -> dict[str, float]:
    """The score of every live chunk id (tombstoned positions left out)."""
    live = [ok for m in idx.live for ok in m]
    scores = idx.scores(query).tolist()
    return {cid: sc for cid, sc, ok in zip(idx.ids, scores, live, strict=True) if ok}


def _assert_same_scores(got: BM25Index, want: BM25Index) -> None:
    """``got`` holds the live chunks of ``want`` and scores each of them the same."""
    assert sorted(got.live_ids()) == sorted(want.live_ids()) and got.n_docs == want.n_docs
    for q in QUERIES:
        g, w = _live_scores(got, q), _live_scores(want, q)
        assert g.keys() == w.keys(), q
        for cid, score in w.items():
            assert g[cid] == pytest.approx(score, rel=1e-5, abs=1e-6), (q, cid)


def _twenty_of_forty(settings, rng: random.Random) -> tuple[Index, HashEmbedder, list[str]]:
    """An index of the articles art000..art019 (random texts), BM25 caught up, and the 40
    ids art000..art039 the random edits draw from."""
    emb = HashEmbedder()
    idx = Index(settings, emb.model_id, emb.dim)
    ids = [f"art{i:03d}" for i in range(40)]
    idx.write([_item(_article(a, rng), emb) for a in ids[:20]], PIPELINE_VERSION)
    idx.refresh_bm25()
    return idx, emb, ids


@pytest.fixture
def settings(tmp_path):
    return load_settings(tmp_path / "home", env={})


def test_segments_after_adds_updates_deletes_score_like_a_fresh_build(settings):
    rng = random.Random(7)
    idx, emb, ids = _twenty_of_forty(settings, rng)
    for step in range(30):
        op = rng.random()
        if op < 0.5:
            idx.write([_item(_article(rng.choice(ids), rng), emb)], PIPELINE_VERSION)
        elif op < 0.8:
            batch = rng.sample(ids, 3)
            idx.write([_item(_article(a, rng), emb) for a in batch], PIPELINE_VERSION)
        else:
            idx.delete([rng.choice(ids)])
        if step % 3 == 0:  # catch up after one or several writes
            idx.refresh_bm25()
    for analyzer in ("vi", "ascii"):
        got = idx.bm25(analyzer)
        _assert_same_scores(got, _fresh(idx, analyzer))
        assert len(got.segments) <= 12
        # a new process loads the same from disk
        again = Index(settings, emb.model_id, emb.dim).bm25(analyzer)
        _assert_same_scores(again, _fresh(idx, analyzer))


def test_an_upload_writes_one_small_segment_and_leaves_the_others(settings):
    rng = random.Random(1)
    emb = HashEmbedder()
    idx = Index(settings, emb.model_id, emb.dim)
    idx.write([_item(_article(f"a{i}", rng), emb) for i in range(30)], PIPELINE_VERSION)
    idx.refresh_bm25()
    before = {p.name: p.stat().st_mtime_ns for p in idx.bm25_dir.glob("bm25-*.npz")}
    new = _item(_article("new", rng), emb)
    idx.write([new], PIPELINE_VERSION)
    idx.refresh_bm25()
    after = {p.name: p.stat().st_mtime_ns for p in idx.bm25_dir.glob("bm25-*.npz")}
    assert set(before) <= set(after) and all(after[n] == t for n, t in before.items())
    added = set(after) - set(before)
    assert len(added) == 1
    manifest = json.loads((idx.bm25_dir / "CURRENT").read_text(encoding="utf-8"))
    entry = next(e for e in manifest["segments"] if e["file"] in added)
    assert entry["n_docs"] == len(new.chunks)
    assert manifest["generation"] == idx.catalog.generation
    top = idx.bm25().search(new.chunks[0].text, 1)[0][0]
    assert top.startswith("new#")


def test_a_lexical_index_out_of_step_with_the_catalog_is_rebuilt_with_a_warning(settings, caplog):
    rng = random.Random(3)
    emb = HashEmbedder()
    idx = Index(settings, emb.model_id, emb.dim)
    idx.write([_item(_article(f"a{i}", rng), emb) for i in range(5)], PIPELINE_VERSION)
    idx.refresh_bm25()
    # a change the change log does not know (an older release wrote to this catalog)
    con = sqlite3.connect(idx.catalog.path)
    con.execute("DELETE FROM chunks WHERE article_id='a1'")
    con.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'")
    con.commit()
    con.close()
    fresh = Index(settings, emb.model_id, emb.dim)
    with caplog.at_level(logging.WARNING, logger="hoidap.index"):
        got = fresh.bm25()
    assert any("the catalog" in r.getMessage() for r in caplog.records)
    assert not any(i.startswith("a1#") for i in got.live_ids())
    _assert_same_scores(got, _fresh(fresh, "vi"))


def test_catalog_change_log_and_its_floor(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    assert cat.get_meta("schema") == str(SCHEMA_VERSION)
    assert cat.changes_since(0) == cat.changes_since(0)
    empty = cat.changes_since(0)
    assert empty is not None and empty.article_ids == () and empty.n_chunks == 0
    assert cat.changes_since(5) is None  # a generation this catalog never had
    art = Article(id="x", title="t", text="Một hai ba.", fingerprint="f")
    chunks = chunk_article(art, target_tokens=40, overlap_tokens=8)
    cat.replace_articles([(art, "v", "p", chunks)])
    ch = cat.changes_since(0)
    assert ch is not None and ch.article_ids == ("x",) and len(ch.chunks) == len(chunks)
    cat.delete_articles(["x"])
    ch = cat.changes_since(1)
    assert ch is not None and ch.article_ids == ("x",) and ch.chunks == () and ch.n_chunks == 0
    assert cat.changes_since(2).article_ids == ()  # type: ignore[union-attr]


def test_segment_merge_keeps_live_documents_only():
    a = Segment.build(["a#1", "b#1"], ["dân vận khéo", "quy chế dân chủ"], "vi")
    b = Segment.build(["c#1"], ["dân vận"], "vi")
    merged = Segment.merge([(a, np.array([False, True])), (b, np.array([True]))])
    assert merged.ids == ["b#1", "c#1"] and merged.articles == ["b", "c"]
    want = BM25Index.build(["b#1", "c#1"], ["quy chế dân chủ", "dân vận"])
    assert np.allclose(BM25Index([merged]).scores("dân vận"), want.scores("dân vận"))


def test_a_home_of_the_previous_layout_opens_answers_and_embeds_nothing(tmp_path, caplog):
    """``home_layout1.tar.gz``: the seed corpus ingested by the release before segments
    (``tests.seeds.build_seed_index``, HashEmbedder; catalog schema 1, one BM25 matrix)."""
    from rag.assistant import Assistant
    from rag.index.ingest import ingest

    with tarfile.open(LAYOUT1) as tar:
        tar.extractall(tmp_path, filter="data")
    settings = load_settings(tmp_path / "home", env={})
    emb = HashEmbedder()
    (folder,) = settings.index_root.iterdir()
    old = json.loads((folder / "bm25" / "CURRENT").read_text(encoding="utf-8"))
    assert "file" in old and "format" not in old
    with caplog.at_level(logging.WARNING, logger="hoidap.index"):
        answer = Assistant(settings, embedder=emb).ask("Quận 9 kiểm tra bao nhiêu cơ quan?")
        idx = Index(settings, emb.model_id, emb.dim)
        idx.refresh_bm25()
    layout = [r for r in caplog.records if "previous layout" in r.getMessage()]
    assert len(layout) == 2  # one per analyzer, once
    assert answer.citations and idx.catalog.get_meta("schema") == str(SCHEMA_VERSION)
    new = json.loads((folder / "bm25" / "CURRENT").read_text(encoding="utf-8"))
    assert new["format"] == 2 and new["generation"] == idx.catalog.generation
    _assert_same_scores(idx.bm25(), _fresh(idx, "vi"))
    caplog.clear()
    corpus = tmp_path / "articles"
    import shutil

    shutil.copytree(SEED_DIR, corpus)
    report = ingest([corpus], settings, embedder=emb)
    assert report.embedded == 0 and report.chunks_written == 0 and not report.added
    assert not [r for r in caplog.records if "previous layout" in r.getMessage()]


def test_the_kept_chunk_count_follows_adds_replacements_and_deletes(settings):
    rng = random.Random(4)
    emb = HashEmbedder()
    idx = Index(settings, emb.model_id, emb.dim)

    def counted() -> int:
        con = sqlite3.connect(idx.catalog.path)
        try:
            return int(con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
        finally:
            con.close()

    idx.write([_item(_article(f"a{i}", rng), emb) for i in range(6)], PIPELINE_VERSION)
    idx.write([_item(_article("a2", rng), emb)], PIPELINE_VERSION)  # replaced, other length
    idx.delete(["a4", "nope"])
    changes = idx.catalog.changes_since(0)
    assert changes is not None and changes.n_chunks == counted() == idx.catalog.counts()[1]
    con = sqlite3.connect(idx.catalog.path)  # a catalog from before the count was kept
    con.execute("DELETE FROM meta WHERE key='n_chunks'")
    con.commit()
    con.close()
    again = Catalog(idx.catalog.path)
    assert again.get_meta("n_chunks") == str(counted())
    again.close()
