"""Metric functions of the evaluation suite, against cases computed by hand."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evals import metrics as m
from evals.stats import mean_ci, paired_bootstrap, paired_statistic, statistic_ci

# -- retrieval -----------------------------------------------------------------------------


def test_retrieval_metrics_hand_computed():
    ranked = ["x", "a", "y", "b", "z"]
    gold = {"a", "b", "c"}
    assert m.hit_at_k(ranked, gold, 1) == 0.0
    assert m.hit_at_k(ranked, gold, 2) == 1.0
    assert m.recall_at_k(ranked, gold, 5) == pytest.approx(2 / 3)
    assert m.recall_at_k(ranked, gold, 3) == pytest.approx(1 / 3)
    assert m.mrr_at_k(ranked, gold, 10) == 0.5
    assert m.mrr_at_k(ranked, gold, 1) == 0.0
    # DCG = 1/log2(3) + 1/log2(5); ideal = 1 + 1/log2(3) + 1/log2(4)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert m.ndcg_at_k(ranked, gold, 10) == pytest.approx(dcg / ideal)


def test_ndcg_ideal_is_capped_at_k():
    # 3 relevant ids but k = 2: a ranking with both top slots relevant is perfect
    assert m.ndcg_at_k(["a", "b", "x"], {"a", "b", "c"}, 2) == pytest.approx(1.0)


def test_no_gold_gives_none_not_zero():
    for fn in (m.hit_at_k, m.recall_at_k, m.mrr_at_k, m.ndcg_at_k):
        assert fn(["a", "b"], set(), 10) is None
    assert m.exact_match("151", []) is None
    assert m.token_f1("151", []) is None
    assert m.gold_containment("151", []) is None


def test_repeated_ids_in_a_ranking_count_once():
    assert m.recall_at_k(["a", "a", "a"], {"a", "b"}, 3) == 0.5
    assert m.ndcg_at_k(["a", "a"], {"a"}, 10) == 1.0
    assert m.distinct(["b", "a", "b", "c"]) == ["b", "a", "c"]


def test_empty_ranking():
    assert m.hit_at_k([], {"a"}, 10) == 0.0
    assert m.mrr_at_k([], {"a"}, 10) == 0.0
    assert m.ndcg_at_k([], {"a"}, 10) == 0.0


# -- answers -------------------------------------------------------------------------------


def test_exact_match_after_vietnamese_normalisation():
    # other tone-mark placement, case, punctuation and citation markers do not matter
    assert m.exact_match("Tỉnh uỷ [1].", ["tỉnh ủy"]) == 1.0
    assert m.exact_match("HOÀ BÌNH", ["Hòa Bình"]) == 1.0
    assert m.exact_match("151 cơ quan", ["151"]) == 0.0
    assert m.exact_match("x", ["y", "x"]) == 1.0  # best over the gold answers


def test_token_f1_hand_computed():
    # pred: 151 cơ quan (3); gold: 151 cơ quan đơn vị (5); overlap 3 -> P=1, R=0.6, F1=0.75
    assert m.token_f1("151 cơ quan [1].", ["151 cơ quan, đơn vị"]) == pytest.approx(0.75)
    # repeated tokens count as a multiset: pred "dân dân" vs gold "dân vận": overlap 1
    assert m.token_f1("dân dân", ["dân vận"]) == pytest.approx(0.5)
    assert m.token_f1("trời mưa", ["151"]) == 0.0


def test_empty_answer():
    assert m.exact_match("", ["151"]) == 0.0
    assert m.token_f1("", ["151"]) == 0.0
    assert m.gold_containment("", ["151"]) == 0.0
    assert m.statements("") == []
    assert m.citation_scores([], {1: "x"}) is None


def test_containment_ignores_markers_and_tone_placement():
    assert m.gold_containment("Có 11.562 trường hợp [1].", ["11.562 trường hợp"]) == 1.0
    assert m.gold_containment("Tỉnh uỷ chỉ đạo [2]", ["Tỉnh ủy"]) == 1.0
    # the marker would otherwise split "151 [1] cơ quan"
    assert m.gold_containment("151 [1] cơ quan", ["151 cơ quan"]) == 1.0
    assert m.gold_containment("152 cơ quan", ["151"]) == 0.0


# -- citations (ALCE) ----------------------------------------------------------------------


def keyword_supports(claim: str, passage: str) -> bool:
    """Toy judge for hand-computed cases: every word of the claim is in the passage."""
    words = m.normalize(claim)
    return bool(words) and set(words) <= set(m.normalize(passage))


PASSAGES = {1: "alpha beta", 2: "gamma delta", 3: "epsilon"}


def test_citation_scores_hand_computed():
    stmts = [
        m.Statement("alpha", (1,)),  # covered, citation correct
        m.Statement("alpha gamma", (1, 2)),  # covered only jointly: both citations needed
        m.Statement("beta", (1, 3)),  # covered; [3] irrelevant ([1] alone supports)
        m.Statement("zeta", (2,)),  # not covered: its citation is wrong
        m.Statement("delta", ()),  # no citation: not covered
    ]
    got = m.citation_scores(stmts, PASSAGES, keyword_supports)
    assert got is not None
    assert (got.statements, got.covered) == (5, 3)
    assert (got.citations, got.correct) == (6, 4)  # 1 + 2 + 1 ([1] of "beta") + 0
    assert got.recall == pytest.approx(3 / 5)
    assert got.precision == pytest.approx(4 / 6)


def test_duplicate_citations_in_a_sentence_count_once():
    once = m.citation_scores([m.Statement("alpha", (1,))], PASSAGES, keyword_supports)
    twice = m.citation_scores(
        [m.Statement(s.claim, s.cited) for s in m.statements("alpha [1][1] [1].")],
        PASSAGES,
        keyword_supports,
    )
    assert m.statements("alpha [1][1] [1].")[0].cited == (1,)
    assert once == twice
    assert twice is not None and (twice.citations, twice.precision) == (1, 1.0)
    # built by hand with a repeated number: still one citation
    direct = m.citation_scores([m.Statement("alpha", (1, 1))], PASSAGES, keyword_supports)
    assert direct is not None and direct.citations == 1


def test_citation_of_a_missing_passage_is_wrong():
    got = m.citation_scores([m.Statement("alpha", (1, 9))], PASSAGES, keyword_supports)
    assert got is not None and (got.recall, got.precision, got.correct) == (0.0, 0.0, 0)


def test_answer_without_any_citation_has_zero_precision():
    got = m.citation_scores([m.Statement("alpha", ())], PASSAGES, keyword_supports)
    assert got is not None and (got.precision, got.recall, got.citations) == (0.0, 0.0, 0)


def test_lexical_support_is_the_documented_scorer():
    passage = "Năm 2021, Ban Chỉ đạo các huyện đã kiểm tra tại 151 cơ quan, đơn vị, doanh nghiệp."
    assert m.lexical_support("Ban Chỉ đạo kiểm tra 151 cơ quan [1].", passage)
    assert not m.lexical_support("Ban Chỉ đạo kiểm tra 152 cơ quan.", passage)  # number rule
    stmts = m.statements("Ban Chỉ đạo kiểm tra 151 cơ quan [1]. Trời mưa to ở Huế [1].")
    got = m.citation_scores(stmts, {1: passage})
    assert got is not None and (got.covered, got.correct, got.citations) == (1, 1, 2)


def test_statements_parse_markers_after_the_stop_and_ranges():
    got = m.statements("Câu một. [1][2] Câu hai [1-3].\n- mục [4]")
    assert [(s.claim, s.cited) for s in got] == [
        ("Câu một.", (1, 2)),
        ("Câu hai.", (1, 2, 3)),
        ("mục", (4,)),
    ]


def test_a_name_initial_does_not_end_a_statement():
    text = "Bản dịch của John C. Messenger, giai điệu của Maria C. Tiddeman năm 1875 [1]. Hết [2]."
    got = m.statements(text)
    assert [s.cited for s in got] == [(1,), (2,)]
    assert got[0].claim.startswith("Bản dịch của John C. Messenger") and "Tiddeman" in got[0].claim
    # a real uncited sentence stays uncited, and so not covered
    assert m.statements("Câu không trích dẫn. Câu có [1].")[0].cited == ()


# -- refusals ------------------------------------------------------------------------------


def test_refusal_scores_hand_computed():
    answerable = [True, True, False, False, False]
    refused = [True, False, True, True, False]
    # refused: 3, of which unanswerable 2 -> precision 2/3; unanswerable 3 -> recall 2/3
    assert m.refusal_scores(answerable, refused) == (pytest.approx(2 / 3), pytest.approx(2 / 3))


def test_everything_refused():
    answerable = [True, False, False, True]
    p, r = m.refusal_scores(answerable, [True] * 4)
    assert (p, r) == (0.5, 1.0)
    # an answerable question refused scores 0 on the answer metrics
    assert m.is_correct(answerable=True, refused=True, contains_gold=0.0) is False
    assert m.is_correct(answerable=False, refused=True, contains_gold=None) is True


def test_nothing_refused_and_no_unanswerable():
    assert m.refusal_scores([True, True], [False, False]) == (None, None)
    assert m.refusal_scores([False], [False]) == (None, 0.0)


# -- outcome -------------------------------------------------------------------------------


def test_failure_category_order():
    full = m.CitationScores(1.0, 1.0, 1, 1, 1, 1)
    half = m.CitationScores(0.5, 1.0, 1, 1, 2, 1)
    kw = {"refused": False, "gold_retrieved": 1.0, "contains_gold": 1.0, "citations": full}
    assert m.failure_category(answerable=True, **kw) is None
    assert m.failure_category(answerable=True, **{**kw, "gold_retrieved": 0.0}) == (
        "retrieval_miss"
    )
    assert m.failure_category(answerable=True, **{**kw, "refused": True, "citations": None}) == (
        "wrong_refusal"
    )
    assert m.failure_category(answerable=True, **{**kw, "contains_gold": 0.0}) == "answer_miss"
    assert m.failure_category(answerable=True, **{**kw, "citations": half}) == (
        "unsupported_citation"
    )
    assert m.failure_category(answerable=False, **kw) == "missed_refusal"
    assert m.failure_category(answerable=False, **{**kw, "refused": True}) is None
    # no gold article known: retrieval is not judged
    assert m.failure_category(answerable=True, **{**kw, "gold_retrieved": None}) is None


def test_percentile_nearest_rank():
    assert m.percentile([], 50) == 0.0
    assert m.percentile([5.0, 1.0, 3.0], 50) == 3.0
    assert m.percentile(list(range(1, 101)), 95) == 95


def test_roc_auc_counts_pairs_and_half_ties():
    assert m.roc_auc([], [0.1]) is None and m.roc_auc([0.1], []) is None
    assert m.roc_auc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert m.roc_auc([0.1, 0.2], [0.9, 0.8]) == 0.0
    assert m.roc_auc([0.5], [0.5]) == 0.5
    # brute force over every (positive, negative) pair on scores with ties
    pos, neg = [0.3, 0.7, 0.7, 0.2, 0.9], [0.7, 0.1, 0.3, 0.3]
    pairs = [1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg]
    assert m.roc_auc(pos, neg) == pytest.approx(sum(pairs) / len(pairs))


# -- aggregation ---------------------------------------------------------------------------


def test_mean_ci_skips_none_and_is_reproducible():
    vals = [1.0, 0.0, 1.0, 1.0, None, 0.0, 1.0]
    a, b = mean_ci(vals), mean_ci(vals)
    assert a == b and a is not None
    assert a.n == 6 and a.mean == pytest.approx(4 / 6)
    assert 0.0 <= a.low < a.mean < a.high <= 1.0
    assert mean_ci([None, None]) is None
    const = mean_ci([0.5] * 20)
    assert const is not None and const.low == const.high == 0.5


def test_mean_ci_narrows_with_more_questions():
    small = mean_ci([1.0, 0.0] * 10)
    big = mean_ci([1.0, 0.0] * 500)
    assert small is not None and big is not None
    assert (big.high - big.low) < (small.high - small.low) / 4


def test_statistic_ci_for_refusal_precision():
    answerable = [True] * 10 + [False] * 10
    refused = [False] * 8 + [True] * 2 + [True] * 9 + [False]

    def precision(idx):
        return m.refusal_scores([answerable[i] for i in idx], [refused[i] for i in idx])[0]

    iv = statistic_ci(20, precision)
    assert iv is not None and iv.mean == pytest.approx(9 / 11)
    assert iv.low <= iv.mean <= iv.high


def test_paired_bootstrap():
    same = paired_bootstrap([1.0, 0.0, 1.0] * 10, [1.0, 0.0, 1.0] * 10)
    assert (same.delta, same.p_value, same.significant) == (0.0, 1.0, False)
    better = paired_bootstrap([0.0] * 40 + [1.0] * 10, [1.0] * 40 + [1.0] * 10)
    assert better.delta == pytest.approx(0.8) and better.significant
    assert better.low > 0
    # one flip in 50 questions is not significant
    noise = paired_bootstrap([1.0] * 49 + [0.0], [1.0] * 50)
    assert not noise.significant
    with pytest.raises(ValueError):
        paired_bootstrap([1.0], [1.0, 0.0])


def test_paired_statistic_detects_a_refusal_change():
    answerable = [True] * 20 + [False] * 20
    ref_a = [False] * 20 + [False] * 20
    ref_b = [False] * 20 + [True] * 20

    def recall(refused):
        return lambda idx: m.refusal_scores(
            [answerable[i] for i in idx], [refused[i] for i in idx]
        )[1]

    res = paired_statistic(40, recall(ref_a), recall(ref_b))
    assert res is not None and res.delta == 1.0 and res.significant


# -- properties ----------------------------------------------------------------------------

ids = st.lists(st.sampled_from("abcdefgh"), max_size=12)


@given(ids, st.sets(st.sampled_from("abcdefgh"), min_size=1), st.integers(1, 12))
def test_retrieval_metrics_are_bounded_and_monotone_in_k(ranked, gold, k):
    for fn in (m.hit_at_k, m.recall_at_k, m.mrr_at_k, m.ndcg_at_k):
        v = fn(ranked, gold, k)
        assert v is not None and 0.0 <= v <= 1.0 + 1e-12
    assert m.hit_at_k(ranked, gold, k) <= m.hit_at_k(ranked, gold, k + 1)
    assert m.recall_at_k(ranked, gold, k) <= m.recall_at_k(ranked, gold, k + 1)


@given(st.text(max_size=40), st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=3))
def test_answer_metrics_are_bounded(pred, golds):
    for fn in (m.exact_match, m.token_f1, m.gold_containment):
        v = fn(pred, golds)
        assert v is not None and 0.0 <= v <= 1.0
    if m.exact_match(pred, golds) == 1.0:
        assert m.token_f1(pred, golds) == 1.0
