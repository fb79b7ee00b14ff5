"""`AnyMoModel`: any set of worn sensors -> full-body motion representation, motion tokens, joint-space embedding.

Pipeline (one 5 s window, S sensor slots, masked where empty):

1. per-sensor temporal encoder (shared weights): 6 channels (gyro zeroed for acc-only sensors) plus the
   acc and gyro magnitudes -> strided 1-D convolutions -> one feature per 0.5 s step ([B, S, N, d]);
2. + a geometry embedding of the placement (segment, rest-pose position, sensor frame, surface
   coordinates, looked up from a buffer by ``placement_id + 1``; row 0 = unknown -> a learned vector)
   + an acc-only embedding;
3. sensor-graph attention at each time step: masked attention across the sensors, biased by the
   kinematic-tree distance between their segments (no slot order enters: permutation invariant);
4. masked attention pooling over sensors -> full-body representation per step, then attention across
   time -> ``z`` [B, N, d];
5. tokenizer: product quantisation of ``z`` by C cosine codebooks -> token ids [B, C, N];
6. pooled window representation -> joint IMU-text space (L2-normalised ``embedding`` [B, D]).

Text side: `project_text` maps frozen MiniLM sentence embeddings (384) into the same space.
`forward` has no data-dependent control flow (exportable with dynamic B and S); `encode` returns every
intermediate the training losses need.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from anymo.model.config import ModelConfig
from anymo.model.geometry import (
    GEOMETRY_FEATURES,
    UNKNOWN_SEGMENT,
    placement_geometry,
    segment_graph_distance,
)

MASK_NEG = -1.0e4  # additive attention mask for empty slots (finite: a window with no sensor stays finite)
N_INPUT_FEATURES = 8  # acc xyz, gyro xyz, |acc| - 1 g, |gyro|


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """softmax(q k^T / sqrt(d) + bias) v, written out (exports to plain ONNX MatMul/Softmax on any opset)."""
    scores = torch.matmul(q, k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)
    if bias is not None:
        scores = scores + bias
    return torch.matmul(torch.softmax(scores, dim=-1), v)


class _ConvBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, norm: str) -> None:
        super().__init__()
        k = max(kernel, 2 * stride - 1)
        self.conv = nn.Conv1d(c_in, c_out, k, stride=stride, padding=(k - stride + 1) // 2)
        # batch norm keeps each window's signal scale (how intense the motion is); group norm would erase it
        self.norm = {"batch": lambda: nn.BatchNorm1d(c_out), "group": lambda: nn.GroupNorm(1, c_out), "none": nn.Identity}[norm]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.norm(self.conv(x)))


class SensorEncoder(nn.Module):
    """[M, 8, T] -> [M, d, N]: strided convolutions down to one step per token (0.5 s)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        chans = (N_INPUT_FEATURES, *cfg.conv_channels)
        self.blocks = nn.ModuleList(
            _ConvBlock(chans[i], chans[i + 1], cfg.conv_kernel, s, cfg.conv_norm) for i, s in enumerate(cfg.conv_strides)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for b in self.blocks:
            x = b(x)
        return x


class _Attention(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        m, n, d = x.shape
        q, k, v = self.qkv(x).reshape(m, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = attention(q, k, v, bias)
        return self.out(y.transpose(1, 2).contiguous().reshape(m, n, d))


class _Block(nn.Module):
    """Pre-norm transformer block with an additive attention bias [M, H, n, n] (or None)."""

    def __init__(self, d: int, heads: int, ffn_mult: int, dropout: float) -> None:
        super().__init__()
        self.n1, self.n2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = _Attention(d, heads)
        self.ffn = nn.Sequential(nn.Linear(d, ffn_mult * d), nn.GELU(), nn.Linear(ffn_mult * d, d))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        x = x + self.drop(self.attn(self.n1(x), bias))
        return x + self.drop(self.ffn(self.n2(x)))


class _AttnPool(nn.Module):
    """Masked attention pooling over one axis with a learned query: [M, n, d] -> [M, d]."""

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Parameter(torch.randn(d) * 0.02)
        self.kv = nn.Linear(d, 2 * d)
        self.out = nn.Linear(d, d)

    def forward(self, x: torch.Tensor, mask_add: torch.Tensor | None) -> torch.Tensor:
        m, n, d = x.shape
        k, v = self.kv(x).reshape(m, n, 2, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q = self.query.reshape(1, self.heads, 1, d // self.heads).expand(m, -1, -1, -1)
        bias = None if mask_add is None else mask_add.reshape(m, 1, 1, n)
        y = attention(q, k, v, bias)
        return self.out(y.reshape(m, d))


class AnyMoModel(nn.Module):
    """The encoder + tokenizer + joint-space heads (see the module docstring)."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        cfg = self.config = config or ModelConfig()
        d, h = cfg.d_model, cfg.n_heads
        geom, seg = placement_geometry()
        self.register_buffer("placement_features", torch.from_numpy(geom), persistent=True)
        self.register_buffer("placement_segment", torch.from_numpy(seg), persistent=True)
        self.register_buffer(
            "segment_distance", torch.from_numpy(segment_graph_distance(cfg.max_graph_distance)), persistent=True
        )
        self.sensor_encoder = SensorEncoder(cfg)
        self.geometry_mlp = nn.Sequential(nn.Linear(GEOMETRY_FEATURES, d), nn.GELU(), nn.Linear(d, d))
        self.segment_embedding = nn.Embedding(UNKNOWN_SEGMENT + 1, d)
        self.gyro_embedding = nn.Embedding(2, d)
        self.step_embedding = nn.Parameter(torch.randn(cfg.token_steps, d) * 0.02)
        self.distance_bias = nn.Embedding(cfg.max_graph_distance + 2, h)
        nn.init.zeros_(self.distance_bias.weight)
        self.sensor_blocks = nn.ModuleList(_Block(d, h, cfg.ffn_mult, cfg.dropout) for _ in range(cfg.sensor_layers))
        self.sensor_pool = _AttnPool(d, h)
        self.time_blocks = nn.ModuleList(_Block(d, h, cfg.ffn_mult, cfg.dropout) for _ in range(cfg.time_layers))
        self.z_norm = nn.LayerNorm(d)
        # tokenizer: product quantisation with cosine codebooks
        self.pre_quant = nn.Linear(d, cfg.n_codebooks * cfg.codebook_dim)
        self.register_buffer("codebook", F.normalize(torch.randn(cfg.n_codebooks, cfg.codebook_size, cfg.codebook_dim), dim=-1))
        self.post_quant = nn.Sequential(nn.Linear(cfg.n_codebooks * cfg.codebook_dim, d), nn.GELU(), nn.Linear(d, d))
        # window embedding into the joint space
        self.time_pool = _AttnPool(d, h)
        self.embed_head = nn.Sequential(nn.Linear(2 * d, d), nn.GELU(), nn.Linear(d, cfg.embed_dim))
        self.text_proj = nn.Linear(cfg.text_dim, cfg.embed_dim)
        self.text_mlp = nn.Sequential(nn.Linear(cfg.text_dim, 2 * cfg.embed_dim), nn.GELU(), nn.Linear(2 * cfg.embed_dim, cfg.embed_dim))
        self.log_logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    # -- the interface -------------------------------------------------------------------------
    @property
    def logit_scale(self) -> torch.Tensor:
        """Multiplier of cosine similarities before a softmax over texts (learned; at most 100)."""
        return self.log_logit_scale.exp().clamp(max=100.0)

    def forward(
        self, signals: torch.Tensor, placement_id: torch.Tensor, sensor_mask: torch.Tensor, has_gyro: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(embedding f32 [B, D] L2-normalised, token_ids int64 [B, C, N]) of a `ModelInput` batch."""
        out = self.encode(signals, placement_id, sensor_mask, has_gyro)
        return out["embedding"], out["token_ids"]

    def project_text(self, text_features: torch.Tensor) -> torch.Tensor:
        """MiniLM sentence embeddings [M, 384] -> joint space [M, D], L2-normalised."""
        return F.normalize(self.text_proj(text_features) + self.text_mlp(text_features), dim=-1)

    def codebooks(self) -> torch.Tensor:
        """The codebook vectors [C, K, Dc] (unit length: codes are matched by cosine)."""
        return self.codebook

    # -- internals --------------------------------------------------------------------------------
    def sensor_tokens(self, signals, placement_id, has_gyro) -> torch.Tensor:
        """[B, S, N, d]: temporal features of each sensor + its placement and acc-only embeddings."""
        b, s, t, _ = signals.shape
        gyro_on = has_gyro.to(signals.dtype).unsqueeze(-1).unsqueeze(-1)
        acc, gyro = signals[..., :3], signals[..., 3:] * gyro_on
        feats = torch.cat(
            [acc, gyro, torch.linalg.vector_norm(acc, dim=-1, keepdim=True) - 1.0, torch.linalg.vector_norm(gyro, dim=-1, keepdim=True)],
            dim=-1,
        )
        x = self.sensor_encoder(feats.reshape(b * s, t, N_INPUT_FEATURES).transpose(1, 2))  # [B*S, d, N]
        x = x.transpose(1, 2).reshape(b, s, self.config.token_steps, self.config.d_model)
        x = x + self.gyro_embedding(has_gyro.long()).unsqueeze(2)
        if self.config.use_geometry:
            row = (placement_id.long() + 1).clamp(min=0)
            g = self.geometry_mlp(self.placement_features[row]) + self.segment_embedding(self.placement_segment[row])
            x = x + g.unsqueeze(2)
        return x + self.step_embedding

    def encode(self, signals, placement_id, sensor_mask, has_gyro) -> dict[str, torch.Tensor]:
        """Every intermediate: ``tokens`` [B,S,N,d] sensor nodes, ``z`` [B,N,d] full-body representation,
        ``pre`` [B,N,C,Dc] tokenizer input (unit), ``quant`` straight-through codes, ``recon`` [B,N,d],
        ``pooled`` [B,2d], ``embedding`` [B,D], ``token_ids`` [B,C,N]."""
        cfg = self.config
        b, s = signals.shape[:2]
        n, d, h = cfg.token_steps, cfg.d_model, cfg.n_heads
        x = self.sensor_tokens(signals, placement_id, has_gyro)
        mask_add = (~sensor_mask).to(x.dtype) * MASK_NEG  # [B, S]
        if cfg.use_geometry:
            seg = self.placement_segment[(placement_id.long() + 1).clamp(min=0)]  # [B, S]
            dist = self.segment_distance[seg.unsqueeze(-1), seg.unsqueeze(-2)]  # [B, S, S]
            bias = self.distance_bias(dist).permute(0, 3, 1, 2)  # [B, H, S, S]
        else:
            bias = torch.zeros(b, h, s, s, dtype=x.dtype, device=x.device)
        bias = bias + mask_add.reshape(b, 1, 1, s)
        bias = bias.unsqueeze(1).expand(b, n, h, s, s).reshape(b * n, h, s, s)
        y = x.transpose(1, 2).reshape(b * n, s, d)  # attention across sensors at each step
        for blk in self.sensor_blocks:
            y = blk(y, bias)
        pool_mask = mask_add.unsqueeze(1).expand(b, n, s).reshape(b * n, s)
        z = self.sensor_pool(y, pool_mask).reshape(b, n, d)
        for blk in self.time_blocks:
            z = blk(z, None)
        z = self.z_norm(z)
        pre = F.normalize(self.pre_quant(z).reshape(b, n, cfg.n_codebooks, cfg.codebook_dim), dim=-1)
        sim = torch.einsum("bncd,ckd->bnck", pre, self.codebook)
        ids = sim.argmax(dim=-1)  # [B, N, C]
        codes = self.codebook[torch.arange(cfg.n_codebooks, device=ids.device).reshape(1, 1, -1), ids]  # [B, N, C, Dc]
        quant = pre + (codes - pre).detach()
        recon = self.post_quant(quant.reshape(b, n, -1))
        pooled = torch.cat([self.time_pool(z, None), z.mean(dim=1)], dim=-1)
        emb = F.normalize(self.embed_head(pooled), dim=-1)
        return {
            "tokens": y.reshape(b, n, s, d).transpose(1, 2), "z": z, "pre": pre, "codes": codes, "quant": quant,
            "recon": recon, "pooled": pooled, "embedding": emb, "token_ids": ids.permute(0, 2, 1),
        }


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
