"""Smooth time functions the activities are built from: phases, envelopes, band-limited noise.

Everything here is C-infinity (or at least C2) in time, because the IMU simulator differentiates
positions twice: no steps, no kinks, no wrapped angles.
"""

from __future__ import annotations

import numpy as np


def smoothstep(x: np.ndarray) -> np.ndarray:
    """Quintic smooth step 0 -> 1 on [0, 1] (zero first and second derivative at both ends)."""
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    return x * x * x * (x * (6.0 * x - 15.0) + 10.0)


def ramp(t_s: np.ndarray, start_s: float, dur_s: float) -> np.ndarray:
    """Smooth 0 -> 1 transition starting at ``start_s`` and lasting ``dur_s``."""
    return smoothstep((np.asarray(t_s) - start_s) / max(dur_s, 1e-9))


def fade_in_out(t_s: np.ndarray, duration_s: float, fade_s: float) -> np.ndarray:
    """Envelope rising from 0 over ``fade_s``, holding 1, falling back to 0 by ``duration_s``."""
    fade_s = min(fade_s, 0.5 * duration_s)
    return ramp(t_s, 0.0, fade_s) * (1.0 - ramp(t_s, duration_s - fade_s, fade_s))


def smooth_noise(t_s: np.ndarray, rng: np.random.Generator, cutoff_hz: float, n_sines: int = 6) -> np.ndarray:
    """Band-limited random curve with unit standard deviation: a sum of random sinusoids below ``cutoff_hz``."""
    t_s = np.asarray(t_s, dtype=np.float64)
    freqs = cutoff_hz * rng.uniform(0.1, 1.0, n_sines)
    phases = rng.uniform(0.0, 2.0 * np.pi, n_sines)
    amps = rng.uniform(0.5, 1.0, n_sines)
    amps *= np.sqrt(2.0 / np.sum(amps**2))
    out = np.zeros_like(t_s)
    for a, f, p in zip(amps, freqs, phases):
        out += a * np.sin(2.0 * np.pi * f * t_s + p)
    return out


def phase_from_freq(t_s: np.ndarray, freq_hz: np.ndarray | float, phase0: float = 0.0) -> np.ndarray:
    """Unwrapped phase (rad) of an oscillator whose frequency may vary smoothly in time."""
    t_s = np.asarray(t_s, dtype=np.float64)
    f = np.broadcast_to(np.asarray(freq_hz, dtype=np.float64), t_s.shape)
    dt = np.diff(t_s, prepend=t_s[0])
    f_mid = np.concatenate([[f[0]], 0.5 * (f[1:] + f[:-1])])
    return phase0 + 2.0 * np.pi * (np.cumsum(f_mid * dt) + f[0] * t_s[0])


def whole_cycles(phase_rad: np.ndarray) -> tuple[np.ndarray, float]:
    """Phase from `phase_from_freq` (started at 0) stretched to end on a whole number (>= 1) of cycles.

    Returns the phase and the factor its frequency was scaled by. A repetition profile on it starts
    and ends at its rest point, so a clip need not snap back from mid-repetition in its last moments.
    """
    phase_rad = np.asarray(phase_rad, dtype=np.float64) - phase_rad[0]
    cycles = phase_rad[-1] / (2.0 * np.pi)
    if cycles <= 0:
        return phase_rad, 1.0
    scale = max(1.0, float(np.round(cycles))) / cycles
    return phase_rad * scale, scale


def rep_profile(t_s: np.ndarray, freq_hz: np.ndarray | float, sharpness: float) -> tuple[np.ndarray, float]:
    """0..1 repetitions (0 = rest, 1 = top) with holds at both ends, starting and ending at rest.

    Whole cycles fill ``t_s`` (see `whole_cycles`), so every move, the first and the last included,
    runs at the repetition pace. Returns the profile and the mean repetition rate (Hz) it got.
    """
    t_s = np.asarray(t_s, dtype=np.float64)
    ph, scale = whole_cycles(phase_from_freq(t_s, freq_hz))
    mean_hz = float(ph[-1] / (2.0 * np.pi) / max(t_s[-1] - t_s[0], 1e-9))
    return 1.0 - dwell(ph, sharpness), mean_hz


def dwell(phase_rad: np.ndarray, sharpness: float = 2.5) -> np.ndarray:
    """Periodic 0..1 profile that dwells at both ends (1 at phase 0, 0 at phase pi), C-infinity."""
    return 0.5 + 0.5 * np.tanh(sharpness * np.cos(phase_rad)) / np.tanh(sharpness)


def fourier_fit(knots_pct: list[float], values: list[float], n_harmonics: int = 6) -> np.ndarray:
    """Fourier coefficients [n_harmonics + 1, 2] (cos, sin) of a periodic curve through key points.

    ``knots_pct`` are positions in the cycle (0..100 %), ``values`` the curve there. The points are
    joined by a periodic cubic spline, then truncated to the first harmonics (smooth by construction).
    """
    from scipy.interpolate import CubicSpline

    x = np.asarray(knots_pct, dtype=np.float64) / 100.0
    y = np.asarray(values, dtype=np.float64)
    if x[0] != 0.0:
        x, y = np.concatenate([[0.0], x]), np.concatenate([[y[-1]], y])
    if x[-1] != 1.0:
        x, y = np.concatenate([x, [1.0]]), np.concatenate([y, [y[0]]])
    y[-1] = y[0]
    grid = np.arange(256) / 256.0
    samples = CubicSpline(x, y, bc_type="periodic")(grid)
    spec = np.fft.rfft(samples) / len(grid)
    coef = np.zeros((n_harmonics + 1, 2))
    coef[0, 0] = spec[0].real
    coef[1:, 0] = 2.0 * spec[1 : n_harmonics + 1].real
    coef[1:, 1] = -2.0 * spec[1 : n_harmonics + 1].imag
    return coef


def fourier_eval(coef: np.ndarray, phase_rad: np.ndarray) -> np.ndarray:
    """Evaluate a curve from `fourier_fit` at the (unwrapped) cycle phase."""
    out = np.full(np.shape(phase_rad), coef[0, 0])
    for k in range(1, coef.shape[0]):
        out = out + coef[k, 0] * np.cos(k * phase_rad) + coef[k, 1] * np.sin(k * phase_rad)
    return out


def fourier_smooth_periodic(samples: np.ndarray, n_harmonics: int) -> np.ndarray:
    """Coefficients (as `fourier_fit`) of one uniformly sampled period, truncated to ``n_harmonics``."""
    spec = np.fft.rfft(np.asarray(samples, dtype=np.float64)) / len(samples)
    coef = np.zeros((n_harmonics + 1, 2))
    coef[0, 0] = spec[0].real
    coef[1:, 0] = 2.0 * spec[1 : n_harmonics + 1].real
    coef[1:, 1] = -2.0 * spec[1 : n_harmonics + 1].imag
    return coef
