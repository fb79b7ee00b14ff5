"""Training recipe of the AnyMo model on simulated IMU (`anymo train`).

Each step draws B simulated windows (K sensors each, e.g. 16) and forms, per window:

* a **teacher view**: all K sensors, clean, through an EMA copy of the model (no gradient);
* **view A**: 1..``max_visible`` (<= 5) random sensors; **view B**: 1..``max_view_sensors`` other sensors
  (disjoint from A); both through the real-world augmentations (`anymo.model.augment`).

Losses (weights in `TrainConfig`):

1. ``view``: InfoNCE between the pooled representations of A and B (same motion, different placements,
   mountings, devices and augmentations -> same representation);
2. ``mask``: from A's few sensors predict the teacher's full-body representation ``z`` per 0.5 s step;
3. ``text``: IMU-text contrastive loss of A and B against the MiniLM embedding of the window's caption or
   a prompt of its activity label (windows sharing a text are positives), plus ``label``: cross-entropy
   over the prompt-ensembled embeddings of every activity label;
4. ``vq``: commitment of the tokenizer input to its codes + reconstruction of ``z`` from the codes; the
   codebooks follow an EMA k-means (`CodebookEMA`) with perplexity tracked and dead codes revived.

Held-out evaluation (``--val``) every ``eval_every`` steps: activity accuracy / macro-F1 with 1, 2, 3, 5
random sensors and caption retrieval MRR. Checkpoints (safetensors) every ``save_every`` steps to
``OUT/checkpoint`` (the model) and ``OUT/train_state`` (teacher, heads, optimiser, codebook EMA, RNG);
``--resume`` continues from them. Under ``torchrun`` each process trains on its own batches and
DistributedDataParallel (gloo) averages the gradients; rank 0 evaluates and writes.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from anymo.eval.metrics import classification_metrics, retrieval_metrics
from anymo.model.augment import AugmentConfig, augment, tempo_free, time_warp
from anymo.model.checkpoint import load_checkpoint, save_checkpoint
from anymo.model.config import ModelConfig
from anymo.model.data import SimWindows, TextTable, caption_and_prompt_table, load_sim
from anymo.model.losses import (
    CodebookEMA,
    info_nce,
    multi_positive_nce,
    regression_cosine,
)
from anymo.model.network import AnyMoModel, count_parameters
from anymo.model.text import label_prompts


@dataclass
class TrainConfig:
    """Everything a training run depends on (saved with every checkpoint)."""

    data: list[str] = field(default_factory=list)  # simulated shard folders (anymo simulate)
    out: str = "runs/anymo"
    val: str | None = None  # held-out simulated folder for the periodic evaluation
    steps: int = 6000  # the shipped model's budget (~14 min on 2 CPU cores); defaults = its recipe
    batch: int = 32  # windows per step and process
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_steps: int = 150
    seed: int = 0
    eval_every: int = 500
    save_every: int = 50
    log_every: int = 25
    max_visible: int = 5  # view A (the masked observation): 1..5 sensors
    max_view_sensors: int = 8  # view B: 1..8 sensors
    keep_steps: tuple[int, ...] = ()  # also keep OUT/checkpoint-stepN at these steps
    teacher_sensors: int = 8  # the full-body teacher's sensors (A's plus random others; more = slower)
    teacher_momentum: float = 0.99
    view_temperature: float = 0.1
    # 0.3, not 1: at the 6000-step budget the view/masked losses at full weight compete with the text loss
    # (held-out synthetic accuracy, 2 seeds: 0.3 -> 41.6/58.1 %, 1.0 -> 38.2/54.7 % at 1/5 sensors;
    # results/pretraining_weight_experiment.json).
    w_view: float = 0.3
    w_mask: float = 0.3
    w_text: float = 1.0
    w_label: float = 0.5
    w_vq: float = 0.25
    caption_fraction: float = 0.5  # text target: the caption, else a prompt of the activity label
    balance_power: float = 0.0  # windows drawn with probability count(activity)^-power: 0 as stored, 1 every activity alike
    threads: int = 2
    max_windows: int | None = None
    val_windows: int = 300
    bn_recalibration_batches: int = 64  # after the last step: batch-norm statistics averaged over this many batches
    text_cache: str | None = None  # MiniLM embeddings of the texts (.npz; default OUT/text_cache.npz)
    model: ModelConfig = field(default_factory=ModelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        return d


class TrainHeads(nn.Module):
    """Training-only heads (not shipped): the view-contrastive projection and the masked-observation predictor."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.view = nn.Sequential(nn.Linear(2 * d, d), nn.GELU(), nn.Linear(d, 128))
        self.predictor = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))


class Objective(nn.Module):
    """model + heads -> total loss of one batch (what DistributedDataParallel wraps)."""

    def __init__(self, model: AnyMoModel, heads: TrainHeads, cfg: TrainConfig) -> None:
        super().__init__()
        self.model, self.heads, self.cfg = model, heads, cfg

    def forward(self, batch: dict[str, torch.Tensor], teacher_z: torch.Tensor, label_features: torch.Tensor):
        cfg, m = self.cfg, self.model
        a = m.encode(batch["a_signals"], batch["a_pid"], batch["a_mask"], batch["a_gyro"])
        b = m.encode(batch["b_signals"], batch["b_pid"], batch["b_mask"], batch["b_gyro"])
        losses = {}
        pa, pb = F.normalize(self.heads.view(a["pooled"]), dim=-1), F.normalize(self.heads.view(b["pooled"]), dim=-1)
        losses["view"] = info_nce(pa, pb, cfg.view_temperature)
        losses["mask"] = regression_cosine(self.heads.predictor(a["z"]), teacher_z)
        text = m.project_text(batch["text_features"])
        scale = m.logit_scale
        losses["text"] = 0.5 * (multi_positive_nce(a["embedding"], text, batch["text_positive"], scale)
                                + multi_positive_nce(b["embedding"], text, batch["text_positive"], scale))
        n_lab, n_prompt = batch["label_shape"].tolist()
        lab = F.normalize(m.project_text(label_features).reshape(n_lab, n_prompt, -1).mean(1), dim=-1)
        losses["label"] = 0.5 * (F.cross_entropy(scale * a["embedding"] @ lab.T, batch["label"])
                                 + F.cross_entropy(scale * b["embedding"] @ lab.T, batch["label"]))
        losses["vq"] = sum(((o["pre"] - o["codes"].detach()) ** 2).sum(-1).mean() + regression_cosine(o["recon"], o["z"])
                           for o in (a, b)) / 2
        weights = {"view": cfg.w_view, "mask": cfg.w_mask, "text": cfg.w_text, "label": cfg.w_label, "vq": cfg.w_vq}
        total = sum(weights[k] * v for k, v in losses.items() if weights[k] > 0)
        pre = torch.cat([a["pre"], b["pre"]]).detach()
        ids = torch.cat([a["token_ids"], b["token_ids"]]).permute(0, 2, 1).detach()  # [B, N, C]
        return total, {k: v.detach() for k, v in losses.items()}, pre, ids


# -- batches -----------------------------------------------------------------------------------------------
def _view(data: SimWindows, idx: np.ndarray, slots: np.ndarray, valid: np.ndarray, windows: np.ndarray | None = None):
    """Signals, placement ids and mask of the sensor ``slots`` [B, k] (``valid`` [B, k]) of windows ``idx``
    (their signals from ``windows`` [B, S, T, 6] when given: the batch after `warp_windows`)."""
    if windows is None:
        sig = data.signals[idx[:, None], slots].astype(np.float32)
    else:
        sig = windows[np.arange(len(idx))[:, None], slots]
    sig = sig * valid[..., None, None]
    pid = np.where(valid, data.placement_id[idx[:, None], slots], -1)
    return torch.from_numpy(sig), torch.from_numpy(pid), torch.from_numpy(valid)


def warp_windows(data: SimWindows, idx: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Signals [B, S, T, 6] of windows ``idx``, a ``cfg.p_time_warp`` share of the tempo-free ones replayed
    faster or slower (`anymo.model.augment.time_warp`); faster needs the window that follows in time."""
    out = data.signals[idx].astype(np.float32)
    free = data.__dict__.get("_tempo_free")
    if free is None:
        free = data.__dict__["_tempo_free"] = np.array([tempo_free(a, c) for a, c in zip(data.activity, data.caption, strict=True)])
    lo, hi = cfg.time_warp_scale
    draw = rng.random(len(idx)) < cfg.p_time_warp
    scale = np.exp(rng.uniform(np.log(lo), np.log(hi), len(idx)))
    where = rng.random(len(idx))
    t = out.shape[2]
    rows = np.nonzero(draw & free[idx])[0]
    nxt = data.next_index[idx[rows]]
    for group, follow in ((rows[nxt >= 0], nxt[nxt >= 0]), (rows[nxt < 0], None)):  # 2T-sample buffers (faster possible), T-sample ones
        if len(group) == 0:
            continue
        buf, up = out[group], data.gravity_up_at(idx[group])  # [n, S, T, 6], [n, S, T, 3]
        if follow is not None:
            buf = np.concatenate([buf, data.signals[follow].astype(np.float32)], axis=2)
            up = np.concatenate([up, data.gravity_up_at(follow)], axis=2)
        n, s, length, _ = buf.shape
        sc = np.minimum(scale[group], (length - 1) / (t - 1))
        st = where[group] * (length - 1 - sc * (t - 1))
        warped = time_warp(buf.reshape(n * s, length, 6), t, np.repeat(sc, s), np.repeat(st, s), up=up.reshape(n * s, length, 3))
        out[group] = warped.reshape(n, s, t, 6)
    return out


def _few_biased(k: int) -> np.ndarray:
    """Probabilities of 1..k sensors: one sensor most often (real setups), then decreasing to a floor."""
    w = np.maximum(1.0 / np.arange(1, k + 1), 0.35)
    return w / w.sum()


def activity_balanced_probs(data: SimWindows, power: float) -> np.ndarray:
    """Per-window draw probabilities proportional to count(activity)^-power (rare activities, e.g. the
    shoulder exercises among walking and dancing, drawn more often); cached on ``data``."""
    cache = data.__dict__.setdefault("_balanced_probs", {})
    if power not in cache:
        names, inv, counts = np.unique(np.array(data.activity), return_inverse=True, return_counts=True)
        w = counts[inv].astype(np.float64) ** -power
        cache[power] = w / w.sum()
    return cache[power]


def sample_batch(data: SimWindows, texts: TextTable, labels: list[str], cfg: TrainConfig, rng: np.random.Generator,
                 g: torch.Generator) -> dict[str, torch.Tensor]:
    """One training batch: teacher view (all sensors), augmented views A and B, texts and labels."""
    n, s = len(data), data.n_sensors
    if cfg.balance_power:
        idx = rng.choice(n, cfg.batch, replace=True, p=activity_balanced_probs(data, cfg.balance_power))
    else:
        idx = rng.choice(n, cfg.batch, replace=n < cfg.batch)
    order = np.argsort(rng.random((cfg.batch, s)), axis=1)
    # one sensor count per view and batch (no padded slots to compute), biased toward the few-sensor
    # setups people wear; padding is exact anyway (masked keys get zero attention)
    if s < 2:
        raise ValueError(f"training needs at least 2 sensors per simulated window for two disjoint views, got {s}; simulate with --sensors-per-window 8 or more")
    ka = min(int(rng.choice(np.arange(1, cfg.max_visible + 1), p=_few_biased(cfg.max_visible))), s - 1)
    kb = min(int(rng.choice(np.arange(1, cfg.max_view_sensors + 1), p=_few_biased(cfg.max_view_sensors))), s - ka)
    slots_a, slots_b = order[:, :ka], order[:, ka : ka + kb]
    ja, jb = np.ones((cfg.batch, ka), bool), np.ones((cfg.batch, kb), bool)
    out = {}
    # the same (possibly replayed) motion for views and teacher; no random draws when off (recipes reproduce)
    windows = warp_windows(data, idx, cfg.augment, rng) if cfg.augment.p_time_warp > 0 else None
    for v, slots, valid in (("a", slots_a, ja), ("b", slots_b, jb)):
        sig, pid, mask = _view(data, idx, slots, valid, windows)
        sig, pid, gyro = augment(sig, pid, mask, cfg.augment, g)
        out.update({f"{v}_signals": sig, f"{v}_pid": pid, f"{v}_mask": mask, f"{v}_gyro": gyro})
    kt = min(s, cfg.teacher_sensors)  # the teacher sees A's sensors and others spread over the body
    out["t_signals"], out["t_pid"], out["t_mask"] = _view(data, idx, order[:, :kt], np.ones((cfg.batch, kt), bool), windows)
    chosen = []
    for i in idx:
        act = data.activity[i]
        chosen.append(data.caption[i] if rng.random() < cfg.caption_fraction else label_prompts(act)[rng.integers(5)])
    uniq, inv = np.unique(np.array(chosen), return_inverse=True)
    out["text_features"] = torch.from_numpy(texts.features[texts.rows(list(uniq))])
    out["text_positive"] = torch.from_numpy(inv[:, None] == np.arange(len(uniq))[None])
    out["label"] = torch.tensor([labels.index(data.activity[i]) for i in idx])
    return out


@torch.no_grad()
def recalibrate_batchnorm(model: AnyMoModel, data: SimWindows, texts: TextTable, labels: list[str], cfg: TrainConfig,
                          batches: int = 64, seed: int = 0) -> None:
    """Replace the batch-norm running statistics by their plain average over ``batches`` training batches
    (views A and B, augmented as in training). The running averages of training follow the last few
    batches (momentum 0.1), whose sensor counts and augmentations vary a lot; the held-out accuracy
    measured with them moved by +-10 points between neighbouring checkpoints."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    saved = [(m.momentum) for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    rng, g = np.random.default_rng([seed, 12345]), torch.Generator().manual_seed(seed + 12345)
    model.train()
    for _ in range(batches):
        b = sample_batch(data, texts, labels, cfg, rng, g)
        for v in ("a", "b"):
            model.encode(b[f"{v}_signals"], b[f"{v}_pid"], b[f"{v}_mask"], b[f"{v}_gyro"])
    for m, mom in zip(bns, saved, strict=True):
        m.momentum = mom
    model.eval()


# -- held-out evaluation ------------------------------------------------------------------------------------
@torch.no_grad()
def embed_subsets(model: AnyMoModel, data: SimWindows, k: int, seed: int, batch: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings and token ids of every window seen through ``k`` random sensors (seeded; no augmentation:
    the simulator already drew each sensor's mounting and device)."""
    rng = np.random.default_rng([seed, k])
    s = data.n_sensors
    slots = np.argsort(rng.random((len(data), s)), axis=1)[:, :k]
    embs, toks = [], []
    model.eval()
    for i in range(0, len(data), batch):
        idx = np.arange(i, min(i + batch, len(data)))
        sig, pid, mask = _view(data, idx, slots[idx], np.ones((len(idx), k), bool))
        e, t = model(sig, pid, mask, mask)
        embs.append(e.numpy())
        toks.append(t.numpy())
    return np.concatenate(embs), np.concatenate(toks)


def label_matrix(model: AnyMoModel, texts: TextTable, labels: list[str]) -> np.ndarray:
    """[L, D] prompt-ensembled joint-space embeddings of ``labels`` (prompts must be in ``texts``)."""
    with torch.no_grad():
        feats = torch.from_numpy(texts.features[texts.rows([p for lab in labels for p in label_prompts(lab)])])
        proj = model.project_text(feats).reshape(len(labels), -1, model.config.embed_dim).mean(1)
        return F.normalize(proj, dim=-1).numpy()


def evaluate_sim(model: AnyMoModel, data: SimWindows, texts: TextTable, sensors: tuple[int, ...] = (1, 2, 3, 5), seed: int = 0) -> dict:
    """Held-out synthetic metrics: zero-shot activity accuracy/macro-F1 per sensor count, caption retrieval."""
    labels = sorted(set(data.activity))
    y = np.array([labels.index(a) for a in data.activity])
    lab = label_matrix(model, texts, labels)
    caps = sorted(set(data.caption))
    yc = np.array([caps.index(c) for c in data.caption])
    with torch.no_grad():
        cap = model.project_text(torch.from_numpy(texts.features[texts.rows(caps)])).numpy()
    res: dict = {"n_windows": len(data), "n_labels": len(labels), "chance_accuracy": 1 / len(labels), "by_sensors": {}}
    for k in sensors:
        if k > data.n_sensors:
            continue
        emb, tok = embed_subsets(model, data, k, seed)
        cls = classification_metrics(emb @ lab.T, y)
        r = retrieval_metrics(emb @ cap.T, yc, 100, seed)
        res["by_sensors"][str(k)] = {
            "accuracy": cls["accuracy"], "macro_f1": cls["macro_f1"],
            "caption_mrr_imu_to_text": r["imu_to_text"]["mrr"], "caption_mrr_text_to_imu": r["text_to_imu"]["mrr"],
            "token_perplexity": [float(_perplexity(tok[:, c])) for c in range(tok.shape[1])],
        }
    return res


def _perplexity(ids: np.ndarray) -> float:
    p = np.bincount(ids.reshape(-1)) / ids.size
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


# -- state on disk --------------------------------------------------------------------------------------------
def _save_state(out: Path, step: int, cfg: TrainConfig, model, teacher, heads, opt, ema: CodebookEMA,
                rng: np.random.Generator, g: torch.Generator, meta: dict) -> None:
    save_checkpoint(out / "checkpoint", model, cfg.model, meta)
    if step in cfg.keep_steps:  # snapshots kept for equal-budget comparisons
        save_checkpoint(out / f"checkpoint-step{step}", model, cfg.model, meta)
    st = out / "train_state"
    st.mkdir(parents=True, exist_ok=True)
    tensors = {f"teacher.{k}": v.contiguous() for k, v in teacher.state_dict().items()}
    tensors.update({f"heads.{k}": v.contiguous() for k, v in heads.state_dict().items()})
    tensors.update({f"ema.{k}": v.contiguous() for k, v in ema.state().items()})
    for i, s in opt.state_dict()["state"].items():
        tensors.update({f"opt.{i}.{k}": torch.as_tensor(v).contiguous() for k, v in s.items()})
    tensors["torch_rng"] = g.get_state()
    save_file(tensors, str(st / "state.safetensors.tmp"))
    os.replace(st / "state.safetensors.tmp", st / "state.safetensors")
    doc = {"step": step, "config": cfg.to_dict(), "numpy_rng": rng.bit_generator.state, "revived": ema.revived}
    (st / "state.json.tmp").write_text(json.dumps(doc, default=int))
    os.replace(st / "state.json.tmp", st / "state.json")


def _load_state(out: Path, model, teacher, heads, opt, ema: CodebookEMA, rng: np.random.Generator, g: torch.Generator) -> int:
    m, _, _ = load_checkpoint(out / "checkpoint")
    model.load_state_dict(m.state_dict())
    st = out / "train_state"
    doc = json.loads((st / "state.json").read_text())
    t = load_file(str(st / "state.safetensors"))
    teacher.load_state_dict({k[8:]: v for k, v in t.items() if k.startswith("teacher.")})
    heads.load_state_dict({k[6:]: v for k, v in t.items() if k.startswith("heads.")})
    ema.load({k[4:]: v for k, v in t.items() if k.startswith("ema.")})
    ema.revived = int(doc.get("revived", 0))
    sd = opt.state_dict()
    for i in range(len(sd["param_groups"][0]["params"]) + sum(len(p["params"]) for p in sd["param_groups"][1:])):
        keys = [k for k in t if k.startswith(f"opt.{i}.")]
        if keys:
            sd["state"][i] = {k.split(".", 2)[2]: t[k] for k in keys}
    opt.load_state_dict(sd)
    g.set_state(t["torch_rng"])
    rng.bit_generator.state = doc["numpy_rng"]
    return int(doc["step"])


def _lr(cfg: TrainConfig, step: int) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    frac = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


# -- the loop ---------------------------------------------------------------------------------------------------
def train(cfg: TrainConfig, resume: bool = False, progress: bool = True, until: int | None = None) -> dict:
    """Train (or resume) and write ``cfg.out``; returns the summary (also ``OUT/summary.json`` on rank 0).
    ``until`` stops (with a checkpoint) after that step of the ``cfg.steps`` schedule, to resume later."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("gloo")
    torch.set_num_threads(max(1, cfg.threads // world))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)  # same initial weights on every rank
    rng = np.random.default_rng([cfg.seed, rank])
    g = torch.Generator().manual_seed(cfg.seed * 1000 + rank)

    data = load_sim(cfg.data, max_windows=cfg.max_windows)
    val = load_sim([cfg.val], max_windows=cfg.val_windows) if cfg.val else None
    labels = sorted(set(data.activity) | (set(val.activity) if val else set()))
    captions = data.caption + (val.caption if val else [])
    cache = Path(cfg.text_cache) if cfg.text_cache else out / "text_cache.npz"
    texts = caption_and_prompt_table(captions, labels, cache) if rank == 0 else None  # rank 0 embeds, the others read
    if world > 1:
        dist.barrier()
        if texts is None:
            texts = caption_and_prompt_table(captions, labels, cache)
    label_features = torch.from_numpy(texts.features[texts.rows([p for lab in labels for p in label_prompts(lab)])])

    model = AnyMoModel(cfg.model)
    heads = TrainHeads(cfg.model)
    teacher = copy.deepcopy(model).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    objective = Objective(model, heads, cfg)
    decay = [p for p in objective.parameters() if p.ndim >= 2]
    no_decay = [p for p in objective.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=cfg.lr, betas=(0.9, 0.98))
    ema = CodebookEMA(model.codebook)
    start = 0
    if resume and (out / "train_state" / "state.json").is_file():
        start = _load_state(out, model, teacher, heads, opt, ema, rng, g)
    step_fn = nn.parallel.DistributedDataParallel(objective, find_unused_parameters=True) if world > 1 else objective

    meta_base = {
        "name": "anymo-edge-small", "trained": True, "params": count_parameters(model),
        "data": [str(Path(d).resolve()) for d in cfg.data], "train_windows": len(data), "labels": labels,
        "train_config": cfg.to_dict(), "world_size": world,
    }
    log = open(out / "log.jsonl", "a") if rank == 0 else None  # noqa: SIM115 (closed at the end)
    bar = None
    if progress and rank == 0:
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=start, desc="anymo train", dynamic_ncols=True)
    t0 = time.time()
    last_eval: dict = {}
    step = start
    stop = cfg.steps if until is None else min(until, cfg.steps)
    for step in range(start, stop):
        model.train()
        for group in opt.param_groups:
            group["lr"] = _lr(cfg, step)
        batch = sample_batch(data, texts, labels, cfg, rng, g)
        batch["label_shape"] = torch.tensor([len(labels), len(label_prompts("x"))])
        with torch.no_grad():
            teacher_z = teacher.encode(batch["t_signals"], batch["t_pid"], batch["t_mask"], batch["t_mask"])["z"]
        total, parts, pre, ids = step_fn(batch, teacher_z, label_features)
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(objective.parameters(), 1.0)
        opt.step()
        vq = ema.update(model.codebook, pre, ids, g)
        with torch.no_grad():
            for pt, ps in zip(teacher.parameters(), model.parameters(), strict=True):
                pt.mul_(cfg.teacher_momentum).add_(ps.detach(), alpha=1 - cfg.teacher_momentum)
            for bt, bs in zip(teacher.buffers(), model.buffers(), strict=True):  # codebook, batch-norm statistics
                bt.copy_(bs)
        done = step + 1
        if rank == 0:
            rec = {"step": done, "loss": float(total.detach()), **{k: float(v) for k, v in parts.items()},
                   "perplexity": vq["perplexity"], "dead": vq["dead"], "lr": _lr(cfg, step),
                   "logit_scale": float(model.logit_scale), "elapsed_s": round(time.time() - t0, 1)}
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{rec['loss']:.3f}", text=f"{rec['text']:.2f}", ppl=f"{vq['perplexity'][0]:.0f}")
            if done % cfg.log_every == 0:
                log.write(json.dumps(rec) + "\n")
                log.flush()
            if done == cfg.steps and cfg.bn_recalibration_batches:
                recalibrate_batchnorm(model, data, texts, labels, cfg, cfg.bn_recalibration_batches, cfg.seed)
            if val is not None and (done % cfg.eval_every == 0 or done == cfg.steps):
                last_eval = evaluate_sim(model, val, texts, seed=cfg.seed)
                log.write(json.dumps({"step": done, "eval": last_eval}) + "\n")
                log.flush()
                if bar is not None:
                    bar.write(f"step {done}: held-out accuracy by sensors " + ", ".join(
                        f"{k}: {v['accuracy']:.3f}" for k, v in last_eval["by_sensors"].items()))
            if done % cfg.save_every == 0 or done in (cfg.steps, stop) or done in cfg.keep_steps:
                meta = {**meta_base, "step": done, "train_time_s": round(time.time() - t0, 1), "held_out": last_eval}
                _save_state(out, done, cfg, model, teacher, heads, opt, ema, rng, g, meta)
        if world > 1 and (done % cfg.save_every == 0 or done in (cfg.steps, stop)):
            dist.barrier()
    if bar is not None:
        bar.close()
    in_sync = True
    if world > 1:  # DDP must leave every process with the same weights
        flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        gathered = [torch.zeros_like(flat) for _ in range(world)]
        dist.all_gather(gathered, flat)
        in_sync = all(torch.equal(gathered[0], x) for x in gathered)
    summary = {"steps": stop, "schedule_steps": cfg.steps, "start_step": start, "ranks_in_sync": in_sync, "train_time_s": round(time.time() - t0, 1), "world_size": world,
               "params": count_parameters(model), "held_out": last_eval, "codebook_revived": ema.revived}
    if rank == 0:
        (out / "summary.json").write_text(json.dumps(summary, indent=1))
        log.close()
    if world > 1:
        dist.barrier()
    return summary


def config_with(cfg: TrainConfig, **changes) -> TrainConfig:
    return replace(cfg, **changes)
