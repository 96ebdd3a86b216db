"""Deterministic follow-up resolution (used when no LLM is configured).

>>> h = [Turn("Ai là Phó Trưởng ban Dân vận Trung ương dự hội nghị ở Hà Tĩnh?",
...           "Đỗ Văn Phới [1]. Đồng chí Đỗ Văn Phới dự hội nghị [1].")]
>>> contextualize("Ông ấy đã nêu bao nhiêu quan điểm lớn?", h)
'Đỗ Văn Phới đã nêu bao nhiêu quan điểm lớn?'
>>> contextualize("Còn diện tích cây ăn quả thì sao?",
...               [Turn("Sơn La có bao nhiêu HTX nông nghiệp trồng cây ăn quả?", "586 HTX [1].")])
'diện tích cây ăn quả của Sơn La là bao nhiêu?'

* A personal pronoun ("ông ấy", "bà ấy", "đồng chí đó", "họ" ...) is replaced by the person
  named in the previous answer (or question).
* A place reference ("ở đó", "tỉnh đó", "địa phương này" ...) by the previous place.
* Ellipsis ("Còn X thì sao?", "Thế còn X?", or a short question with no question word)
  becomes "X của <places/years of the previous question> <previous question phrase>".
* A demonstrative ("tỷ lệ đó", "mô hình này") or a very short question carries the
  previous question along in parentheses, for retrieval.
* Anything else is returned unchanged: a question that stands on its own stays as typed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from corpus.places import extract_places
from rag.answer.phrases import person_names
from rag.answer.question import analyze
from rag.types import Turn

_PERSON = re.compile(
    r"\b(?:ông|bà|anh|chị|đồng chí|người)\s+(?:ấy|đó|này|ta)\b|\bhọ\b", re.IGNORECASE
)
_PLACE = re.compile(
    r"\b(?:ở|tại)\s+(?:đó|đấy|đây)\b"
    r"|\b(?:tỉnh|huyện|xã|thành phố|địa phương|nơi)\s+(?:đó|này|ấy)\b",
    re.IGNORECASE,
)
_ELLIPSIS = re.compile(
    r"^\s*(?:còn|thế còn|vậy còn|và)\s+|\s*(?:thì|thế)\s+(?:sao|thế nào)\s*\??\s*$", re.IGNORECASE
)
_DEMONSTRATIVE = re.compile(r"\b(?:đó|ấy|này|trên)\b", re.IGNORECASE)
_KIND_PHRASE = {"how_many": "là bao nhiêu", "when": "vào khi nào", "where": "ở đâu", "who": "là ai"}


def _clean(text: str) -> str:
    return re.sub(r"\s*\[\d+(?:[,\s-]+\d+)*\]", "", text)


def _person(history: Sequence[Turn]) -> str | None:
    for turn in reversed(history):
        for text in (_clean(turn.answer), turn.question):
            names = person_names(text)
            if names:
                return names[0].text
    return None


def _place(history: Sequence[Turn]) -> str | None:
    for turn in reversed(history):
        for text in (turn.question, _clean(turn.answer)):
            places = extract_places(text)
            if places:
                return places[0]
    return None


def contextualize(question: str, history: Sequence[Turn]) -> str:
    q = question.strip()
    if not history or not q:
        return q
    changed = False
    if _PERSON.search(q):
        name = _person(history)
        if name:
            q = _PERSON.sub(name, q, count=1)
            changed = True
    if _PLACE.search(q):
        place = _place(history)
        if place:
            q = _PLACE.sub(f"ở {place}", q, count=1)
            changed = True
    if changed:
        return q[:1].upper() + q[1:]

    current = analyze(q)
    prev = analyze(history[-1].question)
    if _ELLIPSIS.search(q) or (current.kind == "what" and len(current.terms) <= 4):
        core = _ELLIPSIS.sub("", _ELLIPSIS.sub("", q).strip()).strip().rstrip("?").strip()
        context = [p for p in prev.places if p.lower() not in core.lower()]
        context += [y for y in prev.years if y not in core]
        out = core[:1].lower() + core[1:] if core[:2] != core[:2].upper() else core
        if context:
            out += " của " + ", ".join(context)
        if current.kind == "what" and prev.kind in _KIND_PHRASE:
            out += " " + _KIND_PHRASE[prev.kind]
        return out + "?"
    if _DEMONSTRATIVE.search(q) or len(current.terms) <= 3:
        # "Tỷ lệ đó ...", "mô hình này ...", "Đạt tỷ lệ bao nhiêu?": bring the topic along
        return f"{q.rstrip(' ?')} ({history[-1].question.strip().rstrip(' ?')})?"
    return q


def rule_condenser(question: str, history: Sequence[Turn]) -> tuple[str, str | None]:
    """The offline ``Condenser`` (``rag.answer.answerer``): ``contextualize``, no notice."""
    return (contextualize(question, history) if history else question), None
