"""Anti-aliased resampling of uniformly sampled IMU streams (numpy only, runs on the device).

A windowed-sinc interpolator (Kaiser window) evaluated at the output instants: each output sample is
a weighted sum of the input samples within ``zero_crossings`` lobes of the low-pass kernel. When the
ratio of the rates is a fraction with a small denominator (52 -> 60 Hz is 15/13) the output instants
fall on a few phases only: the weights are computed once per phase and applied as block matrix
products (polyphase), the same numbers as the general path to rounding (~1e-12), several times faster
on wide inputs (the simulator resamples 23 sensors x 6 channels at once). The cut-off is ``rolloff * min(rate_in, rate_out) / 2``, so downsampling (e.g. 1 kHz -> 60 Hz) removes what
would alias and upsampling (10 Hz -> 60 Hz) interpolates band-limited. Rows of weights are
normalised to sum to 1, so a constant (gravity) passes exactly, at the edges too (the stream is
extended with its edge values there).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from anymo.constants import MAX_RATE_HZ, MIN_RATE_HZ

MAX_PHASES = 1000  # largest denominator of the rate ratio handled by the polyphase path


def check_rate(rate_hz: float, what: str = "input") -> float:
    """Return ``rate_hz`` as float, or raise ValueError when outside the supported 10..1000 Hz."""
    rate = float(rate_hz)
    if not np.isfinite(rate) or not (MIN_RATE_HZ - 1e-9 <= rate <= MAX_RATE_HZ + 1e-9):
        raise ValueError(
            f"{what} sampling rate {rate_hz!r} Hz is outside the supported {MIN_RATE_HZ:g}..{MAX_RATE_HZ:g} Hz; "
            "check the rate (or timestamps) of the recording, or resample it yourself first"
        )
    return rate


def resample(
    x: np.ndarray,
    rate_in_hz: float,
    rate_out_hz: float,
    n_out: int | None = None,
    zero_crossings: int = 12,
    rolloff: float = 0.9,
    kaiser_beta: float = 8.0,
    t0_s: float = 0.0,
) -> np.ndarray:
    """Resample ``x`` [T, C] (or [T]) sampled at ``rate_in_hz`` to ``rate_out_hz``.

    Output sample ``j`` is at time ``t0_s + j / rate_out_hz`` (the first input sample is at t = 0: a
    non-zero ``t0_s`` puts the output on another grid, e.g. a live window's); by default
    ``n_out = floor(((T - 1) / rate_in - t0_s) * rate_out) + 1`` so the output never extends past the input.
    """
    rate_in = check_rate(rate_in_hz, "input")
    rate_out = float(rate_out_hz)
    if not (np.isfinite(rate_out) and rate_out > 0):
        raise ValueError(f"output rate must be a positive number of Hz, got {rate_out_hz!r}")
    arr = np.asarray(x, dtype=np.float64)
    squeeze = arr.ndim == 1
    if squeeze:
        arr = arr[:, None]
    n_in = arr.shape[0]
    if n_in == 0:
        raise ValueError("cannot resample an empty signal")
    t0_s = float(t0_s)
    if n_out is None:
        n_out = max(0, int(np.floor(((n_in - 1) / rate_in - t0_s) * rate_out + 1e-9)) + 1)
    if abs(rate_in - rate_out) < 1e-9 and n_out <= n_in and t0_s == 0.0:
        out = arr[:n_out].copy()
        return out[:, 0] if squeeze else out
    ratio = min(1.0, rate_out / rate_in) * rolloff  # cut-off as a fraction of the input Nyquist
    half_width = zero_crossings / ratio  # kernel half-width in input samples
    k = int(np.ceil(half_width))
    taps = np.arange(-k + 1, k + 1, dtype=np.int64)

    def weights(dist: np.ndarray) -> np.ndarray:  # dist [n, taps]: output instant - input sample, in samples
        u = np.clip(dist / half_width, -1.0, 1.0)
        w = np.sinc(ratio * dist) * np.i0(kaiser_beta * np.sqrt(1.0 - u * u))
        w[np.abs(dist) > half_width] = 0.0  # the window ends there: no tail that depends on where floor() fell
        return w / w.sum(axis=1, keepdims=True)

    step = Fraction(rate_in / rate_out).limit_denominator(MAX_PHASES)  # input samples per output sample
    if t0_s == 0.0 and step.denominator <= max(1, min(MAX_PHASES, n_out // 8)) and abs(float(step) - rate_in / rate_out) <= 1e-12 * float(step):
        out = _polyphase(arr, n_out, step.numerator, step.denominator, taps, weights)
    else:
        out = np.empty((n_out, arr.shape[1]), dtype=np.float64)
        chunk = max(1, 2_000_000 // (len(taps) * arr.shape[1]))  # bound the [chunk, taps, C] gather (~16 MB)
        for j0 in range(0, n_out, chunk):
            pos = t0_s * rate_in + np.arange(j0, min(n_out, j0 + chunk), dtype=np.float64) * (rate_in / rate_out)  # in input samples
            idx = np.floor(pos).astype(np.int64)[:, None] + taps[None, :]
            w = weights(pos[:, None] - idx)
            out[j0 : j0 + len(pos)] = np.einsum("nk,nkc->nc", w, arr[np.clip(idx, 0, n_in - 1)])  # edge extension
    return out[:, 0] if squeeze else out


def _polyphase(arr: np.ndarray, n_out: int, num: int, den: int, taps: np.ndarray, weights) -> np.ndarray:
    """Output ``j`` at input position ``j * num / den``: phase ``p = j % den`` has the fixed fraction
    ``(p * num % den) / den``, so one [den, L] weight matrix maps each block of ``num`` inputs (plus the
    kernel's reach either side, L inputs in all) to its ``den`` outputs. The input, viewed as rows of
    ``num`` samples, meets the matrix in ceil(L / num) batched products (no gather, no copy)."""
    n_ch = arr.shape[1]
    phases = np.arange(den)
    base = phases * num // den  # input sample at or before each phase's output, within a block
    w = weights(((phases * num % den) / den)[:, None] - taps[None, :])  # [den, taps]
    lo = int(taps.min())
    n_q = -(-(int(base[-1]) + len(taps)) // num)  # rows of num inputs one block of outputs reads
    w_block = np.zeros((den, n_q * num))
    for p in phases:
        w_block[p, base[p] + np.arange(len(taps))] = w[p]  # column c: input base[p] + lo + c of the block
    n_blocks = -(-n_out // den)
    pad_left = -lo
    pad_right = (n_blocks + n_q) * num - pad_left - len(arr)
    x = np.concatenate([np.repeat(arr[:1], pad_left, 0), arr, np.repeat(arr[-1:], max(0, pad_right), 0)])  # edge extension
    rows = x[: (n_blocks + n_q) * num].reshape(n_blocks + n_q, num, n_ch)
    out = np.zeros((n_blocks, den, n_ch))
    for q in range(n_q):  # numpy's own loops, not BLAS: bit-identical whatever the thread count (the shards are)
        out += np.einsum("dr,brc->bdc", w_block[:, q * num : (q + 1) * num], rows[q : q + n_blocks])
    return out.reshape(n_blocks * den, n_ch)[:n_out]


def estimate_rate_hz(t_s: np.ndarray, min_samples: int = 8) -> float | None:
    """The rate samples stamped ``t_s`` come at: 1 / the median step (robust to gaps and jitter); None
    with fewer than ``min_samples`` stamps or a non-positive median step. The one rate estimate of the
    project: datasets without a rate, the BLE bridge (`StreamBlock.rate_hz`) and the live windows use it."""
    t = np.asarray(t_s, dtype=np.float64).reshape(-1)
    if len(t) < max(2, min_samples):
        return None
    step = float(np.median(np.diff(t)))
    return 1.0 / step if np.isfinite(step) and step > 0 else None
