"""The index on a real persistent Chroma with a deterministic fake embedder."""

import numpy as np
import pytest

from corpus.chunking import article_version, chunk_article
from corpus.types import Article
from rag.index.index import PIPELINE_VERSION, Index, IndexBusy, IndexMismatch, WriteItem
from rag.settings import load_settings
from tests.fakes import HashEmbedder


def make_article(aid, text, **kw):
    return Article(
        id=aid, title=kw.pop("title", f"Bài {aid}"), text=text, fingerprint="fp-" + aid, **kw
    )


A1 = make_article(
    "a1",
    "Năm 2021, Ban Chỉ đạo các huyện đã kiểm tra tại 151 cơ quan, đơn vị, doanh nghiệp. "
    "Nhờ đó, phương thức lãnh đạo ngày càng gần dân.",
    date="2021-12-30",
    date_precision="day",
    source="Baogialai.com.vn",
)
A2 = make_article("a2", "Toàn tỉnh có 63.021 ha cây ăn quả. Sản lượng năm 2019 đạt 410.000 tấn.")


@pytest.fixture
def settings(tmp_path):
    return load_settings(tmp_path / "home", env={})


def item(article, emb):
    chunks = chunk_article(article, target_tokens=24, overlap_tokens=4)
    vectors = emb.embed_documents([c.embed_text for c in chunks])
    return WriteItem(article, article_version(article, 24, 4), chunks, vectors)


def test_write_search_and_persist_across_instances(settings):
    emb = HashEmbedder()
    idx = Index(settings, emb.model_id, emb.dim)
    idx.write([item(A1, emb), item(A2, emb)], PIPELINE_VERSION)
    assert idx.catalog.counts()[0] == 2
    assert idx.store.count() == idx.catalog.counts()[1]
    top = idx.bm25().search("kiểm tra bao nhiêu cơ quan", 1)[0][0]
    assert top.startswith("a1#")
    dense = idx.store.query(emb.embed_query("cây ăn quả sản lượng"), 1)[0][0]
    assert dense.startswith("a2#")
    # a new object (as in a new process) sees the same index and BM25 from disk
    again = Index(settings, emb.model_id, emb.dim)
    assert again.catalog.get_article("a1") == A1
    assert again.bm25().ids == idx.bm25().ids
    stats = again.stats()
    assert stats["articles"] == 2 and stats["sources"] == ["Baogialai.com.vn"]
    assert stats["date_range"] == ["2021-12-30", "2021-12-30"]


def test_changed_article_replaces_its_chunks(settings):
    emb = HashEmbedder()
    idx = Index(settings, emb.model_id, emb.dim)
    idx.write([item(A1, emb)], PIPELINE_VERSION)
    old = idx.catalog.chunk_ids()
    changed = make_article("a1", A1.text.replace("151", "152"))
    idx.write([item(changed, emb)], PIPELINE_VERSION)
    new = idx.catalog.chunk_ids()
    assert not old & new
    assert idx.store.all_ids() == new
    assert "152" in idx.catalog.chunks_of("a1")[0].text


def test_delete_removes_everywhere(settings):
    emb = HashEmbedder()
    idx = Index(settings, emb.model_id, emb.dim)
    idx.write([item(A1, emb), item(A2, emb)], PIPELINE_VERSION)
    assert idx.delete(["a1", "nope"]) == ["a1"]
    assert all(i.startswith("a2#") for i in idx.store.all_ids())
    assert all(i.startswith("a2#") for i in idx.bm25().live_ids())


def test_reconcile_repairs_a_crash_between_steps(settings):
    emb = HashEmbedder()
    idx = Index(settings, emb.model_id, emb.dim)
    idx.write([item(A1, emb)], PIPELINE_VERSION)
    # crash after step 1 (vectors added, catalog not committed): orphans in Chroma
    orphan = item(A2, emb)
    idx.store.add(
        [c.id for c in orphan.chunks],
        orphan.vectors,
        [c.text for c in orphan.chunks],
        [{"article_id": "a2"}] * len(orphan.chunks),
    )
    # and vectors lost for a live chunk
    lost = sorted(idx.catalog.chunk_ids())[0]
    idx.store.delete([lost])
    removed, readded = idx.reconcile(lambda texts: emb.embed_documents(texts))
    assert (removed, readded) == (len(orphan.chunks), 1)
    assert idx.store.all_ids() == idx.catalog.chunk_ids()


def test_stale_or_corrupt_bm25_is_rebuilt(settings):
    emb = HashEmbedder()
    idx = Index(settings, emb.model_id, emb.dim)
    idx.write([item(A1, emb)], PIPELINE_VERSION)
    idx.bm25()
    for f in idx.bm25_dir.glob("bm25-*.npz"):
        f.write_bytes(b"garbage")
    fresh = Index(settings, emb.model_id, emb.dim)
    assert fresh.bm25().search("151", 1)[0][0].startswith("a1#")


def test_one_folder_and_collection_per_model(settings):
    a, b = HashEmbedder(model_id="fake-a"), HashEmbedder(model_id="fake-b", dim=32)
    ia, ib = Index(settings, a.model_id, a.dim), Index(settings, b.model_id, b.dim)
    assert ia.dir != ib.dir and ia.store.name != ib.store.name
    ia.write([item(A1, a)], PIPELINE_VERSION)
    ib.write([item(A2, b)], PIPELINE_VERSION)
    assert ia.catalog.article_ids() == ["a1"] and ib.catalog.article_ids() == ["a2"]
    with pytest.raises(IndexMismatch):
        Index(settings, a.model_id, dim=99)


def test_writer_lock_is_exclusive(settings):
    emb = HashEmbedder()
    idx = Index(settings, emb.model_id)
    other = Index(settings, emb.model_id)
    with (
        idx.writer_lock(),
        pytest.raises(IndexBusy, match="Một lần nạp hoặc xoá khác đang chạy"),
        other.writer_lock(),
    ):
        pass
    with other.writer_lock():  # released
        pass


def test_vectors_must_match_chunks(settings):
    emb = HashEmbedder()
    idx = Index(settings, emb.model_id)
    it = item(A1, emb)
    with pytest.raises(ValueError):
        idx.write(
            [WriteItem(it.article, it.version, it.chunks, np.zeros((0, emb.dim)))], PIPELINE_VERSION
        )
