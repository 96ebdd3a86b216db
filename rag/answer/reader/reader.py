"""The trained reader at answer time: scores question × passage windows.

``Reader.read(question, passages)`` turns each passage (an article text and the span of a
retrieved chunk) into one window of the whole sentences the chunk touches, runs all the
windows in one forward pass and returns, per window, what the heads say:

* ``answerable``: probability that the window answers the question;
* ``span``: the best answer span (words, trimmed of edge punctuation) with its score
  (start + end logit minus the no-answer logit);
* ``sentences``: every sentence's relevance probability (mean token logit).

Loads lazily (``warm_up``); a missing or damaged weights file raises ``ReaderUnavailable``
(``rag.answer.reader.model``). Thread-safe: forward passes are serialised.

Precision (``reader_precision``): "bf16" runs the matrix products in bfloat16 (CPUs with
AVX512-BF16 or AMX; their weights are cast to bfloat16 once, at load), "int8" quantizes
most of the encoder's matrix products to int8 (``quantize_int8``), "fp32" neither; "auto"
picks bf16 where the CPU has it, else fp32 (docs/BENCHMARKS.md, "Reader latency").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.answer.reader.model import META_FILE, WEIGHTS_FILE, ReaderUnavailable, load_net
from rag.answer.reader.windows import (
    MAX_TOKENS,
    Window,
    WindowBuilder,
    sentence_spans,
    trim_span,
)

MAX_ANSWER_WORDS = 30
PRECISIONS = ("auto", "bf16", "int8", "fp32")


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk to read: its article's text and the chunk's characters."""

    key: str  # the caller's id for it (e.g. the chunk id)
    article_id: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Reading:
    """What the reader says about one passage window."""

    passage: Passage
    answerable: float
    span: tuple[int, int] | None  # characters in passage.text
    span_score: float
    sentences: list[tuple[int, int, float]]  # (start, end, relevance probability)

    @property
    def span_text(self) -> str:
        return self.passage.text[self.span[0] : self.span[1]] if self.span else ""

    def sentence_of(self, pos: int) -> tuple[int, int]:
        for a, b, _ in self.sentences:
            if a <= pos < b:
                return a, b
        return (self.span or (0, 0))[0], (self.span or (0, 0))[1]


def quantize_int8(net: Any) -> Any:
    """The network with int8 weights in the encoder's attention and first FFN products.

    Activations are quantized per batch (dynamic quantization). The FFN output product
    stays float32: its input (after GELU) has outlier channels that one int8 scale per
    tensor cannot hold; quantizing it too flipped 20% of the refusal decisions on XQuAD
    windows (1.6% without it). ``torch.ao.quantization.quantize_dynamic`` is deprecated in
    favour of torchao, which targets GPUs; it is the CPU int8 path of the pinned torch 2.13
    and its warning is silenced here."""
    import warnings

    import torch
    from torch.ao.quantization import quantize_dynamic

    names = {
        n
        for n, m in net.named_modules()
        if isinstance(m, torch.nn.Linear) and n.startswith("enc.") and not n.endswith(".fo")
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize_dynamic(net, names, dtype=torch.qint8)


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


class Reader:
    """The reader network with its tokenizer; ``read`` scores passages for a question."""

    def __init__(
        self,
        weights: Path = WEIGHTS_FILE,
        meta: Path = META_FILE,
        *,
        threads: int | None = 2,
        precision: str = "auto",
    ) -> None:
        self.weights, self.meta_path = weights, meta
        self.threads = threads
        self.precision = precision
        self.load_seconds: float | None = None
        self._net: Any = None
        self._builder: WindowBuilder | None = None
        self._bf16 = False
        self.mode = ""  # the precision in use, once loaded
        self._lock = threading.RLock()
        self._sentences: dict[tuple[str, int], list[tuple[int, int]]] = {}

    def warm_up(self) -> None:
        with self._lock:
            if self._net is None:
                self._load()

    def _load(self) -> None:
        t0 = time.perf_counter()
        try:
            import torch
        except ImportError as exc:
            raise ReaderUnavailable("PyTorch is not installed; install torch==2.13.0") from exc
        from embeddings.e5_model import E5Tokenizer, default_model_path, read_model_file
        from embeddings.e5_torch import cpu_has_native_bf16

        base = default_model_path()
        if not base.is_file():
            raise ReaderUnavailable(f"e5 model file not found: {base}")
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        mf = read_model_file(base)
        net, meta = load_net(mf, base, self.weights, self.meta_path)
        self._builder = WindowBuilder(E5Tokenizer(mf), mf.bos, mf.eos, meta.max_tokens)
        mode = self.precision
        if mode == "auto":
            mode = "bf16" if cpu_has_native_bf16() else "fp32"
        if mode not in PRECISIONS[1:]:
            raise ReaderUnavailable(f"reader precision {self.precision!r}: use one of {PRECISIONS}")
        self._bf16 = mode == "bf16"
        if mode == "int8":
            net = quantize_int8(net)
        elif self._bf16:  # autocast would cast these weights again at every forward pass
            for module in net.modules():
                if isinstance(module, torch.nn.Linear):
                    module.to(torch.bfloat16)
        self.mode = mode
        self._net = net
        self.load_seconds = time.perf_counter() - t0

    # -- windows

    def _spans(self, p: Passage) -> list[tuple[int, int]]:
        """The article's sentences the chunk overlaps (whole sentences, article offsets)."""
        key = (p.article_id, hash(p.text))
        spans = self._sentences.get(key)
        if spans is None:
            if len(self._sentences) > 256:
                self._sentences.clear()
            spans = self._sentences[key] = sentence_spans(p.text)
        inside = [(a, b) for a, b in spans if a < p.end and b > p.start]
        return inside or [(p.start, p.end)]

    @property
    def builder(self) -> WindowBuilder:
        """The window builder of the loaded model (its tokenizer and window length), for
        tools that build windows the way training does (``bench/reader_gold.py``)."""
        self.warm_up()
        assert self._builder is not None
        return self._builder

    def windows(self, question: str, passages: Sequence[Passage]) -> list[Window]:
        builder = self.builder
        q_ids = builder.question_ids(question)
        return [builder.build(q_ids, p.text, self._spans(p)) for p in passages]

    # -- reading

    def read(self, question: str, passages: Sequence[Passage]) -> list[Reading]:
        if not passages:
            return []
        return self.read_windows(passages, self.windows(question, passages))

    def read_windows(self, passages: Sequence[Passage], wins: Sequence[Window]) -> list[Reading]:
        """One forward pass over windows already built (``windows``, or
        ``windows_around`` for training-style windows); ``wins[i]`` reads ``passages[i]``,
        whose ``start``/``end`` must cover the window's sentences."""
        if not wins:
            return []
        self.warm_up()
        import torch

        n = max(len(w.ids) for w in wins)
        assert self._builder is not None
        ids = torch.full((len(wins), n), self._builder.eos, dtype=torch.long)
        lengths = torch.tensor([len(w.ids) for w in wins])
        for r, w in enumerate(wins):
            ids[r, : len(w.ids)] = torch.tensor(w.ids)
        with (
            self._lock,
            torch.inference_mode(),
            torch.autocast("cpu", dtype=torch.bfloat16, enabled=self._bf16),
        ):
            s, e, a, r = self._net(ids, lengths)
        s, e, a, r = (x.float().numpy() for x in (s, e, a, r))
        return [
            self._reading(p, w, s[i], e[i], float(a[i]), r[i])
            for i, (p, w) in enumerate(zip(passages, wins, strict=True))
        ]

    def _reading(
        self, p: Passage, w: Window, s: np.ndarray, e: np.ndarray, a: float, r: np.ndarray
    ) -> Reading:
        """Heads' outputs of one window -> a Reading; sentences are the article's whole
        sentences (a window's last one may have been cut to fit; its quote is not)."""
        full = self._spans(p)
        n = len(w.ids)
        s, e, r = s[:n], e[:n], r[:n]
        tw = np.asarray(w.token_word)
        first = np.asarray(w.first) & (tw >= 0)
        last = np.asarray(w.last) & (tw >= 0)
        null = float(s[0] + e[0])
        best, best_span = -np.inf, None
        starts = np.flatnonzero(first)
        ends = np.flatnonzero(last)
        if len(starts) and len(ends):
            top_s = starts[np.argsort(-s[starts])[:8]]
            top_e = ends[np.argsort(-e[ends])[:8]]
            for i in top_s:
                for j in top_e:
                    if j < i or tw[j] - tw[i] >= MAX_ANSWER_WORDS:
                        continue
                    if w.words[tw[i]].sentence != w.words[tw[j]].sentence:
                        continue
                    sc = float(s[i] + e[j])
                    if sc > best:
                        best, best_span = sc, (w.words[tw[i]].start, w.words[tw[j]].end)
        span = trim_span(p.text, *best_span) if best_span else None
        sent_of = np.array([w.words[k].sentence if k >= 0 else -1 for k in tw])
        sentences = []
        for si in range(len(w.sentences)):
            mask = sent_of == si
            rel = _sigmoid(float(r[mask].mean())) if mask.any() else 0.0
            sa, sb = full[si] if si < len(full) else w.sentences[si]
            sentences.append((sa, sb, rel))
        return Reading(p, _sigmoid(float(a)), span, best - null, sentences)


__all__ = ["MAX_TOKENS", "PRECISIONS", "Passage", "Reader", "ReaderUnavailable", "Reading"]
