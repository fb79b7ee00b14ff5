"""C2-smooth resampling of keyframed motion (root translation + joint rotations) to a uniform rate.

Shared by the motion capture readers. The IMU simulator differentiates positions twice and
orientations once, so the interpolants must be twice continuously differentiable: cubic splines
on the root position and on sign-continuous quaternion components (renormalised, which is smooth).
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline

from anymo.geometry.rotations import quat_make_continuous, quat_normalize


def uniform_times_s(t_end_s: float, rate_hz: float) -> np.ndarray:
    """Sample times 0, 1/rate, ... up to and including ``t_end_s`` (within a rounding tolerance)."""
    if not (rate_hz > 0 and np.isfinite(rate_hz)):
        raise ValueError(f"rate_hz must be a positive number, got {rate_hz}")
    n = int(np.floor(t_end_s * rate_hz + 1e-6)) + 1
    return np.arange(n) / rate_hz


def spline_positions(key_t_s: np.ndarray, pos: np.ndarray, t_s: np.ndarray) -> np.ndarray:
    """Cubic (C2, not-a-knot) interpolation of ``pos`` [K, ...] at times ``t_s``."""
    return CubicSpline(key_t_s, pos, axis=0)(t_s)


def spline_quats(key_t_s: np.ndarray, quat_wxyz: np.ndarray, t_s: np.ndarray) -> np.ndarray:
    """C2 interpolation of unit quaternions [K, ..., 4]: cubic on hemisphere-continuous components."""
    q = quat_make_continuous(quat_normalize(quat_wxyz), axis=0)
    return quat_normalize(spline_positions(key_t_s, q, t_s))
