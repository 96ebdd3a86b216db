"""Grounded answers from a local LLM, with a citation post-check.

The model sees the top passages, numbered ``[1]..[k]``, and must put ``[n]`` after each
claim. Its reply is streamed (``on_token``), then checked sentence by sentence: a sentence
is kept only if a passage it cites supports it (``rag.answer.support``), so the final ``Answer``
can differ from the streamed text: unsupported sentences are dropped, citations renumbered
``[1]..[m]`` in order of first use, and each citation quotes the best supporting sentence of
its chunk (offsets into the article text).

LangChain is imported only inside ``make_chat_model`` (it is slow to import); the answerer
accepts any object with a LangChain-style ``stream(messages)``.

>>> from langchain_core.language_models.fake_chat_models import FakeListChatModel
>>> from corpus.types import Chunk
>>> from rag.types import ScoredChunk
>>> text = "Sáng 21/10, Hà Tĩnh tập huấn cho 300 cán bộ. Trời mưa."
>>> chunk = Chunk("a#v-0000", "a", 0, text, 0, len(text), text)
>>> hits = [ScoredChunk(chunk, 1.0, title="Tập huấn"), ScoredChunk(chunk, 0.5, title="Khác")]
>>> model = FakeListChatModel(responses=["Có 300 cán bộ được tập huấn [2]. Trời nắng."])
>>> ans = LLMAnswerer(model, "llm:fake:demo").answer("Bao nhiêu cán bộ?", hits, {"a": text})
>>> ans.text
'Có 300 cán bộ được tập huấn [1].'
>>> ans.citations[0].quote
'Sáng 21/10, Hà Tĩnh tập huấn cho 300 cán bộ.'
>>> ans.notice
'Đã bỏ 1 câu không có căn cứ trong tài liệu.'
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from corpus.chunking import split_sentences
from corpus.text import search_key
from rag.answer.answerer import AnswerRequest
from rag.answer.chat import ChatModel, LLMError, call_model, describe
from rag.answer.evidence import Evidence
from rag.answer.followup import contextualize
from rag.answer.injection import without_instructions
from rag.answer.prompts import load_prompt
from rag.answer.support import SUPPORT_THRESHOLD, best_supporting_span, support_score
from rag.answer.texts import REFUSAL as REFUSAL_TEXT
from rag.types import Answer, Citation, ScoredChunk, Turn

_MARKER_RE = re.compile(r"\[\s*(\d{1,3}(?:\s*[,;\-–]\s*\d{1,3})*)\s*\]")
_MARKER_AFTER_STOP_RE = re.compile(r"([.!?…]+)((?:\s*\[\s*\d{1,3}(?:\s*[,;\-–]\s*\d{1,3})*\s*\])+)")
_LIST_RE = re.compile(r"^\s*(?:[-*•+]|\d{1,2}[.)])\s+")
_THINK_RE = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL)
_ANSWER_PREFIX_RE = re.compile(
    r"^\s*(?:\*\*)?(?:câu trả lời|trả lời|answer)\s*:\s*(?:\*\*)?\s*", re.I
)
_QUESTION_PREFIX_RE = re.compile(
    r"^\s*(?:\*\*)?(?:câu hỏi độc lập|câu hỏi viết lại|câu hỏi|standalone question|question)"
    r"\s*:\s*(?:\*\*)?\s*",
    re.I,
)
_NUMBER_RE = re.compile(r"\d")
_LABEL_RE = re.compile(r"^[^\W\d_][\w ]{0,30}:$")  # "Hội thoại:", "Trả lời:"
# lines of the condense prompt that a model may echo instead of answering
_ECHO_PREFIX_RE = re.compile(r"^(?:người dùng|trợ lý|hội thoại|câu hỏi tiếp theo)\s*:", re.I)


# ---------------------------------------------------------------- prompt building


def escape_passage(text: str) -> str:
    """Passage text cannot close the data delimiters or fake a passage number."""
    text = text.replace("<", "‹").replace(">", "›")
    return _MARKER_RE.sub(lambda m: "(" + m.group(1) + ")", text)


def _seen_length(text: str, limit: int) -> int:
    """Length of the prefix of ``text`` shown to the model: whole sentences up to ``limit``
    characters when possible, else cut between words."""
    if len(text) <= limit:
        return len(text)
    ends = [b for _, b in split_sentences(text, 0, limit + 1) if b <= limit]
    if ends and ends[-1] >= limit // 2:
        return ends[-1]
    cut = text.rfind(" ", 0, limit)
    return cut if cut > limit // 2 else limit


def _header(i: int, hit: ScoredChunk) -> str:
    title = " ".join((hit.title or "").split()) or "(không có tiêu đề)"
    meta = ", ".join(x for x in (hit.date, hit.source) if x)
    return f"[{i}] {escape_passage(title)}" + (f" ({escape_passage(meta)})" if meta else "")


def _strip_markers(text: str) -> str:
    return _tidy(_MARKER_RE.sub("", text))


def _render_history(history: Sequence[Turn], turns: int, answer_chars: int) -> str:
    lines = []
    for turn in list(history)[-turns:]:
        answer = _strip_markers(turn.answer)
        if len(answer) > answer_chars:
            answer = answer[:answer_chars].rstrip() + " …"
        lines.append(f"Người dùng: {escape_passage(' '.join(turn.question.split()))}")
        lines.append(f"Trợ lý: {escape_passage(' '.join(answer.split()))}")
    return "\n".join(lines)


# ---------------------------------------------------------------- post-check


def _expand(spec: str) -> list[int]:
    """ "1, 2" -> [1, 2]; "1-3" -> [1, 2, 3] (ranges of at most 10)."""
    out: list[int] = []
    for part in re.split(r"\s*[,;]\s*", spec.strip()):
        bounds = re.split(r"\s*[\-–]\s*", part)
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit():
            a, b = int(bounds[0]), int(bounds[1])
            if a <= b and b - a < 10:
                out.extend(range(a, b + 1))
                continue
        out.extend(int(x) for x in bounds if x.isdigit())
    return out


def _is_refusal(sentence: str) -> bool:
    key = re.sub(r"[^\w\s]", "", search_key(_strip_markers(sentence))).strip()
    return key.startswith("không tìm thấy thông tin") or key == re.sub(
        r"[^\w\s]", "", search_key(REFUSAL_TEXT)
    )


def _key(sentence: str) -> str:
    return re.sub(r"[\W_]+", " ", search_key(_strip_markers(sentence))).strip()


def _template_sentences(*templates: str) -> frozenset[str]:
    """Keys of the fixed sentences of the prompt, to recognise a model echoing it."""
    keys: set[str] = set()
    for template in templates:
        for line in re.sub(r"\{\w+\}", "\n", template).splitlines():
            keys.update(_key(line[a:b]) for a, b in split_sentences(line))
    keys.discard("")
    return frozenset(keys)


def _tidy(text: str) -> str:
    text = re.sub(r"[ \t]{2,}", " ", text)
    return re.sub(r"[ \t]+([.,;:!?…])", r"\1", text).strip()


@dataclass
class _Sentence:
    line: int
    prefix: str
    text: str
    claim: str
    cited: list[int]
    kind: str = "unsupported"  # or "supported", "refusal", "lead-in", "echo"
    keep: list[int] = field(default_factory=list)  # cited passages that stay cited
    scores: dict[int, float] = field(default_factory=dict)


def _split_reply(text: str) -> list[_Sentence]:
    text = _THINK_RE.sub("", text)
    text = _ANSWER_PREFIX_RE.sub("", text.strip())
    text = _MARKER_AFTER_STOP_RE.sub(lambda m: m.group(2) + m.group(1), text)
    out: list[_Sentence] = []
    for li, line in enumerate(text.split("\n")):
        m = _LIST_RE.match(line)
        prefix = m.group(0).strip() + " " if m else ""
        body = line[m.end() :] if m else line
        for a, b in split_sentences(body):
            s = body[a:b]
            cited: list[int] = []
            for mm in _MARKER_RE.finditer(s):
                cited.extend(n for n in _expand(mm.group(1)) if n not in cited)
            out.append(_Sentence(li, prefix, s, _strip_markers(s), cited))
            prefix = ""
    return out


# ---------------------------------------------------------------- the answerer


class LLMAnswerer:
    """Answer from the top retrieved passages with a chat model; keep only supported,
    cited sentences. See the module docstring for an example.

    ``max_passages`` × ``max_passage_chars`` must fit the server's context window (the
    defaults, 5 × 1500 characters of Vietnamese, need about 4k tokens with the prompt).
    """

    def __init__(
        self,
        chat_model: ChatModel,
        label: str,
        *,
        max_passages: int = 5,
        max_passage_chars: int = 1500,
        support_threshold: float = SUPPORT_THRESHOLD,
        drop_unsupported: bool = True,
        deadline_s: float = 60.0,
    ) -> None:
        if max_passages < 1 or max_passage_chars < 100:
            raise ValueError("max_passages must be >= 1 and max_passage_chars >= 100")
        if not 0.0 <= support_threshold <= 1.0:
            raise ValueError("support_threshold must be in [0, 1]")
        self.chat_model = chat_model
        self.label = label
        self.max_passages = max_passages
        self.max_passage_chars = max_passage_chars
        self.support_threshold = support_threshold
        self.drop_unsupported = drop_unsupported
        self.deadline_s = deadline_s
        self.prompt = load_prompt("answer_vi")
        self._echo = _template_sentences(self.prompt.system, self.prompt.user)

    def build_messages(
        self,
        question: str,
        retrieved: Sequence[ScoredChunk],
        *,
        history: Sequence[Turn] = (),
        standalone_query: str = "",
    ) -> list[tuple[str, str]]:
        """The (role, content) messages sent to the model."""
        passages, _ = self._passages(retrieved)
        return self._messages(question, passages, history, standalone_query)

    def _passages(self, retrieved: Sequence[ScoredChunk]) -> tuple[list[str], list[int]]:
        """Rendered passages and, for each, how many characters of its chunk were shown."""
        rendered, seen = [], []
        for i, hit in enumerate(list(retrieved)[: self.max_passages], start=1):
            n = _seen_length(hit.chunk.text, self.max_passage_chars)
            body = hit.chunk.text[:n] + (" …" if n < len(hit.chunk.text) else "")
            rendered.append(f"{_header(i, hit)}\n{escape_passage(body)}")
            seen.append(n)
        return rendered, seen

    def _messages(
        self,
        question: str,
        passages: list[str],
        history: Sequence[Turn],
        standalone_query: str,
    ) -> list[tuple[str, str]]:
        asked = " ".join((standalone_query or question).split())
        # A standalone query already folds the history in; otherwise show the last turns.
        hist = "" if standalone_query else _render_history(history, 3, 300)
        if hist:
            hist = f"\nHội thoại trước (chỉ để hiểu câu hỏi, không dùng làm nguồn):\n{hist}\n"
        p = self.prompt.render(passages="\n\n".join(passages), history=hist, question=asked)
        return [("system", p.system), ("human", p.user)]

    def respond(self, request: AnswerRequest, evidence: Evidence) -> Answer:
        """The ``Answerer`` protocol. The model is shown the gate's passages between the data
        delimiters, escaped; quotes and support come from the gate's texts (instructions
        blanked), and the post-check scores without instructions."""
        answer = self.answer(
            request.question,
            evidence.hits,
            evidence.texts,
            history=request.history,
            standalone_query=request.standalone_query,
            on_token=request.on_token,
        )
        return answer

    def answer(
        self,
        question: str,
        retrieved: Sequence[ScoredChunk],
        article_texts: Mapping[str, str],
        *,
        history: Sequence[Turn] = (),
        standalone_query: str = "",
        on_token: Callable[[str], None] | None = None,
        deadline_s: float | None = None,
    ) -> Answer:
        """Stream an answer (``on_token`` gets the raw pieces), then post-check it.

        ``deadline_s`` (default: the answerer's) bounds the whole call (seconds); past it
        LLMError is raised. Any
        failure of the model raises LLMError; the caller decides on a fallback.
        """
        hits = list(retrieved)[: self.max_passages]
        base = Answer(
            question=question,
            text=REFUSAL_TEXT,
            citations=[],
            refused=True,
            retrieved=list(retrieved),
            answerer=self.label,
            standalone_query=standalone_query,
        )
        if not hits:
            base.timings_ms = {"llm": 0.0}
            return base
        passages, seen = self._passages(hits)
        messages = self._messages(question, passages, history, standalone_query)
        result = call_model(
            self.chat_model, messages, deadline_s=deadline_s or self.deadline_s, on_token=on_token
        )
        if not result.text.strip():
            raise LLMError(f"{describe(self.chat_model)} returned an empty answer")
        t_post = time.perf_counter()
        # header + shown text; sentences that give orders to the model are not evidence
        # (rag.answer.injection): a reply that obeys one is left without support and dropped
        scored_texts = [without_instructions(p.replace("\n", " ")) for p in passages]
        text, citations, refused, dropped, flagged = self._post_check(
            result.text, hits, seen, scored_texts, article_texts
        )
        base.timings_ms = {"llm": result.total_ms}
        if result.first_token_ms is not None:
            base.timings_ms["llm_first_token"] = result.first_token_ms
        base.timings_ms["llm_postcheck"] = (time.perf_counter() - t_post) * 1000
        notes = []
        if dropped:
            notes.append(f"Đã bỏ {dropped} câu không có căn cứ trong tài liệu.")
        if flagged:
            notes.append(f"Có {flagged} câu không có căn cứ trong tài liệu (chưa kiểm chứng).")
        base.notice = " ".join(notes) or None
        if not refused:
            base.text, base.citations, base.refused = text, citations, False
        return base

    def _post_check(
        self,
        reply: str,
        hits: list[ScoredChunk],
        seen: list[int],
        scored_texts: list[str],
        article_texts: Mapping[str, str],
    ) -> tuple[str, list[Citation], bool, int, int]:
        """-> (text, citations, refused, sentences dropped, sentences flagged)."""
        k = len(hits)
        sentences = _split_reply(reply)
        # the prompt's own sentences and the passage headers ("[1] <title> (<date>)") are
        # not answers, even though a header "supports" itself
        echo = self._echo | {_key(_header(i, h)) for i, h in enumerate(hits, start=1)}
        for s in sentences:
            valid = [n for n in s.cited if 1 <= n <= k]
            if not valid and _is_refusal(s.claim):
                s.kind = "refusal"
                continue
            if _key(s.claim) in echo:
                s.kind = "echo"  # the model repeating its instructions: always dropped
                continue
            if not valid:
                if s.claim.endswith(":") and not _NUMBER_RE.search(s.claim):
                    s.kind = "lead-in"  # "Các giải pháp gồm:" before a cited list
                continue
            s.scores = {n: support_score(s.claim, scored_texts[n - 1]) for n in valid}
            good = [n for n in valid if s.scores[n] >= self.support_threshold]
            combined = " ".join(scored_texts[n - 1] for n in valid)
            if good:
                s.kind, s.keep = "supported", good
            elif len(valid) > 1 and support_score(s.claim, combined) >= self.support_threshold:
                s.kind, s.keep = "supported", valid  # needs the cited passages together
            else:
                s.keep = valid
        content = [s for s in sentences if s.kind in ("supported", "unsupported")]
        unsupported = [s for s in content if s.kind == "unsupported"]
        kept = {id(s) for s in content if s.kind == "supported" or not self.drop_unsupported}
        echoes = sum(s.kind == "echo" for s in sentences)
        dropped = (len(unsupported) if self.drop_unsupported else 0) + echoes
        flagged = 0 if self.drop_unsupported else len(unsupported)
        if not kept:
            return REFUSAL_TEXT, [], True, dropped, flagged
        last_kept = max(i for i, s in enumerate(sentences) if id(s) in kept)
        shown = [
            s
            for i, s in enumerate(sentences)
            if id(s) in kept or (s.kind == "lead-in" and i < last_kept)
        ]
        # renumber in order of first use
        new_n: dict[int, int] = {}
        for s in shown:
            for mm in _MARKER_RE.finditer(s.text):
                for n in _expand(mm.group(1)):
                    if n in s.keep and n not in new_n:
                        new_n[n] = len(new_n) + 1

        def renumber(s: _Sentence) -> str:
            def repl(mm: re.Match[str]) -> str:
                nums: list[int] = []
                for n in _expand(mm.group(1)):
                    if n in s.keep and new_n[n] not in nums:
                        nums.append(new_n[n])
                return "".join(f"[{x}]" for x in sorted(nums))

            return _tidy(_MARKER_RE.sub(repl, s.text))

        lines: dict[int, list[str]] = {}
        for s in shown:
            lines.setdefault(s.line, []).append(s.prefix + renumber(s))
        text = "\n".join(" ".join(parts) for _, parts in sorted(lines.items()))
        citations = []
        for old, n in sorted(new_n.items(), key=lambda item: item[1]):
            claim = max(
                (s for s in shown if old in s.keep), key=lambda s: s.scores.get(old, 0.0)
            ).claim
            citations.append(self._citation(n, hits[old - 1], seen[old - 1], claim, article_texts))
        return text, citations, False, dropped, flagged

    @staticmethod
    def _citation(
        n: int, hit: ScoredChunk, seen: int, claim: str, article_texts: Mapping[str, str]
    ) -> Citation:
        chunk = hit.chunk
        article = article_texts.get(chunk.article_id)
        if article is not None and article[chunk.start : chunk.end] == chunk.text:
            source, lo, shift = article, chunk.start, 0
        else:  # chunk.text is the article's text[start:end], so offsets shift by start
            source, lo, shift = chunk.text, 0, chunk.start
        a, b, _ = best_supporting_span(claim, source, lo, lo + seen)
        if b <= a:
            a, b = lo, lo + seen
        return Citation(
            n=n,
            article_id=chunk.article_id,
            chunk_id=chunk.id,
            title=hit.title,
            quote=source[a:b],
            start=a + shift,
            end=b + shift,
            date=hit.date,
            source=hit.source,
            url=hit.url,
        )


# ---------------------------------------------------------------- follow-up questions


def condense_question(
    chat_model: ChatModel,
    history: Sequence[Turn],
    question: str,
    *,
    timeout_s: float = 20.0,
) -> str:
    """Rewrite a follow-up question into one standalone question using the history.

    Without history the question is returned as it is (no model call). An empty or
    absurdly long rewrite falls back to the original question; a failing model raises
    LLMError.
    """
    question = " ".join(question.split())
    if not history or not question:
        return question
    p = load_prompt("condense_vi").render(
        history=_render_history(history, 4, 400), question=escape_passage(question)
    )
    result = call_model(
        chat_model, [("system", p.system), ("human", p.user)], deadline_s=timeout_s, on_token=None
    )
    text = _THINK_RE.sub("", result.text)
    for raw in text.splitlines():
        line = _QUESTION_PREFIX_RE.sub("", raw).strip().strip("\"'“”«»*`").strip()
        line = " ".join(line.split())
        if not line or _LABEL_RE.match(line) or _ECHO_PREFIX_RE.match(line):
            continue  # an echoed label or history line
        if len(line) > max(300, 3 * len(question)):
            return question
        return line
    return question


class LLMCondenser:
    """The ``Condenser`` of an LLM setup: the model rewrites a follow-up question; when it
    fails, the deterministic rewrite (``rag.answer.followup.contextualize``) is used and a
    notice says so."""

    def __init__(self, chat_model: ChatModel, *, deadline_s: float) -> None:
        self.chat_model = chat_model
        self.deadline_s = deadline_s

    def __call__(self, question: str, history: Sequence[Turn]) -> tuple[str, str | None]:
        if not history:
            return question, None
        try:
            return condense_question(
                self.chat_model, history, question, timeout_s=self.deadline_s
            ), None
        except LLMError as exc:
            notice = f"Không dùng được LLM để hiểu câu hỏi nối tiếp ({exc})."
            return contextualize(question, history), notice
