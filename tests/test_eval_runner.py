"""run_eval end to end on the seed articles with the deterministic fake embedder."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from evals import metrics as m
from evals.compare import compare_runs, render_compare
from evals.runner import EvalError, load_results, run_eval
from evals.testset import load_qa_set
from rag.answer.extractive import REFUSAL
from rag.assistant import Assistant
from rag.cli import main as hoidap_main

ROOT = Path(__file__).resolve().parent.parent
SEED_QA = ROOT / "evals" / "seed_qa.jsonl"
OUTPUTS = ("results.jsonl", "summary.json", "report.md", "report.html")


class CountingAssistant(Assistant):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.asked: list[str] = []

    def ask(self, question, **kwargs):
        self.asked.append(question)
        return super().ask(question, **kwargs)


class RefusingAssistant(CountingAssistant):
    """Retrieves as usual, then refuses every question (the edge case "everything refused")."""

    def ask(self, question, **kwargs):
        ans = super().ask(question, **kwargs)
        return replace(ans, text=REFUSAL, citations=[], refused=True)


@pytest.fixture(scope="module")
def home(seed_index, tmp_path_factory):
    """A copy of the seed index for this module: runs write caches and other indexes."""
    seed = seed_index.copy_to(tmp_path_factory.mktemp("eval-runner") / "home")
    return seed.settings(), seed.embedder


def make(home, cls=CountingAssistant, **kwargs):
    settings, emb = home
    return cls(settings, embedder=emb, **kwargs)


@pytest.fixture(scope="module")
def full_run(home, tmp_path_factory):
    """The whole seed set with both baselines."""
    out = tmp_path_factory.mktemp("runs") / "full"
    calls = []
    summary = run_eval(
        SEED_QA,
        home[0],
        out,
        baselines=True,
        assistant=make(home),
        progress=lambda d, t: calls.append((d, t)),
    )
    return summary, out, calls


def rows_of(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text("utf-8").splitlines()]


def subset(tmp_path: Path, n: int, name: str = "sub.jsonl") -> Path:
    lines = SEED_QA.read_text(encoding="utf-8").splitlines()[:n]
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_full_run_writes_all_outputs(full_run):
    summary, out, calls = full_run
    for name in OUTPUTS:
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "summary.json").read_text("utf-8")) == summary
    assert calls == [(i, 89) for i in range(1, 90)]
    assert set(summary["systems"]) == {"hoidap", "langchain", "bm25"}
    assert summary["questions"] == summary["scored"] == 89
    assert summary["testset"]["answerable"] == 73
    assert summary["answerers"] == {"extractive": 89}
    for name in ("metrics_retrieval.png", "metrics_answers.png", "latency.png", "failures.png"):
        assert (out / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_row_has_the_answer_the_rankings_and_every_metric(full_run):
    _, out, _ = full_run
    rows = rows_of(out)
    assert [r["id"] for r in rows] == [
        json.loads(x)["id"] for x in SEED_QA.read_text("utf-8").splitlines()
    ]
    for r in rows:
        assert {"answer", "refused", "citations", "retrieved", "timings_ms"} <= set(r)
        assert set(r["metrics"]) == {"hoidap", "langchain", "bm25"}
        assert {"article_hit@1", "passage_ndcg@10", "token_f1", "citation_recall"} <= set(
            r["metrics"]["hoidap"]
        )
        assert "token_f1" not in r["metrics"]["bm25"]  # baselines are retrieval-only
        assert len(r["rankings"]["hoidap"]["passages"]) <= 10
        if not r["answerable"]:
            assert r["metrics"]["hoidap"]["article_hit@1"] is None
            assert r["correct"] is r["refused"]


def test_summary_agrees_with_the_rows(full_run):
    summary, out, _ = full_run
    rows = rows_of(out)
    hoidap = summary["systems"]["hoidap"]["metrics"]
    contains = [r["metrics"]["hoidap"]["contains_gold"] for r in rows if r["answerable"]]
    assert hoidap["contains_gold"]["n"] == 73
    assert hoidap["contains_gold"]["mean"] == pytest.approx(sum(contains) / 73, abs=1e-4)
    p, r = m.refusal_scores([x["answerable"] for x in rows], [x["refused"] for x in rows])
    assert hoidap["refusal_precision"]["mean"] == pytest.approx(p, abs=1e-4)
    assert hoidap["refusal_recall"]["mean"] == pytest.approx(r, abs=1e-4)
    bm25 = [x["metrics"]["bm25"]["article_mrr@10"] for x in rows if x["answerable"]]
    assert summary["systems"]["bm25"]["metrics"]["article_mrr@10"]["mean"] == pytest.approx(
        sum(bm25) / len(bm25), abs=1e-4
    )
    fails = summary["failures"]
    assert sum(fails.values()) == 89
    answered = [x for x in rows if not x["answerable"] and not x["refused"]]
    assert fails["missed_refusal"] == len(answered)
    for stage in ("retrieve", "answer", "total"):
        lat = summary["latency_ms"]["hoidap"][stage]
        assert lat["n"] == 89 and 0 < lat["p50"] <= lat["p95"]


def test_hoidap_metrics_are_the_metric_functions_applied_to_the_answer(full_run):
    _, out, _ = full_run
    row = next(r for r in rows_of(out) if r["id"] == "seed-001")
    first = m.statements(row["answer"])[0].claim
    assert row["metrics"]["hoidap"]["token_f1"] == pytest.approx(
        m.token_f1(first, row["gold_answers"])
    )
    ranked = row["rankings"]["hoidap"]["articles"]
    assert row["metrics"]["hoidap"]["article_mrr@10"] == m.mrr_at_k(
        ranked, set(row["gold_articles"]), 10
    )
    assert row["metrics"]["hoidap"]["contains_gold"] == 1.0  # "151 cơ quan, ..." is answered
    assert row["citation_detail"]["statements"] == len(m.statements(row["answer"]))


def test_report_html_is_self_contained(full_run):
    _, out, _ = full_run
    page = (out / "report.html").read_text("utf-8")
    assert page.count('src="data:image/png;base64,') == 4
    assert "<script" not in page.lower() and "http://" not in page and "https://" not in page
    assert "langchain" in page and "chỉ tìm kiếm" in page


def test_interrupted_run_resumes_and_matches_an_uninterrupted_one(home, tmp_path):
    qa = subset(tmp_path, 12)
    clean = run_eval(qa, home[0], tmp_path / "clean", assistant=make(home))

    out = tmp_path / "resumed"

    def stop_after_5(done, total):
        if done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_eval(qa, home[0], out, assistant=make(home), progress=stop_after_5)
    assert len(rows_of(out)) == 5 and not (out / "summary.json").exists()
    # a crash in the middle of writing the 6th line leaves half a line
    with open(out / "results.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"id": "seed-006", "question": "cut sh')

    again = make(home)
    seen = []
    summary = run_eval(qa, home[0], out, assistant=again, progress=lambda d, t: seen.append((d, t)))
    assert len(again.asked) == 7 + 1  # the 7 questions left, plus one warm-up
    assert seen[0] == (6, 12) and seen[-1] == (12, 12)
    ids = [r["id"] for r in rows_of(out)]
    assert len(ids) == len(set(ids)) == 12
    assert summary["run"]["resumed_questions"] == 5
    for system in clean["systems"]:
        assert summary["systems"][system]["metrics"] == clean["systems"][system]["metrics"]
    assert summary["failures"] == clean["failures"]

    # a finished run re-run: nothing asked, reports rewritten from results.jsonl
    third = make(home)
    assert run_eval(qa, home[0], out, assistant=third)["scored"] == 12 and third.asked == []


def test_resuming_with_other_settings_is_refused(home, tmp_path):
    qa = subset(tmp_path, 3)
    out = tmp_path / "run"
    run_eval(qa, home[0], out, assistant=make(home))
    other = replace(home[0], top_k=3)
    with pytest.raises(EvalError, match="top_k"):
        run_eval(qa, other, out, assistant=Assistant(other, embedder=home[1]))


def test_load_results_drops_a_torn_last_line(tmp_path):
    p = tmp_path / "results.jsonl"
    p.write_text('{"id": "a", "x": 1}\n{"id": "b", "x"', encoding="utf-8")
    assert list(load_results(p)) == ["a"]
    assert p.read_text(encoding="utf-8") == '{"id": "a", "x": 1}\n'


@pytest.fixture(scope="module")
def refused_run(home, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "refuse-all"
    return run_eval(SEED_QA, home[0], out, assistant=make(home, RefusingAssistant)), out


def test_everything_refused(refused_run):
    summary, out = refused_run
    rows = rows_of(out)
    assert all(r["refused"] for r in rows)
    hoidap = summary["systems"]["hoidap"]["metrics"]
    assert hoidap["refusal_recall"]["mean"] == 1.0
    assert hoidap["refusal_precision"]["mean"] == pytest.approx(16 / 89, abs=1e-4)
    assert hoidap["contains_gold"]["mean"] == 0.0 and hoidap["token_f1"]["mean"] == 0.0
    assert hoidap["citation_precision"] is None and hoidap["citation_recall"] is None
    assert summary["failures"]["wrong_refusal"] + summary["failures"]["retrieval_miss"] == 73
    assert summary["failures"]["ok"] == 16


def test_compare_finds_the_regression_and_the_flips(full_run, refused_run):
    _, run_a, _ = full_run
    _, run_b = refused_run
    result = compare_runs(run_a, run_b)
    assert result["common_questions"] == 89
    assert set(result["systems"]) == {"hoidap"}  # B ran without baselines
    contains = result["systems"]["hoidap"]["contains_gold"]
    assert contains["delta"] < -0.5 and contains["significant"]
    recall = result["systems"]["hoidap"]["refusal_recall"]
    assert recall["b"] == 1.0
    rows_a = {r["id"]: r for r in rows_of(run_a)}
    broken = [f["id"] for f in result["flips"]["broken"]]
    assert broken == [i for i, r in rows_a.items() if r["correct"] and r["answerable"]]
    fixed = [f["id"] for f in result["flips"]["fixed"]]
    assert fixed == [i for i, r in rows_a.items() if not r["answerable"] and not r["refused"]]
    text = render_compare(result)
    assert "Đúng ở A, sai ở B" in text and "Chứa đáp án" in text


def test_cli_compare_and_bad_input_exit_codes(full_run, tmp_path, capsys):
    _, run_a, _ = full_run
    assert hoidap_main(["eval", "compare", str(run_a), str(run_a), "--json"]) == 0
    same = json.loads(capsys.readouterr().out)
    assert same["flips"] == {"fixed": [], "broken": []}
    assert same["systems"]["hoidap"]["token_f1"]["p_value"] == 1.0
    assert hoidap_main(["eval", "compare", str(run_a), str(tmp_path / "none")]) == 2
    assert "results.jsonl" in capsys.readouterr().err
    home = ["--home", str(tmp_path / "h")]
    assert hoidap_main(["eval", str(tmp_path / "none.jsonl"), "--out", str(tmp_path), *home]) == 2
    assert "không tìm thấy" in capsys.readouterr().err
    cfg = tmp_path / "c.toml"
    cfg.write_text("top_kk = 3\n", encoding="utf-8")
    args = ["eval", str(SEED_QA), "--out", str(tmp_path / "o"), "--config", str(cfg), *home]
    assert hoidap_main(args) == 2
    assert "top_kk" in capsys.readouterr().err


def test_bad_rows_and_hostile_text(home, tmp_path):
    p = tmp_path / "hostile.jsonl"
    p.write_text(
        "\n".join(
            [
                json.dumps(
                    {
                        "id": "x1",
                        "question": "Ban Chỉ đạo kiểm tra <script>alert(1)</script> bao nhiêu?",
                        "answers": ["<img src=x onerror=alert(1)>"],
                    }
                ),
                "{broken",
                json.dumps({"id": "x2", "question": "???"}),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "run"
    summary = run_eval(p, home[0], out, assistant=make(home))
    assert summary["testset"]["skipped_rows"][0]["line"] == 2
    assert summary["errors"] == [{"id": "x2", "line": 3, "error": summary["errors"][0]["error"]}]
    assert summary["scored"] == 1
    page = (out / "report.html").read_text("utf-8")
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "Dòng bị bỏ qua" in page


def test_squad_set_gets_its_own_index(home, tmp_path):
    doc = {
        "data": [
            {
                "title": "Sơn La",
                "paragraphs": [
                    {
                        "context": "Năm 2019, tỉnh Sơn La có 586 hợp tác xã trồng cây ăn quả.",
                        "qas": [
                            {
                                "id": "q1",
                                "question": "Sơn La có bao nhiêu hợp tác xã trồng cây ăn quả?",
                                "answers": [{"text": "586 hợp tác xã"}],
                            }
                        ],
                    },
                    {
                        "context": "Hà Tĩnh tổ chức tập huấn cho 300 cán bộ dân vận.",
                        "qas": [
                            {
                                "id": "q2",
                                "question": "Hà Tĩnh tập huấn cho bao nhiêu cán bộ?",
                                "answers": [{"text": "300 cán bộ"}],
                            }
                        ],
                    },
                ],
            }
        ]
    }
    p = tmp_path / "tiny_squad.json"
    p.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    settings = home[0]
    given = make(home)  # on the "default" index: the set must not be ingested there
    summary = run_eval(p, settings, tmp_path / "run", assistant=given)
    assert summary["run"]["index"] == "tiny_squad" and summary["run"]["articles"] == 2
    assert given.services.catalog.counts()[0] == 5  # the seed index is untouched
    hoidap = summary["systems"]["hoidap"]["metrics"]
    assert hoidap["article_hit@1"]["mean"] == 1.0
    assert hoidap["passage_hit@1"]["mean"] == 1.0
    assert hoidap["contains_gold"]["mean"] == 1.0


def test_with_the_reader_the_rules_answer_the_same_questions_as_a_baseline(home, tmp_path):
    from rag.answer.reader.model import WEIGHTS_FILE

    if not WEIGHTS_FILE.is_file():
        pytest.skip("no reader weights in this checkout")
    settings, emb = home
    reader_settings = replace(settings, answerer="reader")
    out = tmp_path / "reader-run"
    qa = subset(tmp_path, 12)
    summary = run_eval(
        qa, reader_settings, out, baselines=True,
        assistant=CountingAssistant(reader_settings, embedder=emb),
    )  # fmt: skip
    assert set(summary["systems"]) == {"hoidap", "langchain", "bm25", "rules"}
    rules = summary["systems"]["rules"]
    assert rules["kind"] == "answers"
    assert {"token_f1", "exact_match", "refusal_precision", "refusal_recall"} <= set(
        rules["metrics"]
    )
    assert "article_mrr@10" not in rules["metrics"]
    rows = rows_of(out)
    index = summary["run"]["index"]
    direct = Assistant(replace(settings, answerer="extractive", index=index), embedder=emb)
    items = {i.id: i for i in load_qa_set(qa).items}
    for r in rows[:3]:  # the rules' answer is the rule-based assistant's own (follow-ups too)
        item = items[r["id"]]
        assert r["rules_answer"] == direct.ask(item.question, history=item.history).text
    paired = summary["paired_vs_rules"]["token_f1"]
    f1 = [(x["metrics"]["rules"]["token_f1"], x["metrics"]["hoidap"]["token_f1"]) for x in rows]
    f1 = [(a, b) for a, b in f1 if a is not None and b is not None]
    assert paired["n"] == len(f1)
    assert paired["diff"] == pytest.approx(sum(b - a for a, b in f1) / len(f1), abs=1e-3)
    assert paired["low"] <= paired["diff"] <= paired["high"]
    assert "So với bộ trả lời theo quy tắc" in (out / "report.md").read_text("utf-8")
