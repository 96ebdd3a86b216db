import pytest

from rag.index.bm25 import BM25Corrupt, BM25Index

DOCS = {
    "c1": "Năm 2021, Ban Chỉ đạo các huyện đã kiểm tra tại 151 cơ quan, đơn vị, doanh nghiệp.",
    "c2": "Toàn tỉnh có 63.021 ha cây ăn quả, sản lượng năm 2019 đạt 410.000 tấn.",
    "c3": "Phong trào thi đua Dân vận khéo lan tỏa sâu rộng trong các lĩnh vực.",
    "c4": "Tỉnh uỷ tổ chức hội nghị về thuỷ lợi và hoá chất.",
}


@pytest.fixture
def index():
    return BM25Index.build(list(DOCS), list(DOCS.values()))


def test_ranks_the_matching_chunk_first(index):
    assert index.search("kiểm tra bao nhiêu cơ quan đơn vị", k=2)[0][0] == "c1"
    assert index.search("diện tích cây ăn quả", k=2)[0][0] == "c2"
    assert index.search("63.021 ha", k=1)[0][0] == "c2"


def test_query_forms_match_index_forms(index):
    # the index says "Tỉnh uỷ ... thuỷ lợi ... hoá"; the query uses the other placement
    assert index.search("tỉnh ủy thủy lợi hóa chất", k=1)[0][0] == "c4"


def test_no_match_returns_nothing(index):
    assert index.search("bóng đá", k=3) == []
    assert BM25Index.build([], []).search("gì", k=3) == []


def test_scores_follow_bm25(index):
    # a rarer term scores higher than a common one in a document of similar length
    s = index.scores("151")
    assert s[0] > 0 and s[1] == 0


def test_roundtrip_and_corruption_detected(tmp_path, index):
    index.save(tmp_path, generation=7)
    loaded, gen, _ = BM25Index.load(tmp_path)
    assert gen == 7 and loaded.ids == index.ids
    assert loaded.search("dân vận khéo", 1) == index.search("dân vận khéo", 1)
    npz = next(tmp_path.glob("bm25-*.npz"))
    npz.write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])
    with pytest.raises(BM25Corrupt):
        BM25Index.load(tmp_path)
    with pytest.raises(BM25Corrupt):
        BM25Index.load(tmp_path / "missing")
