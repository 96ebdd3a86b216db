from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from embeddings.base import Embedder
from embeddings.cache import CachedEmbedder, EmbeddingCache, text_hash
from tests.fakes import HashEmbedder
from tests.running import at_once

TEXTS = ["Hà Nội là thủ đô", "Huế có sông Hương", "Đà Nẵng bên biển", "Cần Thơ miền Tây"]


class BatchRecorder(HashEmbedder):
    """HashEmbedder that remembers every batch it was asked to embed."""

    def __init__(self, model_id: str = "fake-hash-64") -> None:
        super().__init__(model_id=model_id)
        self.batches: list[list[str]] = []

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return super().embed_documents(texts)


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[EmbeddingCache]:
    c = EmbeddingCache(tmp_path / "emb.sqlite")
    yield c
    c.close()


def test_empty_cache_returns_none(cache: EmbeddingCache) -> None:
    assert cache.get_many("m", TEXTS) == [None] * len(TEXTS)
    assert cache.get_many("m", []) == []


def test_put_get_roundtrip_exact(cache: EmbeddingCache) -> None:
    vecs = HashEmbedder().embed_documents(TEXTS)
    cache.put_many("m", TEXTS, vecs)
    got = cache.get_many("m", [TEXTS[2], "unknown", TEXTS[0], TEXTS[2]])
    assert got[1] is None
    np.testing.assert_array_equal(got[0], vecs[2])
    np.testing.assert_array_equal(got[2], vecs[0])
    np.testing.assert_array_equal(got[3], vecs[2])
    assert got[0] is not None and got[0].dtype == np.float32 and got[0].flags.writeable


def test_key_is_the_exact_text(cache: EmbeddingCache) -> None:
    cache.put_many("m", ["Hòa"], np.ones((1, 4), dtype=np.float32))
    # NFD, other tone placement and trailing space are different texts
    assert cache.get_many("m", ["Hoa\u0300", "Hoà", "Hòa "]) == [None, None, None]
    assert text_hash("a") != text_hash("a ")


def test_model_ids_do_not_collide(cache: EmbeddingCache) -> None:
    cache.put_many("model-a", TEXTS[:1], np.ones((1, 3), dtype=np.float32))
    cache.put_many("model-b", TEXTS[:1], np.zeros((1, 5), dtype=np.float32))
    a, b = cache.get_many("model-a", TEXTS[:1])[0], cache.get_many("model-b", TEXTS[:1])[0]
    assert a is not None and b is not None
    assert a.tolist() == [1.0] * 3 and b.tolist() == [0.0] * 5
    assert cache.get_many("model-c", TEXTS[:1]) == [None]
    assert cache.count() == 2 and cache.count("model-a") == 1


def test_put_many_rejects_wrong_shape(cache: EmbeddingCache) -> None:
    with pytest.raises(ValueError):
        cache.put_many("m", TEXTS, np.ones((len(TEXTS) - 1, 4), dtype=np.float32))


def test_persists_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "emb.sqlite"
    vecs = HashEmbedder().embed_documents(TEXTS)
    with EmbeddingCache(path) as c:
        c.put_many("m", TEXTS, vecs)
    with EmbeddingCache(path) as c:
        got = c.get_many("m", TEXTS)
    assert all(g is not None for g in got)
    np.testing.assert_array_equal(np.stack([g for g in got if g is not None]), vecs)


def test_cached_embedder_counts_and_order(cache: EmbeddingCache) -> None:
    inner = BatchRecorder()
    emb = CachedEmbedder(inner, cache)
    assert isinstance(emb, Embedder)
    assert emb.model_id == inner.model_id and emb.dim == inner.dim

    first = emb.embed_documents(TEXTS[:2])
    assert (emb.hits, emb.misses) == (0, 2)
    mixed = emb.embed_documents([TEXTS[3], TEXTS[1], TEXTS[2], TEXTS[0]])
    assert (emb.hits, emb.misses) == (2, 4)
    # only the misses went to the inner embedder, in one call, in input order
    assert inner.batches == [TEXTS[:2], [TEXTS[3], TEXTS[2]]]
    np.testing.assert_array_equal(
        mixed, HashEmbedder().embed_documents([TEXTS[i] for i in (3, 1, 2, 0)])
    )
    np.testing.assert_array_equal(mixed[3], first[0])
    assert mixed.dtype == np.float32 and mixed.shape == (4, inner.dim)


def test_cached_embedder_all_hits_makes_no_inner_call(cache: EmbeddingCache) -> None:
    inner = BatchRecorder()
    emb = CachedEmbedder(inner, cache)
    emb.embed_documents(TEXTS)
    inner.batches.clear()
    emb.embed_documents(list(reversed(TEXTS)))
    assert inner.batches == []
    assert (emb.hits, emb.misses) == (4, 4)


def test_cached_embedder_duplicates_embedded_once(cache: EmbeddingCache) -> None:
    inner = BatchRecorder()
    emb = CachedEmbedder(inner, cache)
    out = emb.embed_documents([TEXTS[0], TEXTS[0], TEXTS[1]])
    assert inner.batches == [[TEXTS[0], TEXTS[1]]]
    assert emb.misses == 3
    np.testing.assert_array_equal(out[0], out[1])


def test_cached_embedder_empty_and_query(cache: EmbeddingCache) -> None:
    inner = BatchRecorder()
    emb = CachedEmbedder(inner, cache)
    assert emb.embed_documents([]).shape == (0, inner.dim)
    np.testing.assert_array_equal(emb.embed_query("Huế"), inner.embed_query("Huế"))
    assert cache.count() == 0  # queries are not cached
    assert (emb.hits, emb.misses) == (0, 0)


def test_other_model_id_is_a_miss(cache: EmbeddingCache) -> None:
    CachedEmbedder(BatchRecorder("model-a"), cache).embed_documents(TEXTS)
    other = BatchRecorder("model-b")
    emb = CachedEmbedder(other, cache)
    emb.embed_documents(TEXTS)
    assert emb.misses == len(TEXTS) and other.batches == [TEXTS]


def test_threads_share_one_cache(cache: EmbeddingCache) -> None:
    emb = CachedEmbedder(HashEmbedder(), cache)
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for j in range(20):
                texts = [f"văn bản {k}-{j}-{i}" for i in range(5)] + TEXTS
                out = emb.embed_documents(texts)
                np.testing.assert_array_equal(out, HashEmbedder().embed_documents(texts))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert cache.count() == 4 * 20 * 5 + len(TEXTS)
    assert emb.hits + emb.misses == 4 * 20 * 9


@pytest.mark.slow
def test_survives_killed_process(tmp_path: Path) -> None:
    path = tmp_path / "emb.sqlite"
    child = textwrap.dedent(
        f"""
        import os, signal, numpy as np
        from embeddings.cache import EmbeddingCache
        c = EmbeddingCache({str(path)!r})
        c.put_many("m", ["committed"], np.ones((1, 4), dtype=np.float32))
        c._conn.execute("BEGIN")
        c._conn.execute(
            "INSERT INTO embeddings VALUES ('m', x'00', 4, zeroblob(16))"
        )
        os.kill(os.getpid(), signal.SIGKILL)  # dies inside an open transaction
        """
    )
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", child], cwd=root, timeout=60)
    assert proc.returncode != 0
    with EmbeddingCache(path) as c:
        assert c.get_many("m", ["committed"])[0] is not None
        assert c.count() == 1
        assert c._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_caches_opened_at_once_on_a_new_file(tmp_path):
    """An upload and an evaluation may open the cache together on a new home."""
    errors = []
    for round_ in range(200):  # rarer than the catalog's race: 20 rounds missed it
        path = tmp_path / f"r{round_}" / "embeddings.sqlite"
        errors += at_once(6, lambda p: EmbeddingCache(p).close(), path)
    assert errors == []
