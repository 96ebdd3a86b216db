"""The web app with an LLM answerer: a real llama.cpp server (gemma-3-270m, see
tests/llm_server.py) behind ``python app.py``, in headless Chromium. The answer must arrive
as a stream of partial texts, and the note under it must name the model."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser import artifacts_dir, chromium
from tests.llm_server import llama_server, missing_requirements, model_path

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SEED_Q = "Năm 2021, Ban Chỉ đạo các huyện đã kiểm tra tại bao nhiêu cơ quan, đơn vị, doanh nghiệp?"
WATCH_STREAM = """
() => {
  window.__partials = [];
  new MutationObserver(() => {
    const s = document.querySelector('#hd-chat .hd-streaming');
    if (s) {
      const t = s.innerText;
      if (window.__partials[window.__partials.length - 1] !== t) window.__partials.push(t);
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""


def test_llm_answers_stream_into_the_page_and_name_the_model(seed_index_e5_copy, tmp_path):
    reason = missing_requirements()
    if reason:
        pytest.fail(reason, pytrace=False)
    home = seed_index_e5_copy.home  # the seed articles, `hoidap ingest`ed
    with llama_server(model_path(), tmp_path) as llm:
        env = {
            **os.environ,
            "HOIDAP_HOME": str(home),
            "HOIDAP_ANSWERER": "openai",
            "HOIDAP_LLM_BASE_URL": llm.base_url,
            "HOIDAP_LLM_MODEL": llm.model,
            "HOIDAP_LLM_MAX_TOKENS": "96",
            "HOIDAP_LLM_MAX_PASSAGES": "2",
            "HOIDAP_LLM_MAX_PASSAGE_CHARS": "600",
        }
        port = _free_port()
        log = (tmp_path / "app.log").open("w", encoding="utf-8")
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}/"
            wait_for(url, proc, tmp_path / "app.log")
            with chromium() as browser:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(url)
                page.wait_for_selector("#hd-question textarea", timeout=60_000)
                assert "gemma-3-270m" in page.inner_text("#hd-answerer")
                page.evaluate(WATCH_STREAM)
                page.fill("#hd-question textarea", SEED_Q)
                page.click("#hd-ask")
                page.wait_for_selector("#hd-chat .hd-meta", timeout=180_000)
                partials = page.evaluate("() => window.__partials")
                meta = page.inner_text("#hd-chat .hd-meta")
                page.screenshot(
                    path=str(artifacts_dir("web") / "09-llm-stream.png"), full_page=True
                )
                page.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()
    growing = [p for p in partials if p.strip("▍ \n")]
    assert len(growing) >= 2, partials  # more than one partial text: it streamed
    assert len(growing[-1]) > len(growing[0])
    assert "mô hình ngôn ngữ gemma-3-270m" in meta  # the note names the model that answered


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 240) -> None:
    deadline = time.time() + timeout_s
    while True:
        if proc.poll() is not None:
            pytest.fail("app.py exited:\n" + log.read_text(encoding="utf-8"))
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.time() > deadline:
            pytest.fail("app.py did not start:\n" + log.read_text(encoding="utf-8"))
        time.sleep(1)
