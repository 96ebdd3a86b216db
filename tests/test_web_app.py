"""The web app as people use it: ``python app.py`` on a temporary home with the seed corpus
and the real bundled embedder, driven in headless Chromium. Screenshots of every step go
to ``test-artifacts/web/``."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import docx
import pypdf
import pytest

from tests.browser import artifacts_dir, chromium

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SEED_Q = "Năm 2021, Ban Chỉ đạo các huyện đã kiểm tra tại bao nhiêu cơ quan, đơn vị, doanh nghiệp?"
FOLLOW_UP = "Trong số đó có bao nhiêu là xã, thị trấn?"
OFF_TOPIC = "Giá vàng SJC hôm nay là bao nhiêu một lượng?"
NEW_ARTICLE = (
    "Xã Hòa Bình tổ chức hội nghị đối thoại với nhân dân\n\n"
    "Ngày 15/3/2023, Ủy ban nhân dân xã Hòa Bình tổ chức hội nghị đối thoại với nhân dân về "
    "thực hiện dân chủ ở cơ sở.\n\n"
    "Năm 2023, xã Hòa Bình đã tổ chức 27 hội nghị đối thoại trực tiếp với nhân dân và tiếp "
    "nhận 143 ý kiến, kiến nghị của cử tri.\n"
)
HOSTILE_ARTICLE = (
    'Thôn Đồng Tâm <img src=x onerror="window.__pwned=1;alert(1)"> họp dân\n\n'
    "Năm 2022, thôn Đồng Tâm đã tổ chức 35 buổi họp dân bàn về quy chế dân chủ ở cơ sở "
    "<script>window.__pwned=2;alert(2)</script> với sự tham gia của 1.240 hộ gia đình.\n\n"
    "Xem [bấm vào đây](javascript:window.__pwned=3) hoặc ![ảnh](http://example.com/a.png) "
    'và <a href="javascript:window.__pwned=4">liên kết</a> ${window.__pwned=5} {{7*7}}.\n'
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def app_url(seed_index_e5, tmp_path_factory) -> Iterator[str]:
    # a copy: the tests upload and delete articles
    home = seed_index_e5.copy_to(tmp_path_factory.mktemp("web-app") / "home").home
    env = {
        **os.environ,
        "HOIDAP_HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HOIDAP_MAX_UPLOAD_MB": "1",
    }
    port = _free_port()
    log = open(home / "app.log", "w", encoding="utf-8")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 240
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail("app.py exited:\n" + (home / "app.log").read_text(encoding="utf-8"))
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                pytest.fail("app.py did not start:\n" + (home / "app.log").read_text("utf-8"))
            time.sleep(1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


class Page:
    """A fresh browser context (= a new session) that records every request and dialog."""

    def __init__(self, browser, url: str) -> None:
        self.context = browser.new_context(
            viewport={"width": 1400, "height": 1000},
            accept_downloads=True,
            permissions=["clipboard-read", "clipboard-write"],
        )
        self.page = self.context.new_page()
        self.hosts: set[str] = set()
        self.dialogs: list[str] = []
        self.page.on("request", lambda r: self.hosts.add(r.url.split("/")[2]))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.goto(url)
        self.page.wait_for_selector("#hd-question textarea", timeout=60_000)
        self.url = url

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(artifacts_dir("web") / f"{name}.png"), full_page=True)

    def tab(self, label: str) -> None:
        self.page.click(f"button[role=tab]:has-text('{label}')")

    def ask(self, question: str, *, enter: bool = False) -> str:
        """Ask (button, or Enter in the box) and wait for the complete answer; its text."""
        p = self.page
        n = p.locator("#hd-chat .hd-meta").count()
        p.fill("#hd-question textarea", question)
        if enter:
            p.press("#hd-question textarea", "Enter")
        else:
            p.click("#hd-ask")
        p.wait_for_function(
            f"() => document.querySelectorAll('#hd-chat .hd-meta').length > {n}", timeout=60_000
        )
        return p.locator("#hd-chat .hd-answer").nth(n).inner_text()

    def upload(self, paths: list[Path]) -> str:
        p = self.page
        self.tab("Kho tài liệu")
        with p.expect_file_chooser() as fc:
            p.click("#hd-upload")
        fc.value.set_files([str(x) for x in paths])
        p.wait_for_function(
            "() => { const r = document.querySelector('#hd-upload-result');"
            " return r && r.innerText.includes('Đã nạp'); }",
            timeout=120_000,
        )
        return p.inner_text("#hd-upload-result")

    def close(self) -> None:
        host = self.url.split("/")[2]
        self.context.close()
        assert self.hosts <= {host}, f"requests left the machine: {self.hosts - {host}}"
        assert not self.dialogs, self.dialogs


@pytest.fixture()
def page(browser, app_url):
    p = Page(browser, app_url)
    yield p
    p.close()


def test_seed_question_cites_its_source_with_the_span_highlighted(page):
    text = page.ask(SEED_Q)
    assert text.startswith("151") and "[1]" in text
    p = page.page
    assert "trích xuất ngoại tuyến" in p.inner_text("#hd-chat .hd-meta")
    p.click("#hd-chat a.hd-cite >> nth=0")
    card = p.locator("#hd-src-1-1")
    assert card.evaluate("d => d.open")
    assert "Hội nghị trực tuyến tổng kết" in card.locator("summary").inner_text()
    mark = card.locator("mark.hd-quote").inner_text()
    assert "151 cơ quan, đơn vị, doanh nghiệp" in mark
    page.shot("01-seed-question-source")
    p.click("text=Câu trả lời kèm nguồn, dạng văn bản")
    copy = p.locator("#hd-copy textarea").input_value()
    assert copy.startswith(f"Câu hỏi: {SEED_Q}") and "Nguồn:" in copy and "[1]" in copy
    p.click("#hd-copy-btn")
    p.wait_for_selector("#hd-copy-done >> text=Đã sao chép")
    assert p.evaluate("() => navigator.clipboard.readText()") == copy


def test_follow_up_depends_on_the_previous_turn(page):
    page.ask(SEED_Q)
    text = page.ask(FOLLOW_UP, enter=True)
    assert "65" in text
    assert page.page.locator("#hd-question textarea").input_value() == ""
    assert page.page.locator("#hd-src-2-1").count() == 1
    page.shot("02-follow-up")


def test_refusal_is_shown_as_a_refusal(page):
    text = page.ask(OFF_TOPIC)
    assert text.startswith("Không tìm thấy thông tin này")
    assert "Từ chối trả lời" in page.page.locator("#hd-chat .hd-meta").last.inner_text()
    assert "Không có đoạn nào đủ căn cứ" in page.page.inner_text("#hd-sources")
    page.shot("03-refusal")


def test_sessions_are_separate_and_new_chat_clears(browser, app_url, page):
    page.ask(SEED_Q)
    other = Page(browser, app_url)
    try:
        assert other.page.locator("#hd-chat .hd-answer").count() == 0
        other.ask(OFF_TOPIC)  # its first turn: no history from the other session
        assert other.page.locator("#hd-chat .hd-answer").count() == 1
    finally:
        other.close()
    assert page.page.locator("#hd-chat .hd-answer").count() == 1
    page.page.click("#hd-new")
    page.page.wait_for_function(
        "() => document.querySelectorAll('#hd-chat .hd-answer').length === 0"
    )
    assert "Nguồn của câu trả lời sẽ hiện ở đây" in page.page.inner_text("#hd-sources")


def test_upload_a_new_article_then_ask_about_it(page, tmp_path):
    f = tmp_path / "hoa-binh-doi-thoai.txt"
    f.write_text(NEW_ARTICLE, encoding="utf-8")
    bad = tmp_path / "hong.docx"
    bad.write_bytes(b"PK\x03\x04 not a real docx")
    report = page.upload([f, bad])
    assert "Đã nạp 1 tệp: 1 bài mới" in report and "hong.docx" in report
    assert "Xã Hòa Bình tổ chức hội nghị đối thoại" in page.page.inner_text("#hd-articles")
    page.shot("04-upload")
    later = Page(page.context.browser, page.url)  # another session opened afterwards
    try:
        later.tab("Kho tài liệu")
        assert "Xã Hòa Bình tổ chức hội nghị đối thoại" in later.page.inner_text("#hd-articles")
        assert "15/03/2023" in later.page.inner_text("#hd-stats")  # the new date range
    finally:
        later.close()
    page.tab("Hỏi đáp")
    text = page.ask("Năm 2023, xã Hòa Bình đã tổ chức bao nhiêu hội nghị đối thoại trực tiếp?")
    assert "27" in text and "[1]" in text
    assert "Hòa Bình" in page.page.locator("#hd-src-1-1 summary").inner_text()
    page.shot("05-ask-about-upload")


def test_uploads_over_the_size_limit_are_refused_in_vietnamese(page, tmp_path):
    big = tmp_path / "qua-lon.txt"
    big.write_text(
        "Tệp quá lớn không được nạp\n\n" + "Một câu dài để làm tệp lớn. " * 50_000, "utf-8"
    )
    assert big.stat().st_size > 1024 * 1024
    page.tab("Kho tài liệu")
    with page.page.expect_file_chooser() as fc:
        page.page.click("#hd-upload")
    fc.value.set_files(str(big))
    toast = page.page.locator("[data-testid=toast-body]")
    toast.wait_for(timeout=30_000)
    page.page.wait_for_function(
        "() => document.querySelector('[data-testid=toast-text]').innerText.startsWith('Tệp')"
    )
    text = toast.inner_text()
    assert "Lỗi" in text and "Tệp vượt quá dung lượng cho phép" in text and "qua-lon.txt" in text
    table = page.page.inner_text("#hd-articles")
    assert "Tệp quá lớn" not in table and "Hội nghị trực tuyến" in table  # nothing ingested
    page.shot("04b-upload-too-large")


def test_injected_markup_in_an_article_never_runs(page, tmp_path):
    f = tmp_path / 'dong-tam <img src=x onerror="alert(9)">.txt'
    f.write_text(HOSTILE_ARTICLE, encoding="utf-8")
    assert "Đã nạp 1 tệp" in page.upload([f])
    table = page.page.locator("#hd-articles")
    assert (
        'Thôn Đồng Tâm <img src=x onerror="window.__pwned=1;alert(1)"> họp dân'
        in table.inner_text()
    )
    assert table.locator("img, script, [onerror]").count() == 0
    page.tab("Hỏi đáp")
    text = page.ask("Năm 2022, thôn Đồng Tâm đã tổ chức bao nhiêu buổi họp dân?")
    assert "35" in text
    p = page.page
    p.click("#hd-chat a.hd-cite >> nth=0")
    p.wait_for_timeout(1500)  # give any injected handler time to fire
    sources = p.inner_text("#hd-sources")
    assert "<script>window.__pwned=2;alert(2)</script>" in sources + text
    assert 'onerror="window.__pwned=1;alert(1)"' in sources
    assert "[bấm vào đây](javascript:window.__pwned=3)" in sources
    assert "${window.__pwned=5} {{7*7}}" in sources
    assert p.evaluate("() => window.__pwned") is None
    for area in ("#hd-chat", "#hd-sources"):
        assert p.locator(f"{area} script, {area} img[src='x'], {area} [onerror]").count() == 0
        hrefs = p.eval_on_selector_all(f"{area} a", "as => as.map(a => a.getAttribute('href'))")
        assert not [h for h in hrefs if h and h.strip().lower().startswith("javascript:")]
    page.shot("06-injection")


def test_briefing_downloads_as_docx_with_citations(page, tmp_path):
    p = page.page
    page.tab("Soạn tài liệu tóm tắt")
    p.fill("#hd-topic textarea", "kiểm tra thực hiện Quy chế dân chủ ở cơ sở")
    p.click("#hd-build")
    p.wait_for_selector("#hd-briefing .hd-brief", timeout=60_000)
    html_text = p.inner_text("#hd-briefing")
    for head in ("Tổng quan", "Các ý chính", "Số liệu chính", "Nguồn"):
        assert head in html_text
    assert "151" in html_text
    page.shot("07-briefing")
    # printing: the print button's class + print media hide everything but the briefing
    p.evaluate("() => document.body.classList.add('hd-printing')")
    p.emulate_media(media="print")
    display = "s => getComputedStyle(document.querySelector(s)).display"
    assert p.evaluate(display, "#hd-topic") == "none"
    assert p.evaluate(display, "#hd-briefing .hd-brief h2") == "block"
    pdf = artifacts_dir("web") / "07-briefing-print.pdf"
    p.pdf(path=str(pdf))
    printed = "".join(page.extract_text() for page in pypdf.PdfReader(pdf).pages)
    assert "Chủ đề" not in printed  # the form is not printed, the whole briefing is
    assert "Tổng quan" in printed and "Dòng thời gian" in printed and "Nguồn" in printed
    p.emulate_media(media="screen")
    p.evaluate("() => document.body.classList.remove('hd-printing')")
    with p.expect_download() as dl:
        p.click("#hd-dl-docx")
    path = tmp_path / dl.value.suggested_filename
    dl.value.save_as(path)
    assert path.suffix == ".docx"
    d = docx.Document(io.BytesIO(path.read_bytes()))
    text = "\n".join(x.text for x in d.paragraphs)
    assert d.paragraphs[0].text.startswith("Tài liệu tóm tắt: kiểm tra thực hiện")
    bullets = [x.text for x in d.paragraphs if x.style.name == "List Bullet"]
    assert bullets and all("[" in b and "]" in b for b in bullets)
    assert "[1] " in text and "Nguồn" in text
    assert any(r.cells[0].text == "151" for r in d.tables[0].rows)


def test_evaluation_tab_runs_a_test_set_and_offers_the_results(page, tmp_path):
    testset = tmp_path / "bo-kiem-thu.jsonl"
    testset.write_text(
        '{"id": "s1", "question": "' + SEED_Q + '", "answers": ["151"], '
        '"gold_articles": ["000_bd9e0bf0f2c7e356"]}\n'
        '{"id": "s2", "question": "' + OFF_TOPIC + '", "answerable": false}\n',
        encoding="utf-8",
    )
    p = page.page
    page.tab("Đánh giá")
    with p.expect_file_chooser() as fc:
        p.click("#hd-eval-file")
    fc.value.set_files(str(testset))
    p.wait_for_selector("#hd-eval-picked >> text=bo-kiem-thu.jsonl")
    p.click("#hd-eval-run")
    p.wait_for_selector("#hd-eval-status .hd-ok", timeout=180_000)
    assert "2/2 câu" in p.inner_text("#hd-eval-status")
    tables = p.inner_text("#hd-eval-tables")
    assert "Chứa đáp án" in tables and "Độ trễ" in tables
    assert p.locator("#hd-eval-plots img").count() >= 2
    page.shot("08-evaluation")
    with p.expect_download() as dl:
        p.click("#hd-eval-dl")
    path = tmp_path / "results.jsonl"
    dl.value.save_as(path)
    assert [line.count('"id"') >= 1 for line in path.read_text("utf-8").splitlines()] == [True] * 2
