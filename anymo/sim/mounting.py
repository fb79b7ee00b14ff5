"""How a device sits on the skin: its rotation on the surface and soft-tissue wobble.

``random_mounting`` draws the device frame expressed in the placement's sensor frame (see
``anymo.body.surface``: x_s along the limb, z_s out of the skin): first an in-plane rotation about the
surface normal (a watch worn either way round, a phone in a pocket upside down), then a small tilt
about a random axis in the skin's tangent plane (a strap that does not sit flat).

``SoftTissue`` is a damped spring between the bone-fixed anchor and the device. In the anchor's
(accelerating) frame the device mass is driven by the specific force ``f`` there; the device reads
``f`` plus ``coupling`` times the spring's relative acceleration. Per axis this is the transfer
function ``soft_tissue_tf`` (DC gain 1: gravity and slow motion pass unchanged, content near
``freq_hz`` is amplified, content far above it is attenuated). The gyroscope sees the same spring
acting on rotations (the device rocking on the tissue), weighted by ``gyro_coupling``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anymo.geometry.rotations import quat_from_axis_angle, quat_mul, quat_to_matrix


@dataclass(frozen=True)
class SoftTissue:
    """A damped spring between bone and sensor (per axis, isotropic).

    ``freq_hz``: natural frequency; ``damping_ratio``: zeta (1 = critically damped);
    ``coupling``: 0 = rigid mount, 1 = the device reads all of the spring's relative acceleration;
    ``gyro_coupling``: the same for the rocking rate seen by the gyroscope;
    ``spread_frac``: per-device relative spread of ``freq_hz`` and ``damping_ratio`` (log-normal sigma),
    drawn once per device from the rng given to the simulator (no rng: nominal values everywhere).
    """

    freq_hz: float = 12.0
    damping_ratio: float = 0.3
    coupling: float = 1.0
    gyro_coupling: float = 0.5
    spread_frac: float = 0.0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.freq_hz) and 0.5 <= self.freq_hz <= 200.0):
            raise ValueError(f"SoftTissue.freq_hz must be between 0.5 and 200 Hz (skin on bone: ~5-30 Hz), got {self.freq_hz}")
        if not (np.isfinite(self.damping_ratio) and 0.01 <= self.damping_ratio <= 5.0):
            raise ValueError(f"SoftTissue.damping_ratio must be between 0.01 and 5, got {self.damping_ratio}")
        for name in ("coupling", "gyro_coupling"):
            v = getattr(self, name)
            if not (np.isfinite(v) and 0.0 <= v <= 1.0):
                raise ValueError(f"SoftTissue.{name} must be between 0 (rigid) and 1, got {v}")
        if not (np.isfinite(self.spread_frac) and 0.0 <= self.spread_frac <= 1.0):
            raise ValueError(f"SoftTissue.spread_frac must be between 0 and 1, got {self.spread_frac}")

    def per_device(self, n: int, rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
        """Natural frequencies [n] (Hz) and damping ratios [n] of ``n`` devices."""
        freq = np.full(n, float(self.freq_hz))
        zeta = np.full(n, float(self.damping_ratio))
        if rng is not None and self.spread_frac > 0:
            freq = freq * np.exp(self.spread_frac * rng.standard_normal(n))
            zeta = zeta * np.exp(self.spread_frac * rng.standard_normal(n))
        return np.clip(freq, 0.5, 200.0), np.clip(zeta, 0.01, 5.0)


def soft_tissue_tf(freq_hz: float, damping_ratio: float, coupling: float) -> tuple[np.ndarray, np.ndarray]:
    """Continuous transfer function (num, den) from the anchor's to the device's reading.

    ``H(s) = 1 - c s^2 / (s^2 + 2 zeta w s + w^2) = ((1-c) s^2 + 2 zeta w s + w^2) / (s^2 + 2 zeta w s + w^2)``.
    """
    w = 2.0 * np.pi * freq_hz
    den = np.array([1.0, 2.0 * damping_ratio * w, w * w])
    num = np.array([1.0 - coupling, 2.0 * damping_ratio * w, w * w])
    return num, den


@dataclass(frozen=True)
class MountingConfig:
    """Random device mounting: in-plane rotation uniform in +-``inplane_deg`` about the skin normal,
    tilt uniform in [0, ``tilt_deg``] about a random axis in the skin's tangent plane, optional wobble."""

    inplane_deg: float = 180.0
    tilt_deg: float = 5.0
    wobble: SoftTissue | None = None

    def __post_init__(self) -> None:
        if not (np.isfinite(self.inplane_deg) and 0.0 <= self.inplane_deg <= 180.0):
            raise ValueError(f"MountingConfig.inplane_deg must be between 0 and 180 degrees, got {self.inplane_deg}")
        if not (np.isfinite(self.tilt_deg) and 0.0 <= self.tilt_deg <= 45.0):
            raise ValueError(f"MountingConfig.tilt_deg must be between 0 and 45 degrees (a device lying on the skin), got {self.tilt_deg}")
        if self.wobble is not None and not isinstance(self.wobble, SoftTissue):
            raise ValueError(f"MountingConfig.wobble must be a SoftTissue or None, got {type(self.wobble).__name__}")


def random_mounting(n: int, cfg: MountingConfig, rng: np.random.Generator) -> np.ndarray:
    """Rotations [n, 3, 3]: the device frame expressed in the placement's sensor frame (columns = device axes)."""
    if int(n) != n or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n}")
    n = int(n)
    psi = np.deg2rad(cfg.inplane_deg) * rng.uniform(-1.0, 1.0, n)
    tilt = np.deg2rad(cfg.tilt_deg) * rng.uniform(0.0, 1.0, n)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)  # direction of the tilt axis in the tangent plane
    q_inplane = quat_from_axis_angle(np.array([0.0, 0.0, 1.0]), psi)
    tilt_axis = np.stack([np.cos(phi), np.sin(phi), np.zeros(n)], axis=-1)
    q_tilt = quat_from_axis_angle(tilt_axis, tilt)
    return quat_to_matrix(quat_mul(q_tilt, q_inplane)).reshape(n, 3, 3)
