"""Server mode: the index talks to a real `chroma run` on 127.0.0.1 through HttpClient."""

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from rag.assistant import Assistant
from rag.index.index import PIPELINE_VERSION, Index
from rag.index.ingest import ingest
from rag.index.store import StoreUnavailable
from rag.settings import load_settings
from tests.fakes import HashEmbedder
from tests.seeds import SEED_DIR
from tests.test_index import A1, A2, item

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(path: Path, port: int) -> subprocess.Popen:
    chroma = Path(sys.executable).parent / "chroma"
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("chroma run exited early") from None
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("chroma server did not start in 60 s")


@pytest.fixture
def server(tmp_path):
    port = free_port()
    proc = start_server(tmp_path / "chroma-server", port)
    yield port, tmp_path / "chroma-server", proc
    proc.terminate()
    proc.wait(timeout=20)


def test_index_in_server_mode(tmp_path, server):
    port, _, _ = server
    settings = load_settings(tmp_path / "home", env={}, chroma_url=f"http://127.0.0.1:{port}")
    emb = HashEmbedder()
    idx = Index(settings, emb.model_id, emb.dim)
    idx.write([item(A1, emb), item(A2, emb)], PIPELINE_VERSION)
    assert not (idx.dir / "chroma").exists()  # vectors live in the server
    assert idx.store.count() == idx.catalog.counts()[1]
    hit = idx.store.query(emb.embed_query("cây ăn quả"), 1)[0][0]
    assert hit.startswith("a2#")
    assert idx.delete(["a2"]) == ["a2"]
    assert all(i.startswith("a1#") for i in idx.store.all_ids())
    assert idx.stats()["store"] == f"http://127.0.0.1:{port}"


def test_server_down_gives_a_clear_error(tmp_path):
    settings = load_settings(
        tmp_path / "home", env={}, chroma_url=f"http://127.0.0.1:{free_port()}"
    )
    emb = HashEmbedder()
    idx = Index(settings, emb.model_id, emb.dim)
    t0 = time.time()
    with pytest.raises(StoreUnavailable, match="Không kết nối được máy chủ Chroma"):
        idx.write([item(A1, emb)], PIPELINE_VERSION)
    assert time.time() - t0 < 30
    assert idx.catalog.counts() == (0, 0)  # nothing half-written


def test_server_going_away_and_coming_back(tmp_path):
    """The server stops: every call fails fast with one clear message and nothing is
    half-written; it comes back on the same port: the same Assistant answers again."""
    question = "Năm 2021, Ban Chỉ đạo các huyện đã kiểm tra tại bao nhiêu cơ quan?"
    port, data = free_port(), tmp_path / "chroma-server"
    proc = start_server(data, port)
    try:
        settings = load_settings(tmp_path / "home", env={}, chroma_url=f"http://127.0.0.1:{port}")
        emb = HashEmbedder()
        ingest([SEED_DIR], settings, embedder=emb)
        assistant = Assistant(settings, embedder=emb)
        before = assistant.ask(question)
        assert before.text.startswith("151")

        proc.terminate()
        proc.wait(timeout=20)
        for _ in range(2):  # not only the first call after the failure
            t0 = time.time()
            with pytest.raises(StoreUnavailable, match="Không kết nối được máy chủ Chroma"):
                assistant.ask(question)
            assert time.time() - t0 < 10
        changed = tmp_path / "changed"
        changed.mkdir()
        (changed / "moi.txt").write_text(
            "Xã An Phú đẩy mạnh đối thoại với nhân dân\n\n"
            "Trong năm 2022, Đảng ủy xã An Phú tổ chức 12 buổi đối thoại trực tiếp với nhân "
            "dân về giải phóng mặt bằng và xây dựng nông thôn mới. Các kiến nghị của người dân "
            "được tiếp thu, giải quyết kịp thời, góp phần giữ vững ổn định ở cơ sở.\n",
            encoding="utf-8",
        )
        catalog = Index(settings, emb.model_id).catalog
        counts = catalog.counts()
        with pytest.raises(StoreUnavailable, match="máy chủ Chroma"):
            ingest([changed], settings, embedder=emb)
        assert catalog.counts() == counts  # nothing half-written

        proc = start_server(data, port)
        after = assistant.ask(question)  # the same Assistant, not restarted
        assert after.text == before.text and after.citations == before.citations
        report = ingest([changed], settings, embedder=emb)
        assert report.added == ["moi"]
        assert assistant.ask("Xã An Phú tổ chức bao nhiêu buổi đối thoại?").text.startswith("12")
        index = Index(settings, emb.model_id)
        assert index.store.all_ids() == index.catalog.chunk_ids()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
