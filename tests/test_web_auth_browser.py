"""Roles and the login as people see them: the real server (in-process, fake embedder) with
one user per role, driven in headless Chromium. Screenshots go to ``test-artifacts/auth/``."""

from __future__ import annotations

import pytest

from rag.assistant import Assistant
from rag.web.app import WebApp
from rag.web.users import UserStore, users_file
from tests.browser import artifacts_dir, chromium
from tests.fakes import HashEmbedder

pytestmark = pytest.mark.slow

PW = "mật khẩu thử nghiệm"
TABS = {"chat": "Hỏi đáp", "brief": "Soạn tài liệu tóm tắt", "corpus": "Kho tài liệu"}
TABS["eval"] = "Đánh giá"
EXPECTED = {
    "reader": {"chat", "brief"},
    "editor": {"chat", "brief", "corpus"},
    "evaluator": {"chat", "brief", "eval"},
    "admin": {"chat", "brief", "corpus", "eval"},
}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(seed_index, tmp_path_factory):
    idx = seed_index.copy_to(tmp_path_factory.mktemp("auth-browser") / "home")
    settings = idx.settings(web_port=_free_port(), login_free_failures=2)
    store = UserStore(users_file(settings))
    for role in EXPECTED:
        store.add(role, PW, role, n=2**10)
    app = WebApp(Assistant(settings, embedder=HashEmbedder()))
    _, url, _ = app.launch(prevent_thread_lock=True, quiet=True)
    yield app, url
    app.demo.close()


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _login(page, url, name, password):
    page.goto(url)
    page.wait_for_selector("input[type=password]", timeout=30_000)
    page.locator("input:not([type=password]), textarea").first.fill(name)
    page.locator("input[type=password]").fill(password)
    page.locator("button").filter(has_text="Login").or_(
        page.locator("button").filter(has_text="Đăng nhập")
    ).first.click()


def _visible_tabs(page) -> set[str]:
    return {key for key, label in TABS.items() if page.get_by_role("tab", name=label).count()}


@pytest.mark.parametrize("role", list(EXPECTED))
def test_each_role_sees_only_its_tabs_and_can_log_out(served, browser, role):
    app, url = served
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    try:
        _login(page, url, role, PW)
        page.wait_for_selector("#hd-whoami", timeout=30_000)
        page.wait_for_timeout(500)
        assert role in page.locator("#hd-whoami").inner_text()
        assert _visible_tabs(page) == EXPECTED[role]
        page.screenshot(path=str(artifacts_dir("auth") / f"{role}.png"))
        if role == "reader":  # a reader asks and gets an answer
            page.fill("#hd-question textarea", "Năm 2021 kiểm tra bao nhiêu cơ quan, đơn vị?")
            page.click("#hd-ask")
            page.wait_for_function(
                "document.querySelector('#hd-chat').innerText.includes('151')", timeout=30_000
            )
        page.click("#hd-logout")
        page.wait_for_selector("input[type=password]", timeout=30_000)
        page.goto(url)  # the session is really over
        page.wait_for_selector("input[type=password]", timeout=30_000)
        events = [(e["event"], e.get("user")) for e in app.security.audit.records()]
        assert ("login", role) in events and ("logout", role) in events
    finally:
        ctx.close()


def test_wrong_passwords_show_the_wait_page_in_vietnamese(served, browser):
    _, url = served
    ctx = browser.new_context()
    page = ctx.new_page()
    try:
        _login(page, url, "khach", "sai mật khẩu")
        page.wait_for_timeout(500)
        _login(page, url, "khach", "sai mật khẩu")  # the 2nd: a delay
        page.wait_for_selector("#hd-login-wait", timeout=15_000)
        assert "Hãy chờ" in page.inner_text("body")
        page.screenshot(path=str(artifacts_dir("auth") / "wait.png"))
        # the page comes back to the login form by itself when the wait is over
        page.wait_for_selector("input[type=password]", timeout=15_000)
    finally:
        ctx.close()
