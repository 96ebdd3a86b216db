"""Support scorer: definition, offsets, speed, and the calibration of SUPPORT_THRESHOLD."""

from __future__ import annotations

import time

import pytest

from corpus.chunking import split_sentences
from rag.answer.support import (
    STOPWORDS,
    SUPPORT_THRESHOLD,
    best_supporting_span,
    clean_claim,
    support_score,
)

P_HOINGHI = (
    "Sáng ngày 30/12, Ban Chỉ đạo thực hiện Quy chế dân chủ ở cơ sở của tỉnh và Ban Dân vận "
    "Tỉnh ủy tổ chức Hội nghị trực tuyến tổng kết công tác dân vận và việc thực hiện Quy chế "
    "dân chủ ở cơ sở năm 2021, triển khai nhiệm vụ năm 2022. Tham dự và chủ trì hội nghị có "
    "đồng chí Châu Ngọc Tuấn - Phó Bí thư Thường trực Tỉnh ủy, Trưởng đoàn đại biểu Quốc hội "
    "tỉnh. Hội nghị được kết nối tới 17 điểm cầu cấp huyện."
)
P_HATINH = (
    "Sáng 21/10, Ban Dân vận Tỉnh ủy Hà Tĩnh tổ chức hội nghị tập huấn, bồi dưỡng chuyên môn "
    "nghiệp vụ về công tác dân vận cho đội ngũ cán bộ trong hệ thống chính trị. Đồng chí Đỗ "
    "Văn Phới - Phó Trưởng ban Dân vận Trung ương dự hội nghị và trực tiếp chuyển tải chuyên "
    "đề. 300 cán bộ làm công tác dân vận, lãnh đạo các địa phương, đơn vị trong toàn tỉnh "
    "cùng tham gia."
)
P_HAMTHUAN = (
    "Qua 3 năm triển khai thực hiện Quy chế công tác Dân vận của hệ thống chính trị theo quyết "
    "định 2898 ngày 16/7/2010 của Ban Thường vụ Tỉnh ủy ở huyện Hàm Thuận Bắc đạt nhiều kết "
    "quả quan trọng. Bước đầu xây dựng thí điểm mô hình “tổ công tác dân vận” ở 17 thôn, khu "
    "phố. Mặt trận, các đoàn thể đẩy mạnh phong trào “Chung sức chung lòng xây dựng nông thôn "
    "mới”."
)
P_KETQUA = (
    "Năm 2023, toàn tỉnh đã giải quyết 11.562/11.615 hồ sơ thủ tục hành chính đúng hạn, đạt "
    "99,54%. Có 1.250 mô hình “Dân vận khéo” được công nhận, trong đó cấp tỉnh 86 mô hình. "
    "Nhân dân hiến hơn 25.000 m² đất để làm đường giao thông nông thôn."
)

# (claim, passage): written to look like what an LLM answer sentence says about a passage.
SUPPORTED: list[tuple[str, str]] = [
    ("Hội nghị được tổ chức vào sáng ngày 30/12 [1].", P_HOINGHI),
    ("Đồng chí Châu Ngọc Tuấn chủ trì hội nghị.", P_HOINGHI),
    ("Châu Ngọc Tuấn là Phó Bí thư Thường trực Tỉnh ủy [2].", P_HOINGHI),
    ("Hội nghị tổng kết công tác dân vận năm 2021 và triển khai nhiệm vụ năm 2022.", P_HOINGHI),
    ("Hội nghị kết nối tới 17 điểm cầu cấp huyện [1].", P_HOINGHI),
    ("Ban Dân vận Tỉnh ủy tổ chức hội nghị trực tuyến.", P_HOINGHI),
    ("Có 300 cán bộ tham gia hội nghị tập huấn [1].", P_HATINH),
    ("Hội nghị tập huấn diễn ra sáng 21/10.", P_HATINH),
    ("Đỗ Văn Phới, Phó Trưởng ban Dân vận Trung ương, chuyển tải chuyên đề [3].", P_HATINH),
    ("Ban Dân vận Tỉnh ủy Hà Tĩnh tổ chức tập huấn chuyên môn nghiệp vụ.", P_HATINH),
    ("Đội ngũ cán bộ trong hệ thống chính trị được bồi dưỡng về công tác dân vận.", P_HATINH),
    ("- 300 cán bộ làm công tác dân vận cùng tham gia [1]", P_HATINH),
    ("Quyết định 2898 ngày 16/7/2010 của Ban Thường vụ Tỉnh ủy [1].", P_HAMTHUAN),
    ("Mô hình tổ công tác dân vận được thí điểm ở 17 thôn, khu phố [2].", P_HAMTHUAN),
    ("Huyện Hàm Thuận Bắc triển khai Quy chế công tác dân vận trong 3 năm.", P_HAMTHUAN),
    ("Các đoàn thể đẩy mạnh phong trào Chung sức chung lòng xây dựng nông thôn mới.", P_HAMTHUAN),
    ("Theo báo cáo, việc thực hiện quy chế ở Hàm Thuận Bắc đạt nhiều kết quả.", P_HAMTHUAN),
    ("Toàn tỉnh giải quyết đúng hạn 11.562 hồ sơ, đạt 99,54% [1].", P_KETQUA),
    ("Tỉnh có 1.250 mô hình Dân vận khéo được công nhận [1].", P_KETQUA),
    ("Có 86 mô hình Dân vận khéo cấp tỉnh.", P_KETQUA),
    ("Nhân dân hiến hơn 25.000 m² đất làm đường giao thông nông thôn [1].", P_KETQUA),
    ("Tỷ lệ hồ sơ thủ tục hành chính giải quyết đúng hạn năm 2023 là 99.54% [1].", P_KETQUA),
    ("1. Năm 2023 có 1250 mô hình được công nhận [2]", P_KETQUA),
    # paraphrases in the style of an LLM answer
    ("Hội nghị có sự tham gia của 300 cán bộ làm công tác dân vận [1].", P_HATINH),
    ("Theo tài liệu, Phó Trưởng ban Dân vận Trung ương Đỗ Văn Phới đã dự hội nghị [1].", P_HATINH),
    ("Hà Tĩnh tổ chức tập huấn cho cán bộ làm công tác dân vận vào ngày 21/10 [1].", P_HATINH),
]
UNSUPPORTED: list[tuple[str, str]] = [
    # other topic
    ("Giá xăng tăng mạnh trong tháng 3.", P_HOINGHI),
    ("Đội tuyển bóng đá giành chức vô địch khu vực.", P_HATINH),
    ("Thời tiết miền Bắc chuyển lạnh vào cuối tuần.", P_KETQUA),
    ("HACKED", P_KETQUA),
    # same topic, facts not in the passage
    ("Hội nghị biểu dương các tập thể và cá nhân tiêu biểu trong phong trào thi đua.", P_HOINGHI),
    ("Chủ tịch UBND tỉnh phát biểu chỉ đạo tại hội nghị.", P_HOINGHI),
    ("Công tác dân vận góp phần củng cố khối đại đoàn kết toàn dân tộc.", P_HATINH),
    ("Các cấp ủy cần nâng cao chất lượng đối thoại với nhân dân ở cơ sở.", P_HATINH),
    ("Huyện đã xử lý dứt điểm các vụ khiếu nại đông người.", P_HAMTHUAN),
    ("Mặt trận Tổ quốc giám sát việc thực hiện dân chủ ở cơ sở.", P_HAMTHUAN),
    ("Tỉnh tổ chức hội nghị tổng kết công tác dân vận năm 2023.", P_KETQUA),
    ("Nhân dân đóng góp tiền và ngày công xây dựng nhà văn hóa.", P_KETQUA),
    # wrong number
    ("Hội nghị được tổ chức vào sáng ngày 31/12 [1].", P_HOINGHI),
    ("Hội nghị kết nối tới 18 điểm cầu cấp huyện.", P_HOINGHI),
    ("Có 350 cán bộ tham gia hội nghị tập huấn [1].", P_HATINH),
    ("Quyết định 2898 ngày 16/7/2011 của Ban Thường vụ Tỉnh ủy.", P_HAMTHUAN),
    ("Mô hình tổ công tác dân vận được thí điểm ở 27 thôn, khu phố.", P_HAMTHUAN),
    ("Toàn tỉnh giải quyết đúng hạn 11.652 hồ sơ, đạt 99,45%.", P_KETQUA),
    ("Tỉnh có 1.520 mô hình Dân vận khéo được công nhận [1].", P_KETQUA),
    ("Nhân dân hiến hơn 2.500 m² đất làm đường [1].", P_KETQUA),
    # wrong name, place or organisation
    ("Đồng chí Nguyễn Văn Nam chủ trì hội nghị.", P_HOINGHI),
    ("Ban Tuyên giáo Tỉnh ủy Nghệ An tổ chức tập huấn chuyên môn.", P_HATINH),
    ("Huyện Bắc Bình triển khai thí điểm mô hình dân vận khéo.", P_HAMTHUAN),
    ("Thành phố Đà Nẵng giải quyết hồ sơ trực tuyến toàn trình.", P_KETQUA),
    # same words, different event
    ("Hội nghị tập huấn được tổ chức trực tuyến tới các điểm cầu.", P_HATINH),
    ("Ban Dân vận Tỉnh ủy phối hợp với Mặt trận tổ chức hội nghị biểu dương.", P_HOINGHI),
]
# Cases a lexical scorer gets wrong, kept to document its limits (see rag.answer.support).
BORDERLINE_SUPPORTED = [
    # true (11.615 is the number of files received) but "tiếp nhận" is an inference
    ("Số hồ sơ tiếp nhận là 11.615 [1].", P_KETQUA),
]
KNOWN_FALSE_SUPPORT = [
    # roles recombined: Đỗ Văn Phới is the central deputy head, not Hà Tĩnh's head
    ("Đồng chí Đỗ Văn Phới là Trưởng ban Dân vận Tỉnh ủy Hà Tĩnh.", P_HATINH),
]


def test_calibration_set_is_balanced() -> None:
    assert len(SUPPORTED) == len(UNSUPPORTED) == 26


def test_documented_limits() -> None:
    for claim, passage in BORDERLINE_SUPPORTED:
        assert support_score(claim, passage) < SUPPORT_THRESHOLD  # dropped: conservative
    for claim, passage in KNOWN_FALSE_SUPPORT:
        assert support_score(claim, passage) >= SUPPORT_THRESHOLD  # an NLI judge would fail it


@pytest.mark.parametrize(("claim", "passage"), SUPPORTED)
def test_supported_pairs_pass_the_threshold(claim: str, passage: str) -> None:
    assert support_score(claim, passage) >= SUPPORT_THRESHOLD


@pytest.mark.parametrize(("claim", "passage"), UNSUPPORTED)
def test_unsupported_pairs_fail_the_threshold(claim: str, passage: str) -> None:
    assert support_score(claim, passage) < SUPPORT_THRESHOLD


def test_threshold_sits_inside_the_gap() -> None:
    """The documented gap: the threshold is at least 0.05 away from every calibration score."""
    sup = min(support_score(c, p) for c, p in SUPPORTED)
    uns = max(support_score(c, p) for c, p in UNSUPPORTED)
    assert uns + 0.05 <= SUPPORT_THRESHOLD <= sup - 0.05, (uns, sup)


def test_score_definition() -> None:
    passage = "Năm 2021, tỉnh hỗ trợ 11.562 trường hợp."
    assert support_score("tỉnh hỗ trợ 11.562 trường hợp", passage) == 1.0
    # "các", "đã" are stopwords; "xã" is content and missing: U = 5/6; the content bigrams
    # (hỗ trợ) (trợ 11562) (11562 trường) (trường hợp) are all in the passage: B = 1
    assert support_score("Các xã đã hỗ trợ 11.562 trường hợp", passage) == pytest.approx(
        (5 / 6 + 1) / 2
    )
    # numbers must match exactly: everything else matching is not enough
    assert support_score("tỉnh hỗ trợ 11.563 trường hợp", passage) == 0.0
    assert support_score("tỉnh hỗ trợ 11.562 trường hợp năm 2020", passage) == 0.0
    # number forms: thousands separators, decimal comma/point, leading zeros
    assert support_score("hỗ trợ 11562 trường hợp", passage) == 1.0
    assert support_score("đạt 99.54%", "đạt 99,54%") == 1.0
    assert support_score("đạt 99,5%", "đạt 99,54%") == 0.0
    assert support_score("ngày 05/03/2021", "ngày 5/3/2021") == 1.0
    # only stopwords / empty: nothing to support
    assert support_score("là của và", passage) == 0.0
    assert support_score("", passage) == 0.0
    assert support_score("tỉnh", "") == 0.0
    # tone-mark placement and case do not matter
    assert support_score("hoà bình thuỷ lợi", "HÒA BÌNH THỦY LỢI") == 1.0


def test_bigrams_check_words_not_just_syllables() -> None:
    passage = "Đồng chí chủ trì hội nghị, đại biểu phát biểu."
    # every syllable occurs, but "chủ tịch" and "hội đồng" do not: U = 1, B = 0
    assert support_score("chủ tịch hội đồng", passage + " tịch đồng") == pytest.approx(0.5)


def test_names_must_occur_as_a_whole() -> None:
    passage = "Ông Nguyễn Văn Bình và ông Lê Văn Nam dự họp tại Hà Tĩnh."
    assert support_score("Ông Nguyễn Văn Bình dự họp", passage) >= SUPPORT_THRESHOLD
    assert support_score("Ông Nguyễn Văn Nam dự họp", passage) == 0.0  # all syllables occur
    # sentence-initial capital: "Họp" is not part of the name "Hà Tĩnh"
    assert support_score("Họp tại Hà Tĩnh", passage) >= SUPPORT_THRESHOLD
    # one of two names found: the score is halved
    half = support_score("Nguyễn Văn Bình và ông Trần Văn Nam dự họp", passage)
    full = support_score("Nguyễn Văn Bình và ông Lê Văn Nam dự họp", passage)
    assert full == 1.0 and half <= 0.5


def test_citation_and_list_markers_are_not_claim_content() -> None:
    assert clean_claim("- Có 300 cán bộ [1][2].") == "Có 300 cán bộ."
    assert clean_claim("1. Có 300 cán bộ [1, 2] và 5 xã [3-4] .") == "Có 300 cán bộ và 5 xã."
    assert support_score("2. Có 300 cán bộ [1, 2].", "300 cán bộ") == 1.0
    assert support_score("Có 300 cán bộ [12].", "300 cán bộ") == 1.0


def test_negation_is_content() -> None:
    assert "không" not in STOPWORDS and "chưa" not in STOPWORDS
    assert support_score("hồ sơ không được giải quyết", "hồ sơ được giải quyết") < 1.0


def test_best_supporting_span_offsets_are_exact() -> None:
    text = "Tiêu đề.\n\n" + P_HATINH
    claim = "300 cán bộ cùng tham gia [1]."
    a, b, score = best_supporting_span(claim, text)
    assert text[a:b] == (
        "300 cán bộ làm công tác dân vận, lãnh đạo các địa phương, đơn vị trong toàn tỉnh "
        "cùng tham gia."
    )
    assert (a, b) in split_sentences(text)
    assert score == support_score(claim, text[a:b]) >= SUPPORT_THRESHOLD


def test_best_supporting_span_respects_the_range() -> None:
    text = P_HOINGHI + " " + P_HATINH
    start = len(P_HOINGHI) + 1
    a, b, _ = best_supporting_span("Hội nghị diễn ra sáng 21/10", text, start)
    assert a >= start and text[a:b].startswith("Sáng 21/10")
    # the same claim restricted to the first passage finds nothing with "21/10"
    a, b, score = best_supporting_span("Hội nghị diễn ra sáng 21/10", text, 0, len(P_HOINGHI))
    assert score == 0.0 and b <= len(P_HOINGHI)


def test_best_supporting_span_uses_a_pair_only_when_better() -> None:
    text = "Hội nghị diễn ra sáng 21/10. Có 300 cán bộ tham gia. Trời mưa."
    claim = "Sáng 21/10 có 300 cán bộ tham gia hội nghị"
    a, b, score = best_supporting_span(claim, text)
    assert text[a:b] == "Hội nghị diễn ra sáng 21/10. Có 300 cán bộ tham gia."
    assert score == support_score(claim, text[a:b]) > 0.9
    # each sentence alone misses a number: 0
    assert support_score(claim, "Hội nghị diễn ra sáng 21/10.") == 0.0
    a, b, _ = best_supporting_span("300 cán bộ tham gia", text)
    assert text[a:b] == "Có 300 cán bộ tham gia."


def test_best_supporting_span_empty_range() -> None:
    assert best_supporting_span("x", "abc", 2, 2) == (2, 2, 0.0)
    assert best_supporting_span("x", "   ", 0) == (0, 0, 0.0)


def test_speed_under_a_millisecond() -> None:
    passage = (P_HOINGHI + " " + P_HATINH)[:800]
    claim = "Đỗ Văn Phới, Phó Trưởng ban Dân vận Trung ương, chuyển tải chuyên đề [3]."
    n = 200
    t = time.perf_counter()
    for _ in range(n):
        support_score(claim, passage)
    per_score = (time.perf_counter() - t) / n
    t = time.perf_counter()
    for _ in range(n):
        best_supporting_span(claim, passage)
    per_span = (time.perf_counter() - t) / n
    # budget 1 ms each; asserted with headroom for a loaded CI machine
    assert per_score < 0.003, per_score
    assert per_span < 0.006, per_span
