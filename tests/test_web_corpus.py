"""rag.web.corpus: safe upload names, size limits, ingest of uploads, delete, re-index."""

import doctest
import json
import os
import shutil

import pytest

import rag.web.corpus as cp
from rag.index.index import Index
from rag.index.ingest import ingest
from rag.settings import load_settings
from tests.fakes import HashEmbedder
from tests.seeds import SEED_DIR, build_seed_index

NEW_ARTICLE = (
    "Xã Hòa Bình tổ chức hội nghị đối thoại\n\n"
    "Ngày 15/3/2023, Ủy ban nhân dân xã Hòa Bình tổ chức hội nghị đối thoại với nhân dân.\n\n"
    "Năm 2023, xã Hòa Bình đã tổ chức 27 hội nghị đối thoại và tiếp nhận 143 ý kiến.\n"
)


def test_doctests():
    assert doctest.testmod(cp).failed == 0


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("bao-cao.txt", "bao-cao.txt"),
        ("../../../etc/cron.d/x.txt", "x.txt"),
        ("..\\..\\windows\\system32\\a.md", "a.md"),
        ("/abs/path/Báo cáo năm 2021.docx", "Báo cáo năm 2021.docx"),
        (".hidden.html", "hidden.html"),
        ("...txt.txt", "txt.txt"),
        ("a\x00b\nc\td.txt", "abcd.txt"),
        ("x:y<z>|?*.pdf", "x_y_z____.pdf"),
        ("Tin Ba\u0301o.txt", "Tin Báo.txt"),  # NFC
        ("dữ liệu.JSONL.GZ", "dữ liệu.jsonl.gz"),
    ],
)
def test_safe_filename_keeps_names_inside_the_folder(name, safe):
    assert cp.safe_filename(name) == safe
    assert "/" not in safe and "\\" not in safe and not safe.startswith(".")


@pytest.mark.parametrize("name", ["", "..", "../", "a.exe", "virus.txt.exe", ".txt", "/.md"])
def test_unsafe_or_unsupported_names_are_rejected(name):
    with pytest.raises(cp.UploadRejected):
        cp.safe_filename(name)


def test_long_names_are_cut_to_a_byte_limit_keeping_the_suffix():
    out = cp.safe_filename("ư" * 400 + ".docx")
    assert out.endswith(".docx") and len(out.encode()) <= cp.MAX_NAME_BYTES


def test_save_uploads_limits_size_and_reports_each_file(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "ok.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    (src / "big.txt").write_bytes(b"x" * 2000)
    (src / "empty.md").write_bytes(b"")
    (src / "prog.exe").write_bytes(b"MZ")
    dest = tmp_path / "corpus"
    rep = cp.save_uploads(
        [src / "ok.txt", src / "big.txt", src / "empty.md", src / "prog.exe"], dest, max_bytes=1000
    )
    assert [s.name for s in rep.saved] == ["ok.txt"]
    reasons = dict(rep.errors)
    assert "quá lớn" in reasons["big.txt"] and "rỗng" in reasons["empty.md"]
    assert "không được hỗ trợ" in reasons["prog.exe"]
    assert sorted(p.name for p in dest.iterdir()) == ["ok.txt"]  # no temp files left


def test_an_existing_symlink_is_replaced_not_followed(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("giữ nguyên", encoding="utf-8")
    dest = tmp_path / "corpus"
    dest.mkdir()
    os.symlink(outside, dest / "a.txt")
    src = tmp_path / "a.txt"
    src.write_text(NEW_ARTICLE, encoding="utf-8")
    rep = cp.save_uploads([src], dest, max_bytes=10_000)
    assert not rep.errors
    assert outside.read_text(encoding="utf-8") == "giữ nguyên"
    assert not (dest / "a.txt").is_symlink()


@pytest.fixture()
def indexed(seed_index_copy):
    """The seed index, a private copy (uploads and deletes change it)."""
    return seed_index_copy.settings(), seed_index_copy.embedder, seed_index_copy.corpus


@pytest.fixture()
def own_corpus(tmp_path):
    """Like ``indexed``, but with its own copy of the articles too (the test changes them)."""
    seed = build_seed_index(tmp_path)
    return seed.settings(), seed.embedder, seed.corpus


def test_uploads_are_ingested_and_unreadable_ones_removed(indexed, tmp_path):
    settings, emb, _ = indexed
    src = tmp_path / "up"
    src.mkdir()
    (src / "hoa-binh.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    (src / "hong.docx").write_bytes(b"PK\x03\x04 not really a docx")
    rep = cp.save_uploads(list(src.iterdir()), cp.upload_dir(settings), max_bytes=10**6)
    seen = []
    rep = cp.ingest_uploads(rep, settings, emb, lambda f, d: seen.append((f, d)))
    assert rep.added == ["hoa-binh"] and [s.name for s in rep.saved] == ["hoa-binh.txt"]
    assert [n for n, _ in rep.errors] == ["hong.docx"]
    assert not (cp.upload_dir(settings) / "hong.docx").exists()
    assert seen and seen[-1][0] == 1.0 and "đoạn" in seen[-1][1]
    rows = cp.article_rows(Index(settings, emb.model_id).catalog)
    row = next(r for r in rows if r[0] == "hoa-binh")
    assert row[1] == "Xã Hòa Bình tổ chức hội nghị đối thoại" and row[4] >= 1
    assert cp.upload_dir(settings) == (settings.home / "corpus" / "default").resolve()


@pytest.mark.parametrize("serving", [False, True], ids=["own-index", "serving-index"])
def test_delete_removes_the_article_and_its_uploaded_file(indexed, tmp_path, serving):
    """Also through the serving process's open index, as the app's tabs call them."""
    settings, emb, _ = indexed
    index = Index(settings, emb.model_id) if serving else None
    src = tmp_path / "hoa-binh.txt"
    src.write_text(NEW_ARTICLE, encoding="utf-8")
    saved = cp.save_uploads([src], cp.upload_dir(settings), max_bytes=10**6)
    rep = cp.ingest_uploads(saved, settings, emb, index=index)
    assert rep.added == ["hoa-binh"]
    if index is not None:
        assert "hoa-binh" in index.catalog.article_ids()
    assert cp.delete_article(settings, emb.model_id, "hoa-binh", index)
    assert not (cp.upload_dir(settings) / "hoa-binh.txt").exists()
    assert not cp.delete_article(settings, emb.model_id, "hoa-binh", index)
    # a re-index does not bring it back; a seed article's file is left where it is
    cp.reindex(settings, emb, index=index)
    assert "hoa-binh" not in Index(settings, emb.model_id).catalog.article_ids()


@pytest.mark.parametrize("serving", [False, True], ids=["own-index", "serving-index"])
def test_an_uploaded_file_that_holds_two_articles_stays_until_both_are_deleted(
    indexed, tmp_path, serving
):
    settings, emb, _ = indexed
    index = Index(settings, emb.model_id) if serving else None
    src = tmp_path / "tin.jsonl"
    rows = [
        {"id": "t1", "title": "Hội nghị dân vận", "text": "Ban Dân vận tập huấn 300 cán bộ."},
        {"id": "t2", "title": "Nông thôn mới", "text": "Toàn tỉnh có 41 xã đạt chuẩn."},
    ]
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    saved = cp.save_uploads([src], cp.upload_dir(settings), max_bytes=10**6)
    assert sorted(cp.ingest_uploads(saved, settings, emb, index=index).added) == ["t1", "t2"]
    assert cp.delete_article(settings, emb.model_id, "t1", index)
    assert (cp.upload_dir(settings) / "tin.jsonl").exists()  # t2 is still read from it
    assert cp.delete_article(settings, emb.model_id, "t2", index)
    assert not (cp.upload_dir(settings) / "tin.jsonl").exists()


def test_reindex_picks_up_changes_and_drops_articles_whose_file_is_gone(own_corpus):
    settings, emb, corpus = own_corpus
    first = sorted(corpus.iterdir())[0]
    first.unlink()
    second = sorted(corpus.iterdir())[0]
    second.write_text(second.read_text(encoding="utf-8") + "\nMột câu mới được thêm vào.\n")
    report = cp.reindex(settings, emb)
    assert report["pruned"] == [first.stem]
    assert report["updated"] == 1 and report["unchanged"] == 3
    ids = Index(settings, emb.model_id).catalog.article_ids()
    assert first.stem not in ids and len(ids) == 4


def test_reindex_never_prunes_through_an_unresolvable_relative_path(tmp_path, monkeypatch):
    home = tmp_path / "home"
    work = tmp_path / "work"
    shutil.copytree(SEED_DIR, work / "articles")
    monkeypatch.chdir(work)
    settings = load_settings(home, env={})
    emb = HashEmbedder()
    ingest(["articles"], settings, embedder=emb)  # stored with relative paths
    monkeypatch.chdir(tmp_path)  # the app started from another folder
    report = cp.reindex(settings, emb)
    assert report["pruned"] == [] and len(report["not_pruned_relative_paths"]) == 5
    assert len(Index(settings, emb.model_id).catalog.article_ids()) == 5
