"""The hoidap command as a user runs it (separate processes, real bundled embedder)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "corpus" / "articles"
HOIDAP = str(Path(sys.executable).parent / "hoidap")


def run(*args, home, check_rc=None):
    env = {**os.environ, "HOIDAP_HOME": str(home)}
    proc = subprocess.run([HOIDAP, *args], capture_output=True, text=True, env=env, timeout=600)
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.stderr
    return proc


def test_bad_settings_exit_2_with_a_message(tmp_path):
    (tmp_path / "settings.toml").write_text("chunk_tokens = 'x'\n", encoding="utf-8")
    proc = run("stats", home=tmp_path)
    assert proc.returncode == 2 and "chunk_tokens" in proc.stderr


def test_unknown_article_exits_1(tmp_path):
    proc = run("show", "khong-co", "--embedding-model", "e5-small-c", home=tmp_path)
    assert proc.returncode == 1 and "khong-co" in proc.stderr


@pytest.mark.slow
def test_ingest_stats_show_delete_with_the_bundled_embedder(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    (corpus / "rong.txt").write_bytes(b"")
    home = tmp_path / "home"
    model = ["--embedding-model", "e5-small-c"]
    proc = run("ingest", str(corpus), "--json", *model, home=home, check_rc=3)
    rep = json.loads(proc.stdout)
    assert rep["added"] == 5 and rep["skipped"][0]["reason"]

    stats = json.loads(run("stats", "--json", *model, home=home, check_rc=0).stdout)
    assert stats["articles"] == 5 and stats["embedding_model"] == "e5-small-q4-c"
    assert "Thanhuytphcm.vn" in stats["sources"] and stats["chunks"] > 5

    shown = json.loads(
        run("show", "003_026d41383b2fb761", "--json", *model, home=home, check_rc=0).stdout
    )
    assert set(shown) >= {
        "id",
        "title",
        "date",
        "date_precision",
        "source",
        "author",
        "places",
        "chunks",
    }
    assert shown["source"] == "Baohatinh.vn" and "Hà Tĩnh" in shown["places"]
    assert all({"id", "start", "end", "text"} <= set(c) for c in shown["chunks"])

    again = json.loads(run("ingest", str(corpus), "--json", *model, home=home, check_rc=3).stdout)
    assert again["unchanged"] == 5 and again["embedded"] == 0

    out = json.loads(
        run("delete", "003_026d41383b2fb761", "--json", *model, home=home, check_rc=0).stdout
    )
    assert out == {"deleted": ["003_026d41383b2fb761"], "not_found": []}
    assert json.loads(run("stats", "--json", *model, home=home).stdout)["articles"] == 4
    human = run("stats", *model, home=home, check_rc=0).stdout
    assert "Bài viết: 4" in human
