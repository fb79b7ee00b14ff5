"""Synthetic model windows for calibrating int8 models and measuring parity (never real recordings).

`simulated_windows` runs the IMU simulator (`anymo.sim`): realistic signals at random body placements
and devices, each work unit cut to 5 s windows. Every unit keeps 1, 2, 4 or 8 of its sensors (cycling),
some of them acc-only and some with an unknown placement, so the quantisation ranges cover every
setup the engine will see. `random_windows` is a cheap stand-in for tests (gravity + noise).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anymo.constants import STANDARD_GRAVITY_MPS2
from anymo.preprocess.model_input import UNKNOWN_PLACEMENT_ID, ModelInput

SENSOR_COUNTS = (1, 2, 4, 8)


def _vary_setup(acc: np.ndarray, gyro: np.ndarray, pid: np.ndarray, k: int, rng: np.random.Generator) -> ModelInput:
    """Keep ``k`` random sensors of [N, S, T, 3] windows; make ~1/4 acc-only and ~1/8 of unknown placement."""
    keep = np.sort(rng.choice(acc.shape[1], size=k, replace=False))
    n = acc.shape[0]
    has_gyro = rng.random((n, k)) > 0.25
    pid = pid[:, keep].astype(np.int32).copy()
    pid[rng.random((n, k)) < 0.125] = UNKNOWN_PLACEMENT_ID
    return ModelInput.from_arrays(acc[:, keep], gyro[:, keep], pid, has_gyro=has_gyro)


def simulated_windows(n_units: int, seed: int, sensor_counts: tuple[int, ...] = SENSOR_COUNTS,
                      cache_dir: str | Path | None = None) -> list[ModelInput]:
    """One `ModelInput` batch (12 windows of 5 s) per simulated unit of 60 s; unit ``i`` keeps
    ``sensor_counts[i % len]`` sensors. Deterministic for (``n_units``, ``seed``); with ``cache_dir``
    the simulated units are kept there (npz) and reused by the next export."""
    from anymo.sim.config import DatasetConfig
    from anymo.sim.unit import simulate_unit

    cfg = DatasetConfig(hours=max(n_units, 1) / 60.0, seed=seed, sensors_per_window=max(sensor_counts))
    rng = np.random.default_rng([seed, 7])
    out = []
    for u in range(n_units):
        path = None if cache_dir is None else Path(cache_dir) / f"sim-{seed}-{max(sensor_counts)}-{u}.npz"
        if path is not None and path.is_file():
            with np.load(path, allow_pickle=False) as z:
                a = {k: z[k] for k in ("acc_mps2", "gyro_rads", "placement_id")}
        else:
            a = simulate_unit(cfg, u).arrays
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                np.savez(path, **{k: a[k] for k in ("acc_mps2", "gyro_rads", "placement_id")})
        out.append(_vary_setup(a["acc_mps2"], a["gyro_rads"], a["placement_id"], sensor_counts[u % len(sensor_counts)], rng))
    return out


def random_windows(n: int, n_sensors: int, seed: int, n_samples: int = 300) -> ModelInput:
    """[n, n_sensors] windows of gravity along a random axis plus a few oscillations and noise (tests)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / 60.0
    g = rng.normal(size=(n, n_sensors, 1, 3))
    g = STANDARD_GRAVITY_MPS2 * g / np.linalg.norm(g, axis=-1, keepdims=True)
    f = rng.uniform(0.5, 3.0, size=(n, n_sensors, 1, 3))
    acc = g + rng.uniform(0.5, 6.0, size=(n, n_sensors, 1, 3)) * np.sin(2 * np.pi * f * t[:, None]) + rng.normal(0, 0.3, (n, n_sensors, n_samples, 3))
    gyro = rng.uniform(0.2, 3.0, size=(n, n_sensors, 1, 3)) * np.cos(2 * np.pi * f * t[:, None]) + rng.normal(0, 0.05, (n, n_sensors, n_samples, 3))
    pid = rng.integers(-1, 2400, size=(n, n_sensors)).astype(np.int32)
    return ModelInput.from_arrays(acc, gyro, pid, has_gyro=rng.random((n, n_sensors)) > 0.2)


def split_batches(windows: list[ModelInput], batch: int) -> list[ModelInput]:
    """The same windows as batches of at most ``batch`` (each keeps its sensor count)."""
    return [w.subset(np.arange(i, min(i + batch, len(w)))) for w in windows for i in range(0, len(w), batch)]
