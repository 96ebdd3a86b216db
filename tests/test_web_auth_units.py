"""Fast unit tests of the login, role, session and audit parts, with injected clocks."""

from __future__ import annotations

import asyncio
import doctest
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import rag.web.access as access
import rag.web.audit as audit
import rag.web.limits as limits
import rag.web.sessions as sessions
import rag.web.users as users
from rag.settings import SettingsError, load_settings, proxy_networks
from rag.web.auth import hash_password
from rag.web.gate import LoginAttempt, LoginGate, _attempt, forwarded_client
from rag.web.security import Security

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("module", [access, audit, limits, sessions, users])
def test_doctests(module):
    assert doctest.testmod(module).failed == 0


def test_roles_and_their_actions():
    assert access.tabs_for("reader") == {"chat", "brief"}
    assert access.tabs_for("editor") == {"chat", "brief", "corpus"}
    assert access.tabs_for("admin") == {"chat", "brief", "corpus", "eval"}
    assert access.tabs_for(None) == set()
    for action in access.ACTIONS:
        assert access.allowed("admin", action)
        assert not access.allowed(None, action) and not access.allowed("guest", action)
    assert "hết hạn" in access.refusal(None, "ask")


def test_throttle_grows_then_locks_and_names_are_separate():
    t = [0.0]
    th = limits.LoginThrottle(free=3, lockout=6, lockout_s=100, clock=lambda: t[0])
    waits = []
    for _ in range(6):
        th.failed("an", "1.1.1.1")
        waits.append(th.wait("an", "1.1.1.1"))
    assert waits == [0.0, 0.0, 2.0, 4.0, 8.0, 100.0] and th.locked("an", "2.2.2.2")
    assert th.wait("binh", "2.2.2.2") == 0.0  # another name from another address
    # the address limit is addr_factor (3) times higher: 6 failures do not lock it
    assert not th.locked("binh", "1.1.1.1")
    t[0] = 99.0
    assert 0 < th.wait("an", "1.1.1.1") <= 1.0
    t[0] = 100.0
    assert th.wait("an", "1.1.1.1") == 0.0  # forgotten lockout_s after the last failure


def test_throttle_by_address_when_names_change():
    th = limits.LoginThrottle(free=2, lockout=4, addr_factor=2, clock=lambda: 0.0)
    for i in range(8):
        th.failed(f"name{i}", "6.6.6.6")
    assert th.locked("someone", "6.6.6.6") and not th.locked("someone", "7.7.7.7")


def test_success_clears_the_name():
    th = limits.LoginThrottle(free=1, lockout=5, clock=lambda: 0.0)
    th.failed("an", "a")
    assert th.wait("an", "b") > 0
    th.succeeded("an")
    assert th.wait("an", "b") == 0.0
    assert limits.wait_text(30) == "Hãy chờ 30 giây rồi thử lại."
    assert limits.wait_text(900) == "Hãy chờ 15 phút rồi thử lại."


def test_sessions_idle_max_and_removed_users():
    t = [0.0]
    ended = []
    alive = {"an", "binh"}
    s = sessions.SessionStore(
        idle_s=10,
        max_s=100,
        valid_user=alive.__contains__,
        on_end=lambda u, tok, r: ended.append((u, r)),
        clock=lambda: t[0],
    )
    s["a"], s["b"] = "an", "binh"
    t[0] = 5
    assert s.get("a") == "an"
    t[0] = 12  # b idle for 12 s, a for 7
    assert s.get("b") is None and s.get("a") == "an"
    alive.discard("an")
    assert s.get("a") is None
    assert ended == [("binh", "idle"), ("an", "user_removed")]
    s["c"] = "binh"
    assert "c" in s and s["c"] == "binh" and list(s) == ["c"]
    t[0] = 200
    assert s.sweep() == 1 and len(s) == 0
    assert s.get(None) is None and s.get("nope", "x") == "x"


def test_audit_log_appends_rotates_and_keeps_backups(tmp_path):
    log = audit.AuditLog(tmp_path / "audit.jsonl", max_bytes=400, backups=2, clock=lambda: 1e9)
    for i in range(30):
        log.write("delete", user="an", article=f"bai-{i}")
    files = log.files()
    assert [p.name for p in files] == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    assert all(p.stat().st_size <= 400 for p in files)
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    recs = log.records()
    assert recs[-1]["article"] == "bai-29" and recs[-1]["ts"] == "2001-09-09T01:46:40.000Z"
    assert [r["article"] for r in recs] == [f"bai-{i}" for i in range(30 - len(recs), 30)]


def test_audit_write_failure_is_logged_not_raised(tmp_path, caplog):
    (tmp_path / "f").write_text("x")
    log = audit.AuditLog(tmp_path / "f" / "audit.jsonl")  # its folder is a file
    log.write("login", user="an")
    assert "audit log" in caplog.text


def test_user_store_file_is_private_and_reloaded_when_changed(tmp_path):
    path = tmp_path / "users.json"
    a = users.UserStore(path)
    b = users.UserStore(path)  # another process: the running app
    a.add("an", "mật khẩu dài", "reader", n=2**10)
    assert b.role_of("an") == "reader"
    a.set_role("an", "editor")
    assert b.role_of("an") == "editor"
    a.passwd("an", "mật khẩu mới", n=2**10)
    assert b.verify("an", "mật khẩu mới") and not b.verify("an", "mật khẩu dài")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "mật khẩu" not in path.read_text(encoding="utf-8")
    a.remove("an")
    assert b.get("an") is None and not b.any()
    with pytest.raises(users.UserError, match="ít nhất 8"):
        a.add("binh", "ngắn", "reader")
    with pytest.raises(users.UserError, match="Vai trò"):
        a.add("binh", "đủ dài rồi", "boss")
    with pytest.raises(users.UserError, match="không hợp lệ"):
        a.add("bình an", "đủ dài rồi", "reader")
    path.write_text("{not json")
    with pytest.raises(users.UserError, match="hỏng"):
        b.all()


def test_web_users_become_admins_with_a_warning(tmp_path):
    h = hash_password("mật khẩu dài", n=2**10)
    s = load_settings(tmp_path, env={"HOIDAP_WEB_USERS": f"an:{h}"})
    sec = Security(s)
    assert sec.login_on and sec.role_of("an") == "admin"
    assert "web_users" in sec.warnings()[0] and "admin" in sec.warnings()[0]
    store = users.UserStore.for_settings(s)
    store.add("an", "mật khẩu khác", "reader", n=2**10)  # the file wins
    assert sec.role_of("an") == "reader"


def test_login_off_means_the_local_user_may_do_everything(tmp_path):
    sec = Security(load_settings(tmp_path, env={}))
    assert not sec.login_on and sec.auth() is None
    caller = sec.caller(None)
    assert caller.user is None and all(sec.check(caller, a) is None for a in access.ACTIONS)


def test_auth_callable_throttles_and_records(tmp_path):
    s = load_settings(tmp_path, env={"HOIDAP_LOGIN_FREE_FAILURES": "1"})
    users.UserStore.for_settings(s).add("an", "mật khẩu dài", "reader", n=2**10)
    t = [0.0]
    sec = Security(s, clock=lambda: t[0])
    auth = sec.auth()
    assert auth is not None

    async def attempt(name, pw):
        a = LoginAttempt("10.1.1.1")
        token = _attempt.set(a)
        try:
            return await auth(name, pw), a
        finally:
            _attempt.reset(token)

    ok, a = asyncio.run(attempt("an", "sai"))
    assert not ok and a.wait_s == 2.0 and a.kind == "delay"
    ok, a = asyncio.run(attempt("an", "mật khẩu dài"))
    assert not ok and a.wait_s > 0  # refused during the delay, without a check
    t[0] = 3.0
    ok, a = asyncio.run(attempt("an", "mật khẩu dài"))
    assert ok and a.wait_s == 0
    events = [r["event"] for r in sec.audit.records()]
    assert events == ["login_failed", "login_refused", "login"]
    assert "mật khẩu" not in sec.audit.path.read_text(encoding="utf-8")


def _hoidap(*args, home, stdin=""):
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", "users", *args, "--home", str(home)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "HOIDAP_WEB_USERS": ""},
    )


def test_users_command_add_list_passwd_role_remove(tmp_path):
    assert (
        _hoidap("add", "an", "--role", "editor", home=tmp_path, stdin="mật khẩu dài\n").returncode
        == 0
    )
    r = _hoidap("list", "--json", home=tmp_path)
    assert json.loads(r.stdout) == [{"name": "an", "role": "editor", "from_web_users": False}]
    r = _hoidap("add", "an", home=tmp_path, stdin="mật khẩu dài\n")
    assert r.returncode == 2 and "đã có" in r.stderr
    assert _hoidap("add", "b", home=tmp_path, stdin="ngắn\n").returncode == 2
    assert _hoidap("passwd", "an", home=tmp_path, stdin="mật khẩu mới đây\n").returncode == 0
    assert users.UserStore(tmp_path / "users.json").verify("an", "mật khẩu mới đây")
    assert _hoidap("role", "an", "admin", home=tmp_path).returncode == 0
    assert "an\tadmin" in _hoidap("list", home=tmp_path).stdout
    assert _hoidap("remove", "an", home=tmp_path).returncode == 0
    assert _hoidap("remove", "an", home=tmp_path).returncode == 2
    events = [r["event"] for r in audit.AuditLog(audit.audit_path(tmp_path)).records()]
    assert events == ["user_added", "password_changed", "role_changed", "user_removed"]


def _scope(peer, *forwarded):
    headers = [(b"x-forwarded-for", f.encode()) for f in forwarded]
    return {"type": "http", "path": "/", "method": "GET", "client": (peer, 5), "headers": headers}


def test_the_client_address_comes_from_a_trusted_proxy_only():
    proxies = proxy_networks("127.0.0.1, 10.0.0.0/8")
    assert forwarded_client(_scope("127.0.0.1", "203.0.113.7"), proxies) == "203.0.113.7"
    # a chain: the right-most address that is not a trusted proxy is the user
    assert forwarded_client(_scope("10.1.1.1", "1.2.3.4, 203.0.113.7, 10.2.2.2"), proxies) == (
        "203.0.113.7"
    )
    assert forwarded_client(_scope("127.0.0.1", "1.2.3.4", "203.0.113.9"), proxies) == (
        "203.0.113.9"
    )
    # anyone else's header is ignored: a client cannot choose its own address
    assert forwarded_client(_scope("198.51.100.2", "127.0.0.1"), proxies) is None
    assert forwarded_client(_scope("127.0.0.1", "203.0.113.7"), []) is None
    assert forwarded_client(_scope("127.0.0.1", "not-an-ip"), proxies) is None
    assert forwarded_client(_scope("127.0.0.1"), proxies) is None

    seen = []

    async def app(scope, receive, send):
        seen.append(scope["client"][0])

    gate = LoginGate(app, sessions={}, on_logout=lambda u, a: None, trusted_proxies=proxies)
    asyncio.run(gate(_scope("127.0.0.1", "203.0.113.7"), None, None))
    asyncio.run(gate(_scope("198.51.100.2", "203.0.113.7"), None, None))
    assert seen == ["203.0.113.7", "198.51.100.2"]
    with pytest.raises(SettingsError, match="trusted_proxies"):
        load_settings("/tmp/hoidap-proxy-test", env={}, trusted_proxies="127.0.0.1, nope")
