"""The reader's inputs and its weights file: whole-sentence windows, a word map that
gives exact characters, and a weights file that is missing or damaged failing clearly
(and, behind the default answerer, falling back to the rules with a notice)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from rag.answer.reader.model import META_FILE, WEIGHTS_FILE, ReaderUnavailable, load_net, sha256
from rag.answer.reader.windows import WindowBuilder, sentence_spans, windows_around

TEXT = "Câu một ngắn. Câu hai dài hơn một chút. Câu ba. Câu bốn kết thúc."


class CharTokenizer:
    """One token per character of a word (ids = code points), like a unigram tokenizer
    that never joins pieces across a space."""

    def content_ids(self, texts: Sequence[str]) -> list[list[int]]:
        return [[ord(c) for c in t] for t in texts]


def test_a_window_is_whole_sentences_with_an_exact_word_map() -> None:
    b = WindowBuilder(CharTokenizer(), bos=0, eos=2, max_tokens=200)
    q = b.question_ids("Câu nào?")
    spans = sentence_spans(TEXT)
    w = b.build(q, TEXT, spans)
    assert w.sentences == spans and w.ids[0] == 0 and w.ids[-1] == 2
    for t, k in enumerate(w.token_word):
        if k >= 0:
            word = w.words[k]
            assert TEXT[word.start : word.end] == word.text
            assert chr(w.ids[t]) in word.text
    assert sum(w.first) == sum(w.last) == len(w.words)


def test_a_window_around_a_sentence_keeps_whole_neighbours_within_the_budget() -> None:
    b = WindowBuilder(CharTokenizer(), bos=0, eos=2, max_tokens=60)
    q = b.question_ids("Câu?")
    spans = sentence_spans(TEXT)
    w = windows_around(b, q, TEXT, spans, centre=2)
    assert spans[2] in w.sentences
    assert all(s in spans for s in w.sentences)  # none cut
    assert len(w.ids) <= 60


def _copy_model(tmp_path: Path) -> tuple[Path, Path]:
    if not WEIGHTS_FILE.is_file():
        pytest.skip("no reader weights in this checkout")
    w, m = tmp_path / "reader.npz", tmp_path / "reader.json"
    shutil.copy(WEIGHTS_FILE, w)
    shutil.copy(META_FILE, m)
    return w, m


def test_missing_weights_say_what_to_do(tmp_path: Path) -> None:
    meta = tmp_path / "reader.json"
    meta.write_text(json.dumps({"sha256": "0", "base_sha256": "0", "trained_layers": 6,
                                "max_tokens": 256}))  # fmt: skip
    with pytest.raises(ReaderUnavailable, match=r"missing.*retrain"):
        load_net(None, tmp_path / "e5.bin", tmp_path / "reader.npz", meta)


def test_a_damaged_weights_file_is_refused_by_its_checksum(tmp_path: Path) -> None:
    w, m = _copy_model(tmp_path)
    data = bytearray(w.read_bytes())
    data[len(data) // 2] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(ReaderUnavailable, match="damaged"):
        load_net(None, tmp_path / "e5.bin", w, m)


def test_the_shipped_weights_match_their_checksum() -> None:
    if not WEIGHTS_FILE.is_file():
        pytest.skip("no reader weights in this checkout")
    meta = json.loads(META_FILE.read_text(encoding="utf-8"))
    assert sha256(WEIGHTS_FILE) == meta["sha256"]
    assert WEIGHTS_FILE.stat().st_size <= 30 * 1024 * 1024


def test_the_default_answerer_without_weights_answers_by_the_rules_with_a_notice(
    seed_index, tmp_path: Path
) -> None:
    from rag.assistant import Assistant

    assistant = Assistant(seed_index.settings(answerer="reader"), embedder=seed_index.embedder)
    assert assistant.services.answerer_label == "reader"
    reader = assistant.services.reader_answerer.reader
    reader.weights = tmp_path / "missing.npz"
    ans = assistant.ask("Ban Chỉ đạo đã làm gì để thực hiện Quy chế dân chủ ở cơ sở?")
    assert ans.answerer == "extractive"
    assert "Mô hình đọc hiểu không dùng được" in (ans.notice or "")
    assert "missing.npz" in (ans.notice or "")


TWO = (
    "Chiều 1/7, tại Quận ủy Quận 9, Đoàn kiểm tra của Ban Dân vận Thành ủy đã kiểm tra Cụm "
    "thi đua 3. Tiếp đoàn có bà Đặng Thị Hồng Liên, Bí thư Quận ủy Quận 9. Năm 2021, quận tổ "
    "chức 120 buổi đối thoại với nhân dân."
)


@pytest.fixture(scope="module", params=["int8", "fp32"])
def real_reader(request):
    if not WEIGHTS_FILE.is_file():
        pytest.skip("no reader weights in this checkout")
    from rag.answer.reader.reader import Reader

    reader = Reader(precision=request.param)
    reader.warm_up()
    assert reader.mode == request.param
    return reader


def test_an_unknown_precision_is_a_clear_error(tmp_path: Path) -> None:
    from rag.answer.reader.reader import Reader
    from rag.settings import SettingsError, load_settings

    with pytest.raises(ReaderUnavailable, match="int4"):
        Reader(precision="int4").warm_up()
    with pytest.raises(SettingsError, match="reader_precision"):
        load_settings(tmp_path, env={"HOIDAP_READER_PRECISION": "int4"})


def test_the_shipped_reader_finds_the_span_and_the_sentence(real_reader) -> None:
    from rag.answer.reader.reader import Passage

    rd = real_reader.read("Ai là Bí thư Quận ủy Quận 9?", [Passage("a", "a", TWO, 0, len(TWO))])[0]
    assert "Đặng Thị Hồng Liên" in rd.span_text and rd.answerable > 0.5
    best = max(rd.sentences, key=lambda s: s[2])
    assert TWO[best[0] : best[1]].startswith("Tiếp đoàn có bà Đặng Thị Hồng Liên")
    cut = TWO.index("quận tổ chức")  # the chunk starts inside the third sentence
    q = "Quận tổ chức bao nhiêu buổi đối thoại?"
    rd = real_reader.read(q, [Passage("a", "a", TWO, cut, len(TWO))])[0]
    assert rd.span_text.startswith("120")
    assert TWO[rd.sentences[0][0] :].startswith("Năm 2021")  # the window is whole sentences


def test_the_shipped_reader_says_an_unrelated_question_is_not_answered(real_reader) -> None:
    from rag.answer.reader.reader import Passage

    rd = real_reader.read(
        "Ai là Giám đốc Sở Y tế tỉnh Cà Mau?", [Passage("a", "a", TWO, 0, len(TWO))]
    )[0]
    assert rd.answerable < 0.22
