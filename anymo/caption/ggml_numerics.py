"""What llama.cpp's CPU backend computes for the captioner's base model, in PyTorch (``numerics="ggml"``).

llama.cpp (llama-cpp-python 0.3.36, x86-64 with AVX-512, default context: f16 KV cache, flash attention auto ->
on) does not run SmolLM2's Q4_1 weights in float32. Each step below was checked against llama.cpp's own
intermediate tensors (its ``cb_eval`` graph callback) until bit-identical:

* **matmuls**: each activation row is quantised in blocks of 32 along the input dimension, ``d = amax / 127``
  (stored as float16), ``q = round_half_even(x * (127 / amax))``; Q4_1 weights take Q8_1 activations, which
  also carry ``s = fp16(d * sum(q))`` for the weight's block minimum ``m``; Q8_0 weights (token embedding, tied
  output head) take Q8_0 activations. A Q4_1 row is ``sum_b d_w d_x sum(q_w q_x) + m_w s_x`` in the kernel's
  own order (`matmul_exact`: 8 lanes of 4-element integer sums, fused multiply-adds over the blocks);
* **KV cache**: K and V rounded to float16;
* **attention** (the one-chunk flash-attention path: batches under 64 rows, fewer than 512 cached cells): Q
  rounded to float16, ``s = scale * dot(K16, Q16)`` in the AVX-512 reduction order, an online softmax over the
  cached positions in order with the C library's ``expf``, the value accumulator kept in **float16**;
* **rope**: the angle cache ``pos * theta_scale^i`` by repeated float32 multiplication, libm ``powf``/``cosf``/
  ``sinf``, each rotated value one fused multiply-add;
* **SwiGLU**: ggml's AVX-512 ``ggml_v_expf`` polynomial; **rms_norm**: a sequential double sum of squares.

Without a gradient these run the exact orders. With one (training through this model) every rounding is
straight-through and the kernels fall back to plain float32 products, so the projector can be trained too.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np
import torch

QK = 32  # ggml block size of Q4_1, Q8_0, Q8_1


def _ste(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Value ``y``, gradient of ``x`` (straight-through)."""
    return y if not x.requires_grad else x + (y - x).detach()


def f16(x: torch.Tensor) -> torch.Tensor:
    """Round float32 values to float16 (round to nearest even, as F16C / ``GGML_FP32_TO_FP16``)."""
    return _ste(x, x.detach().to(torch.float16).to(x.dtype))


def _div(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Correctly rounded float32 division (through double: exact for float32 operands; torch's own float32
    division was measured 1 ulp off in places, which flips later roundings)."""
    return (a.double() / b.double()).float()


def _inv127(amax: torch.Tensor) -> torch.Tensor:
    """``id = amax != 0 ? 127.f / amax : 0`` as a true float32 division (``127.0 / tensor`` in torch is
    ``reciprocal() * 127``, which differs in the last bit and flips roundings)."""
    safe = torch.where(amax != 0, amax, torch.ones_like(amax))
    return torch.where(amax != 0, _div(torch.full_like(amax, 127.0), safe), torch.zeros_like(amax))


def quantize_q8(x: torch.Tensor, with_sum: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """ggml's x86 ``quantize_row_q8_1`` (``with_sum``) / ``quantize_row_q8_0`` over the last dim (a multiple
    of 32): ``d = amax / 127``, ``q = round(x * (127.f / amax))``, halves to even.

    Returns the values the integer dot product sees, ``fp16(d) * q`` [..., n], and for Q8_1 the block
    sums ``fp16(d * sum(q))`` [..., n / 32] (with ``d = amax / 127`` in float32). Straight-through gradient.
    """
    xd = x.detach().float()
    shape = xd.shape
    q, d, d16 = _q8_blocks(xd.reshape(*shape[:-1], shape[-1] // QK, QK))
    vals = (q * d16[..., None]).reshape(shape).to(x.dtype)
    s = None
    if with_sum:
        s16 = (d * q.sum(-1)).to(torch.float16).float().to(x.dtype)
        blocksum = x.reshape(*shape[:-1], shape[-1] // QK, QK).sum(-1)
        s = _ste(blocksum, s16)
    return _ste(x, vals), s


class QuantWeight:
    """A GGUF weight as ggml multiplies it: integer quants ``q`` [out, nb, 32] (float32-valued), block scales ``d``
    [out, nb], block minima ``m`` [out, nb] (Q4_1) or None (Q8_0)."""

    def __init__(self, q: torch.Tensor, d: torch.Tensor, m: torch.Tensor | None) -> None:
        self.q, self.d, self.m = q, d, m
        self._scaled: torch.Tensor | None = None

    @property
    def scaled(self) -> torch.Tensor:
        """d * q [out, in] (what the quantised activations multiply; cached)."""
        if self._scaled is None:
            self._scaled = (self.q * self.d[..., None]).reshape(self.q.shape[0], -1)
        return self._scaled

    @property
    def dequantised(self) -> torch.Tensor:
        w = self.q * self.d[..., None]
        if self.m is not None:
            w = w + self.m[..., None]
        return w.reshape(self.q.shape[0], -1)


def parse_blocks(raw: np.ndarray, type_name: str, rows: int, cols: int) -> QuantWeight:
    """A GGUF tensor's raw blocks [rows, cols] -> `QuantWeight`.

    Q4_1 block: fp16 d, fp16 m, 16 bytes of nibbles (low nibbles are elements 0-15, high 16-31); value d*q + m.
    Q8_0 block: fp16 d, 32 int8; value d*q."""
    nb = cols // QK
    raw = np.ascontiguousarray(raw).view(np.uint8).reshape(-1)
    if type_name == "Q4_1":
        blk = raw.reshape(rows * nb, 20)
        d = blk[:, 0:2].copy().view(np.float16).astype(np.float32)
        m = blk[:, 2:4].copy().view(np.float16).astype(np.float32)
        qs = blk[:, 4:20]
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32)
        return QuantWeight(torch.from_numpy(q.reshape(rows, nb, QK)), torch.from_numpy(d.reshape(rows, nb)),
                           torch.from_numpy(m.reshape(rows, nb)))
    if type_name == "Q8_0":
        blk = raw.reshape(rows * nb, 34)
        d = blk[:, 0:2].copy().view(np.float16).astype(np.float32)
        q = blk[:, 2:34].copy().view(np.int8).astype(np.float32)
        return QuantWeight(torch.from_numpy(q.reshape(rows, nb, QK)), torch.from_numpy(d.reshape(rows, nb)), None)
    raise ValueError(f"ggml numerics: weight type {type_name} is not emulated (Q4_1 and Q8_0 are)")


def _q8_blocks(b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Q8 quants of blocks b [..., nb, 32]: (q [..., nb, 32], float32 d [..., nb], fp16-rounded d [..., nb])."""
    amax = b.abs().amax(-1)
    d = _div(amax, torch.full_like(amax, 127.0))
    q = torch.round(b * _inv127(amax)[..., None])  # halves to even, as _mm256_round_ps(_MM_ROUND_NEAREST)
    return q, d, d.to(torch.float16).float()


def _fma(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """float32 fused multiply-add (a*b exact in double for the operands used here, one rounding to float32)."""
    return (a.double() * b.double() + c.double()).float()


def matmul_exact(x: torch.Tensor, w: QuantWeight) -> torch.Tensor:
    """Bit-exact ``ggml_vec_dot_q4_1_q8_1`` (AVX2/AVX-512 VNNI path) of rows x [..., in] with a Q4_1 weight:
    per block, 8 lanes of 4-element integer dot products; ``acc_lane = fma(d_w * d_x, lane, acc_lane)`` over
    the blocks; the 8 lanes summed (hi4 + lo4, then pairs); plus ``sum_b m_w * s_x`` accumulated in float32.
    No gradient (parity checks; training uses `matmul`)."""
    shape = x.shape
    xs = x.detach().reshape(-1, shape[-1]).float()
    qa, d, d16 = _q8_blocks(xs.reshape(xs.shape[0], -1, QK))
    s16 = (d * qa.sum(-1)).to(torch.float16).float()
    r, nb = xs.shape[0], qa.shape[1]
    o = w.q.shape[0]
    lanes = torch.einsum("rbla,obla->robl", qa.view(r, nb, 8, 4), w.q.view(o, nb, 8, 4))  # exact integers
    acc = torch.zeros(r, o, 8)
    summs = torch.zeros(r, o)
    for ib in range(nb):
        d0d1 = w.d[None, :, ib] * d16[:, None, ib]
        acc = _fma(d0d1[..., None], lanes[:, :, ib, :], acc)
        summs = summs + w.m[None, :, ib] * s16[:, None, ib]
    h4 = acc[..., 4:8] + acc[..., 0:4]
    h2 = h4[..., 0:2] + h4[..., 2:4]
    return ((h2[..., 0] + h2[..., 1]) + summs).reshape(*shape[:-1], o)


def matmul(x: torch.Tensor, w: QuantWeight, exact: bool = False) -> torch.Tensor:
    """``x [..., in] @ W.T`` as ggml computes it for a Q4_1 (Q8_1 activations) or Q8_0 weight (Q8_0 activations).
    ``exact``: the Q4_1 kernel's own float32 summation order (`matmul_exact`); otherwise one float32 matmul of the
    quantised activations (differentiable, straight-through)."""
    if exact and w.m is not None and not x.requires_grad:
        return matmul_exact(x, w)
    xq, s = quantize_q8(x, with_sum=w.m is not None)
    y = xq @ w.scaled.T
    if w.m is not None:
        y = y + s @ w.m.T
    return y


def rms_norm(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    """``ggml_rms_norm`` then ``ggml_mul``: sum of float32 squares in double, scale = 1/sqrtf(mean + eps)."""
    mean = ((x * x).double().cumsum(-1)[..., -1:] / x.shape[-1]).float()  # sequential double sum, as ggml
    r = torch.sqrt((mean + np.float32(eps)).double()).float()
    scale = _div(torch.ones_like(r), r)
    return (x * scale) * w


def _libm():
    """The C library's float functions (ggml's rope cache calls powf, cosf and sinf one value at a time)."""

    name = ctypes.util.find_library("m")
    if name is None:
        return None
    lib = ctypes.CDLL(name)
    for fn, n_args in (("cosf", 1), ("sinf", 1), ("powf", 2)):
        getattr(lib, fn).restype = ctypes.c_float
        getattr(lib, fn).argtypes = [ctypes.c_float] * n_args
    return lib


_LIBM = _libm()
if _LIBM is not None:
    _LIBM.expf.restype = ctypes.c_float
    _LIBM.expf.argtypes = [ctypes.c_float]


def _expf(x: torch.Tensor) -> torch.Tensor:
    """The C library's ``expf`` (what ggml's flash attention calls; glibc's is not always correctly rounded, and
    one differing bit flips a float16 accumulator rounding). Differentiable fallback: torch.exp."""
    if x.requires_grad or _LIBM is None:
        return torch.exp(x)
    f = _LIBM.expf
    flat = x.detach().reshape(-1).tolist()
    return torch.tensor([f(v) for v in flat], dtype=torch.float32).reshape(x.shape)
_ROPE_CACHE: dict[tuple[int, int, float], tuple[np.ndarray, np.ndarray]] = {}


def _rope_row(pos: int, head_dim: int, base: float) -> tuple[np.ndarray, np.ndarray]:
    key = (pos, head_dim, base)
    if key not in _ROPE_CACHE:
        if _LIBM is not None:
            ts = np.float32(_LIBM.powf(float(np.float32(base)), float(np.float32(-2.0) / np.float32(head_dim))))
        else:
            ts = np.float32(np.power(np.float64(np.float32(base)), np.float64(np.float32(-2.0) / np.float32(head_dim))))
        theta, th = np.float32(pos), []
        for _ in range(head_dim // 2):
            th.append(theta)
            theta = np.float32(theta * ts)
        if _LIBM is not None:
            cos = np.array([_LIBM.cosf(float(t)) for t in th], np.float32)
            sin = np.array([_LIBM.sinf(float(t)) for t in th], np.float32)
        else:
            cos, sin = np.cos(np.array(th, np.float64)).astype(np.float32), np.sin(np.array(th, np.float64)).astype(np.float32)
        _ROPE_CACHE[key] = (cos, sin)
    return _ROPE_CACHE[key]


def rope_cos_sin(pos: torch.Tensor, head_dim: int, base: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin [T, head_dim/2] of ggml's rope cache (``ggml_rope_cache_init``): theta_i = pos * theta_scale^i by
    repeated float32 multiplication, theta_scale = powf(base, -2/head_dim), then the C library's cosf / sinf."""
    rows = [_rope_row(int(p), head_dim, float(base)) for p in pos.tolist()]
    return torch.from_numpy(np.stack([r[0] for r in rows])), torch.from_numpy(np.stack([r[1] for r in rows]))


def rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """ggml's 'normal' rope of x [B, T, H, D] (adjacent pairs), each output one fused multiply-add:
    ``fma(x0, cos, -(x1 sin))``, ``fma(x0, sin, x1 cos)`` (as compiled; measured bit-exact)."""
    x0, x1 = x[..., 0::2], x[..., 1::2]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    if x.requires_grad:
        return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)
    y0 = _fma(x0, c, -(x1 * s))
    y1 = _fma(x0, s, x1 * c)
    return torch.stack((y0, y1), dim=-1).flatten(-2)


def _f32(c: float) -> torch.Tensor:
    return torch.tensor(float.fromhex(c) if isinstance(c, str) else c, dtype=torch.float32)


_EXP_C = {k: _f32(v) for k, v in {
    "r": "0x1.8p23", "log2e": "0x1.715476p+0", "ln2_hi": "0x1.62e4p-1", "ln2_lo": "0x1.7f7d1cp-20",
    "c0": "0x1.0e4020p-7", "c1": "0x1.573e2ep-5", "c2": "0x1.555e66p-3", "c3": "0x1.fffdb6p-2", "c4": "0x1.ffffecp-1",
}.items()}


def expf_avx512(x: torch.Tensor) -> torch.Tensor:
    """ggml's AVX-512 ``ggml_v_expf`` (vec.h; ARM's optimized-routines polynomial), float32 in and out."""
    c = _EXP_C
    one = torch.ones((), dtype=torch.float32)
    z = _fma(x, c["log2e"], c["r"])
    n = z - c["r"]
    b = _fma(-n, c["ln2_lo"], _fma(-n, c["ln2_hi"], x))
    u = b * b
    j = _fma(_fma(_fma(c["c0"], b, c["c1"]), u, _fma(c["c2"], b, c["c3"])), u, _fma(c["c4"], b, one))
    res = j * torch.pow(2.0, n)  # scalef: exact power-of-two scaling
    big = n.abs() > 192
    return torch.where(big, torch.where(n <= 0, torch.zeros_like(x), torch.full_like(x, float("inf"))), res)


def swiglu(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """``ggml_vec_swiglu_f32`` (AVX-512): silu(g) = g / (1 + ggml_v_expf(0 - g)), times up, in float32."""
    if gate.requires_grad or up.requires_grad:
        return torch.nn.functional.silu(gate) * up
    return _div(gate, expf_avx512(0.0 - gate) + 1.0) * up


def dot_f16(a16: torch.Tensor, b16: torch.Tensor) -> torch.Tensor:
    """``a16 [..., T, D] . b16 [..., S, D]`` -> [..., T, S] as AVX-512 ``ggml_vec_dot_f16`` sums (D a multiple of 64):
    four 16-lane float32 accumulators over 64-element steps (fused multiply-add), reduced x0+x2, x1+x3, x0+x1,
    then the 16 lanes pairwise by halves (``_mm512_reduce_add_ps``). float16 products are exact in float32."""
    d = a16.shape[-1]
    if d % 64:
        return (a16.double() @ b16.transpose(-1, -2).double()).float()
    p = (a16.unsqueeze(-2) * b16.unsqueeze(-3)).reshape(*a16.shape[:-1], b16.shape[-2], d // 64, 4, 16)
    acc = p[..., 0, :, :]
    for i in range(1, d // 64):  # fma(x, y, acc): the f16 product is exact, one rounding as a float32 add
        acc = acc + p[..., i, :, :]
    x = acc[..., 0, :] + acc[..., 2, :], acc[..., 1, :] + acc[..., 3, :]
    v = x[0] + x[1]
    while v.shape[-1] > 1:
        h = v.shape[-1] // 2
        v = v[..., h:] + v[..., :h]
    return v[..., 0]


def flash_attn(q: torch.Tensor, k16: torch.Tensor, v16: torch.Tensor, allowed: torch.Tensor, scale: float) -> torch.Tensor:
    """ggml CPU ``flash_attn_ext`` with an f16 KV cache. ``q`` [B, H, T, D] float32; ``k16``, ``v16``
    [B, Hkv, S, D] float16-valued; ``allowed`` [B|1, 1, T, S] bool. Online softmax over the S cached
    positions in order, the value accumulator rounded to float16 after every update. -> [B, H, T, D]."""
    rep = q.shape[1] // k16.shape[1]
    k, v = k16.repeat_interleave(rep, dim=1), v16.repeat_interleave(rep, dim=1)
    s_all = dot_f16(f16(q), k) * np.float32(scale)  # [B, H, T, S]
    b, h, t, _ = q.shape
    acc = q.new_zeros(b, h, t, v.shape[-1])
    big_m = q.new_full((b, h, t, 1), float("-inf"))
    ssum = q.new_zeros(b, h, t, 1)
    allowed = allowed.expand(b, 1, t, -1)
    for ic in range(k.shape[2]):
        ok = allowed[..., ic : ic + 1]
        if not bool(ok.any()):
            continue
        s = s_all[..., ic : ic + 1]
        new = s > big_m
        e = _expf(torch.where(new, big_m - s, s - big_m).clamp(max=0.0))  # expf(Mold - M) or expf(s - M)
        ms, vs = torch.where(new, e, torch.ones_like(e)), torch.where(new, torch.ones_like(e), e)
        scaled = torch.where(new, f16(acc * ms), acc)  # ggml_vec_scale_f16 only on a new maximum
        upd = f16((scaled.double() + v[:, :, ic : ic + 1, :].double() * vs.double()).float())  # ggml_vec_mad_f16 (fma)
        acc = torch.where(ok, upd, acc)
        ssum = torch.where(ok, _fma(ssum, ms, vs), ssum)  # S = S*ms + vs, contracted to one fma as compiled
        big_m = torch.where(ok, torch.where(new, s, big_m), big_m)
    safe = torch.where(ssum == 0, torch.ones_like(ssum), ssum)
    inv = torch.where(ssum == 0, torch.zeros_like(ssum), _div(torch.ones_like(ssum), safe))
    return acc * inv
