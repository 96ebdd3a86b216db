"""Roles, login limits, session expiry and the audit log through the real server (in-process,
fake embedder), called the way a script would: gradio_client and plain HTTP."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from rag.assistant import Assistant
from rag.web.app import WebApp
from rag.web.audit import audit_path
from rag.web.users import UserStore, users_file
from tests.browser import artifacts_dir
from tests.fakes import HashEmbedder

pytestmark = pytest.mark.slow  # starts servers

PW = "mật khẩu thử nghiệm"
ROLES = ("reader", "editor", "evaluator", "admin")
SEED_Q = "Năm 2021, Ban Chỉ đạo các huyện đã kiểm tra tại bao nhiêu cơ quan, đơn vị, doanh nghiệp?"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _launch(seed_index, tmp_path, **overrides):
    idx = seed_index.copy_to(tmp_path / "home")
    settings = idx.settings(web_port=_free_port(), **overrides)
    store = UserStore(users_file(settings))
    for role in ROLES:
        store.add(role, PW, role, n=2**10)
    app = WebApp(Assistant(settings, embedder=HashEmbedder()))
    _, url, _ = app.launch(prevent_thread_lock=True, quiet=True)
    return app, url


@pytest.fixture(scope="module")
def served(seed_index, tmp_path_factory):
    app, url = _launch(seed_index, tmp_path_factory.mktemp("roles"))
    yield app, url
    app.demo.close()


def _client(url, role):
    from gradio_client import Client

    return Client(url, verbose=False, analytics_enabled=False, auth=(role, PW))


def _articles(app) -> int:
    return len(app.catalog.article_meta())


def _events(app) -> list[dict]:
    return app.security.audit.records()


def _post_login(url, name, password):
    data = urllib.parse.urlencode({"username": name, "password": password}).encode()
    req = urllib.request.Request(url + "login", data=data)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}"), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}"), dict(e.headers)


def test_every_role_may_ask(served):
    _, url = served
    for role in ROLES:
        out = _client(url, role).predict(SEED_Q, [], "", "", api_name="/chat")
        assert "151" in str(out[0][-1]["content"])


def test_a_reader_calling_the_corpus_api_is_refused_and_nothing_changes(served, tmp_path):
    from gradio_client import handle_file

    app, url = served
    before = _articles(app)
    victim = next(iter(app.catalog.article_meta()))
    f = tmp_path / "moi.txt"
    f.write_text("Bài mới\n\nNăm 2024 xã An Bình tổ chức 12 hội nghị.\n", encoding="utf-8")
    reader = _client(url, "reader")
    for api, args in [
        ("/delete", (victim,)),
        ("/upload", ([handle_file(str(f))],)),
        ("/reindex", ()),
        ("/evaluate", (None, False)),
    ]:
        with pytest.raises(Exception, match="không có quyền") as err:
            reader.predict(*args, api_name=api)
        assert "người đọc" in str(err.value)
    assert _articles(app) == before and victim in app.catalog.article_meta()
    denied = [e for e in _events(app) if e["event"] == "denied" and e["user"] == "reader"]
    assert {e["action"] for e in denied} >= {"delete", "upload", "reindex", "evaluate"}


def test_an_evaluator_may_not_edit_and_an_editor_may_not_evaluate(served):
    app, url = served
    victim = next(iter(app.catalog.article_meta()))
    with pytest.raises(Exception, match="không có quyền xoá"):
        _client(url, "evaluator").predict(victim, api_name="/delete")
    with pytest.raises(Exception, match="không có quyền chạy đánh giá"):
        _client(url, "editor").predict(None, False, api_name="/evaluate")
    # allowed: the evaluation handler runs (and says no file was chosen)
    out = _client(url, "evaluator").predict(None, False, api_name="/evaluate")
    assert "Chưa chọn" in out[0]
    assert victim in app.catalog.article_meta()


def test_an_editor_deletes_and_uploads_and_the_audit_log_says_who(served, tmp_path):
    from gradio_client import handle_file

    app, url = served
    victim = sorted(app.catalog.article_meta())[-1]
    editor = _client(url, "editor")
    out = editor.predict(victim, api_name="/delete")
    assert "Đã xoá bài" in out[0] and victim not in app.catalog.article_meta()
    f = tmp_path / "xa-an-binh.txt"
    f.write_text("Xã An Bình họp dân\n\nNăm 2024 xã An Bình tổ chức 12 hội nghị.\n", "utf-8")
    editor.predict([handle_file(str(f))], api_name="/upload")
    assert "xa-an-binh" in app.catalog.article_meta()
    admin = _client(url, "admin")
    admin.predict(api_name="/reindex")
    ev = _events(app)
    delete = [e for e in ev if e["event"] == "delete"][-1]
    assert delete["user"] == "editor" and delete["role"] == "editor"
    assert delete["article"] == victim and delete["deleted"] is True
    assert delete["addr"] == "127.0.0.1"
    upload = [e for e in ev if e["event"] == "upload"][-1]
    assert upload["user"] == "editor" and upload["files"] == ["xa-an-binh.txt"]
    assert [e for e in ev if e["event"] == "reindex"][-1]["user"] == "admin"
    logins = {e["user"] for e in ev if e["event"] == "login"}
    assert {"editor", "admin"} <= logins
    # never the question text (audit_questions is off), never a password
    text = audit_path(app.settings.home).read_text(encoding="utf-8")
    assert SEED_Q not in text and PW not in text
    (artifacts_dir("auth") / "audit-session.jsonl").write_text(text, encoding="utf-8")


def test_wrong_passwords_lead_to_a_delay_then_a_lockout(seed_index, tmp_path):
    app, url = _launch(
        seed_index, tmp_path, login_free_failures=2, login_lockout_failures=3, login_lockout_s=30
    )
    try:
        assert _post_login(url, "reader", "sai")[0] == 400  # Gradio's "incorrect credentials"
        status, body, headers = _post_login(url, "reader", "sai")  # the 2nd: a delay begins
        assert status == 200 and body["success"] is False and "Hãy chờ 2 giây" in body["detail"]
        assert int(headers["retry-after"]) >= 1 and "hoidap-login-wait" in headers["set-cookie"]
        # even the right password is refused while the delay lasts (no scrypt is run)
        status, body, _ = _post_login(url, "reader", PW)
        assert status == 200 and body["success"] is False
        time.sleep(body["retry_after"] + 0.2)
        status, body, headers = _post_login(url, "reader", "sai")  # 3rd: locked for 30 s
        assert body["success"] is False and "khoá" in body["detail"] and body["retry_after"] > 20
        status, body, _ = _post_login(url, "reader", PW)
        assert body["success"] is False and "khoá" in body["detail"]
        # another user (from another address too) is not affected
        assert _post_login(url, "editor", PW)[1] == {"success": True}
        # the page says how long to wait
        req = urllib.request.Request(url, headers={"Cookie": headers["set-cookie"].split(";")[0]})
        page = urllib.request.urlopen(req, timeout=10).read().decode()
        assert "tạm thời bị khoá" in page and "Hãy chờ" in page
        ev = [e["event"] for e in _events(app) if e.get("user") == "reader"]
        assert ev.count("login_failed") == 3 and "lockout" in ev and "login_refused" in ev
    finally:
        app.demo.close()


def test_sessions_expire_when_idle_and_after_their_maximum_age(seed_index, tmp_path):
    app, url = _launch(seed_index, tmp_path, session_idle_s=2, session_max_s=5)
    try:
        c = _client(url, "reader")
        c.predict(SEED_Q, [], "", "", api_name="/chat")
        time.sleep(2.5)  # idle
        with pytest.raises(Exception):  # noqa: B017 - 401 from the queue
            c.predict(SEED_Q, [], "", "", api_name="/chat")
        c = _client(url, "reader")
        for _ in range(4):  # busy, but past session_max_s
            c.predict("Có bao nhiêu xã?", [], "", "", api_name="/chat")
            time.sleep(1.2)
        time.sleep(0.5)
        with pytest.raises(Exception):  # noqa: B017
            c.predict(SEED_Q, [], "", "", api_name="/chat")
        reasons = [e["reason"] for e in _events(app) if e["event"] == "session_end"]
        assert "idle" in reasons and "max_age" in reasons
    finally:
        app.demo.close()


def test_a_removed_user_is_logged_out_at_the_next_request(seed_index, tmp_path):
    app, url = _launch(seed_index, tmp_path)
    try:
        c = _client(url, "editor")
        c.predict(SEED_Q, [], "", "", api_name="/chat")
        UserStore(users_file(app.settings)).remove("editor")
        with pytest.raises(Exception):  # noqa: B017
            c.predict(SEED_Q, [], "", "", api_name="/chat")
        assert any(e.get("reason") == "user_removed" for e in _events(app))
    finally:
        app.demo.close()
