"""Training objectives: InfoNCE (one or many positives), the masked-observation regression, and the
EMA codebook of the tokenizer (k-means updates, usage/perplexity, dead-code revival)."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE between row-aligned unit vectors ``a`` [B, D] and ``b`` [B, D]."""
    logits = a @ b.T / temperature
    target = torch.arange(a.shape[0], device=a.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def multi_positive_nce(emb: torch.Tensor, text: torch.Tensor, positive: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Symmetric contrastive loss of windows ``emb`` [B, D] against texts ``text`` [M, D] where
    ``positive`` [B, M] marks every matching pair (windows sharing a text are not negatives)."""
    logits = scale * emb @ text.T
    pos = positive.to(logits.dtype)
    imu_to_text = -(pos / pos.sum(1, keepdim=True) * F.log_softmax(logits, dim=1)).sum(1).mean()
    has = pos.sum(0) > 0
    t2i = -(pos / pos.sum(0, keepdim=True).clamp(min=1) * F.log_softmax(logits, dim=0)).sum(0)
    return 0.5 * (imu_to_text + t2i[has].mean())


def regression_cosine(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean (2 - 2 cos) between ``pred`` and the (stop-gradient) ``target`` over the last axis."""
    return (2 - 2 * F.cosine_similarity(pred, target.detach(), dim=-1)).mean()


class CodebookEMA:
    """Exponential-moving-average k-means of the model's cosine codebooks [C, K, Dc].

    ``update`` takes the unit tokenizer inputs ``pre`` [M, C, Dc] and their codes ``ids`` [M, C]:
    counts and sums decay by ``decay``; each code becomes its normalised mean; a code whose usage
    falls below ``dead_threshold`` (an EMA count) is revived at a random input of the batch. Under
    DDP the statistics are summed over processes and rank 0's revivals are broadcast.
    """

    def __init__(self, codebook: torch.Tensor, decay: float = 0.95, dead_threshold: float = 0.03) -> None:
        c, k, _ = codebook.shape
        self.decay, self.dead_threshold = decay, dead_threshold
        self.counts = torch.zeros(c, k)  # every code "dead" at first: the first batch initialises them (data init)
        self.sums = codebook.detach().clone()
        self.revived = 0

    @torch.no_grad()
    def update(self, codebook: torch.Tensor, pre: torch.Tensor, ids: torch.Tensor, generator: torch.Generator) -> dict:
        c, k, _ = codebook.shape
        pre = pre.detach().reshape(-1, c, pre.shape[-1])
        ids = ids.reshape(-1, c)
        onehot = F.one_hot(ids, k).to(pre.dtype)  # [M, C, K]
        counts = onehot.sum(0)
        sums = torch.einsum("mck,mcd->ckd", onehot, pre)
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(counts)
            dist.all_reduce(sums)
        self.counts.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.sums.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        new = F.normalize(self.sums / self.counts.clamp(min=1e-6).unsqueeze(-1), dim=-1)
        dead = self.counts < self.dead_threshold
        n_dead = int(dead.sum())
        if n_dead:
            pick = torch.randint(0, pre.shape[0], (c, k), generator=generator)
            cand = pre[pick, torch.arange(c).unsqueeze(1)]  # [C, K, Dc]
            cand = F.normalize(cand + 0.05 * torch.randn(cand.shape, generator=generator), dim=-1)  # spread duplicates
            new = torch.where(dead.unsqueeze(-1), cand, new)
            self.sums = torch.where(dead.unsqueeze(-1), cand, self.sums)
            self.counts = torch.where(dead, torch.full_like(self.counts, 4 * self.dead_threshold), self.counts)
            self.revived += n_dead
        if dist.is_available() and dist.is_initialized():
            dist.broadcast(new, 0)
        codebook.copy_(new)
        p = counts / counts.sum(1, keepdim=True).clamp(min=1)
        perplexity = torch.exp(-(p * torch.log(p.clamp(min=1e-12))).sum(1))
        return {"perplexity": perplexity.tolist(), "dead": n_dead}

    def state(self) -> dict[str, torch.Tensor]:
        return {"counts": self.counts, "sums": self.sums}

    def load(self, state: dict[str, torch.Tensor]) -> None:
        self.counts, self.sums = state["counts"].clone(), state["sums"].clone()
