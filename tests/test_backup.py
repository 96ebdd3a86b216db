"""Backup and restore of a whole home (``hoidap backup`` / ``hoidap restore``): a real
persistent Chroma store, the seed corpus, the CLI as a user runs it."""

import io
import json
import tarfile
import threading
import time

import pytest

from rag.assistant import Assistant
from rag.cli import main
from rag.index.backup import MANIFEST, BackupError, RestoreRefused, backup_home, restore_home
from rag.index.index import Index, IndexBusy
from rag.settings import load_settings
from tests.fakes import HashEmbedder
from tests.seeds import build_seed_index

QUESTION = "Quận 9 kiểm tra bao nhiêu cơ quan?"


@pytest.fixture
def seeded(tmp_path):
    seed = build_seed_index(tmp_path / "src")
    (seed.home / "users.json").write_text('{"users": []}', encoding="utf-8")
    (seed.home / "settings.toml").write_text('index = "default"\n', encoding="utf-8")
    return load_settings(seed.home, env={})


def _answer(settings):
    ans = Assistant(settings, embedder=HashEmbedder()).ask(QUESTION)
    return ans.text, [(c.article_id, c.start, c.end) for c in ans.citations]


def test_restore_gives_back_the_same_home_and_answers(seeded, tmp_path, capsys, caplog):
    before = _answer(seeded)
    archive = tmp_path / "out" / "home.tar.gz"
    assert main(["backup", str(archive), "--home", str(seeded.home), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["files"] > 5 and rep["indexes"][0]["articles"] == 5
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert names[-1] == MANIFEST and "users.json" in names and "settings.toml" in names
    assert not any(n.endswith(("write.lock", "-wal", ".partial")) for n in names)
    assert not archive.with_name(archive.name + ".partial").exists()

    target = tmp_path / "restored"
    assert main(["restore", str(archive), "--home", str(target)]) == 0
    restored = load_settings(target, env={})
    currents = sorted(target.glob("indexes/*/*/bm25*/CURRENT"))
    stamps = [p.stat().st_mtime_ns for p in currents]
    with caplog.at_level("WARNING", logger="hoidap.index"):
        assert _answer(restored) == before
    assert not caplog.records
    assert len(currents) == 2 and [p.stat().st_mtime_ns for p in currents] == stamps  # not rebuilt
    emb = HashEmbedder()
    a, b = Index(seeded, emb.model_id), Index(restored, emb.model_id)
    assert a.catalog.chunk_ids() == b.catalog.chunk_ids() <= b.store.all_ids()
    assert a.catalog.catalog_id == b.catalog.catalog_id
    assert (target / "users.json").read_text(encoding="utf-8") == '{"users": []}'


def test_a_damaged_or_foreign_archive_is_refused_and_nothing_is_written(seeded, tmp_path):
    archive = tmp_path / "home.tar"
    backup_home(seeded, archive, include_cache=False)
    with tarfile.open(archive) as tar:
        assert not any(n.startswith("cache/") for n in tar.getnames())
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as tar:
        for m, data in members:
            if m.name.endswith("catalog.sqlite"):
                data = data[:-10] + b"x" * 10
            tar.addfile(m, io.BytesIO(data))
    with pytest.raises(BackupError, match="bị hỏng"):
        restore_home(bad, tmp_path / "t1")
    assert not (tmp_path / "t1").exists()
    assert not [p for p in tmp_path.iterdir() if "restoring" in p.name]  # staging removed

    foreign = tmp_path / "foreign.tar"
    with tarfile.open(foreign, "w") as tar:
        tar.add(seeded.home / "users.json", arcname="users.json")
    with pytest.raises(BackupError, match=MANIFEST):
        restore_home(foreign, tmp_path / "t2")
    with pytest.raises(BackupError):
        restore_home(tmp_path / "missing.tar", tmp_path / "t3")


def test_restore_never_overwrites_without_force_and_force_keeps_the_old_home(seeded, tmp_path):
    archive = tmp_path / "home.tar.gz"
    backup_home(seeded, archive)
    other = tmp_path / "other"
    other.mkdir()
    (other / "note.txt").write_text("dữ liệu cũ", encoding="utf-8")
    with pytest.raises(RestoreRefused):
        restore_home(archive, other)
    assert main(["restore", str(archive), "--home", str(other)]) == 2
    rep = restore_home(archive, other, force=True)
    assert rep.moved_aside is not None
    assert (rep.moved_aside / "note.txt").read_text(encoding="utf-8") == "dữ liệu cũ"
    assert _answer(load_settings(other, env={})) == _answer(seeded)


def test_backup_waits_for_a_writer_and_refuses_to_write_inside_the_home(seeded, tmp_path):
    emb = HashEmbedder()
    idx = Index(seeded, emb.model_id)
    with pytest.raises(BackupError, match="ngoài"):
        backup_home(seeded, seeded.home / "self.tar")
    busy = load_settings(seeded.home, env={}, ingest_wait_s=0.0)
    with idx.writer_lock(), pytest.raises(IndexBusy):
        backup_home(busy, tmp_path / "busy.tar")
    assert not (tmp_path / "busy.tar").exists()
    assert not (tmp_path / "busy.tar.partial").exists()

    waited: list[str] = []
    release = threading.Event()

    def writer():
        with idx.writer_lock():
            release.wait(10)

    t = threading.Thread(target=writer)
    t.start()
    time.sleep(0.3)
    timer = threading.Timer(0.5, release.set)
    timer.start()
    rep = backup_home(seeded, tmp_path / "after.tar", on_wait=waited.append)
    t.join()
    assert waited and rep.indexes[0].articles == 5


def test_with_a_chroma_server_the_restored_catalog_reconciles_on_the_next_ingest(seeded, tmp_path):
    """The vectors are in the server (copied with its own --path), not in the archive."""
    from rag.index.catalog import Catalog

    server = load_settings(seeded.home, env={}, chroma_url="http://127.0.0.1:9")
    archive = tmp_path / "home.tar"
    backup_home(server, archive)
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile(MANIFEST).read())
    assert manifest["vectors_in_server"] is True
    rep = restore_home(archive, tmp_path / "restored")
    (folder,) = rep.indexes
    catalog = Catalog(tmp_path / "restored" / folder.path / "catalog.sqlite")
    assert catalog.get_meta("dirty") == "1"
    catalog.close()
