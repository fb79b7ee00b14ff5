"""The model's input normalisation (numpy only; identical for simulated and real windows).

Physical units are kept and gravity is kept: accelerometer is divided by standard gravity (so it
reads in g, ~1 at rest), gyroscope stays in rad/s, and both are clipped to common sensor ranges
(±16 g, ±35 rad/s ≈ 2000 °/s) so simulated and real signals saturate alike. No per-window
standardisation: it would erase orientation (gravity direction) and intensity, which carry
placement and activity. Missing gyroscope is zeros plus a ``has_gyro`` flag. A window whose source
removed gravity (``gravity_removed``) is passed as it is; reports flag it, it cannot be restored.
"""

from __future__ import annotations

import numpy as np

from anymo.constants import STANDARD_GRAVITY_MPS2

ACC_CLIP_G = 16.0
GYRO_CLIP_RADS = 35.0


def to_model_input(acc_mps2: np.ndarray, gyro_rads: np.ndarray | None, has_gyro: np.ndarray | None = None) -> np.ndarray:
    """[N, T, 3] acc (m/s²) + [N, T, 3] gyro (rad/s) -> float32 [N, T, 6]: acc in g, gyro rad/s, clipped."""
    acc = np.asarray(acc_mps2, dtype=np.float64)
    gyro = np.zeros_like(acc) if gyro_rads is None else np.asarray(gyro_rads, dtype=np.float64)
    if gyro.shape != acc.shape:
        raise ValueError(f"gyro_rads shape {gyro.shape} must match acc_mps2 shape {acc.shape}")
    if has_gyro is not None:
        gyro = gyro * np.asarray(has_gyro, dtype=np.float64).reshape((-1,) + (1,) * (gyro.ndim - 1))
    x = np.concatenate(
        [np.clip(acc / STANDARD_GRAVITY_MPS2, -ACC_CLIP_G, ACC_CLIP_G), np.clip(gyro, -GYRO_CLIP_RADS, GYRO_CLIP_RADS)],
        axis=-1,
    )
    return x.astype(np.float32)
