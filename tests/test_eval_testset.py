"""Test-set formats: JSONL, CSV, SQuAD JSON, shared QA pairs; malformed rows by line."""

import json
from pathlib import Path

import pytest

from evals.testset import QASetError, load_qa_set, write_corpus

ROOT = Path(__file__).resolve().parent.parent


def test_the_shipped_seed_set_loads_without_errors():
    qa = load_qa_set(ROOT / "evals" / "seed_qa.jsonl")
    assert (qa.format, qa.name, len(qa.items), qa.errors) == ("jsonl", "seed_qa", 89, ())
    assert sum(not i.answerable for i in qa.items) == 16
    follow = next(i for i in qa.items if i.id == "seed-003")
    assert len(follow.history) == 2 and follow.history[0].answer.startswith("Năm 2021")


def test_jsonl_malformed_rows_are_reported_with_line_numbers(tmp_path):
    lines = [
        '{"id": "a", "question": "Ai là Trưởng ban?", "answers": ["Lan"], "gold_articles": ["x"]}',
        "{not json",
        "",
        '{"id": "b"}',
        '{"id": "c", "question": "Có bao nhiêu?", "answers": "151", "answerable": "không"}',
        '{"id": "a", "question": "Trùng mã?"}',
        '{"id": "d", "question": "Lượt sau?", "history": [{"question": "x"}]}',
        '{"id": "e", "question": "Câu?", "answerable": "có lẽ"}',
        '["a", "list"]',
        '{"question": "Không có mã?", "gold_articles": [1, 2]}',
    ]
    p = tmp_path / "set.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    qa = load_qa_set(p)
    assert [i.id for i in qa.items] == ["a", "c", "line-10"]
    c = qa.items[1]
    assert (c.answers, c.answerable) == (("151",), False)
    assert qa.items[2].gold_articles == ("1", "2")
    assert [e.line for e in qa.errors] == [2, 4, 6, 7, 8, 9]
    msgs = {e.line: e.message for e in qa.errors}
    assert "JSON" in msgs[2] and "question" in msgs[4] and "trùng" in msgs[6]
    assert "history" in msgs[7] and "answerable" in msgs[8]
    assert qa.errors[0].describe().startswith("Dòng 2 (set.jsonl):")


def test_jsonl_with_bom_and_invalid_utf8_line(tmp_path):
    p = tmp_path / "bom.jsonl"
    good = json.dumps({"id": "q", "question": "Hà Nội?"}, ensure_ascii=False).encode()
    p.write_bytes(b"\xef\xbb\xbf" + good + b"\n" + b'{"question": "\xff"}\n')
    qa = load_qa_set(p)
    assert [i.id for i in qa.items] == ["q"]
    assert qa.errors[0].line == 2 and "UTF-8" in qa.errors[0].message


def test_csv_lists_history_and_bad_rows(tmp_path):
    p = tmp_path / "set.csv"
    p.write_text(
        "id,question,answers,gold_articles,answerable,history\n"
        'q1,"Có bao nhiêu đơn vị, xã?",151 | 151 cơ quan,art1,true,\n'
        'q2,Câu JSON,"[""65"", ""65 xã""]",,1,'
        '"[{""question"": ""Trước?"", ""answer"": ""151.""}]"\n'
        "q3,,x,,,\n"
        "q4,Câu hỏi,x,,maybe,\n"
        "q5,Không có đáp án,,,không,\n"
        ",,,,,\n"
        'q6,"Dòng\nhai dòng",y,,,\n'
        "q7,Câu,a,b,true,[bad\n",
        encoding="utf-8",
    )
    qa = load_qa_set(p)
    assert [i.id for i in qa.items] == ["q1", "q2", "q5", "q6"]
    q1, q2, q5, q6 = qa.items
    assert q1.answers == ("151", "151 cơ quan") and q1.gold_articles == ("art1",)
    assert q2.answers == ("65", "65 xã") and q2.history[0].question == "Trước?"
    assert (q5.answerable, q5.answers) == (False, ())
    assert q6.question == "Dòng\nhai dòng" and q6.line == 8
    assert [(e.line, "question" in e.message) for e in qa.errors][:1] == [(4, True)]
    assert [e.line for e in qa.errors] == [4, 5, 10]


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("x.csv", "id,cau_hoi\n1,Ai?\n", "question"),  # a CSV without a question column
        ("x.json", '{"questions": []}', "data"),  # a JSON file that is not SQuAD
    ],
    ids=["csv_without_question_column", "squad_file_that_is_not_squad"],
)
def test_a_file_not_in_its_format_is_a_file_error(tmp_path, name, content, match):
    p = tmp_path / name
    p.write_text(content, encoding="utf-8")
    with pytest.raises(QASetError, match=match):
        load_qa_set(p)


def test_squad_json_brings_its_passages(tmp_path):
    doc = {
        "version": "v2.0",
        "data": [
            {
                "title": "Huế",
                "paragraphs": [
                    {
                        "context": "Huế là cố đô của Việt Nam.",
                        "qas": [
                            {
                                "id": "s1",
                                "question": "Cố đô là gì?",
                                "answers": [{"text": "Huế", "answer_start": 0}],
                            },
                            {
                                "id": "s2",
                                "question": "Dân số?",
                                "answers": [],
                                "is_impossible": True,
                            },
                            {"id": "s3", "answers": []},
                        ],
                    },
                    {"qas": []},
                ],
            }
        ],
    }
    p = tmp_path / "My Set.json"
    p.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    qa = load_qa_set(p)
    assert (qa.format, qa.name) == ("squad", "My-Set")
    assert len(qa.passages) == 1 and qa.passages[0].title == "Huế"
    pid = qa.passages[0].id
    s1, s2 = qa.items
    assert s1.gold_articles == (pid,) and s1.answers == ("Huế",) and s1.answerable
    assert not s2.answerable
    assert [e.where for e in qa.errors] == [
        "data[0].paragraphs[0].qas[2]",
        "data[0].paragraphs[1]",
    ]
    assert qa.errors[0].describe().startswith("Vị trí (data[0]")
    # the passages become a JSONL corpus, rewritten only when it changes
    out = write_corpus(qa, tmp_path / "corpora")
    mtime = out.stat().st_mtime_ns
    assert json.loads(out.read_text(encoding="utf-8").splitlines()[0])["id"] == pid
    assert write_corpus(qa, tmp_path / "corpora").stat().st_mtime_ns == mtime


def _shared(tmp_path):
    (tmp_path / "mini.contexts.jsonl").write_text(
        '{"context_id": "mini-1", "title": "T", "text": "Đà Nẵng có cầu Rồng."}\n'
        '{"context_id": "mini-2"}\n',
        encoding="utf-8",
    )
    (tmp_path / "mini.jsonl").write_text(
        '{"id": "m1", "question": "Cầu gì?", "answers": ["cầu Rồng"], "context_id": "mini-1"}\n'
        '{"id": "m2", "question": "Khác?", "answers": ["x"], "context_id": "mini-9"}\n',
        encoding="utf-8",
    )


@pytest.mark.parametrize("arg", ["mini", "mini.jsonl", "mini.contexts.jsonl"])
def test_shared_qa_pair_by_prefix_or_either_file(tmp_path, arg):
    _shared(tmp_path)
    qa = load_qa_set(tmp_path / arg)
    assert (qa.format, qa.name, [i.id for i in qa.items]) == ("shared", "mini", ["m1"])
    assert qa.items[0].gold_articles == ("mini-1",)
    assert [p.id for p in qa.passages] == ["mini-1"]
    assert [(e.line, e.where) for e in qa.errors] == [(2, "mini.contexts.jsonl"), (2, "mini.jsonl")]


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(QASetError, match="không tìm thấy"):
        load_qa_set(tmp_path / "none.jsonl")
    (tmp_path / "x.txt").write_text("hi", encoding="utf-8")
    with pytest.raises(QASetError, match="không hỗ trợ"):
        load_qa_set(tmp_path / "x.txt")


def test_the_shared_xquad_set_imports_if_present():
    base = ROOT.parent / "shared" / "data" / "qa" / "xquad_vi"
    if not base.with_name("xquad_vi.jsonl").is_file():
        pytest.skip("shared QA data not available")
    qa = load_qa_set(base)
    assert (len(qa.items), len(qa.passages), qa.errors) == (1190, 240, ())
