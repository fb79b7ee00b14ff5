"""Anti-aliased resampling of uniformly sampled IMU streams (numpy only, runs on the device).

A windowed-sinc interpolator (Kaiser window) evaluated at the output instants: each output sample is
a weighted sum of the input samples within ``zero_crossings`` lobes of the low-pass kernel. The
cut-off is ``rolloff * min(rate_in, rate_out) / 2``, so downsampling (e.g. 1 kHz -> 60 Hz) removes what
would alias and upsampling (10 Hz -> 60 Hz) interpolates band-limited. Rows of weights are
normalised to sum to 1, so a constant (gravity) passes exactly, at the edges too (the stream is
extended with its edge values there).
"""

from __future__ import annotations

import numpy as np

MIN_RATE_HZ = 10.0
MAX_RATE_HZ = 1000.0


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
) -> np.ndarray:
    """Resample ``x`` [T, C] (or [T]) sampled at ``rate_in_hz`` to ``rate_out_hz``.

    Output sample ``j`` is at time ``j / rate_out_hz`` (the first input sample is at t = 0); by default
    ``n_out = floor((T - 1) * rate_out / rate_in) + 1`` so the output never extends past the input.
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
    if n_out is None:
        n_out = int(np.floor((n_in - 1) * rate_out / rate_in + 1e-9)) + 1
    if abs(rate_in - rate_out) < 1e-9 and n_out <= n_in:
        out = arr[:n_out].copy()
        return out[:, 0] if squeeze else out
    ratio = min(1.0, rate_out / rate_in) * rolloff  # cut-off as a fraction of the input Nyquist
    half_width = zero_crossings / ratio  # kernel half-width in input samples
    k = int(np.ceil(half_width))
    taps = np.arange(-k + 1, k + 1, dtype=np.int64)
    out = np.empty((n_out, arr.shape[1]), dtype=np.float64)
    chunk = max(1, 2_000_000 // (len(taps) * arr.shape[1]))  # bound the [chunk, taps, C] gather (~16 MB)
    for j0 in range(0, n_out, chunk):
        pos = np.arange(j0, min(n_out, j0 + chunk), dtype=np.float64) * (rate_in / rate_out)  # in input samples
        idx = np.floor(pos).astype(np.int64)[:, None] + taps[None, :]
        dist = pos[:, None] - idx
        u = np.clip(dist / half_width, -1.0, 1.0)
        w = np.sinc(ratio * dist) * np.i0(kaiser_beta * np.sqrt(1.0 - u * u))
        w /= w.sum(axis=1, keepdims=True)
        out[j0 : j0 + len(pos)] = np.einsum("nk,nkc->nc", w, arr[np.clip(idx, 0, n_in - 1)])  # edge extension
    return out[:, 0] if squeeze else out
