from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.chunking import article_version, chunk_article, split_sentences
from corpus.text import count_tokens
from corpus.types import Article


def sents(text):
    return [text[a:b] for a, b in split_sentences(text)]


def test_numbers_codes_and_abbreviations_are_not_boundaries():
    text = (
        "Đã hỗ trợ 11.562/11.615 trường hợp theo Quyết định số 22/2013/QĐ-TTg ngày 26/4/2013. "
        "TP.HCM và TP. Hồ Chí Minh là một. Sáng ngày 30/12, hội nghị diễn ra."
    )
    assert sents(text) == [
        "Đã hỗ trợ 11.562/11.615 trường hợp theo Quyết định số 22/2013/QĐ-TTg ngày 26/4/2013.",
        "TP.HCM và TP. Hồ Chí Minh là một.",
        "Sáng ngày 30/12, hội nghị diễn ra.",
    ]


def test_sentence_ends_after_accented_letter_and_before_vietnamese_capital():
    text = "Giảm tình trạng hành chính hóa. Đảng viên gương mẫu! Ủy ban họp? Ấy là vậy"
    assert sents(text) == [
        "Giảm tình trạng hành chính hóa.",
        "Đảng viên gương mẫu!",
        "Ủy ban họp?",
        "Ấy là vậy",
    ]


def test_lowercase_continuation_and_quotes():
    text = 'Phong trào "Dân vận khéo." lan tỏa. Phương châm "dân biết, dân bàn." Hết.'
    assert sents(text) == [
        'Phong trào "Dân vận khéo." lan tỏa.',
        'Phương châm "dân biết, dân bàn."',
        "Hết.",
    ]


def test_paragraph_break_is_a_boundary():
    assert sents("Tiêu đề không dấu chấm\n\nĐoạn một.") == ["Tiêu đề không dấu chấm", "Đoạn một."]


def _article(text, title="Tiêu đề", date=None, precision=None):
    return Article(id="a1", title=title, text=text, date=date, date_precision=precision)


PARA = " ".join(
    f"Câu số {i} nói về công tác dân vận ở xã thứ {i} với nhiều kết quả tốt." for i in range(60)
)


def test_chunks_have_exact_offsets_sizes_and_overlap():
    art = _article(PARA + "\n\n" + PARA)
    chunks = chunk_article(art, target_tokens=60, overlap_tokens=20)
    assert len(chunks) > 5
    for c in chunks:
        assert c.text == art.text[c.start : c.end]
        assert count_tokens(c.text) <= 60
        assert c.embed_text.startswith("Tiêu đề\n")
        assert c.id == f"a1#{article_version(art, 60, 20)}-{c.ordinal:04d}"
    overlaps = sum(1 for p, n in pairwise(chunks) if n.start < p.end)
    assert overlaps >= len(chunks) // 2
    assert all(n.end > p.end for p, n in pairwise(chunks))
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert all(i in covered for i, ch in enumerate(art.text) if not ch.isspace())


def test_long_sentence_is_cut_at_clauses():
    text = (
        "Các nhiệm vụ gồm: "
        + "; ".join(f"nhiệm vụ thứ {i} rất quan trọng" for i in range(80))
        + "."
    )
    chunks = chunk_article(_article(text), target_tokens=50, overlap_tokens=0)
    assert len(chunks) > 3
    assert all(count_tokens(c.text) <= 50 for c in chunks)
    assert all(c.text == text[c.start : c.end] for c in chunks)


def test_embed_text_carries_title_and_full_date_only():
    dated = chunk_article(_article("Nội dung.", date="2020-02-27", precision="day"))
    assert dated[0].embed_text == "Tiêu đề (2020-02-27)\nNội dung."
    partial = chunk_article(_article("Nội dung.", date="--12-30", precision="day_month"))
    assert partial[0].embed_text == "Tiêu đề\nNội dung."


def test_same_text_gives_same_ids_and_changed_text_new_ids():
    a = chunk_article(_article(PARA))
    b = chunk_article(_article(PARA))
    c = chunk_article(_article(PARA + " Thêm một câu."))
    assert [x.id for x in a] == [x.id for x in b]
    assert not {x.id for x in a} & {x.id for x in c}


@settings(max_examples=60, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("aăâđêôơưáàảãạ .,;!?\n0123456789ĐÂXY/")), max_size=600)
)
def test_offsets_hold_for_arbitrary_text(text):
    for c in chunk_article(_article(text), target_tokens=20, overlap_tokens=5):
        assert c.text == text[c.start : c.end]
        assert c.text.strip() == c.text and c.text
