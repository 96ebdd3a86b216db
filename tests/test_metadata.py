"""Dates, sources, bylines and places extracted from article text."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.clean import CleanedDoc
from corpus.metadata import extract_author, extract_source, find_publication_date
from corpus.places import (
    POST_2025_PROVINCES,
    PROVINCES,
    extract_places,
    is_place_name,
    place_variants,
    site_places,
)
from corpus.stamps import extract_date, is_date_line, parse_date_field, split_source_marker
from corpus.types import RawDocument

# ---------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ngày 27 tháng 02 năm 2020", ("2020-02-27", "day")),
        ("2.12.2013 - 10:50", ("2013-12-02", "day")),
        ("Chủ Nhật, ngày 19 tháng 1 năm 2020", ("2020-01-19", "day")),
        ("27/02/2020", ("2020-02-27", "day")),
        ("27-02-2020", ("2020-02-27", "day")),
        ("2020-02-27", ("2020-02-27", "day")),
        ("2020-02-27T10:50:00+07:00", ("2020-02-27", "day")),
        ("ngày 19 tháng 1, năm 2020", ("2020-01-19", "day")),
        ("tháng 3/2021", ("2021-03", "month")),
        ("tháng 3 năm 2021", ("2021-03", "month")),
        ("Trong tháng 12 năm 2021, toàn tỉnh", ("2021-12", "month")),
        ("Sáng ngày 30/12, Ban Chỉ đạo", ("--12-30", "day_month")),
        ("Sáng 21/10, Ban Dân vận", ("--10-21", "day_month")),
        ("Chiều 1/7, tại Quận ủy", ("--07-01", "day_month")),
        ("Tối 5-6, đoàn công tác", ("--06-05", "day_month")),
        ("Thứ Hai, 21/10", ("--10-21", "day_month")),
        ("ngày 30 tháng 12", ("--12-30", "day_month")),
        ("Sáng 29/2", ("--02-29", "day_month")),  # valid in a leap year: no year known
        ("Sáng ngày 30/12/2021, hội nghị", ("2021-12-30", "day")),  # the year is there
        # the first date in the text wins
        ("Quyết định số 22/2013/QĐ-TTg ngày 26/4/2013 và ngày 1/5/2014", ("2013-04-26", "day")),
    ],
)
def test_extract_date(text: str, expected: tuple[str, str]) -> None:
    assert extract_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "31/02/2020",  # no such day
        "ngày 30/02",
        "Sáng 32/1",
        "tháng 13/2021",
        "1/1/1800",  # outside 1900-2100
        "năm 2021",  # a bare year is not a date
        "Trong 6 tháng đầu năm 2019",
        "3/4 số xã đạt chuẩn",  # a fraction, no cue word
        "Nghị định số 04/2015/NĐ-CP",
        "đã hỗ trợ cho 11.562/11.615 trường hợp",
        "",
    ],
)
def test_extract_date_rejects(text: str) -> None:
    assert extract_date(text) is None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Chủ Nhật, ngày 19 tháng 1 năm 2020", True),
        ("• 2.12.2013 - 10:50", True),
        ("Cập nhật lúc 10:50 ngày 2/12/2013", True),
        ("Thứ Hai, 02/12/2013 10:50 (GMT+7)", True),
        ("Sơn La, ngày 10 tháng 3 năm 2021", True),
        ("Sáng 21/10, Ban Dân vận Tỉnh ủy Hà Tĩnh tổ chức hội nghị tập huấn.", False),
        ("Hội nghị tổng kết công tác dân vận năm 2021", False),
    ],
)
def test_is_date_line(line: str, expected: bool) -> None:
    assert is_date_line(line) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2020-02-27", ("2020-02-27", "day")),
        ("2020-02-27T10:50:00+07:00", ("2020-02-27", "day")),
        ("2020-02", ("2020-02", "month")),
        ("2021", ("2021", "year")),
        ("27/02/2020", ("2020-02-27", "day")),
        ("Mon, 02 Dec 2013 10:50:00 +0700", ("2013-12-02", "day")),
        ("2020-13-45", None),
        ("không rõ", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_date_field(value: str | None, expected: tuple[str, str] | None) -> None:
    assert parse_date_field(value) == expected


def _cleaned(body: str, header: tuple[str, ...] = (), footer: tuple[str, ...] = ()) -> CleanedDoc:
    return CleanedDoc(title="T", body=body, header_lines=header, footer_lines=footer)


RAW = RawDocument(id="r", text="", path="r.txt", format="txt")


def test_publication_date_precedence() -> None:
    lead = "Chiều 1/7, tại Quận ủy Quận 9, đoàn kiểm tra làm việc.\n\nNăm 2019 ..."
    header = ("Chủ Nhật, ngày 19 tháng 1 năm 2020",)
    # an explicit header date beats the event day in the lead
    assert find_publication_date(_cleaned(lead, header), RAW) == ("2020-01-19", "day")
    # the format's own field beats both
    raw = RawDocument(id="r", text="", path="r.txt", format="jsonl", date="2020-02-03")
    assert find_publication_date(_cleaned(lead, header), raw) == ("2020-02-03", "day")
    # no header: the lead's event date, without inventing a year
    assert find_publication_date(_cleaned(lead), RAW) == ("--07-01", "day_month")
    # a footer date stamp
    assert find_publication_date(_cleaned(lead, footer=("10:50 02/12/2013",)), RAW) == (
        "2013-12-02",
        "day",
    )
    # an unparseable field falls through to the text
    raw = RawDocument(id="r", text="", path="r.txt", format="html", date="n/a")
    assert find_publication_date(_cleaned(lead), raw) == ("--07-01", "day_month")


def test_publication_date_only_from_a_sentence_start_in_the_lead() -> None:
    body = (
        "Qua 3 năm triển khai thực hiện quy chế theo quyết định 2898 ngày 16/7/2010 của Ban "
        "Thường vụ Tỉnh ủy, huyện đạt nhiều kết quả."
    )
    assert find_publication_date(_cleaned(body), RAW) is None
    body = "Tin từ Sơn La. Sáng 5/3, hội nghị được tổ chức."
    assert find_publication_date(_cleaned(body), RAW) == ("--03-05", "day_month")
    later = "\n\n".join(["Đoạn một."] * 3 + ["Sáng 5/3, hội nghị được tổ chức."])
    assert find_publication_date(_cleaned(later), RAW) is None


# ---------------------------------------------------------------- source


@pytest.mark.parametrize(
    ("text", "edges", "expected"),
    [
        ("(Baohatinh.vn) - Trước thực tiễn tình hình", (), "Baohatinh.vn"),
        ("Chiều 1/7, tại Quận ủy", ("(Thanhuytphcm.vn) –",), "Thanhuytphcm.vn"),
        ("(TTXVN) - Sáng nay, tại Hà Nội", (), "TTXVN"),
        ("Nội dung bài.\n\nNguồn: Báo Sơn La", (), "Báo Sơn La"),
        ("Nội dung bài.", ("Theo Báo Hà Tĩnh",), "Báo Hà Tĩnh"),
        ("Nội dung bài.\n\n(Theo TTXVN)", (), "TTXVN"),
        ("Nội dung bài kết thúc tại đây (dangcongsan.vn)", (), "dangcongsan.vn"),
        ("Ban Chỉ đạo (QCDC) tỉnh họp.", (), None),
        ("Theo Trưởng ban Dân vận, công tác dân vận đạt kết quả quan trọng.", (), None),
        ("", (), None),
    ],
)
def test_extract_source(text: str, edges: tuple[str, ...], expected: str | None) -> None:
    assert extract_source(text, edges) == expected


def test_split_source_marker() -> None:
    assert split_source_marker("(Baohatinh.vn) - Trước thực tiễn") == (
        "Baohatinh.vn",
        "(Baohatinh.vn) -",
        "Trước thực tiễn",
    )
    assert split_source_marker("(QCDC) là viết tắt")[0] is None


# ---------------------------------------------------------------- author


@pytest.mark.parametrize(
    ("footer", "expected"),
    [
        (["Đình Thoại", "Quay lại"], "Đình Thoại"),
        (["Bùi Hiệp Thọ", "Ý kiến bạn đọc", "refresh", "Tin khác", "Thông báo"], "Bùi Hiệp Thọ"),
        (["• |", "Minh Thư", "Các tin khác", "HỌC TẬP BÁC", "QUẢNG CÁO"], "Minh Thư"),
        (["Minh Thư (tổng hợp)"], "Minh Thư"),
        (["Hồng Nhung - TTXVN"], "Hồng Nhung"),
        (["Bài, ảnh: Nguyễn Văn An"], "Nguyễn Văn An"),
        (["Minh Thư - Hồng Nhung"], "Minh Thư, Hồng Nhung"),
        (["Quay lại", "Tin Khác", "Thông Báo", "Đọc Thêm"], None),
        (["Chủ đề Chủ trương - Chính sách", "Tin mới Emagazine Truyền hình Podcast"], None),
        (["Hà Tĩnh", "Chủ Nhật", "THANH HÀ"], None),
        (["Đại biểu dự hội nghị."], None),
        ([], None),
    ],
)
def test_extract_author(footer: list[str], expected: str | None) -> None:
    assert extract_author(footer) == expected


def test_extract_author_falls_back_to_last_paragraph_then_header() -> None:
    assert extract_author([], "Nội dung bài viết.\n\nThu Hà") == "Thu Hà"
    assert extract_author(["Tin khác"], "Nội dung.", ("Ngọc Anh",)) == "Ngọc Anh"


# ---------------------------------------------------------------- places


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(Baohatinh.vn) - Hà Tĩnh tiếp tục đổi mới", ("Hà Tĩnh",)),
        (
            "huyện Hàm Thuận Bắc, tỉnh Bình Thuận đạt nhiều kết quả",
            ("huyện Hàm Thuận Bắc", "Bình Thuận"),
        ),
        ("tại Quận ủy Quận 9 và quận Thủ Đức", ("quận 9", "quận Thủ Đức")),
        ("Thành phố Sơn La hoàn thành nhiệm vụ", ("thành phố Sơn La", "Sơn La")),
        ("thị xã Kỳ Anh và xã Phiêng Pằn (Mai Sơn)", ("thị xã Kỳ Anh", "xã Phiêng Pằn")),
        (
            "TP.HCM, TP. Hồ Chí Minh và Thành phố Hồ Chí Minh",
            ("Thành phố Hồ Chí Minh",),
        ),
        ("học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh", ()),
        ("Thanh Hoá, Khánh Hoà và Hoà Bình", ("Thanh Hóa", "Khánh Hòa", "Hòa Bình")),
        ("xây dựng xã Hòa Bình văn minh", ("xã Hòa Bình",)),  # a commune, not the province
        ("giữ vững hòa bình, ổn định", ()),
        ("đồng chí Nguyễn Thái Bình phát biểu", ()),  # a person
        ("TP. Cần Thơ và thành phố Hà Nội", ("Cần Thơ", "Hà Nội")),
        ("Bà Rịa - Vũng Tàu, Bà Rịa-Vũng Tàu", ("Bà Rịa - Vũng Tàu",)),
        ("Huyện ủy, Huyện Đoàn và các xã, thị trấn", ()),
        ("Phó Bí thư Thường trực Tỉnh ủy, Trưởng đoàn đại biểu Quốc hội tỉnh", ()),
        ("phường 3, quận Gò Vấp; Đắk Lắk", ("phường 3", "quận Gò Vấp", "Đắk Lắk")),
    ],
)
def test_extract_places(text: str, expected: tuple[str, ...]) -> None:
    assert extract_places(text) == expected


@pytest.mark.parametrize(
    ("site", "expected"),
    [
        ("Baohatinh.vn", ("Hà Tĩnh",)),
        ("https://thanhuytphcm.vn/tin-tuc/kiem-tra", ("Thành phố Hồ Chí Minh",)),
        ("baobinhthuan.com.vn", ("Bình Thuận",)),
        ("Báo Sơn La", ("Sơn La",)),
        ("dantri.com.vn", ()),
        ("vnexpress.net", ()),
        ("", ()),
    ],
)
def test_site_places(site: str, expected: tuple[str, ...]) -> None:
    assert site_places(site) == expected


def test_place_variants() -> None:
    assert place_variants(["Thành phố Hồ Chí Minh", "Hà Tĩnh", "Hà Tĩnh"])[:2] == [
        "Thành phố Hồ Chí Minh",
        "TP.HCM",
    ]
    assert place_variants(["Hà Tĩnh"]) == ["Hà Tĩnh"]


def test_gazetteer_sizes() -> None:
    assert len(PROVINCES) == 63
    assert len(POST_2025_PROVINCES) == 34
    assert POST_2025_PROVINCES.issubset(PROVINCES)
    for name in PROVINCES:
        assert is_place_name(name), name
        assert extract_places(f"tỉnh {name} và") == (name,), name


# ---------------------------------------------------------------- robustness

_DATEISH = st.text(alphabet=list("0123456789/.-: ngàythángnămSáChiều,"), max_size=60)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300) | _DATEISH)
def test_extractors_never_crash(text: str) -> None:
    got = extract_date(text)
    if got is not None:
        value, precision = got
        pattern = {
            "day": r"\d{4}-\d{2}-\d{2}",
            "month": r"\d{4}-\d{2}",
            "day_month": r"--\d{2}-\d{2}",
        }[precision]
        assert re.fullmatch(pattern, value)
    parse_date_field(text)
    is_date_line(text)
    extract_source(text, [text])
    extract_author([text], text, [text])
    extract_places(text)
