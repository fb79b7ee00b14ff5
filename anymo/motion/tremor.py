"""Physiological tremor of the arms: the small fast oscillation every healthy hand has.

No motion source carries it (procedural motion is smooth by construction, motion capture is low-passed
against marker jitter), yet a wrist device sees it whenever the arm is held: it is most of what a
still wrist records above a few Hz, and with a coarse accelerometer (6 bits over ±1.5 g) it decides
how often the output codes flip.

Normative values (Wade, Gresty & Findley 1982, Arch Neurol 39:358; 97 normal subjects aged 15-80, an
accelerometer on the hand): amplitude 0.0015-0.035 g peak at the dominant frequency, modal 0.01 g;
modal frequency about 7 Hz (about 6 Hz over 70 years); the dominant frequency wanders over ~2.5 Hz and
spectra often have several peaks.

Model: each forearm, with its hand, turns about the elbow by a tiny angle about the two axes across
the forearm, each a narrow-band signal (a few sines within ±1.25 Hz of the clip's dominant frequency,
random phases). The angle is set so that the hand centre's acceleration has the clip's peak amplitude
at the dominant frequency; a watch on the forearm sees the same oscillation scaled by its distance from
the elbow.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from anymo.body.skeleton import SEGMENT_INDEX
from anymo.constants import STANDARD_GRAVITY_MPS2
from anymo.geometry.rotations import quat_from_rotvec, quat_mul, quat_rotate
from anymo.motion.base import BodyMotion

HAND_CENTRE_M = 0.08  # wrist joint to the middle of the hand, where the normative accelerometer sat


@dataclass(frozen=True)
class PhysiologicalTremor:
    """Per-clip tremor draw: peak amplitude (g, log-uniform) at a dominant frequency (Hz, uniform)."""

    amplitude_g: tuple[float, float] = (0.0015, 0.035)
    frequency_hz: tuple[float, float] = (6.0, 8.0)
    spread_hz: float = 1.25  # half-width of the band the dominant frequency wanders in
    n_sines: int = 4

    def __post_init__(self) -> None:
        lo, hi = self.amplitude_g
        if not (0 < lo <= hi < 1.0):
            raise ValueError(f"PhysiologicalTremor.amplitude_g must be 0 < low <= high < 1 g, got {self.amplitude_g}")
        if not (0 < self.frequency_hz[0] <= self.frequency_hz[1]) or self.spread_hz < 0 or self.n_sines < 1:
            raise ValueError("PhysiologicalTremor: frequencies must be positive and ordered, spread >= 0, n_sines >= 1")


def _band_signal(t_s: np.ndarray, f0_hz: float, cfg: PhysiologicalTremor, rng: np.random.Generator) -> np.ndarray:
    """Narrow-band signal around ``f0_hz`` whose strongest line has amplitude 1."""
    f = f0_hz + rng.uniform(-cfg.spread_hz, cfg.spread_hz, cfg.n_sines)
    f[0] = f0_hz  # the dominant line
    w = np.concatenate([[1.0], rng.uniform(0.2, 0.7, cfg.n_sines - 1)])
    ph = rng.uniform(0, 2 * np.pi, cfg.n_sines)
    return np.sum(w[:, None] * np.sin(2 * np.pi * f[:, None] * t_s[None] + ph[:, None]), axis=0)


def add_tremor(motion: BodyMotion, cfg: PhysiologicalTremor, rng: np.random.Generator) -> BodyMotion:
    """``motion`` with a tremor of both forearms and hands (a new motion; the input is not changed)."""
    if motion.rate_hz < 4.0 * cfg.frequency_hz[1]:
        return motion  # too coarse in time to carry it (a spline through it would alias); leave the clip as is
    t_s = motion.times_s()
    pos, quat = motion.pos_m.copy(), motion.quat_wxyz.copy()
    for side in ("Right", "Left"):
        fore, hand = SEGMENT_INDEX[f"{side}ForeArm"], SEGMENT_INDEX[f"{side}Hand"]
        f0 = float(rng.uniform(*cfg.frequency_hz))
        amp_mps2 = float(np.exp(rng.uniform(*np.log(cfg.amplitude_g)))) * STANDARD_GRAVITY_MPS2
        along = pos[:, hand] - pos[:, fore]  # elbow -> wrist [T, 3]
        length = np.linalg.norm(along, axis=1, keepdims=True)
        axis_a = along / np.maximum(length, 1e-6)
        # two axes across the forearm: one from the world's vertical (or x when the forearm is vertical), one normal to both
        ref = np.where(np.abs(axis_a[:, 2:3]) < 0.9, np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0]))
        across1 = np.cross(axis_a, ref)
        across1 /= np.linalg.norm(across1, axis=1, keepdims=True)
        across2 = np.cross(axis_a, across1)
        theta_peak = amp_mps2 / ((2 * np.pi * f0) ** 2 * (length[:, 0] + HAND_CENTRE_M))  # rad
        rotvec = theta_peak[:, None] * (_band_signal(t_s, f0, cfg, rng)[:, None] * across1
                                        + _band_signal(t_s, f0, cfg, rng)[:, None] * across2) / np.sqrt(2.0)
        dq = quat_from_rotvec(rotvec)  # world-frame rotation about the elbow
        quat[:, fore] = quat_mul(dq, quat[:, fore])
        quat[:, hand] = quat_mul(dq, quat[:, hand])
        pos[:, hand] = pos[:, fore] + quat_rotate(dq, along)
    return replace(motion, pos_m=pos, quat_wxyz=quat)
