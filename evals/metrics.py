"""Per-question metrics: small pure functions; ``None`` means "not defined here".

A metric is ``None`` when the question gives nothing to score against (no gold articles,
no gold answers, an unanswerable question, an answer without statements); aggregates skip
``None`` and report how many questions were scored (``n``).

Retrieval (``ranked``: ids best first; ``relevant``: the gold ids; an id repeated in
``ranked`` counts at its first position only):

* ``hit_at_k``: 1 if a relevant id is in the top k, else 0;
* ``recall_at_k``: share of the relevant ids found in the top k;
* ``mrr_at_k``: 1 / rank of the first relevant id in the top k (0 if none);
* ``ndcg_at_k``: binary-gain nDCG, ``DCG = sum 1/log2(rank+1)`` over relevant ranks ≤ k,
  divided by the DCG of a perfect ranking of ``min(|relevant|, k)`` relevant ids.

Answers (``normalize``: citation markers dropped, then ``corpus.text.tokens``: NFC, one
tone-mark placement, lower case, syllables and numbers, punctuation dropped):

* ``exact_match``: 1 if the normalised prediction equals a normalised gold answer;
* ``token_f1``: SQuAD token F1 (multiset overlap), best over the gold answers;
* ``gold_containment``: 1 if a gold answer occurs in the prediction (``contains``).

Citations, ALCE-style (Gao et al. 2023, "Enabling LLMs to generate text with citations"):
the answer is split into statements (sentences) with the ``[n]`` they carry (a number
repeated in one sentence counts once), and ``supports(claim, passage)`` judges support.

* a statement is **covered** when the passages it cites, joined, support it; a statement
  without citations, or citing a passage that does not exist, is not covered;
  ``citation recall`` = covered statements / statements;
* a citation is **correct** when its statement is covered and the citation is needed:
  its passage supports the statement alone, or the statement's other citations without it
  do not (ALCE's "irrelevant citation" test); ``citation precision`` = correct citations /
  citations (0 when the answer has statements but no citations, as in ALCE).

The offline ``supports`` is ``lexical_support``: ``rag.answer.support.support_score(claim,
passage) >= rag.answer.support.SUPPORT_THRESHOLD`` (0.67). Its exact definition (content-token and
content-bigram overlap, a missing number scores 0, names must appear contiguously) is in the
``rag.answer.support`` docstring and in docs/EVALUATION.md.

>>> hit_at_k(["b", "a"], {"a"}, 1), mrr_at_k(["b", "a"], {"a"}, 10)
(0.0, 0.5)
>>> round(token_f1("151 cơ quan [1].", ["151 cơ quan, đơn vị"]), 4)
0.75
>>> s = statements("Có 300 cán bộ [1][1]. Trời mưa.")
>>> [(x.claim, x.cited) for x in s]
[('Có 300 cán bộ.', (1,)), ('Trời mưa.', ())]
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from corpus.text import search_key, tokens
from rag.answer.support import SUPPORT_THRESHOLD, clean_claim, support_score

Supports = Callable[[str, str], bool]


# -- retrieval -----------------------------------------------------------------------------
def _first_ranks(ranked: Sequence[str], relevant: Collection[str], k: int) -> list[int]:
    """1-based ranks (≤ k) at which relevant ids first occur."""
    seen: set[str] = set()
    out = []
    for rank, rid in enumerate(ranked[:k], 1):
        if rid in relevant and rid not in seen:
            out.append(rank)
        seen.add(rid)
    return out


def hit_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float | None:
    if not relevant:
        return None
    return 1.0 if _first_ranks(ranked, relevant, k) else 0.0


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float | None:
    if not relevant:
        return None
    return len(_first_ranks(ranked, relevant, k)) / len(set(relevant))


def mrr_at_k(ranked: Sequence[str], relevant: Collection[str], k: int = 10) -> float | None:
    if not relevant:
        return None
    ranks = _first_ranks(ranked, relevant, k)
    return 1.0 / ranks[0] if ranks else 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int = 10) -> float | None:
    if not relevant:
        return None
    dcg = sum(1.0 / math.log2(r + 1) for r in _first_ranks(ranked, relevant, k))
    ideal = sum(1.0 / math.log2(r + 1) for r in range(1, min(len(set(relevant)), k) + 1))
    return dcg / ideal


def distinct(ids: Sequence[str]) -> list[str]:
    """The ids in order of first occurrence (a ranking of articles from one of chunks)."""
    return list(dict.fromkeys(ids))


# -- answers -------------------------------------------------------------------------------
def contains(answer: str, gold: str) -> bool:
    """Gold answer inside the answer, after Vietnamese normalisation (tone marks, case)."""
    return search_key(gold) in search_key(answer)


def normalize(text: str) -> list[str]:
    """Answer tokens for EM/F1: citation markers removed, then ``corpus.text.tokens``."""
    return tokens(clean_claim(text))


def exact_match(prediction: str, golds: Sequence[str]) -> float | None:
    if not golds:
        return None
    pred = normalize(prediction)
    return 1.0 if any(pred == normalize(g) for g in golds) else 0.0


def _f1(pred: list[str], gold: list[str]) -> float:
    if not pred or not gold:
        return 1.0 if pred == gold else 0.0
    common = sum((Counter(pred) & Counter(gold)).values())
    if common == 0:
        return 0.0
    p, r = common / len(pred), common / len(gold)
    return 2 * p * r / (p + r)


def token_f1(prediction: str, golds: Sequence[str]) -> float | None:
    if not golds:
        return None
    pred = normalize(prediction)
    return max(_f1(pred, normalize(g)) for g in golds)


def gold_containment(prediction: str, golds: Sequence[str]) -> float | None:
    if not golds:
        return None
    text = clean_claim(prediction)
    return 1.0 if any(contains(text, g) for g in golds) else 0.0


def key_point_recall(answer: str, key_points: Sequence[Sequence[str]]) -> float | None:
    """Share of key points covered by ``answer``: a point (its alternative verbatim
    phrases) is covered when one of them is inside the answer (``contains``).

    >>> key_point_recall("Kiểm tra 151 cơ quan [1].", [["151 cơ quan"], ["đối thoại"]])
    0.5
    """
    if not key_points:
        return None
    text = clean_claim(answer)
    return sum(any(contains(text, p) for p in point) for point in key_points) / len(key_points)


# -- citations -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Statement:
    """One sentence of an answer: its text without markers and the [n] it cites."""

    claim: str
    cited: tuple[int, ...]


def statements(answer_text: str) -> list[Statement]:
    """Split an answer into statements with their citation numbers.

    Uses the same reader as the LLM answer post-check (``rag.answer.llm``): sentences by
    ``corpus.chunking.split_sentences``, markers ``[1]``, ``[1, 2]``, ``[1-3]`` (also after
    the full stop), list items as separate statements, each number once per statement.
    An uncited piece ending in a one-letter initial ("… bản dịch của John C.") is joined
    to the next piece: the sentence splitter cut a name, not a sentence.
    """
    from rag.answer.llm import _split_reply  # the one parser of "[n]"-cited text in the project

    out: list[Statement] = []
    pending: Statement | None = None
    for s in _split_reply(answer_text):
        if not s.claim.strip():
            continue
        st = Statement(s.claim, tuple(s.cited))
        if pending is not None:
            st = Statement(f"{pending.claim} {st.claim}", st.cited)
            pending = None
        if not st.cited and _INITIAL_END.search(st.claim):
            pending = st  # "John C." + "Messenger ... [1]." is one sentence
            continue
        out.append(st)
    if pending is not None:
        out.append(pending)
    return out


# a sentence that "ends" with a one-letter initial ("Maria C.") was split inside a name
_INITIAL_END = re.compile(r"(?:^|[\s(])[A-ZĐ]\.$")


def lexical_support(claim: str, passage: str) -> bool:
    """The offline support scorer: ``support_score >= SUPPORT_THRESHOLD`` (rag.answer.support)."""
    return support_score(claim, passage) >= SUPPORT_THRESHOLD


@dataclass(frozen=True)
class CitationScores:
    precision: float
    recall: float
    statements: int
    covered: int  # statements supported by their citations together
    citations: int
    correct: int  # citations judged correct


def citation_scores(
    stmts: Sequence[Statement],
    passages: Mapping[int, str],
    supports: Supports = lexical_support,
) -> CitationScores | None:
    """ALCE citation precision and recall of one answer (see the module docstring).

    ``passages`` maps a citation number to the text of the passage it points to.
    ``None`` for an answer without statements.
    """
    if not stmts:
        return None
    covered = correct = total = 0
    for st in stmts:
        cited = list(dict.fromkeys(st.cited))
        total += len(cited)
        if not cited or any(n not in passages for n in cited):
            continue  # not covered; its citations are all wrong
        if not supports(st.claim, "\n".join(passages[n] for n in cited)):
            continue
        covered += 1
        if len(cited) == 1:
            correct += 1
            continue
        for n in cited:
            others = "\n".join(passages[m] for m in cited if m != n)
            if supports(st.claim, passages[n]) or not supports(st.claim, others):
                correct += 1
    return CitationScores(
        precision=correct / total if total else 0.0,
        recall=covered / len(stmts),
        statements=len(stmts),
        covered=covered,
        citations=total,
        correct=correct,
    )


# -- refusals ------------------------------------------------------------------------------
def refusal_scores(
    answerable: Sequence[bool], refused: Sequence[bool]
) -> tuple[float | None, float | None]:
    """(precision, recall) of refusing, with unanswerable questions as the positive class.

    precision = refused unanswerable / refused (``None`` if nothing was refused);
    recall = refused unanswerable / unanswerable (``None`` if every question is answerable).
    """
    tp = sum(1 for a, r in zip(answerable, refused, strict=True) if r and not a)
    n_refused = sum(refused)
    n_unanswerable = sum(not a for a in answerable)
    precision = tp / n_refused if n_refused else None
    recall = tp / n_unanswerable if n_unanswerable else None
    return precision, recall


# -- metric names --------------------------------------------------------------------------
# Every metric name a run reports, written down once: ``evals.scoring`` computes them,
# ``evals.aggregate`` and ``evals.compare`` read them back, ``evals.report`` labels them.
LEVELS = ("article", "passage")  # retrieval metrics are reported per level: "article_hit@1"
RETRIEVAL_METRICS: tuple[tuple[str, Callable[..., float | None], int], ...] = (
    ("hit@1", hit_at_k, 1),
    ("hit@5", hit_at_k, 5),
    ("hit@10", hit_at_k, 10),
    ("recall@5", recall_at_k, 5),
    ("recall@10", recall_at_k, 10),
    ("mrr@10", mrr_at_k, 10),
    ("ndcg@10", ndcg_at_k, 10),
)
# per question, hoidap's answers only (``evals.scoring.answer_metrics``)
ANSWER_METRICS = (
    "exact_match",
    "token_f1",
    "contains_gold",
    "correct",
    "citation_precision",
    "citation_recall",
    "refused",
)
# over the whole set, in the order ``refusal_scores`` returns them
REFUSAL_METRICS = ("refusal_precision", "refusal_recall")


# -- outcome of one question ---------------------------------------------------------------
FAILURES = (
    "retrieval_miss",
    "wrong_refusal",
    "answer_miss",
    "missed_refusal",
    "unsupported_citation",
)


def failure_category(
    *,
    answerable: bool,
    refused: bool,
    gold_retrieved: float | None,
    contains_gold: float | None,
    citations: CitationScores | None,
) -> str | None:
    """The first thing that went wrong, in pipeline order, or None.

    * ``missed_refusal``: an unanswerable question was answered;
    * ``retrieval_miss``: no gold article among the passages the answerer was given;
    * ``wrong_refusal``: an answerable question was refused (retrieval was fine);
    * ``answer_miss``: answered, but no gold answer in the answer;
    * ``unsupported_citation``: a statement not covered or a citation not correct.
    """
    if not answerable:
        return None if refused else "missed_refusal"
    if gold_retrieved == 0.0:
        return "retrieval_miss"
    if refused:
        return "wrong_refusal"
    if contains_gold == 0.0:
        return "answer_miss"
    if citations is not None and (citations.precision < 1.0 or citations.recall < 1.0):
        return "unsupported_citation"
    return None


def is_correct(*, answerable: bool, refused: bool, contains_gold: float | None) -> bool | None:
    """Answerable: not refused and a gold answer in the answer. Unanswerable: refused.
    None for an answerable question without gold answers."""
    if not answerable:
        return refused
    if contains_gold is None:
        return None
    return (not refused) and contains_gold == 1.0


def roc_auc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """Probability that a positive scores above a negative (ties count half): ROC AUC.

    >>> roc_auc([0.9, 0.4], [0.1, 0.4])
    0.875
    """
    if not positives or not negatives:
        return None
    scored = sorted([(s, 1) for s in positives] + [(s, 0) for s in negatives])
    rank_sum, i = 0.0, 0
    while i < len(scored):
        j = i
        while j < len(scored) and scored[j][0] == scored[i][0]:
            j += 1
        rank_sum += (i + j + 1) / 2 * sum(label for _, label in scored[i:j])  # ranks i+1..j
        i = j
    n_pos, n_neg = len(positives), len(negatives)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile; 0.0 for no values."""
    if not values:
        return 0.0
    s = sorted(values)
    i = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[i]
