"""Replicas on several machines: one corpus in a real PostgreSQL (catalog) and a real
Chroma server (vectors), each replica's BM25 a local cache in its own home.

Homes are separate folders, so nothing is shared through the file system: what one
replica sees of another's writes came through PostgreSQL and Chroma.
"""

import threading

import pytest

from rag.index.catalog import Catalog
from rag.index.index import PIPELINE_VERSION, Index, IndexBusy
from rag.index.pg import CatalogUnavailable
from rag.retrieval.retrieve import HybridRetriever
from rag.settings import SettingsError, load_settings
from tests.fakes import HashEmbedder
from tests.pg import postgres_server
from tests.test_chroma_server import free_port, start_server
from tests.test_index import A1, A2, item, make_article

pytestmark = pytest.mark.slow
EMB = HashEmbedder()


@pytest.fixture(scope="module")
def pg_url():
    with postgres_server() as url:
        yield url


@pytest.fixture
def shared(tmp_path, pg_url):
    """Opens the Index of replica home ``n`` on one Chroma server and one catalog database
    (a fresh index name per test, so tests do not see each other's catalogs); every Index
    opened is closed at the end."""
    port = free_port()
    proc = start_server(tmp_path / "chroma-server", port)
    name = tmp_path.name.replace("-", "_")[-40:]
    opened: list[Index] = []

    def replica(n: str) -> Index:
        settings = load_settings(
            tmp_path / f"home-{n}",
            env={},
            index=name,
            chroma_url=f"http://127.0.0.1:{port}",
            catalog_url=pg_url,
        )
        opened.append(Index(settings, EMB.model_id, EMB.dim))
        return opened[-1]

    yield replica
    for idx in opened:
        idx.close()
    proc.terminate()
    proc.wait(timeout=20)


def ids_found(idx: Index, query: str) -> set[str]:
    hits = HybridRetriever(idx, EMB, top_k=5).retrieve(query)
    return {h.chunk.article_id for h in hits}


def test_a_write_on_one_replica_is_searchable_on_the_other(shared):
    a = shared("a")
    b = shared("b")
    assert not (a.dir / "catalog.sqlite").exists()  # the catalog is in PostgreSQL
    assert a.catalog.catalog_id == b.catalog.catalog_id
    b.bm25()  # b's lexical cache exists before a writes: it must catch up, not rebuild
    a.write([item(A1, EMB), item(A2, EMB)], PIPELINE_VERSION)
    assert b.catalog.counts() == a.catalog.counts() == (2, len(a.catalog.chunk_ids()))
    assert "a2" in ids_found(b, "cây ăn quả 63.021 ha")
    assert set(b.bm25().live_ids()) == b.catalog.chunk_ids()

    assert b.delete(["a2"]) == ["a2"]
    assert "a2" not in ids_found(a, "cây ăn quả 63.021 ha")
    assert a.catalog.article_ids() == ["a1"]
    assert a.stats()["catalog"].endswith(f"(schema {a.catalog.schema})")


def test_a_cold_replica_catches_up_from_the_shared_catalog(shared):
    a = shared("a")
    a.write([item(A1, EMB), item(A2, EMB)], PIPELINE_VERSION)
    c = shared("cold")  # a new machine: an empty home
    assert "a1" in ids_found(c, "151 cơ quan đơn vị")
    assert set(c.bm25().live_ids()) == a.catalog.chunk_ids()
    a.write(
        [item(make_article("a3", "Xã Hòa Bình đối thoại với 212 hộ dân."), EMB)], PIPELINE_VERSION
    )
    c.close()
    c = shared("cold")  # restarted: its files are behind
    assert "a3" in ids_found(c, "212 hộ dân Hòa Bình")


def test_writers_on_two_machines_wait_for_each_other(shared):
    a = shared("a")
    b = shared("b")
    # another home, so the file locks differ: only PostgreSQL knows a holds it
    with a.writer_lock(), pytest.raises(IndexBusy, match="pid"), b.writer_lock():
        pass
    with b.writer_lock():  # released with the block; a writer holding it can write
        b.write([item(A1, EMB)], PIPELINE_VERSION)
    assert a.catalog.article_ids() == ["a1"]


def test_concurrent_writes_from_two_replicas_lose_nothing(shared):
    a = shared("a")
    b = shared("b")
    gen0 = a.catalog.generation
    errors: list[BaseException] = []

    def writes(idx: Index, prefix: str) -> None:
        try:
            for k in range(5):
                art = make_article(f"{prefix}{k}", f"Bài số {k} của {prefix}: 10{k} hộ dân.")
                idx.write([item(art, EMB)], PIPELINE_VERSION)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writes, args=(i, p)) for i, p in ((a, "x"), (b, "y"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert a.catalog.generation == gen0 + 10
    assert len(a.catalog.article_ids()) == 10
    assert set(a.bm25().live_ids()) == set(b.bm25().live_ids()) == a.catalog.chunk_ids()
    assert a.store.count() == len(a.catalog.chunk_ids())


def test_a_read_sees_one_generation(pg_url):
    cat = Catalog(None, url=pg_url, schema="hoidap_read_test")  # type: ignore[arg-type]
    other = Catalog(None, url=pg_url, schema="hoidap_read_test")  # type: ignore[arg-type]
    gen, chunks = cat.snapshot()
    assert (gen, chunks) == (0, [])
    changes = cat.changes_since(0)
    assert changes is not None and changes.n_chunks == 0
    other.set_meta("x", "1")
    assert cat.get_meta("x") == "1"
    cat.close()
    other.close()


def test_catalog_url_needs_a_chroma_server(tmp_path):
    with pytest.raises(SettingsError, match="chroma_url"):
        load_settings(tmp_path, env={}, catalog_url="postgresql://u@127.0.0.1/db")
    with pytest.raises(SettingsError, match="postgresql://"):
        load_settings(tmp_path, env={}, catalog_url="mysql://x", chroma_url="http://h:1")


def test_an_unreachable_catalog_gives_a_clear_error(tmp_path):
    settings = load_settings(
        tmp_path,
        env={},
        chroma_url="http://127.0.0.1:1",
        catalog_url=f"postgresql://u@127.0.0.1:{free_port()}/db",
    )
    with pytest.raises(CatalogUnavailable, match="PostgreSQL"):
        Index(settings, "m", 8)


def test_backup_points_to_pg_dump_when_the_catalog_is_shared(tmp_path):
    from rag.index.backup import BackupError, backup_home

    settings = load_settings(
        tmp_path / "home",
        env={},
        chroma_url="http://127.0.0.1:1",
        catalog_url="postgresql://u@h/db",
    )
    settings.home.mkdir(parents=True)
    (settings.home / "users.json").write_text("{}", encoding="utf-8")
    with pytest.raises(BackupError, match="pg_dump"):
        backup_home(settings, tmp_path / "out.tar.gz")
