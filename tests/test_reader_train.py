"""The documented retraining command, end to end on a tiny QA file written here: the
shipped recipe (one cycle, 8 layers, 2 epochs) trains, a second run resumes from the
checkpoint instead of training again, and the result loads as a reader; with ``--cycles 2``
the second cycle starts from the first's weights (checked by its SHA-256). Slow: it loads
the bundled e5-small weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.answer.reader.model import ReaderMeta, load_net, sha256
from rag.answer.reader.train import main

pytestmark = pytest.mark.slow

ARTICLES = {
    "a": (
        "Ủy ban nhân dân tỉnh Lâm Hà tổ chức hội nghị dân vận vào tháng 3 năm 2021. "
        "Ông Nguyễn Văn Bình, Chủ tịch Ủy ban, chủ trì hội nghị. "
        "Hội nghị có 120 đại biểu tham dự."
    ),
    "b": (
        "Huyện Tân Phú xây dựng 45 mô hình dân vận khéo trong năm 2020. "
        "Bà Trần Thị Mai là Trưởng ban Dân vận Huyện ủy. "
        "Các mô hình tập trung vào giảm nghèo và xây dựng nông thôn mới."
    ),
}
QUESTIONS = [
    ("a", "Ai chủ trì hội nghị dân vận của tỉnh Lâm Hà?", "Nguyễn Văn Bình"),
    ("a", "Hội nghị có bao nhiêu đại biểu tham dự?", "120"),
    ("a", "Hội nghị dân vận được tổ chức vào khi nào?", "tháng 3 năm 2021"),
    ("b", "Huyện Tân Phú xây dựng bao nhiêu mô hình dân vận khéo?", "45"),
    ("b", "Ai là Trưởng ban Dân vận Huyện ủy Tân Phú?", "Trần Thị Mai"),
    ("b", "Các mô hình tập trung vào lĩnh vực nào?", "giảm nghèo"),
]


def _write_data(folder: Path) -> Path:
    qa = folder / "tiny_train.jsonl"
    lines = []
    for i, (cid, question, answer) in enumerate(QUESTIONS):
        text = ARTICLES[cid]
        start = text.index(answer)
        lines.append(json.dumps({
            "id": f"q{i}", "question": question, "answers": [answer], "context_id": cid,
            "context": text, "answer_spans": [{"start": start, "end": start + len(answer)}],
        }, ensure_ascii=False))  # fmt: skip
    qa.write_text("\n".join(lines) + "\n", encoding="utf-8")
    contexts = [{"context_id": c, "title": f"Bài {c}", "text": t} for c, t in ARTICLES.items()]
    qa.with_name("tiny_train.contexts.jsonl").write_text(
        "\n".join(json.dumps(c, ensure_ascii=False) for c in contexts) + "\n", encoding="utf-8"
    )
    return qa


def test_the_shipped_recipe_trains_resumes_and_loads(tmp_path: Path, capsys) -> None:
    data = _write_data(tmp_path)
    work, out = tmp_path / "work", tmp_path / "out"
    argv = ["--data", str(data), "--work", str(work), "--out", str(out), "--batch", "4",
            "--limit", "8", "--threads", "1"]  # fmt: skip
    assert main(argv) == 0
    meta = ReaderMeta.load(out / "reader.json")
    assert meta.extra["seed"] == 13 and meta.extra["init"] is None
    assert meta.extra["epochs"] == 2 and meta.extra["steps"] == 4  # 8 features, batch 4
    assert meta.sha256 == sha256(out / "reader.npz")
    capsys.readouterr()
    assert main(argv) == 0  # complete: resumed at its last step, nothing trained again
    assert "resumed at step 4/4" in capsys.readouterr().out
    assert ReaderMeta.load(out / "reader.json").sha256 == meta.sha256

    from embeddings.e5_model import default_model_path, read_model_file

    base = default_model_path()
    net, loaded = load_net(read_model_file(base), base, out / "reader.npz", out / "reader.json")
    assert loaded.trained_layers == 8 and not any(p.requires_grad for p in net.parameters())


def test_the_two_cycle_recipe_trains_resumes_and_loads(tmp_path: Path, capsys) -> None:
    data = _write_data(tmp_path)
    work, out = tmp_path / "work", tmp_path / "out"
    argv = ["--data", str(data), "--work", str(work), "--out", str(out), "--batch", "4",
            "--limit", "8", "--threads", "1", "--cycles", "2", "--layers", "6",
            "--epochs", "1"]  # fmt: skip
    assert main(argv) == 0
    first = ReaderMeta.load(work / "cycle1" / "reader.json")
    second = ReaderMeta.load(out / "reader.json")
    assert first.extra["seed"] == 13 and first.extra["init"] is None
    assert second.extra["seed"] == 14 and second.extra["lr"] == pytest.approx(4e-5)
    assert second.extra["init"]["sha256"] == first.sha256 == sha256(work / "cycle1/reader.npz")
    assert second.sha256 == sha256(out / "reader.npz") != first.sha256
    assert len(list(work.glob("checkpoint-*.pt"))) == 2

    capsys.readouterr()
    assert main(argv) == 0  # both cycles are complete: resumed, nothing trained again
    log = capsys.readouterr().out
    assert log.count("resumed at step 2/2") == 2  # at their last step: no step trained
    assert ReaderMeta.load(out / "reader.json").sha256 == second.sha256

    from embeddings.e5_model import default_model_path, read_model_file

    base = default_model_path()
    net, meta = load_net(read_model_file(base), base, out / "reader.npz", out / "reader.json")
    assert meta.trained_layers == 6 and not any(p.requires_grad for p in net.parameters())
