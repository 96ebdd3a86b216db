"""The hoidap command as a user runs it (separate processes, real bundled embedder)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.seeds import SEED_DIR

ROOT = Path(__file__).resolve().parent.parent
SEEDS = SEED_DIR
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


@pytest.mark.slow
def test_ask_and_batch_on_the_seed_corpus(tmp_path):
    home = tmp_path / "home"
    model = ["--embedding-model", "e5-small-c"]
    run("ingest", str(SEEDS), *model, home=home, check_rc=0)
    q = "Năm 2021, Ban Chỉ đạo các huyện đã kiểm tra tại bao nhiêu cơ quan, đơn vị, doanh nghiệp?"
    out = run("ask", q, *model, home=home, check_rc=0).stdout
    assert out.startswith("151 cơ quan, đơn vị, doanh nghiệp [1]") and "Nguồn:" in out
    data = json.loads(run("ask", q, "--json", *model, home=home, check_rc=0).stdout)
    assert not data["refused"] and data["citations"][0]["article_id"] == "000_bd9e0bf0f2c7e356"
    refusal = run("ask", "Giá vàng SJC hôm nay là bao nhiêu?", *model, home=home, check_rc=0)
    assert "Không tìm thấy thông tin này trong các tài liệu đã nạp." in refusal.stdout
    assert run("ask", "  ", *model, home=home).returncode == 2

    src = tmp_path / "in.jsonl"
    rows = [
        {"id": "a", "question": "Ai là Phó Trưởng ban Dân vận Trung ương dự hội nghị ở Hà Tĩnh?"},
        {
            "id": "b",
            "question": "Ông ấy đã nêu bao nhiêu quan điểm lớn?",
            "history": [
                {"question": "Ai dự hội nghị ở Hà Tĩnh?", "answer": "Đồng chí Đỗ Văn Phới."}
            ],
        },
    ]
    src.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n{hỏng\n", encoding="utf-8"
    )
    dst = tmp_path / "out.jsonl"
    proc = run("batch", str(src), str(dst), *model, home=home, check_rc=3)
    assert "Dòng 3" in proc.stderr
    out_rows = [json.loads(x) for x in dst.read_text(encoding="utf-8").splitlines()]
    assert [r.get("id") for r in out_rows[:2]] == ["a", "b"] and out_rows[2]["line"] == 3
    for r in out_rows[:2]:
        assert {
            "id",
            "question",
            "answer",
            "refused",
            "citations",
            "retrieved",
            "timings_ms",
        } <= set(r)
        assert all({"n", "article_id", "chunk_id", "quote"} <= set(c) for c in r["citations"])
        assert all({"article_id", "chunk_id", "score"} <= set(x) for x in r["retrieved"])
    assert out_rows[1]["answer"].startswith("5 quan điểm lớn")
