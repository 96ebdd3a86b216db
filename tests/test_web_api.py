"""The app's wiring through its API (gradio_client), in-process with the fake embedder:
answers, separate sessions, long work in its own queue lane, and the optional login."""

import threading
import time

import pytest

from rag.assistant import Assistant
from rag.web.app import WebApp
from rag.web.auth import hash_password
from tests.fakes import HashEmbedder

pytestmark = pytest.mark.slow  # starts servers

SEED_Q = "Năm 2021, Ban Chỉ đạo các huyện đã kiểm tra tại bao nhiêu cơ quan, đơn vị, doanh nghiệp?"
LONG_ARTICLE = "Bài viết dài về công tác dân vận ở xã Tân Lập\n\n" + "\n\n".join(
    f"Đoạn {i}: năm 2023 xã Tân Lập tổ chức {i + 10} buổi tiếp xúc cử tri, lắng nghe ý kiến "
    "của nhân dân về xây dựng nông thôn mới, giải phóng mặt bằng và chính sách an sinh xã hội."
    for i in range(60)
)


class SlowEmbedder(HashEmbedder):
    """Passages take 0.2 s each to embed (an ingest that lasts); queries are instant."""

    def __init__(self):
        super().__init__()
        self.busy = threading.Event()

    def embed_documents(self, texts):
        self.busy.set()
        time.sleep(0.2 * len(texts))
        return super().embed_documents(texts)


def _launch(seed_index, tmp_path, **overrides):
    """The app on a copy of the seed index (uploads change it); the index was built with
    the HashEmbedder, whose vectors SlowEmbedder shares."""
    settings = seed_index.copy_to(tmp_path / "home").settings(**overrides)
    emb = SlowEmbedder()
    app = WebApp(Assistant(settings, embedder=emb))
    _, url, _ = app.launch(prevent_thread_lock=True, quiet=True)
    return app, url, emb


@pytest.fixture(scope="module")
def served(seed_index, tmp_path_factory):
    app, url, emb = _launch(seed_index, tmp_path_factory.mktemp("api"), web_port=_free_port())
    yield app, url, emb
    app.demo.close()


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _client(url, **kw):
    from gradio_client import Client

    return Client(url, verbose=False, analytics_enabled=False, **kw)


def _last_answer(result):
    content = result[0][-1]["content"]
    if isinstance(content, list):
        content = " ".join(c.get("text", "") for c in content)
    return content


def test_chat_answers_and_sessions_do_not_share_history(served):
    _, url, _ = served
    a, b = _client(url), _client(url)
    first = a.predict(SEED_Q, [], "", "", api_name="/chat")
    assert "151" in _last_answer(first) and 'href="#hd-src-1-1"' in _last_answer(first)
    second = a.predict("Trong số đó có bao nhiêu là xã, thị trấn?", [], "", "", api_name="/chat")
    assert len(second[0]) == 4 and "65" in _last_answer(second)
    other = b.predict("Giá vàng SJC hôm nay là bao nhiêu?", [], "", "", api_name="/chat")
    assert len(other[0]) == 2 and "Từ chối trả lời" in _last_answer(other)
    bad = a.predict(SEED_Q, [], "20x1", "", api_name="/chat")
    assert "không phải ngày" in bad[3]
    third = a.predict(SEED_Q, [], "2021", "", api_name="/chat")
    assert len(third[0]) == 6  # the bad request added nothing to the conversation
    cleared = a.predict(api_name="/new_chat")
    assert cleared[0] == [] and "mới" in cleared[3]


def test_an_upload_in_progress_does_not_hold_up_the_chat(served, tmp_path):
    from gradio_client import handle_file

    _, url, emb = served
    f = tmp_path / "tan-lap.txt"
    f.write_text(LONG_ARTICLE, encoding="utf-8")
    emb.busy.clear()
    job = _client(url).submit([handle_file(str(f))], api_name="/upload")
    assert emb.busy.wait(60), "the upload never started embedding"
    t0 = time.perf_counter()
    answer = _client(url).predict(SEED_Q, [], "", "", api_name="/chat")
    chat_s = time.perf_counter() - t0
    assert "151" in _last_answer(answer)
    assert not job.done(), f"the upload finished before the chat answered ({chat_s:.1f} s)"
    result = job.result(timeout=120)
    assert "Đã nạp 1 tệp: 1 bài mới" in result[0]


def test_briefing_endpoint_returns_both_files(served):
    _, url, _ = served
    status, html, md, docx_path = _client(url).predict(
        "kiểm tra thực hiện Quy chế dân chủ ở cơ sở", [], "", "", api_name="/brief"
    )
    assert "Đã soạn xong" in status and "Số liệu chính" in html
    md, docx_path = (x["value"] if isinstance(x, dict) else x for x in (md, docx_path))
    assert md.endswith(".md") and docx_path.endswith(".docx")


def test_login_is_required_when_users_are_set(seed_index, tmp_path):
    pw = "mật khẩu thử"
    app, url, _ = _launch(
        seed_index, tmp_path, web_port=_free_port(), web_users=f"an:{hash_password(pw, n=2**10)}"
    )
    try:
        with pytest.raises(Exception):  # noqa: B017 - any refusal will do
            _client(url).predict(SEED_Q, [], "", "", api_name="/chat")
        with pytest.raises(Exception):  # noqa: B017
            _client(url, auth=("an", "sai mật khẩu"))
        ok = _client(url, auth=("an", pw)).predict(SEED_Q, [], "", "", api_name="/chat")
        assert "151" in _last_answer(ok)
    finally:
        app.demo.close()


def test_no_run_history_and_temporary_files_are_swept(served):
    import json
    import os
    import urllib.request
    from pathlib import Path

    from rag.web.app import TEMP_MAX_AGE_S

    app, url, _ = served
    with urllib.request.urlopen(url.rstrip("/") + "/config", timeout=10) as resp:
        config = json.load(resp)
    assert config["run_history"] is False  # questions are not kept in the browser
    assert app.demo.delete_cache == (3600, TEMP_MAX_AGE_S)
    root = app._export_root()
    old, fresh = root / "old-export", root / "fresh-export"
    for folder in (old, fresh):
        folder.mkdir()
        (folder / "tom-tat.md").write_text("x", encoding="utf-8")
    two_days_ago = time.time() - 2 * TEMP_MAX_AGE_S
    os.utime(old, (two_days_ago, two_days_ago))
    md, _docx = app.brief_files(app.briefer.build("dân vận"))
    assert Path(md).parent.parent == root
    assert not old.exists() and fresh.exists()


def test_a_session_does_not_grow_with_every_question(served):
    """Gradio keeps per-session copies of updated components; a handler that sends an
    output a plain value after a gr.update() added one copy per question (a leak the soak
    benchmark found: about 15 MB a minute under 4 users)."""
    app, url, _ = served
    client = _client(url)

    def session_size() -> int:
        state = app.demo.state_holder.session_data[client.session_hash]
        return len(state.blocks_config.blocks) + len(state.config_values)

    client.predict(SEED_Q, [], "", "", api_name="/chat")
    client.predict("Ông ấy là ai?", [], "", "", api_name="/chat")
    client.predict(api_name="/new_chat")
    client.predict("hỏi với ngày sai", [], "2024-05-01", "2023-01-01", api_name="/chat")
    before = session_size()
    for _ in range(3):
        client.predict(SEED_Q, [], "", "", api_name="/chat")
        client.predict("hỏi với ngày sai", [], "2024-05-01", "2023-01-01", api_name="/chat")
        client.predict(api_name="/new_chat")
    assert session_size() == before
