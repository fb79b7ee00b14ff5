"""A small Llama decoder in PyTorch built from the GGUF file llama.cpp runs (training side).

The weights are read from the GGUF with gguf-py and dequantised (Q4_1 / Q8_0 -> float32), so training
and the parity checks see exactly the weights llama.cpp uses. Conventions follow llama.cpp's ``llama``
architecture: the converter permuted Q/K so that rotary embedding rotates *adjacent* pairs
(x[2i], x[2i+1]) ("normal" rope in ggml), RMSNorm with the GGUF epsilon, SwiGLU FFN, grouped-query
attention, the output projection tied to the token embedding when the file has no ``output.weight``.

Two numerics (``load_gguf_llama(path, numerics=...)``, or ``Llama.set_numerics``): ``"float32"`` (default,
training) runs the dequantised weights on float32 activations; ``"ggml"`` reproduces what llama.cpp's CPU
backend computes (activations quantised to Q8_1/Q8_0 before each quantised matmul, float16 KV cache, flash
attention with a float16 accumulator, ggml's rope angles and rms_norm; `anymo.caption.ggml_numerics`), so
greedy captions and logits can be compared with the device's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from anymo.caption import ggml_numerics as gg

NUMERICS = ("float32", "ggml")


@dataclass(frozen=True)
class LlamaConfig:
    """Shapes and constants of the decoder (read from the GGUF's ``llama.*`` keys)."""

    n_layers: int
    d_model: int
    d_ffn: int
    n_heads: int
    n_kv_heads: int
    vocab_size: int
    rope_base: float
    norm_eps: float

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


class _Block(nn.Module):
    def __init__(self, c: LlamaConfig) -> None:
        super().__init__()
        self.c = c
        self.attn_norm = nn.Parameter(torch.ones(c.d_model))
        self.ffn_norm = nn.Parameter(torch.ones(c.d_model))
        self.wq = nn.Linear(c.d_model, c.n_heads * c.head_dim, bias=False)
        self.wk = nn.Linear(c.d_model, c.n_kv_heads * c.head_dim, bias=False)
        self.wv = nn.Linear(c.d_model, c.n_kv_heads * c.head_dim, bias=False)
        self.wo = nn.Linear(c.n_heads * c.head_dim, c.d_model, bias=False)
        self.w_gate = nn.Linear(c.d_model, c.d_ffn, bias=False)
        self.w_up = nn.Linear(c.d_model, c.d_ffn, bias=False)
        self.w_down = nn.Linear(c.d_ffn, c.d_model, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor | None,
                cache: list | None = None, ggml: bool = False) -> torch.Tensor:
        c = self.c
        b, t, _ = x.shape
        if ggml:
            return self._forward_ggml(x, cos, sin, mask, cache)
        h = _rms(x, self.attn_norm, c.norm_eps)
        q = self.wq(h).view(b, t, c.n_heads, c.head_dim)
        k = self.wk(h).view(b, t, c.n_kv_heads, c.head_dim)
        v = self.wv(h).view(b, t, c.n_kv_heads, c.head_dim)
        q, k = _rope(q, cos, sin), _rope(k, cos, sin)
        q, k, v = (z.transpose(1, 2) for z in (q, k, v))
        if cache is not None:  # [k, v] of the earlier positions, extended in place
            if cache:
                k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
            cache[:] = [k, v]
        rep = c.n_heads // c.n_kv_heads
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.wo(a.transpose(1, 2).reshape(b, t, -1))
        h = _rms(x, self.ffn_norm, c.norm_eps)
        return x + self.w_down(F.silu(self.w_gate(h)) * self.w_up(h))

    def _mm(self, x: torch.Tensor, lin: nn.Linear) -> torch.Tensor:
        w = getattr(lin, "ggml_weight", None)
        if w is None:
            raise RuntimeError("ggml numerics need the quantised blocks: load with load_gguf_llama(path, numerics='ggml')")
        return gg.matmul(x, w, exact=True)  # bit-exact kernel order unless a gradient is needed

    def _forward_ggml(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor | None,
                      cache: list | None) -> torch.Tensor:
        """The same block as llama.cpp's CPU graph computes it (`anymo.caption.ggml_numerics`)."""
        c = self.c
        b, t, _ = x.shape
        h = gg.rms_norm(x, self.attn_norm, c.norm_eps)
        q = self._mm(h, self.wq).view(b, t, c.n_heads, c.head_dim)
        k = self._mm(h, self.wk).view(b, t, c.n_kv_heads, c.head_dim)
        v = self._mm(h, self.wv).view(b, t, c.n_kv_heads, c.head_dim)
        q, k = gg.rope(q, cos, sin), gg.rope(k, cos, sin)
        q, k, v = q.transpose(1, 2), gg.f16(k.transpose(1, 2)), gg.f16(v.transpose(1, 2))  # f16 KV cache
        if cache is not None:
            if cache:
                k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
            cache[:] = [k, v]
        if mask is None:
            mask = torch.ones(t, k.shape[2], dtype=torch.bool).tril(diagonal=k.shape[2] - t)[None, None]
        a = gg.flash_attn(q, k, v, mask, 1.0 / float(np.sqrt(c.head_dim)))
        x = x + self._mm(a.transpose(1, 2).reshape(b, t, -1), self.wo)
        h = gg.rms_norm(x, self.ffn_norm, c.norm_eps)
        return x + self._mm(gg.swiglu(self._mm(h, self.w_gate), self._mm(h, self.w_up)), self.w_down)


def _rms(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate adjacent pairs (x0, x1), (x2, x3), ... by position-dependent angles (ggml 'normal' rope)."""
    x0, x1 = x[..., 0::2], x[..., 1::2]
    cos, sin = cos[None, :, None, :], sin[None, :, None, :]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)


class Llama(nn.Module):
    """Decoder-only Llama. ``forward(embeds [B,T,D], pad_mask [B,T] bool | None) -> hidden [B,T,D]``;
    `logits(hidden)` applies the output head (call it only on the positions you need: the head is
    49152 x 576)."""

    def __init__(self, c: LlamaConfig) -> None:
        super().__init__()
        self.config = c
        self.tok_embd = nn.Embedding(c.vocab_size, c.d_model)
        self.blocks = nn.ModuleList(_Block(c) for _ in range(c.n_layers))
        self.out_norm = nn.Parameter(torch.ones(c.d_model))
        self.output: nn.Linear | None = None  # None: tied to tok_embd
        inv = 1.0 / (c.rope_base ** (torch.arange(0, c.head_dim, 2, dtype=torch.float64) / c.head_dim))
        self.register_buffer("inv_freq", inv, persistent=False)
        self.numerics = "float32"

    def set_numerics(self, numerics: str) -> Llama:
        """``"float32"`` or ``"ggml"`` (needs a model loaded with ``numerics="ggml"``: the quantised blocks)."""
        if numerics not in NUMERICS:
            raise ValueError(f"numerics must be one of {NUMERICS}, got {numerics!r}")
        if numerics == "ggml" and getattr(self.blocks[0].wq, "ggml_weight", None) is None:
            raise ValueError("ggml numerics need the quantised blocks: load with load_gguf_llama(path, numerics='ggml')")
        self.numerics = numerics
        return self

    def _cos_sin(self, pos: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        if self.numerics == "ggml":
            return gg.rope_cos_sin(pos, self.config.head_dim, self.config.rope_base)
        ang = pos[:, None] * self.inv_freq[None, :]
        return ang.cos().to(dtype), ang.sin().to(dtype)

    def _norm_out(self, x: torch.Tensor) -> torch.Tensor:
        if self.numerics == "ggml":
            return gg.rms_norm(x, self.out_norm, self.config.norm_eps)
        return _rms(x, self.out_norm, self.config.norm_eps)

    def embed_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        return self.tok_embd(ids)

    def forward(self, embeds: torch.Tensor, key_pad: torch.Tensor | None = None) -> torch.Tensor:
        """Causal pass over input embeddings. ``key_pad`` [B,T] True where a position is padding
        (right padding only: the real positions keep positions 0..len-1)."""
        _b, t, _ = embeds.shape
        cos, sin = self._cos_sin(torch.arange(t, dtype=torch.float64), embeds.dtype)
        mask = torch.ones(t, t, dtype=torch.bool).tril()[None, None]
        if key_pad is not None:
            mask = mask & ~key_pad[:, None, None, :]
            mask = mask | torch.eye(t, dtype=torch.bool)[None, None]  # a padded query still sees itself (no NaN)
        x = embeds
        for blk in self.blocks:
            x = blk(x, cos, sin, mask, ggml=self.numerics == "ggml")
        return self._norm_out(x)

    @torch.no_grad()
    def step(self, embeds: torch.Tensor, cache: list[list]) -> torch.Tensor:
        """Incremental pass for one sequence ([1, T, D]) continuing the positions held in ``cache``
        (one [k, v] list per layer; start with ``[[] for _ in blocks]``). Returns hidden [1, T, D]."""
        past = cache[0][0].shape[2] if cache[0] else 0
        t = embeds.shape[1]
        cos, sin = self._cos_sin(torch.arange(past, past + t, dtype=torch.float64), embeds.dtype)
        # new queries see every cached key and the new keys up to themselves
        mask = torch.ones(t, past + t, dtype=torch.bool).tril(diagonal=past)[None, None]
        x = embeds
        for blk, kv in zip(self.blocks, cache):
            x = blk(x, cos, sin, mask, kv, ggml=self.numerics == "ggml")
        return self._norm_out(x)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        head = self.tok_embd if self.output is None else self.output
        if self.numerics == "ggml":
            return gg.matmul(hidden, head.ggml_weight)
        return hidden @ head.weight.T


_NAMES = {
    "attn_norm.weight": "attn_norm", "ffn_norm.weight": "ffn_norm",
    "attn_q.weight": "wq.weight", "attn_k.weight": "wk.weight", "attn_v.weight": "wv.weight",
    "attn_output.weight": "wo.weight", "ffn_gate.weight": "w_gate.weight", "ffn_up.weight": "w_up.weight",
    "ffn_down.weight": "w_down.weight",
}


def _field(reader, key: str):
    f = reader.fields.get(key)
    if f is None:
        raise ValueError(f"{key} is missing from the GGUF file: not a llama-architecture model")
    return f.contents()


def load_gguf_llama(path: str | Path, numerics: str = "float32") -> Llama:
    """The decoder with the GGUF's weights dequantised to float32 (frozen: requires_grad False).
    ``numerics="ggml"`` also keeps the quantised blocks (scales times quants, block minima) that the
    llama.cpp emulation multiplies with, and switches the model to it (`Llama.set_numerics`)."""
    import gguf  # the training extra; the device never needs it

    reader = gguf.GGUFReader(str(path))
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise ValueError(f"{path}: architecture {arch!r}, expected 'llama'")
    c = LlamaConfig(
        n_layers=int(_field(reader, "llama.block_count")), d_model=int(_field(reader, "llama.embedding_length")),
        d_ffn=int(_field(reader, "llama.feed_forward_length")), n_heads=int(_field(reader, "llama.attention.head_count")),
        n_kv_heads=int(_field(reader, "llama.attention.head_count_kv")),
        vocab_size=len(reader.fields["tokenizer.ggml.tokens"].data),
        rope_base=float(_field(reader, "llama.rope.freq_base")),
        norm_eps=float(_field(reader, "llama.attention.layer_norm_rms_epsilon")),
    )
    if numerics not in NUMERICS:
        raise ValueError(f"numerics must be one of {NUMERICS}, got {numerics!r}")
    model = Llama(c)
    state: dict[str, torch.Tensor] = {}
    blocks: dict[str, gg.QuantWeight] = {}
    for t in reader.tensors:
        w = np.asarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float32)
        w = w.reshape([int(d) for d in reversed(t.shape)])  # ggml [ne0, ne1] -> numpy [ne1, ne0] = [out, in]
        name = t.name
        if name == "token_embd.weight":
            key = "tok_embd.weight"
        elif name == "output_norm.weight":
            key = "out_norm"
        elif name == "output.weight":
            model.output = nn.Linear(c.d_model, c.vocab_size, bias=False)
            key = "output.weight"
        elif name.startswith("blk."):
            _, i, rest = name.split(".", 2)
            if rest not in _NAMES:
                raise ValueError(f"{path}: unexpected tensor {name}")
            key = f"blocks.{i}.{_NAMES[rest]}"
        else:
            raise ValueError(f"{path}: unexpected tensor {name}")
        state[key] = torch.from_numpy(w.copy())
        if numerics == "ggml" and w.ndim == 2:
            blocks[key] = gg.parse_blocks(t.data, t.tensor_type.name, *w.shape)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if [m for m in missing if m != "inv_freq"] or unexpected:
        raise ValueError(f"{path}: weights do not match a llama decoder (missing {missing}, unexpected {unexpected})")
    for key, qw in blocks.items():
        model.get_submodule(key.rsplit(".", 1)[0]).ggml_weight = qw
    model.requires_grad_(False)
    if numerics == "ggml":
        model.set_numerics("ggml")
    return model.eval()
