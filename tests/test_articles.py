"""From raw documents to articles: the five seeds end to end, metadata precedence, errors."""

from __future__ import annotations

import pytest

from corpus.articles import EmptyArticle, build_article, build_articles
from corpus.types import Article, RawDocument, SkippedFile
from tests.seeds import load_seeds


@pytest.fixture(scope="module")
def seeds() -> dict[str, Article]:
    return {a.id[:3]: a for a in build_articles(load_seeds())}


def test_seed_000(seeds: dict[str, Article]) -> None:
    a = seeds["000"]
    assert a.title.startswith("Hội nghị trực tuyến tổng kết công tác dân vận")
    # "Sáng ngày 30/12": the title says 2021, but no year is invented
    assert (a.date, a.date_precision) == ("--12-30", "day_month")
    assert a.author == "Đình Thoại"
    assert a.source is None
    assert a.places == ()
    assert a.removed_lines == (a.title, "Đình Thoại", "Quay lại")


def test_seed_001(seeds: dict[str, Article]) -> None:
    a = seeds["001"]
    assert a.title == "Tăng cường công tác dân vận và thực hiện quy chế dân chủ ở cơ sở"
    # the dated header wins over the event day "Chiều 1/7" (2019) in the lead
    assert (a.date, a.date_precision) == ("2020-01-19", "day")
    assert a.source == "Thanhuytphcm.vn"
    assert a.author == "Bùi Hiệp Thọ"
    assert a.text.startswith("Chiều 1/7, tại Quận ủy Quận 9")
    assert "quận 9" in a.places


def test_seed_002(seeds: dict[str, Article]) -> None:
    a = seeds["002"]
    assert a.title.startswith("Công tác dân vận góp phần tăng cường mối liên hệ mật thiết")
    assert (a.date, a.date_precision) == ("2020-02-27", "day")
    assert a.author is None
    assert "Sơn La" in a.places
    assert "ĐVTN xã Phiêng Pằn (Mai Sơn) giúp hộ nghèo xóa nhà tạm." in a.removed_lines


def test_seed_003(seeds: dict[str, Article]) -> None:
    a = seeds["003"]
    assert a.title == "Hà Tĩnh đổi mới hiệu quả công tác dân vận trong tình hình mới"
    assert a.source == "Baohatinh.vn"
    assert (a.date, a.date_precision) == ("--10-21", "day_month")
    assert "Hà Tĩnh" in a.places
    assert a.text.startswith("Trước thực tiễn tình hình")


def test_seed_004(seeds: dict[str, Article]) -> None:
    a = seeds["004"]
    assert a.title == "Thực hiện quy chế công tác dân vận của hệ thống chính trị"
    assert (a.date, a.date_precision) == ("2013-12-02", "day")
    assert a.author == "Minh Thư"
    assert any("Hàm Thuận Bắc" in p for p in a.places)


def test_seed_articles_carry_ids_paths_and_fingerprints(seeds: dict[str, Article]) -> None:
    for raw in load_seeds():
        a = seeds[raw.id[:3]]
        assert (a.id, a.path, a.fingerprint) == (raw.id, raw.path, raw.fingerprint)
        assert a.text and a.title not in a.text.split("\n\n")


def test_format_metadata_wins() -> None:
    raw = RawDocument(
        id="j1",
        text=("(Baosonla.vn) - Sáng 5/3, Ban Dân vận Tỉnh ủy Sơn La tổ chức hội nghị.\n\nMinh Thư"),
        path="feed.jsonl",
        format="jsonl",
        title="Giao ban công tác dân vận",
        source="Báo Sơn La",
        date="2022-03-05T08:00:00+07:00",
        url="https://baosonla.vn/a",
        author="Hồng Nhung",
    )
    a = build_article(raw)
    assert (a.title, a.source, a.author, a.url) == (
        "Giao ban công tác dân vận",
        "Báo Sơn La",
        "Hồng Nhung",
        "https://baosonla.vn/a",
    )
    assert (a.date, a.date_precision) == ("2022-03-05", "day")
    assert a.text == "Sáng 5/3, Ban Dân vận Tỉnh ủy Sơn La tổ chức hội nghị."
    assert a.places == ("Sơn La",)


def test_empty_article_raises_with_path() -> None:
    raw = RawDocument(id="e", text="Tin khác\n\nQuay lại\n\n• 1038", path="x/e.txt", format="txt")
    with pytest.raises(EmptyArticle, match="no article text left") as info:
        build_article(raw)
    assert (info.value.path, info.value.doc_id) == ("x/e.txt", "e")


def test_build_articles_reports_empty_ones_when_asked() -> None:
    good = RawDocument(
        id="g",
        text="Tiêu đề bài viết về dân vận\n\nSáng 5/3, hội nghị giao ban được tổ chức.",
        path="x/g.txt",
        format="txt",
    )
    empty = RawDocument(id="e", text="Quay lại", path="x/e.txt", format="txt")
    with pytest.raises(EmptyArticle):
        build_articles([good, empty])
    skipped: list[SkippedFile] = []
    articles = build_articles([good, empty], skipped=skipped)
    assert [a.id for a in articles] == ["g"]
    assert [s.path for s in skipped] == ["x/e.txt"]


def test_build_articles_learns_repeated_lines_over_the_batch() -> None:
    footer = "Bản quyền thuộc về Báo Sơn La. Ghi rõ nguồn khi phát hành lại thông tin."
    docs = [
        RawDocument(
            id=f"d{i}",
            text=f"Bài viết số {i} về dân vận\n\nSáng {i}/3, hội nghị số {i} được tổ chức.\n\n"
            + (footer if i < 4 else ""),
            path=f"site/d{i}.txt",
            format="txt",
        )
        for i in range(1, 5)
    ]
    articles = build_articles(docs)  # the footer is in 3 of 4 documents: boilerplate
    assert all(footer not in a.text for a in articles)
    assert all(footer in a.removed_lines for a in articles[:3])
    kept = build_articles(docs, min_repeat_docs=4)
    assert all(footer in a.text for a in kept[:3])
