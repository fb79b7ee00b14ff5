"""Explicit unit conversions applied on load (numpy only).

Every loader converts through these functions so that each conversion is written (and tested) once.
Targets: accelerometer m/s², gyroscope rad/s, magnetometer µT, time s.
"""

from __future__ import annotations

import numpy as np

from anymo.data.recording import STANDARD_GRAVITY_MPS2

DEG_TO_RAD = np.pi / 180.0

# Unit spellings accepted by the user import (recordings.csv) -> factor to the target unit.
ACC_UNIT_TO_MPS2: dict[str, float] = {
    "m/s2": 1.0,
    "m/s^2": 1.0,
    "mps2": 1.0,
    "g": STANDARD_GRAVITY_MPS2,
    "mg": STANDARD_GRAVITY_MPS2 / 1000.0,
}
GYRO_UNIT_TO_RADS: dict[str, float] = {
    "rad/s": 1.0,
    "rads": 1.0,
    "deg/s": DEG_TO_RAD,
    "dps": DEG_TO_RAD,
}
MAG_UNIT_TO_UT: dict[str, float] = {"ut": 1.0, "µt": 1.0, "gauss": 100.0, "mgauss": 0.1, "nt": 1e-3}


def g_to_mps2(acc_g: np.ndarray) -> np.ndarray:
    """Accelerometer in standard gravities -> m/s² (1 g = 9.80665 m/s²)."""
    return np.asarray(acc_g, dtype=np.float64) * STANDARD_GRAVITY_MPS2


def mg_to_mps2(acc_mg: np.ndarray) -> np.ndarray:
    """Accelerometer in milli-g -> m/s²."""
    return np.asarray(acc_mg, dtype=np.float64) * (STANDARD_GRAVITY_MPS2 / 1000.0)


def dps_to_rads(gyro_dps: np.ndarray) -> np.ndarray:
    """Gyroscope in degrees per second -> rad/s."""
    return np.asarray(gyro_dps, dtype=np.float64) * DEG_TO_RAD


def hmp_code_to_g(code: np.ndarray) -> np.ndarray:
    """HMP/WHARF 6-bit accelerometer code (0..63) -> g: value_g = -1.5 + 3.0 * code / 63."""
    code = np.asarray(code, dtype=np.float64)
    if code.size and (code.min() < 0 or code.max() > 63):
        raise ValueError(f"HMP accelerometer codes must lie in 0..63, got {code.min():g}..{code.max():g}")
    return -1.5 + 3.0 * code / 63.0


def _factor(unit: str, table: dict[str, float], what: str) -> float:
    key = unit.strip().lower().replace(" ", "").replace("²", "2")
    if key not in table:
        raise ValueError(f"unknown {what} unit {unit!r}; use one of: {', '.join(sorted(set(table)))}")
    return table[key]


def acc_to_mps2(values: np.ndarray, unit: str) -> np.ndarray:
    """Accelerometer in ``unit`` (m/s2, g, mg) -> m/s²."""
    return np.asarray(values, dtype=np.float64) * _factor(unit, ACC_UNIT_TO_MPS2, "accelerometer")


def gyro_to_rads(values: np.ndarray, unit: str) -> np.ndarray:
    """Gyroscope in ``unit`` (rad/s, deg/s) -> rad/s."""
    return np.asarray(values, dtype=np.float64) * _factor(unit, GYRO_UNIT_TO_RADS, "gyroscope")


def mag_to_uT(values: np.ndarray, unit: str) -> np.ndarray:
    """Magnetometer in ``unit`` (uT, gauss, mgauss, nT) -> µT."""
    return np.asarray(values, dtype=np.float64) * _factor(unit, MAG_UNIT_TO_UT, "magnetometer")
