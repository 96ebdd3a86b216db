"""``hoidap eval`` as a user runs it: real bundled embedder, separate processes, the HTML
report in headless Chromium, and a run killed mid-way then resumed (all marked slow)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.browser import artifacts_dir, chromium

ROOT = Path(__file__).resolve().parent.parent
HOIDAP = str(Path(sys.executable).parent / "hoidap")
SEED_QA = ROOT / "evals" / "seed_qa.jsonl"

pytestmark = pytest.mark.slow


def run(*args, home, timeout=600):
    env = {**os.environ, "HOIDAP_HOME": str(home)}
    return subprocess.run(
        [HOIDAP, *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT
    )


@pytest.fixture(scope="module")
def seed_run(seed_index_e5, tmp_path_factory):
    """`hoidap ingest` of the seed articles, then `hoidap eval evals/seed_qa.jsonl --out DIR`."""
    home = seed_index_e5.copy_to(tmp_path_factory.mktemp("eval-cli") / "home").home
    out = tmp_path_factory.mktemp("eval") / "seed"
    proc = run("eval", "evals/seed_qa.jsonl", "--out", str(out), home=home)
    assert proc.returncode == 0, proc.stderr
    return home, out, proc


def test_eval_on_the_seed_set_writes_the_four_outputs(seed_run):
    _, out, proc = seed_run
    for name in ("results.jsonl", "summary.json", "report.md", "report.html"):
        assert (out / name).stat().st_size > 0
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert summary["scored"] == 89 and summary["run"]["embedding_model"].startswith("e5-small")
    assert "Đã chấm 89/89 câu" in proc.stdout and "report.html" in proc.stdout
    hoidap = summary["systems"]["hoidap"]["metrics"]
    # the real pipeline on its own seed corpus: retrieval finds the gold article
    assert hoidap["article_hit@5"]["mean"] >= 0.9
    assert hoidap["contains_gold"]["mean"] >= 0.8


def test_report_html_renders_its_plots_in_chromium(seed_run):
    _, out, _ = seed_run
    shot = artifacts_dir("eval") / "report.png"
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        blocked: list[str] = []
        page.route(
            "**/*",
            lambda route: (
                route.continue_()
                if route.request.url.startswith(("file:", "data:"))
                else (blocked.append(route.request.url), route.abort())
            ),
        )
        page.goto((out / "report.html").as_uri())
        images = page.evaluate(
            "Array.from(document.images).map(i => ({w: i.naturalWidth, h: i.naturalHeight,"
            " complete: i.complete, alt: i.alt}))"
        )
        title = page.title()
        page.screenshot(path=str(shot), full_page=True)
    assert blocked == []  # self-contained: nothing outside the file was requested
    assert len(images) == 4
    assert all(i["complete"] and i["w"] > 300 and i["h"] > 100 for i in images), images
    assert "hoidap" in title
    assert shot.stat().st_size > 50_000


def test_killed_run_resumes_where_it_stopped(seed_run, tmp_path):
    home, _, _ = seed_run
    # a longer set (the seed questions four times) so the kill lands mid-run
    lines = []
    for rep in range(4):
        for line in SEED_QA.read_text("utf-8").splitlines():
            item = json.loads(line)
            item["id"] = f"{item['id']}-{rep}"
            lines.append(json.dumps(item, ensure_ascii=False))
    qa = tmp_path / "x4.jsonl"
    qa.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    env = {**os.environ, "HOIDAP_HOME": str(home)}
    proc = subprocess.Popen(
        [HOIDAP, "eval", str(qa), "--out", str(out), "--no-progress"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results = out / "results.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline:
        if results.is_file() and results.read_bytes().count(b"\n") >= 40:
            break
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = results.read_bytes().count(b"\n")
    assert 40 <= done_before < 356, "the run was not interrupted mid-way"
    assert not (out / "summary.json").exists()

    again = run("eval", str(qa), "--out", str(out), "--json", "--no-progress", home=home)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["scored"] == 356
    assert summary["run"]["resumed_questions"] >= done_before - 1  # a torn line is redone
    assert summary["run"]["evaluated_now"] == 356 - summary["run"]["resumed_questions"]
    ids = [json.loads(x)["id"] for x in results.read_text("utf-8").splitlines()]
    assert len(ids) == len(set(ids)) == 356
