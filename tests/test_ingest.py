"""Ingest end to end on small Vietnamese texts, with the deterministic fake embedder."""

import gzip
import json
import shutil
from pathlib import Path

import pytest

import rag.index.bm25 as bm25_module
from rag.index.index import Index
from rag.index.ingest import EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL, delete_articles, ingest
from rag.settings import load_settings
from tests.fakes import HashEmbedder
from tests.seeds import SEED_BOILERPLATE, SEED_DIR

SEEDS = SEED_DIR


@pytest.fixture
def settings(tmp_path):
    return load_settings(tmp_path / "home", env={})


@pytest.fixture
def corpus(tmp_path):
    d = tmp_path / "corpus"
    shutil.copytree(SEEDS, d)
    return d


def test_seed_corpus_ingests_and_reingest_embeds_nothing(settings, corpus):
    emb = HashEmbedder()
    first = ingest([corpus], settings, embedder=emb)
    assert len(first.added) == 5 and first.exit_code == EXIT_OK
    assert emb.calls == first.chunks_written > 5
    idx = Index(settings, emb.model_id)
    assert idx.catalog.counts() == (5, first.chunks_written)
    assert idx.store.all_ids() == idx.catalog.chunk_ids()

    again = ingest([corpus], settings, embedder=emb)
    assert (again.unchanged, again.added, again.updated, again.embedded) == (5, [], [], 0)
    assert emb.calls == first.chunks_written  # nothing embedded the second time


def _counting_segment_reads(monkeypatch) -> list[str]:
    """Names of the BM25 segment files read from disk from now on."""
    reads: list[str] = []
    real = bm25_module._read_segment

    def counted(path, expected_sha):
        reads.append(path.name)
        return real(path, expected_sha)

    monkeypatch.setattr(bm25_module, "_read_segment", counted)
    return reads


def test_ingest_through_an_open_index_reads_no_bm25_segment_again(
    settings, corpus, tmp_path, monkeypatch
):
    """The web app passes its serving index: an upload appends the article's segment to
    the segments that index holds (nothing re-read from disk), its readers see the upload
    at once, and the index stays open. Without an index, ingest opens one and reads the
    segments from disk (what each upload cost before)."""
    emb = HashEmbedder()
    ingest([corpus], settings, embedder=emb)
    serving = Index(settings, emb.model_id)
    serving.refresh_bm25()  # as a serving process holds them after its first question
    reads = _counting_segment_reads(monkeypatch)
    new = tmp_path / "up" / "hoa-binh.txt"
    new.parent.mkdir()
    new.write_text(
        "Xã Hòa Bình đối thoại\n\nXã Hòa Bình tổ chức hội nghị đối thoại với nhân dân.\n"
    )

    report = ingest([new], settings, embedder=emb, index=serving)
    assert report.added == ["hoa-binh"] and reads == []
    gen = serving.catalog.generation  # the index is still open and usable
    new_ids = {c.id for c in serving.catalog.chunks_of("hoa-binh")}
    for analyzer in ("vi", "ascii"):
        assert serving._bm25[analyzer][1] == gen  # caught up by the upload itself
        hits = serving.bm25(analyzer).search("Hòa Bình đối thoại", 3)
        assert new_ids & {cid for cid, _ in hits}
    assert delete_articles(["hoa-binh"], settings, emb.model_id, index=serving) == ["hoa-binh"]
    assert reads == []

    other = tmp_path / "up" / "an-binh.txt"
    other.write_text("Xã An Bình\n\nXã An Bình tổ chức hội nghị đối thoại với nhân dân.\n")
    assert ingest([other], settings, embedder=emb).added == ["an-binh"]
    assert reads  # a fresh Index loads the segments from disk


def test_ingest_refuses_an_index_of_another_home(settings, corpus, tmp_path):
    emb = HashEmbedder()
    elsewhere = Index(load_settings(tmp_path / "other", env={}), emb.model_id)
    with pytest.raises(ValueError, match="not the one"):
        ingest([corpus], settings, embedder=emb, index=elsewhere)
    with pytest.raises(ValueError, match="not the one"):
        delete_articles(["x"], settings, emb.model_id, index=elsewhere)


def test_changed_file_is_updated_and_cache_saves_work(settings, corpus):
    emb = HashEmbedder()
    ingest([corpus], settings, embedder=emb)
    f = corpus / "000_bd9e0bf0f2c7e356.txt"
    f.write_text(
        f.read_text(encoding="utf-8").replace("151 cơ quan", "152 cơ quan"), encoding="utf-8"
    )
    before = emb.calls
    rep = ingest([corpus], settings, embedder=emb)
    assert rep.updated == ["000_bd9e0bf0f2c7e356"] and rep.unchanged == 4
    idx = Index(settings, emb.model_id)
    assert any("152 cơ quan" in c.text for c in idx.catalog.chunks_of("000_bd9e0bf0f2c7e356"))
    assert not any("151 cơ quan" in c.text for c in idx.catalog.chunks_of("000_bd9e0bf0f2c7e356"))
    # only the chunk that changed is embedded again; the rest come from the cache
    assert emb.calls - before == rep.embedded < rep.chunks_written
    assert rep.cache_hits == rep.chunks_written - rep.embedded


def test_prune_removes_articles_whose_files_are_gone(settings, corpus):
    emb = HashEmbedder()
    ingest([corpus], settings, embedder=emb)
    (corpus / "004_2b7adcca76c904ea.txt").unlink()
    kept = ingest([corpus], settings, embedder=emb)
    assert kept.pruned == [] and Index(settings, emb.model_id).catalog.counts()[0] == 5
    rep = ingest([corpus], settings, embedder=emb, prune=True)
    assert rep.pruned == ["004_2b7adcca76c904ea"]
    idx = Index(settings, emb.model_id)
    assert "004_2b7adcca76c904ea" not in idx.catalog.article_ids()
    assert not any(i.startswith("004_") for i in idx.store.all_ids())
    assert not any(i.startswith("004_") for i in idx.bm25().live_ids())


def test_bad_files_are_skipped_with_reasons_and_the_rest_ingests(settings, corpus):
    (corpus / "rong.txt").write_bytes(b"")
    (corpus / "nhi-phan.txt").write_bytes(bytes(range(256)) * 20)
    rep = ingest([corpus], settings, embedder=HashEmbedder())
    assert len(rep.added) == 5
    reasons = {Path(s.path).name: s.reason for s in rep.skipped}
    assert set(reasons) == {"rong.txt", "nhi-phan.txt"}
    assert "empty" in reasons["rong.txt"] and "binary" in reasons["nhi-phan.txt"]
    assert rep.exit_code == EXIT_PARTIAL


def test_nothing_loadable_is_a_failure(settings, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\x01\x02" * 100)
    assert ingest([bad], settings, embedder=HashEmbedder()).exit_code == EXIT_FAILURE


def test_jsonl_records_with_a_broken_line(settings, tmp_path):
    f = tmp_path / "tin.jsonl.gz"
    rows = [
        json.dumps(
            {
                "id": "t1",
                "title": "Hội nghị dân vận",
                "text": "Sáng 21/10, Ban Dân vận Tỉnh ủy tổ chức hội nghị tập huấn cho 300 cán bộ.",
                "source": "Baohatinh.vn",
                "date": "2022-10-21",
            },
            ensure_ascii=False,
        ),
        "{broken",
        json.dumps(
            {
                "id": "t2",
                "title": "Nông thôn mới",
                "text": "Toàn tỉnh đã có 41 xã được công nhận đạt chuẩn nông thôn mới.",
            },
            ensure_ascii=False,
        ),
    ]
    with gzip.open(f, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(rows) + "\n")
    emb = HashEmbedder()
    rep = ingest([f], settings, embedder=emb)
    assert sorted(rep.added) == ["t1", "t2"]
    assert len(rep.skipped) == 1 and "line 2" in rep.skipped[0].reason
    art = Index(settings, emb.model_id).catalog.get_article("t1")
    assert (art.source, art.date, art.date_precision) == ("Baohatinh.vn", "2022-10-21", "day")
    # the record with a broken neighbour is protected from --prune
    assert ingest([f], settings, embedder=emb, prune=True).pruned == []


def test_seed_metadata_and_clean_chunks(settings, corpus):
    emb = HashEmbedder()
    ingest([corpus], settings, embedder=emb)
    cat = Index(settings, emb.model_id).catalog
    a001 = cat.get_article("001_7118564227fe64c7")
    assert (a001.date, a001.date_precision) == ("2020-01-19", "day")
    assert a001.source == "Thanhuytphcm.vn" and a001.author == "Bùi Hiệp Thọ"
    a000 = cat.get_article("000_bd9e0bf0f2c7e356")
    assert a000.author == "Đình Thoại" and a000.date_precision == "day_month"
    assert cat.get_article("004_2b7adcca76c904ea").date == "2013-12-02"
    for aid in cat.article_ids():
        for chunk in cat.chunks_of(aid):
            for line in chunk.text.split("\n"):
                assert line.strip() not in SEED_BOILERPLATE, (aid, line)
                assert not line.strip().startswith("•"), (aid, line)
    art = cat.get_article("000_bd9e0bf0f2c7e356")
    assert "151 cơ quan, đơn vị, doanh nghiệp" in art.text
    for c in cat.chunks_of(art.id):
        assert art.text[c.start : c.end] == c.text


def test_the_retriever_follows_uploads_reading_only_the_changed_articles(
    settings, corpus, tmp_path, monkeypatch
):
    """After a write the retriever's metadata is brought up to date from the change log
    (only the changed articles read again: new title shown, deleted article gone), and a
    vector the catalog does not list (a write killed midway) is never returned."""
    from rag.retrieval.retrieve import HybridRetriever

    emb = HashEmbedder()
    ingest([corpus], settings, embedder=emb)
    index = Index(settings, emb.model_id)
    retriever = HybridRetriever(index, emb)
    assert len(retriever.snapshot().meta) == 5
    asked: list[object] = []
    real_meta = index.catalog.article_meta
    monkeypatch.setattr(
        index.catalog, "article_meta", lambda ids=None: asked.append(ids) or real_meta(ids)
    )
    new = tmp_path / "up" / "hoa-binh.txt"
    new.parent.mkdir()
    body = "\n\nXã Hòa Bình tổ chức hội nghị đối thoại với nhân dân về đất đai.\n"
    for title in ("Xã Hòa Bình đối thoại", "Hòa Bình: hội nghị đối thoại"):
        new.write_text(title + body, encoding="utf-8")
        ingest([new], settings, embedder=emb, index=index)
        hits = retriever.retrieve("Hòa Bình đối thoại đất đai")
        assert hits[0].chunk.article_id == "hoa-binh" and hits[0].title == title
    assert asked == [("hoa-binh",), ("hoa-binh",)]  # never every article's metadata
    delete_articles(["hoa-binh"], settings, emb.model_id, index=index)
    assert "hoa-binh" not in retriever.snapshot().meta and len(asked) == 3

    query = "Hòa Bình đối thoại đất đai"
    index.store.add(["orphan#0"], emb.embed_query(query)[None, :], ["mồ côi"], [{"a": "x"}])
    assert index.store.query(emb.embed_query(query), 1)[0][0] == "orphan#0"
    assert "orphan#0" not in {cid for cid, _ in retriever.dense(query, 10, None)}
