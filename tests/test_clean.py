"""Boilerplate removal: synthetic pages in the style of the seed articles, plus the seeds."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.clean import (
    CleanedDoc,
    clean_document,
    is_navigation,
    learn_repeated_lines,
)
from corpus.text import clean_display
from corpus.types import RawDocument
from tests.seeds import SEED_BOILERPLATE, load_seeds

LEAD = (
    "Sáng 2/5, Ban Dân vận Huyện ủy Mai Sơn tổ chức hội nghị sơ kết 5 năm thực hiện "
    'phong trào thi đua "Dân vận khéo" giai đoạn 2016 - 2021 trên địa bàn huyện.'
)
PARA = (
    "Những năm qua, cấp ủy, chính quyền các cấp đã quan tâm lãnh đạo, chỉ đạo thực hiện "
    "tốt Quy chế dân chủ ở cơ sở, phát huy quyền làm chủ của Nhân dân, góp phần giữ vững "
    "ổn định chính trị và phát triển kinh tế - xã hội của địa phương."
)


def doc(text: str, *, path: str = "tin/a.txt", **kw: str) -> RawDocument:
    return RawDocument(id=Path(path).stem, text=text, path=path, format="txt", **kw)


def paragraphs(cleaned: CleanedDoc) -> list[str]:
    return cleaned.body.split("\n\n") if cleaned.body else []


def test_header_date_caption_and_source_marker_go_to_header() -> None:
    text = (
        "Thứ Hai, ngày 3 tháng 5 năm 2021\n\n"
        "Mai Sơn phát huy vai trò của Nhân dân trong xây dựng nông thôn mới\n\n"
        "Bí thư Huyện ủy Mai Sơn thăm mô hình trồng xoài của hộ dân.\n\n"
        f"(Baosonla.vn) - {LEAD}\n\n{PARA}\n"
    )
    c = clean_document(doc(text))
    assert c.title == "Mai Sơn phát huy vai trò của Nhân dân trong xây dựng nông thôn mới"
    assert paragraphs(c) == [LEAD, PARA]
    assert c.header_lines == (
        "Thứ Hai, ngày 3 tháng 5 năm 2021",
        "Bí thư Huyện ủy Mai Sơn thăm mô hình trồng xoài của hộ dân.",
        "(Baosonla.vn) -",
    )
    assert c.footer_lines == ()


def test_a_sapo_before_the_source_marker_is_kept() -> None:
    sapo = (
        "Những năm qua, công tác dân vận của tỉnh có nhiều đổi mới, hướng mạnh về cơ sở, "
        "góp phần tạo đồng thuận trong Nhân dân."
    )
    text = f"Dân vận khéo ở vùng cao\n\n{sapo}\n\n(Baosonla.vn) - {LEAD}\n\n{PARA}"
    c = clean_document(doc(text))
    assert paragraphs(c) == [sapo, LEAD, PARA]
    assert c.header_lines == ("(Baosonla.vn) -",)


def test_title_found_below_a_long_menu() -> None:
    menu = "\n".join(["Trang chủ", "Thời sự", "Chính trị", "Video", "Podcast"] * 4)
    c = clean_document(doc(f"{menu}\n\nDân vận khéo ở vùng cao Sơn La\n\n{LEAD}"))
    assert c.title == "Dân vận khéo ở vùng cao Sơn La"
    assert paragraphs(c) == [LEAD]
    assert len(c.header_lines) == 20


def test_footer_byline_navigation_and_related_headlines() -> None:
    text = (
        f"Hội nghị sơ kết phong trào Dân vận khéo\n\n{LEAD}\n\n{PARA}\n\n"
        "Hoàng Yến\n\nBình luận\n\nGửi bình luận\n\nTin cùng chuyên mục\n\n"
        "Sơn La tổ chức hội nghị tổng kết công tác dân vận năm 2020 và triển khai nhiệm vụ "
        "năm 2021\n\n"
        "Mai Sơn: Đối thoại giữa người đứng đầu cấp ủy với Nhân dân về công tác dân vận\n\n"
        "THỜI SỰ\n\nTrang chủ Thời sự Chính trị Kinh tế Xã hội Văn hóa\n"
    )
    c = clean_document(doc(text))
    assert paragraphs(c) == [LEAD, PARA]
    assert c.footer_lines[0] == "Hoàng Yến"
    assert c.footer_lines[-1] == "Trang chủ Thời sự Chính trị Kinh tế Xã hội Văn hóa"
    assert len(c.footer_lines) == 8


def test_counters_bullets_and_banners() -> None:
    text = (
        "Tin mới Emagazine Truyền hình Podcast\n\nHỌC TẬP BÁC\n\n"
        "Dân vận khéo ở xã Phiêng Pằn\n\n  • /\n  • 3.4.2022 - 08:15\n\n"
        f"{LEAD}\n\n{PARA}\n\nMinh Thư\n\n\n  • |\n  • 1038\n  • |\n\n"
        "• 2.211 lượt xem\n\nQUẢNG CÁO\n"
    )
    c = clean_document(doc(text))
    assert c.title == "Dân vận khéo ở xã Phiêng Pằn"
    assert paragraphs(c) == [LEAD, PARA]
    assert "• 3.4.2022 - 08:15" in c.header_lines
    assert "HỌC TẬP BÁC" in c.header_lines
    assert c.footer_lines == ("Minh Thư", "• |", "• 1038", "• |", "• 2.211 lượt xem", "QUẢNG CÁO")


def test_title_repeated_as_photo_alt_text_drops_the_caption_after_it() -> None:
    title = "Sơn La đổi mới hiệu quả công tác dân vận trong tình hình mới"
    short_fact = "300 cán bộ làm công tác dân vận trong toàn tỉnh cùng tham gia."
    text = (
        f"{title}\n\n(Baosonla.vn) - {LEAD}\n\n{title}\n\n"
        "Đại biểu dự hội nghị.\n\n"
        f"{PARA}\n\n{short_fact}\n\n{title}\n\n"
        "Trưởng ban Dân vận Tỉnh ủy phát biểu bế mạc hội nghị.\n\n"
        "Về nhiệm vụ thời gian tới:\n\n"
        "Tiếp tục đổi mới nội dung, phương thức hoạt động của Mặt trận;\n\n"
        "Phát huy vai trò của Nhân dân trong giám sát cán bộ, đảng viên.\n"
    )
    c = clean_document(doc(text))
    assert paragraphs(c) == [
        LEAD,
        PARA,
        short_fact,  # a short real sentence in the body stays
        "Về nhiệm vụ thời gian tới:",
        "Tiếp tục đổi mới nội dung, phương thức hoạt động của Mặt trận;",
        "Phát huy vai trò của Nhân dân trong giám sát cán bộ, đảng viên.",
    ]
    assert c.removed.count(title) == 2
    assert "Đại biểu dự hội nghị." in c.removed
    assert "Trưởng ban Dân vận Tỉnh ủy phát biểu bế mạc hội nghị." in c.removed


def test_title_printed_twice_at_the_top() -> None:
    title = "Hội nghị tổng kết công tác dân vận năm 2021"
    c = clean_document(doc(f"{title}\n\n{title.replace(' ', '  ')}\n\n{LEAD}\n\n{PARA}"))
    assert c.title == title
    assert c.header_lines == (title,)
    assert paragraphs(c) == [LEAD, PARA]


def test_glued_caption_at_paragraph_end() -> None:
    para = PARA[:-1] + ".ĐVTN xã Phiêng Pằn (Mai Sơn) giúp hộ nghèo xóa nhà tạm."
    c = clean_document(doc(f"Tiêu đề bài viết về dân vận\n\n{LEAD}\n\n{para}"))
    assert paragraphs(c) == [LEAD, PARA]
    assert c.removed == ("ĐVTN xã Phiêng Pằn (Mai Sơn) giúp hộ nghèo xóa nhà tạm.",)


@pytest.mark.parametrize(
    "para",
    [
        # an abbreviation, not a glued sentence
        PARA[:-1] + " tại TP.HCM đã đạt kết quả tốt.",
        # a page that lost all its spaces after full stops: not a caption
        "Năm qua tỉnh đạt nhiều kết quả.Các cấp ủy quan tâm lãnh đạo công tác dân vận, "
        "chính quyền thực hiện tốt quy chế dân chủ.Mặt trận phát huy vai trò giám sát.",
        # too long to be a caption
        PARA[:-1] + "." + PARA,
    ],
)
def test_glued_caption_negatives(para: str) -> None:
    c = clean_document(doc(f"Tiêu đề bài viết về dân vận\n\n{para}"))
    assert paragraphs(c) == [para]


def test_wrapped_lines_are_joined_and_short_lead_sentences_kept() -> None:
    text = (
        "Ban Dân vận Tỉnh ủy giao ban quý I\n\n"
        "Sáng 5/3, Ban Dân vận Tỉnh ủy tổ chức giao ban công tác dân vận\n"
        "quý I năm 2022.\n\n"
        "Hội nghị diễn ra trong một buổi.\n"
    )
    c = clean_document(doc(text))
    assert paragraphs(c) == [
        "Sáng 5/3, Ban Dân vận Tỉnh ủy tổ chức giao ban công tác dân vận quý I năm 2022.",
        "Hội nghị diễn ra trong một buổi.",
    ]


def test_long_unpunctuated_last_paragraph_is_content() -> None:
    last = (
        "Năm 2022 tỉnh tiếp tục đẩy mạnh phong trào thi đua Dân vận khéo trên các lĩnh vực, "
        "gắn với thực hiện nhiệm vụ chính trị của địa phương"
    )
    c = clean_document(doc(f"Tiêu đề bài viết về dân vận\n\n{LEAD}\n\n{last}\n\nQuay lại"))
    assert paragraphs(c) == [LEAD, last]
    assert c.footer_lines == ("Quay lại",)


def test_format_title_wins_and_is_not_repeated_in_body() -> None:
    c = clean_document(doc(f"Dân vận khéo ở cơ sở\n\n{LEAD}", title="Dân vận khéo ở cơ sở"))
    assert c.title == "Dân vận khéo ở cơ sở"
    assert paragraphs(c) == [LEAD]
    # the HTML <title> carries the site name; the page heading does not
    c = clean_document(
        doc(f"Dân vận khéo ở cơ sở\n\n{LEAD}", title="Dân vận khéo ở cơ sở - Báo Sơn La")
    )
    assert c.title == "Dân vận khéo ở cơ sở"
    assert paragraphs(c) == [LEAD]
    # a given title that the text does not show is used as it is
    c = clean_document(doc(LEAD, title="Giao ban công tác dân vận"))
    assert (c.title, paragraphs(c)) == ("Giao ban công tác dân vận", [LEAD])


def test_page_without_heading_keeps_its_first_paragraph() -> None:
    c = clean_document(doc(f"{PARA}\n\n{LEAD}"))
    assert paragraphs(c) == [PARA, LEAD]
    assert c.title.startswith("Những năm qua, cấp ủy")
    assert c.header_lines == ()


def test_only_boilerplate_gives_empty_body() -> None:
    c = clean_document(doc("Tin khác\n\nQuay lại\n\n• 1038\n\nQUẢNG CÁO"))
    assert c.body == ""


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Quay lại", True),
        ("Tin khác", True),
        ("Các tin khác:", True),
        ("Đọc thêm: Sơn La tổ chức hội nghị tổng kết công tác dân vận", True),
        ("Chủ đề Chủ trương - Chính sách", True),
        ("Tin mới Emagazine Truyền hình Podcast", True),
        ("Kinh tế - xã hội phát triển ổn định", False),
        ("Chủ đề của hội nghị năm nay là đổi mới công tác dân vận.", False),
        ("Thông tin về hội nghị", False),
    ],
)
def test_is_navigation(line: str, expected: bool) -> None:
    assert is_navigation(line) is expected


# ---------------------------------------------------------------- repeated lines

SITE_HEADER = "Báo Sơn La điện tử - Cơ quan của Đảng bộ Đảng Cộng sản Việt Nam tỉnh Sơn La"
COPYRIGHT = "Bản quyền thuộc về Báo Sơn La. Ghi rõ nguồn khi phát hành lại thông tin từ website."
SHARED_FACT = "Toàn tỉnh có 204 xã, phường, thị trấn."


def _source_page(i: int, *, extra: str = "", source: str | None = "Báo Sơn La") -> RawDocument:
    text = (
        f"{SITE_HEADER}\n\nBài số {i} về công tác dân vận ở cơ sở\n\n"
        f"Sáng {i}/3, Ban Dân vận Tỉnh ủy tổ chức hội nghị số {i} về công tác dân vận.\n\n"
        f"{extra}{PARA}\n\n{COPYRIGHT}\n"
    )
    return RawDocument(id=f"p{i}", text=text, path=f"x/{i}/p{i}.txt", format="txt", source=source)


def test_learn_repeated_lines_over_one_source() -> None:
    docs = [
        _source_page(1, extra=f"{SHARED_FACT}\n\n"),
        _source_page(2, extra=f"{SHARED_FACT}\n\n"),
        _source_page(3),
        _source_page(4),
    ]
    repeated = learn_repeated_lines(docs)
    c = clean_document(docs[0], repeated)
    assert c.title == "Bài số 1 về công tác dân vận ở cơ sở"
    assert SITE_HEADER in c.header_lines
    assert COPYRIGHT in c.footer_lines  # ends with "." -- only repetition removes it
    # in 2 of 4 documents: below min_docs=3, kept
    assert paragraphs(c) == [
        "Sáng 1/3, Ban Dân vận Tỉnh ủy tổ chức hội nghị số 1 về công tác dân vận.",
        SHARED_FACT,
    ]
    # without learning, the copyright line (a sentence) stays
    assert COPYRIGHT in clean_document(docs[0]).body


def test_repeated_lines_are_per_source() -> None:
    docs = [_source_page(i, source=f"Báo {i}") for i in range(1, 5)]
    assert learn_repeated_lines(docs).groups == {}
    # without a source field, documents group by folder: x/1, x/2 ... are all different
    docs = [_source_page(i, source=None) for i in range(1, 5)]
    assert learn_repeated_lines(docs).groups == {}


def test_identical_copies_count_once_and_small_groups() -> None:
    one = _source_page(1)
    assert learn_repeated_lines([one, one, one]).groups == {}
    # two distinct documents: threshold 2, but only short lines (<= 80 chars)
    learned = learn_repeated_lines([_source_page(1), _source_page(2)])
    (keys,) = learned.groups.values()
    assert all(len(k) <= 80 for k in keys)
    assert not any("bản quyền" in k for k in keys)


def test_a_title_listed_in_other_pages_is_kept_as_title() -> None:
    own_title = "Mai Sơn đối thoại với Nhân dân về công tác dân vận"
    first = RawDocument(
        id="t", text=f"{own_title}\n\n{LEAD}", path="y/t.txt", format="txt", source="S"
    )
    others = [
        RawDocument(
            id=f"o{i}",
            text=f"Bài khác số {i} về dân vận\n\n{i}. {PARA}\n\nTin khác\n\n{own_title}",
            path=f"y/o{i}.txt",
            format="txt",
            source="S",
        )
        for i in range(3)
    ]
    repeated = learn_repeated_lines([first, *others])
    c = clean_document(first, repeated)
    assert c.title == own_title
    assert paragraphs(c) == [LEAD]
    assert own_title in clean_document(others[0], repeated).footer_lines


def test_min_docs_validated() -> None:
    with pytest.raises(ValueError):
        learn_repeated_lines([], min_docs=1)


# ---------------------------------------------------------------- seeds

CONTENT = {
    "000": [
        "Năm 2021, Ban Chỉ đạo các huyện đã kiểm tra tại 151 cơ quan",
        "Sáng ngày 30/12, Ban Chỉ đạo thực hiện Quy chế dân chủ ở cơ sở",
        "yêu cầu nhiệm vụ trong tình hình mới./.",
    ],
    "001": [
        "Chiều 1/7, tại Quận ủy Quận 9, Đoàn kiểm tra của Ban Dân vận Thành ủy",
        "kịp thời tham mưu giải quyết các bức xúc liên quan.",
    ],
    "002": [
        "Quán triệt sâu sắc quan điểm của Đảng",
        "bảo vệ quyền và lợi ích hợp pháp của nhân dân, giảm tình trạng hành chính hóa.",
        "đã hỗ trợ cho 11.562/11.615 trường hợp, đạt 99,54%.",
    ],
    "003": [
        "Trước thực tiễn tình hình và những yêu cầu mới, Hà Tĩnh tiếp tục",
        "Sáng 21/10, Ban Dân vận Tỉnh ủy Hà Tĩnh tổ chức hội nghị tập huấn",
        "300 cán bộ làm công tác dân vận, lãnh đạo các địa phương",
        "Nhân dân là chủ, Nhân dân làm chủ;",
        "giải quyết các vấn đề thực tiễn đang đặt ra.",
    ],
    "004": [
        "Qua 3 năm triển khai thực hiện Quy chế công tác Dân vận",
        "Tuy nhiên, so với yêu cầu vẫn còn một số hạn chế",
    ],
}


def test_seed_bodies_have_no_boilerplate_and_keep_content() -> None:
    docs = load_seeds()
    assert len(docs) == 5
    repeated = learn_repeated_lines(docs)
    for d in docs:
        c = clean_document(d, repeated)
        paras = paragraphs(c)
        for bad in SEED_BOILERPLATE:
            assert all(not p.startswith(bad) and not p.endswith(bad) for p in paras), (d.id, bad)
        assert all(p != c.title for p in paras), d.id
        for sentence in CONTENT[d.id[:3]]:
            assert sentence in c.body, (d.id, sentence)
        assert c.body == clean_display(c.body)


def test_seed_003_title_repeats_are_all_removed() -> None:
    d = next(x for x in load_seeds() if x.id.startswith("003"))
    c = clean_document(d)
    assert c.title == "Hà Tĩnh đổi mới hiệu quả công tác dân vận trong tình hình mới"
    assert c.title not in c.body
    assert c.removed.count(c.title) == 8


# ---------------------------------------------------------------- robustness

_ALPHABET = st.sampled_from(
    list("aăâbcdđeêghiklmnoôơpqrstuưvxyAĐÊƠàảãáạằẳẵắặầẩẫấậ0123456789 .,;:!?()-–•|/\n\t\xa0")
)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=400) | st.text(max_size=200), st.booleans())
def test_clean_document_never_crashes(text: str, with_title: bool) -> None:
    d = doc(text, title="Tiêu đề" if with_title else "")
    c = clean_document(d)
    assert isinstance(c.body, str) and isinstance(c.title, str)
    assert "\n\n\n" not in c.body
    repeated = learn_repeated_lines([d, d, doc(text + "\nQuay lại", path="tin/b.txt")])
    clean_document(d, repeated)
