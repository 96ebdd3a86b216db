"""The reader answerer's decisions, with a deterministic fake reader (no model).

The fake gives each window the scores a test sets; the answerer's rules are what is tested:
the span leads a factoid answer, low answerability refuses, open questions list whole
cited sentences across articles without repeats, quotes are whole article sentences even
when a chunk ends mid-sentence, and a reader that cannot load falls back with a notice.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from corpus.types import Chunk
from rag.answer.answerer import AnswerRequest
from rag.answer.evidence import Evidence
from rag.answer.extractive import ExtractiveAnswerer
from rag.answer.question import is_open_question
from rag.answer.reader.answerer import ReaderAnswerer, ReaderCalibration, ReaderPassages
from rag.answer.reader.model import ReaderUnavailable
from rag.answer.reader.reader import Passage, Reading
from rag.answer.reader.windows import sentence_spans
from rag.types import Answer, ScoredChunk

A = (
    "Chiều 1/7, Đoàn kiểm tra của Ban Dân vận Thành ủy đã kiểm tra Cụm thi đua 3. "
    "Bí thư Quận ủy Quận 9 là bà Đặng Thị Hồng Liên. "
    "Quận đã tổ chức 120 buổi đối thoại với nhân dân. "
    "Quận cũng xây dựng 45 mô hình dân vận khéo."
)
B = "Huyện Kỳ Anh đã vận động nhân dân hiến 12.000 m2 đất làm đường. Trời mưa to."


def hit(aid: str, text: str, start: int, end: int, rank: int) -> ScoredChunk:
    chunk = Chunk(f"{aid}#v-{rank:04d}", aid, rank, text[start:end], start, end, text[start:end])
    return ScoredChunk(chunk, 1.0 / (rank + 1), title=f"Bài {aid}", date="2019-07-01")


class FakeReader:
    """Scores set by the test: per article, answerability and a phrase to return as span;
    a sentence's relevance is 0.9 when it holds one of ``relevant`` words, else 0.01 (or,
    with a dict, the relevance of the first of its words the sentence holds)."""

    def __init__(
        self,
        answerable: dict[str, float],
        spans: dict[str, str] | None = None,
        relevant: Sequence[str] | dict[str, float] = (),
        fail: bool = False,
        alone: float | None = None,
    ) -> None:
        self.alone = alone  # answerability of a passage of one sentence, if set
        self.answerable, self.spans, self.relevant, self.fail = (
            answerable,
            spans or {},
            relevant,
            fail,
        )
        self.seen: list[Passage] = []

    def read(self, question: str, passages: Sequence[Passage]) -> list[Reading]:
        if self.fail:
            raise ReaderUnavailable("the reader model's weights /x/reader.npz are missing")
        self.seen.extend(passages)
        out = []
        for p in passages:
            spans = [(a, b) for a, b in sentence_spans(p.text) if a < p.end and b > p.start]
            sents = [(a, b, self.relevance(p.text[a:b])) for a, b in spans]
            phrase = self.spans.get(p.article_id)
            i = p.text.find(phrase) if phrase else -1
            span = (i, i + len(phrase)) if phrase and i >= 0 else None
            score = self.answerable.get(p.article_id, 0.0)
            if self.alone is not None and len(spans) == 1:
                score = self.alone
            out.append(Reading(p, score, span, 1.0, sents))
        return out

    def relevance(self, sentence: str) -> float:
        if isinstance(self.relevant, dict):  # word -> relevance, the first word found
            return next((r for w, r in self.relevant.items() if w in sentence), 0.01)
        return 0.9 if any(w in sentence for w in self.relevant) else 0.01


def answerer(reader: FakeReader, **cal: float) -> ReaderAnswerer:
    calibration = ReaderCalibration(**{"threshold": 0.5, "open_threshold": 0.2, **cal})
    return ReaderAnswerer(reader, ExtractiveAnswerer(threshold=0.0), calibration=calibration)  # type: ignore[arg-type]


def evidence(*hits: ScoredChunk) -> Evidence:
    return Evidence.of(list(hits), {"a": A, "b": B})


def test_factoid_leads_with_the_span_then_its_whole_sentence() -> None:
    ev = evidence(hit("b", B, 0, len(B), 0), hit("a", A, 0, len(A), 1))
    ans = answerer(FakeReader({"a": 0.9, "b": 0.2}, {"a": "Đặng Thị Hồng Liên"})).answer(
        "Ai là Bí thư Quận ủy Quận 9?", ev
    )
    assert not ans.refused
    assert ans.text.startswith("Đặng Thị Hồng Liên [1].")
    assert ans.citations[0].quote == "Bí thư Quận ủy Quận 9 là bà Đặng Thị Hồng Liên."
    assert A[ans.citations[0].start : ans.citations[0].end] == ans.citations[0].quote
    # the window that answers is put first in the retrieved list (reader re-ranking)
    assert ans.retrieved[0].chunk.article_id == "a"


def test_low_answerability_refuses_naming_the_closest_articles() -> None:
    ev = evidence(hit("a", A, 0, len(A), 0))
    ans = answerer(FakeReader({"a": 0.3}, {"a": "Đặng Thị Hồng Liên"})).answer(
        "Ai là Chủ tịch Ủy ban nhân dân Quận 9?", ev
    )
    assert ans.refused and ans.citations == []
    assert ans.text.startswith("Không tìm thấy thông tin này") and "«Bài a»" in ans.text


def test_a_number_the_article_lacks_refuses_even_when_the_reader_is_confident() -> None:
    ev = evidence(hit("a", A, 0, len(A), 0))
    ans = answerer(FakeReader({"a": 0.95}, {"a": "Chiều 1/7"})).answer(
        "Ban Dân vận Thành ủy kiểm tra Cụm thi đua 57 vào ngày nào?", ev
    )
    assert ans.refused and "57" in (ans.notice or "")


def test_open_question_lists_relevant_sentences_across_articles_once_each() -> None:
    ev = evidence(hit("a", A, 0, 140, 0), hit("a", A, 100, len(A), 1), hit("b", B, 0, len(B), 2))
    reader = FakeReader({"a": 0.8, "b": 0.6}, relevant=("đối thoại", "mô hình", "hiến"))
    ans = answerer(reader).answer("Các địa phương đã làm gì để làm tốt công tác dân vận?", ev)
    lines = ans.text.split("\n")
    assert lines[0].startswith("Các ý chính từ 2 bài viết")
    quotes = [c.quote for c in ans.citations]
    assert quotes == [
        "Quận đã tổ chức 120 buổi đối thoại với nhân dân.",
        "Quận cũng xây dựng 45 mô hình dân vận khéo.",
        "Huyện Kỳ Anh đã vận động nhân dân hiến 12.000 m2 đất làm đường.",
    ]
    assert [line[:2] for line in lines[1:]] == ["- "] * 3
    assert [c.n for c in ans.citations] == [1, 2, 3]


HT = (
    "Hà Tĩnh đã tổ chức 300 buổi đối thoại với nhân dân. "
    "Tỉnh cũng xây dựng 45 mô hình dân vận khéo."
)
SL = "Sơn La phát huy vai trò Mặt trận trong đối thoại. Các bản làm theo mô hình của huyện Mai Sơn."


def open_evidence() -> Evidence:
    return Evidence.of(
        [hit("sl", SL, 0, len(SL), 0), hit("ht", HT, 0, len(HT), 1)], {"sl": SL, "ht": HT}
    )


def test_an_open_question_lists_only_the_articles_about_the_place_it_names() -> None:
    reader = FakeReader({"sl": 0.8, "ht": 0.6}, relevant=("đối thoại", "mô hình"))
    ans = answerer(reader).answer("Hà Tĩnh đã làm gì để đổi mới công tác dân vận?", open_evidence())
    assert not ans.refused
    assert {c.article_id for c in ans.citations} == {"ht"}
    assert len(ans.citations) == 2
    # a comparison of the two keeps both, each article lacking the other's province
    both = answerer(reader).answer(
        "Hà Tĩnh và Sơn La đã làm gì để đổi mới công tác dân vận?", open_evidence()
    )
    assert {c.article_id for c in both.citations} == {"ht", "sl"}
    # and a question that names no place lists both
    plain = answerer(reader).answer(
        "Các tỉnh đã làm gì để đổi mới công tác dân vận?", open_evidence()
    )
    assert {c.article_id for c in plain.citations} == {"ht", "sl"}


def test_an_open_question_reads_a_later_chunk_of_an_article_naming_what_the_first_lack() -> None:
    """The top chunks are all Hà Tĩnh's; Sơn La's comes sixth, past the chunks read."""
    hits = [hit("ht", HT, 0, len(HT), r) for r in range(5)] + [hit("sl", SL, 0, len(SL), 5)]
    ev = Evidence.of(hits, {"sl": SL, "ht": HT})
    reader = FakeReader({"sl": 0.8, "ht": 0.6}, relevant=("đối thoại", "mô hình"))
    ans = answerer(reader).answer("Hà Tĩnh và Sơn La đã làm gì để đổi mới công tác dân vận?", ev)
    assert {c.article_id for c in ans.citations} == {"ht", "sl"}
    # a question that names nothing the chunks read lack reads no more
    reader.seen.clear()
    answerer(reader).answer("Hà Tĩnh đã làm gì để đổi mới công tác dân vận?", ev)
    assert {p.article_id for p in reader.seen} == {"ht"}


def test_an_open_question_about_a_place_no_article_names_is_refused_naming_it() -> None:
    reader = FakeReader({"sl": 0.8, "ht": 0.6}, relevant=("đối thoại", "mô hình"))
    ans = answerer(reader).answer(
        "Quảng Nam đã làm gì để đổi mới công tác dân vận?", open_evidence()
    )
    assert ans.refused and ans.citations == []
    assert "Quảng Nam" in (ans.notice or "")
    # a numbered group one article numbers otherwise and the others never name
    ev = evidence(hit("a", A, 0, len(A), 0), hit("b", B, 0, len(B), 1))
    reader = FakeReader({"a": 0.8, "b": 0.6}, relevant=("đối thoại", "hiến"))
    group = answerer(reader).answer(
        "Các quận thuộc Cụm thi đua 5 đã làm gì để làm tốt công tác dân vận?", ev
    )
    assert group.refused and "Cụm thi đua 5" in (group.notice or "")
    same = answerer(reader).answer(
        "Các quận thuộc Cụm thi đua 3 đã làm gì để làm tốt công tác dân vận?", ev
    )
    assert not same.refused
    # the words that make it an open question ("tóm tắt", "so sánh") are not missing facts
    reader = FakeReader({"sl": 0.8, "ht": 0.6}, relevant=("đối thoại", "mô hình"))
    ok = answerer(reader).answer(
        "Tóm tắt việc đổi mới công tác dân vận ở Hà Tĩnh.", open_evidence()
    )
    assert not ok.refused, ok.notice


def test_a_long_point_that_holds_a_shorter_listed_one_is_not_dropped_as_a_repeat() -> None:
    """Repeats are judged by the new sentence's own words: the long one adds its points
    (it used to be dropped because the short one's words were all inside it)."""
    text = (
        "Đồng chí đề nghị các quận quan tâm công tác dân vận. "
        "Đồng chí đề nghị các quận quan tâm công tác dân vận, tổ chức đối thoại trực tiếp "
        "với nhân dân, tăng cường tiếp dân và nhân rộng điển hình dân vận khéo. "
        "Các quận quan tâm công tác dân vận."
    )
    ev = Evidence.of([hit("c", text, 0, len(text), 0)], {"c": text})
    reader = FakeReader({"c": 0.8}, relevant={"đối thoại": 0.5, "đề nghị": 0.9, "Các": 0.3})
    ans = answerer(reader).answer("Đồng chí đề nghị các quận làm những việc gì?", ev)
    quotes = [c.quote for c in ans.citations]
    assert len(quotes) == 2 and "đối thoại trực tiếp" in quotes[1]  # the third is a repeat
    assert quotes[0] == "Đồng chí đề nghị các quận quan tâm công tác dân vận."


def test_a_point_that_opens_an_enumeration_runs_on_to_its_end() -> None:
    from rag.answer.reader.answerer import enumeration_end

    text = (
        "Hội nghị diễn ra sáng 21/10.\n\n"
        "Theo đó, 3 quan điểm lớn được chỉ ra gồm: cách mạng là sự nghiệp của Nhân dân;\n\n"
        "Động lực thúc đẩy phong trào Nhân dân là phát huy quyền làm chủ;\n\n"
        "Phương thức lãnh đạo phải gắn liền với công tác xây dựng Đảng.\n\n"
        "Trời mưa to."
    )
    a = text.index("Theo đó")
    b = text.index(";") + 1
    end = enumeration_end(text, a, b)
    assert text[a:end].endswith("xây dựng Đảng.")
    assert enumeration_end(text, 0, text.index("\n")) == text.index("\n")  # a plain sentence
    assert enumeration_end(text, a, b, limit=180) == text.index("làm chủ;") + len("làm chủ;")
    assert enumeration_end(text, a, b, limit=120) == b  # the next item does not fit
    # as a listed point: one cited item, on one line, its later items not listed again
    ev = Evidence.of([hit("e", text, 0, len(text), 0)], {"e": text})
    reader = FakeReader({"e": 0.8}, relevant={"quan điểm": 0.9, "Động lực": 0.5})
    ans = answerer(reader).answer("Nêu các quan điểm lớn được chỉ ra?", ev)
    assert len(ans.citations) == 1 and ans.citations[0].quote.endswith("xây dựng Đảng.")
    assert "\n" not in ans.text.split("\n", 1)[1]


def test_a_quote_is_the_whole_sentence_when_the_chunk_cuts_it() -> None:
    cut = A.index("Hồng Liên") + 4  # the chunk ends inside "Hồng Liên."
    ev = evidence(hit("a", A, 0, cut, 0))
    ans = answerer(FakeReader({"a": 0.9}, {"a": "Đặng Thị Hồng"})).answer(
        "Ai là Bí thư Quận ủy Quận 9?", ev
    )
    assert ans.citations[0].quote.endswith("Đặng Thị Hồng Liên.")


def test_a_reader_that_cannot_load_falls_back_to_the_rules_with_a_notice() -> None:
    ev = evidence(hit("a", A, 0, len(A), 0))
    ans = answerer(FakeReader({}, fail=True)).respond(
        AnswerRequest("Bí thư Quận ủy Quận 9 là ai?"), ev
    )
    assert ans.answerer == "extractive"
    assert "Mô hình đọc hiểu không dùng được" in (ans.notice or "")
    assert "reader.npz are missing" in (ans.notice or "")


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Hà Tĩnh đã làm gì để đổi mới công tác dân vận?", True),
        ("Nêu các nhiệm vụ trọng tâm năm 2022.", True),
        ("Công tác dân vận còn những hạn chế gì?", True),
        ("Mặt trận đã thực hiện những việc gì khi triển khai Quy chế?", True),
        ("Huyện đoàn tổ chức những hoạt động gì trong tháng thanh niên?", True),
        ("Ông ấy làm việc gì ở Ban Dân vận?", False),
        ("Ai là Bí thư Quận ủy Quận 9?", False),
        ("Có bao nhiêu mô hình dân vận khéo?", False),
        ("Đoàn kiểm tra vào ngày nào?", False),
    ],
)
def test_open_questions_are_told_from_factoid_ones(question: str, expected: bool) -> None:
    assert is_open_question(question) is expected


def test_with_factoid_off_the_rules_answer_factoid_questions_and_the_reader_open_ones() -> None:
    ev = evidence(hit("a", A, 0, len(A), 0), hit("b", B, 0, len(B), 1))
    reader = FakeReader({"a": 0.9, "b": 0.6}, {"a": "Đặng Thị Hồng Liên"}, relevant=("đối thoại",))
    ra = ReaderAnswerer(
        reader,  # type: ignore[arg-type]
        ExtractiveAnswerer(threshold=0.0),
        calibration=ReaderCalibration(threshold=0.5),
        factoid=False,
    )
    ans = ra.answer("Ai là Bí thư Quận ủy Quận 9?", ev)
    assert ans.answerer == "extractive"
    # the rules chose the sentence; the reader read that sentence alone for the lead phrase
    quote = "Bí thư Quận ủy Quận 9 là bà Đặng Thị Hồng Liên."
    assert [A[p.start : p.end] for p in reader.seen] == [quote]
    assert ans.text.startswith("Đặng Thị Hồng Liên [1].") and ans.citations[0].quote == quote
    reader.spans["a"] = "120 buổi"  # a span outside the chosen sentence: the rules' phrase
    assert not ra.answer("Ai là Bí thư Quận ủy Quận 9?", ev).text.startswith("120")
    opened = ra.answer("Quận đã làm gì để làm tốt công tác dân vận?", ev)
    assert opened.answerer == "reader" and opened.text.startswith("Các ý chính")


@pytest.mark.parametrize(
    ("answerable", "answered_by", "read"),
    [(0.85, "reader", 3), (0.95, "extractive", 1), (0.75, "extractive", 3)],
)
def test_with_factoid_off_a_sure_reader_answers_where_it_doubts_the_rules(
    answerable: float, answered_by: str, read: int
) -> None:
    """The rules' sentence is read alone first; under ``rules_sure`` the reader reads the
    top chunks and answers itself at ``trust`` or more, else the rules' answer stands."""
    ev = evidence(hit("b", B, 0, len(B), 0), hit("a", A, 0, len(A), 1))
    reader = FakeReader({"a": answerable, "b": 0.1}, {"a": "bà Đặng Thị Hồng Liên"})
    ra = ReaderAnswerer(
        reader,  # type: ignore[arg-type]
        ExtractiveAnswerer(threshold=0.0),
        calibration=ReaderCalibration(threshold=0.5, trust=0.8, rules_sure=0.9),
        factoid=False,
    )
    ans = ra.answer("Ai là Bí thư Quận ủy Quận 9?", ev)
    quote = "Bí thư Quận ủy Quận 9 là bà Đặng Thị Hồng Liên."
    assert ans.answerer == answered_by and not ans.refused
    assert A[reader.seen[0].start : reader.seen[0].end] == quote  # the rules' sentence
    assert [p.article_id for p in reader.seen[1:]] == ["b", "a"][: read - 1]  # top chunks
    assert ans.citations[0].quote == quote
    if answered_by == "reader":  # the reader's span and window
        assert ans.text.startswith("Bà Đặng Thị Hồng Liên [1].")
        assert ans.citations[0].chunk_id == "a#v-0001"


@pytest.mark.parametrize(("rules_sentence", "shown"), [(0.6, True), (0.4, False)])
def test_where_the_reader_overrides_the_rules_their_sentence_follows_if_it_rates_it(
    rules_sentence: float, shown: bool
) -> None:
    """Shown second, cited, when the reader gives the rules' sentence (read alone) at
    least ``second`` (0.5) of its own window's answerability (0.95)."""
    ev = evidence(hit("a", A, 0, len(A), 0))
    reader = FakeReader({"a": 0.95}, {"a": "Cụm thi đua 3"}, alone=rules_sentence)
    ra = ReaderAnswerer(
        reader,  # type: ignore[arg-type]
        ExtractiveAnswerer(threshold=0.0),
        calibration=ReaderCalibration(threshold=0.5, trust=0.8, rules_sure=0.9, second=0.5),
        factoid=False,
    )
    ans = ra.answer("Ai là Bí thư Quận ủy Quận 9?", ev)
    assert ans.answerer == "reader" and ans.text.startswith("Cụm thi đua 3 [1].")
    rules = "Bí thư Quận ủy Quận 9 là bà Đặng Thị Hồng Liên."
    first = "Chiều 1/7, Đoàn kiểm tra của Ban Dân vận Thành ủy đã kiểm tra Cụm thi đua 3."
    assert [c.quote for c in ans.citations] == [first] + ([rules] if shown else [])
    if shown:
        assert ans.text.endswith(f"{rules[:-1]} [2].") and ans.citations[1].n == 2


@pytest.mark.parametrize(
    ("question", "text", "span"),
    [
        (  # how many: the span must start with a number
            "Quận đã tổ chức bao nhiêu buổi đối thoại với nhân dân?",
            "Quận đã tổ chức 120 buổi đối thoại với nhân dân. "
            "Ban Dân vận các Quận 2, 7, 9 tổ chức đối thoại với nhân dân.",
            "Ban Dân vận các Quận 2, 7, 9",
        ),
        (  # the office asked for, named only as a deputy's in the reader's sentence
            "Trưởng ban Dân vận Tỉnh ủy là ai?",
            "Trưởng ban Dân vận Tỉnh ủy Trương Thanh Huyền phát biểu bế mạc. "
            "Đồng chí Đỗ Văn Phới - Phó Trưởng ban Dân vận Trung ương dự hội nghị.",
            "Đỗ Văn Phới",
        ),
    ],
)
def test_a_sure_reader_is_not_trusted_with_a_wrong_kind_of_answer(
    question: str, text: str, span: str
) -> None:
    ev = Evidence.of([hit("c", text, 0, len(text), 0)], {"c": text})
    reader = FakeReader({"c": 0.88}, {"c": span})
    ra = ReaderAnswerer(
        reader,  # type: ignore[arg-type]
        ExtractiveAnswerer(threshold=0.0),
        calibration=ReaderCalibration(threshold=0.5, trust=0.8, rules_sure=0.9),
        factoid=False,
    )
    ans = ra.answer(question, ev)
    assert len(reader.seen) == 2  # the rules' sentence, then the top chunk: not trusted
    assert ans.answerer == "extractive" and span not in ans.text
    reader.spans["c"] = {"Đỗ Văn Phới": "Trương Thanh Huyền"}.get(span, "120 buổi")
    assert ra.answer(question, ev).answerer == "reader"  # the right kind of span is


def test_factoid_questions_read_the_first_chunks_and_the_rest_only_when_unsure() -> None:
    hits = [hit("a", A, 0, 80, 0), hit("b", B, 0, len(B), 1), hit("a", A, 80, len(A), 2)]
    sure = FakeReader({"a": 0.95, "b": 0.1}, {"a": "Đặng Thị Hồng Liên"})
    ans = answerer(sure, first_chunks=2, confident=0.9).answer(
        "Ai là Bí thư Quận ủy Quận 9?", evidence(*hits)
    )
    assert len(sure.seen) == 2 and not ans.refused
    unsure = FakeReader({"a": 0.7, "b": 0.1}, {"a": "Đặng Thị Hồng Liên"})
    answerer(unsure, first_chunks=2, confident=0.9).answer(
        "Ai là Bí thư Quận ủy Quận 9?", evidence(*hits)
    )
    assert [p.key for p in unsure.seen] == [h.chunk.id for h in hits]
    wide = FakeReader({"a": 0.95, "b": 0.6}, relevant=("đối thoại",))
    answerer(wide, first_chunks=2, confident=0.9).answer(
        "Quận đã làm gì để làm tốt công tác dân vận?", evidence(*hits)
    )
    assert len(wide.seen) == 3  # open questions read all at once


def test_another_numbered_group_or_a_deputy_office_refuses_despite_a_confident_reader() -> None:
    ev = evidence(hit("a", A, 0, len(A), 0))
    ans = answerer(FakeReader({"a": 0.95}, {"a": "Chiều 1/7"})).answer(
        "Ban Dân vận Thành ủy kiểm tra Cụm thi đua 5 vào ngày nào?", ev
    )
    assert ans.refused and "Cụm thi đua 5" in (ans.notice or "")
    text = "Dự hội nghị có đồng chí Lê Ngọc Châu, Phó Chủ tịch UBND tỉnh Hà Tĩnh."
    ev = Evidence.of([hit("c", text, 0, len(text), 0)], {"c": text})
    ans = answerer(FakeReader({"c": 0.95}, {"c": "Lê Ngọc Châu"})).answer(
        "Ai là Chủ tịch UBND tỉnh Hà Tĩnh?", ev
    )
    assert ans.refused and "Chủ tịch UBND" in (ans.notice or "")
    ans = answerer(FakeReader({"c": 0.95}, {"c": "Lê Ngọc Châu"})).answer(
        "Ai là Phó Chủ tịch UBND tỉnh Hà Tĩnh?", ev
    )
    assert not ans.refused and ans.text.startswith("Lê Ngọc Châu [1].")


@pytest.mark.parametrize("factoid", [True, False])
def test_a_bare_number_span_keeps_what_the_question_counts(factoid: bool) -> None:
    ev = evidence(hit("a", A, 0, len(A), 0))
    ra = ReaderAnswerer(
        FakeReader({"a": 0.9}, {"a": "120"}),  # type: ignore[arg-type]
        ExtractiveAnswerer(threshold=0.0),
        calibration=ReaderCalibration(threshold=0.5),
        factoid=factoid,
    )
    ans = ra.answer("Quận đã tổ chức bao nhiêu buổi đối thoại với nhân dân?", ev)
    assert ans.text.startswith("120 buổi đối thoại với nhân dân [1]."), ans.text
    # not a how-many question: the reader's span (factoid) or the rules' phrase, unchanged
    ans = ra.answer("Ai là Bí thư Quận ủy Quận 9?", ev)
    assert ans.text.startswith("120 [1]." if factoid else "Đặng Thị Hồng Liên [1]."), ans.text


def test_with_factoid_off_the_reader_can_refuse_the_rules_sentence() -> None:
    ev = evidence(hit("a", A, 0, len(A), 0))
    reader = FakeReader({"a": 0.1}, {"a": "Đặng Thị Hồng Liên"})

    def ra(sentence_threshold: float) -> ReaderAnswerer:
        cal = ReaderCalibration(threshold=0.5, sentence_threshold=sentence_threshold)
        return ReaderAnswerer(
            reader,  # type: ignore[arg-type]
            ExtractiveAnswerer(threshold=0.0),
            calibration=cal,
            factoid=False,
        )

    answered, scores = ra(0.0).answer_scored("Ai là Bí thư Quận ủy Quận 9?", ev)
    assert not answered.refused and scores.answerable == pytest.approx(0.1)
    refused, _ = ra(0.3).answer_scored("Ai là Bí thư Quận ủy Quận 9?", ev)
    assert refused.refused and refused.answerer == "extractive"
    assert refused.text.startswith("Không tìm thấy") and "Bài a" in refused.text


@pytest.mark.parametrize(
    ("scores", "refused", "read"),
    [
        ({"a": 0.1, "b": 0.1}, True, 4),  # doubted everywhere: the rest is read, then refused
        ({"a": 0.1, "b": 0.4}, False, 4),  # a later chunk answers: the rules' answer stands
        ({"a": 0.4, "b": 0.1}, False, 3),  # a top chunk answers: nothing more is read
    ],
)
def test_with_factoid_off_the_rules_answer_is_refused_where_the_reader_doubts_every_window(
    scores: dict[str, float], refused: bool, read: int
) -> None:
    """``doubt``: the rules' sentence (read alone) and the top ``first_chunks`` under it,
    then the rest of the top ``max_chunks`` is read; refused if all are under it."""
    hits = [hit("a", A, 0, 80, 0), hit("a", A, 80, len(A), 1), hit("b", B, 0, len(B), 2)]
    reader = FakeReader(scores, {"a": "Đặng Thị Hồng Liên"}, alone=0.1)
    ra = ReaderAnswerer(
        reader,  # type: ignore[arg-type]
        ExtractiveAnswerer(threshold=0.0),
        calibration=ReaderCalibration(threshold=0.5, doubt=0.3, first_chunks=2),
        factoid=False,
    )
    ans, rs = ra.answer_scored("Ai là Bí thư Quận ủy Quận 9?", evidence(*hits))
    assert ans.refused is refused and len(reader.seen) == read
    assert rs.doubt == pytest.approx(max(0.1, *scores.values()) if read == 4 else 0.4)
    if refused:
        assert ans.text.startswith("Không tìm thấy") and "Bài a" in ans.text
    else:
        assert ans.answerer == "extractive" and "Đặng Thị Hồng Liên" in ans.text
    off = ReaderAnswerer(
        reader,  # type: ignore[arg-type]
        ExtractiveAnswerer(threshold=0.0),
        calibration=ReaderCalibration(threshold=0.5, doubt=0.0),
        factoid=False,
    )
    reader.seen.clear()
    kept, rs = off.answer_scored("Ai là Bí thư Quận ủy Quận 9?", evidence(*hits))
    assert not kept.refused and len(reader.seen) == 1 and rs.doubt == -1.0  # off: one read
    assert rs.rules > 0  # the rules' evidence for their sentence
    strong = ReaderAnswerer(  # the rules' evidence at least doubt_rules: the rules decide
        reader,  # type: ignore[arg-type]
        ExtractiveAnswerer(threshold=0.0),
        calibration=ReaderCalibration(threshold=0.5, doubt=0.3, doubt_rules=rs.rules),
        factoid=False,
    )
    assert not strong.answer("Ai là Bí thư Quận ủy Quận 9?", evidence(*hits)).refused
    who = ReaderAnswerer(  # ... except for the kinds in doubt_kinds
        reader,  # type: ignore[arg-type]
        ExtractiveAnswerer(threshold=0.0),
        calibration=ReaderCalibration(
            threshold=0.5, doubt=0.3, doubt_rules=rs.rules, doubt_kinds=("who",)
        ),
        factoid=False,
    )
    assert who.answer("Ai là Bí thư Quận ủy Quận 9?", evidence(*hits)).refused is refused


class Recorder:
    """An answerer that records the order of the hits it is given."""

    label = "llm:fake:demo"

    def __init__(self) -> None:
        self.orders: list[list[str]] = []

    def respond(self, request: AnswerRequest, evidence: Evidence) -> Answer:
        self.orders.append([h.chunk.id for h in evidence.hits])
        return Answer(request.question, "x", [], False, list(evidence.hits), self.label)


def test_an_llm_is_shown_the_passages_in_the_readers_order() -> None:
    """The order of the reader answerer's answer: factoid (the reader answering), by
    answerability, then the rest as retrieved; open: the windows the list reads (the
    articles the question is about) first; no model: retrieval order."""
    c = "Tỉnh Hà Tĩnh đã tổ chức 300 buổi đối thoại với nhân dân. Tỉnh đã xây dựng 45 mô hình."
    hits = [hit("b", B, 0, len(B), 0), hit("a", A, 0, len(A), 1), hit("c", c, 0, len(c), 2)]
    ev = Evidence.of(hits, {"a": A, "b": B, "c": c})
    reader = FakeReader({"a": 0.9, "b": 0.1, "c": 0.3}, {"a": "Đặng Thị Hồng Liên"})
    ra = answerer(reader, first_chunks=0)
    llm = Recorder()
    shown = ReaderPassages(llm, ra)  # type: ignore[arg-type]
    shown.respond(AnswerRequest("Ai là Bí thư Quận ủy Quận 9?"), ev)
    assert llm.orders[-1] == ["a#v-0001", "c#v-0002", "b#v-0000"]
    ans = shown.respond(AnswerRequest("Hà Tĩnh đã làm gì để làm tốt công tác dân vận?"), ev)
    assert llm.orders[-1][0] == "c#v-0002"  # the one article that names Hà Tĩnh
    assert ans.answerer == "llm:fake:demo"
    reader.fail = True  # no usable model: as retrieved
    shown.respond(AnswerRequest("Ai là Bí thư Quận ủy Quận 9?"), ev)
    assert llm.orders[-1] == ["b#v-0000", "a#v-0001", "c#v-0002"]
