"""rag.web.evaluation: the evaluation tab runs evals.runner.run_eval on an uploaded set."""

import json

import pytest

from evals.runner import EvalError
from rag.assistant import Assistant
from rag.settings import load_settings
from rag.web.evaluation import run_folder, run_testset

ROWS = [
    {
        "id": "q1",
        "question": "Năm 2021, Ban Chỉ đạo các huyện đã kiểm tra tại bao nhiêu cơ quan, đơn vị, "
        "doanh nghiệp?",
        "answers": ["151"],
        "gold_articles": ["000_bd9e0bf0f2c7e356"],
    },
    {"id": "q2", "question": "Giá vàng SJC hôm nay là bao nhiêu?", "answerable": False},
    {"id": "bad"},
]


@pytest.fixture()
def assistant(seed_index_copy):  # a run writes into the home (eval-runs/)
    return Assistant(seed_index_copy.settings(), embedder=seed_index_copy.embedder)


def test_a_run_gives_tables_plots_and_per_question_results(assistant, tmp_path):
    testset = tmp_path / "bo cau hoi.jsonl"
    testset.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in ROWS), "utf-8")
    seen = []
    run = run_testset(
        testset, assistant.settings, assistant, progress=lambda d, t: seen.append((d, t))
    )
    assert seen[-1] == (2, 2)
    assert run.out_dir.parent == assistant.settings.home / "eval-runs"
    assert run.out_dir.name.endswith("-bo-cau-hoi")
    assert run.summary["questions"] == 2 and run.summary["scored"] == 2
    assert "Chứa đáp án" in run.tables_md and "| hoidap |" in run.tables_md.replace("chỉ số ", "")
    assert run.plots and all(p.suffix == ".png" and p.stat().st_size > 0 for p in run.plots)
    assert {f.name for f in run.files} == {
        "results.jsonl",
        "summary.json",
        "report.html",
        "report.md",
    }
    lines = [json.loads(x) for x in run.results.read_text("utf-8").splitlines()]
    assert [x["id"] for x in lines] == ["q1", "q2"] and "151" in lines[0]["answer"]


def test_wrong_file_types_are_refused_with_a_message(assistant, tmp_path):
    bad = tmp_path / "x.txt"
    bad.write_text("x", "utf-8")
    with pytest.raises(EvalError, match="Bộ câu hỏi"):
        run_testset(bad, assistant.settings, assistant)


def test_run_folder_names_are_safe(tmp_path):
    s = load_settings(tmp_path, env={})
    assert run_folder(s, "../../x y?.jsonl").parent == tmp_path.resolve() / "eval-runs"
    assert run_folder(s, "....jsonl").name.endswith("-testset")
