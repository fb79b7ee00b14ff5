"""The whole IMU simulation chain for one motion: placements -> mounting -> clock -> physics -> errors.

``simulate_imu(motion, placement_ids, cfg, rng)``:

0. with ``cfg.tremor``, a physiological arm tremor added to the motion (``anymo.motion.tremor``);
1. placements sized to ``motion.skeleton`` (``surface_placements``, cached per body), the requested rows;
2. a random device rotation per placement from ``cfg.mounting`` (None: device axes = sensor frame);
3. the device clock (``anymo.sim.sample_clock``): true sampling instants and reported timestamps;
4. ideal specific force and angular rate at the true instants (``anymo.sim.imu.ideal_imu``), band-limited
   to ``cfg.bandwidth_hz`` (default: the hardware's low-pass, ``bandwidth_frac`` x the rate);
5. the hardware's errors (``apply_sensor_errors``: scale, cross-axis, bias, noise, range, ADC).

Random draws happen in that order from ``rng``, so a seed reproduces the signals exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anymo.body.surface import N_PLACEMENTS, surface_placements
from anymo.motion.base import BodyMotion
from anymo.motion.tremor import PhysiologicalTremor, add_tremor
from anymo.sim.devices import device_preset
from anymo.sim.hardware import IDEAL, ImuHardware, apply_sensor_errors, sample_clock
from anymo.sim.imu import MAX_RATE_FACTOR, ideal_imu
from anymo.sim.mounting import MountingConfig, random_mounting


@dataclass(frozen=True)
class SimConfig:
    """Output rate, hardware (an ``ImuHardware`` or a preset name; "ideal" = no errors), mounting
    (None = every device aligned with its placement's sensor frame) and an optional band limit.
    The hardware must support ``rate_hz`` (``ImuHardware.supported_rates_hz``)."""

    rate_hz: float = 60.0
    hardware: ImuHardware | str = "ideal"
    mounting: MountingConfig | None = None
    bandwidth_hz: float | None = None  # None: the hardware's (bandwidth_frac x rate_hz; 0.4 for "ideal")
    tremor: PhysiologicalTremor | None = None  # physiological arm tremor added to the motion (None: the motion as given)

    def __post_init__(self) -> None:
        if not (isinstance(self.rate_hz, (int, float)) and np.isfinite(self.rate_hz) and self.rate_hz > 0):
            raise ValueError(f"SimConfig.rate_hz must be a positive number of Hz, got {self.rate_hz!r}")
        if self.mounting is not None and not isinstance(self.mounting, MountingConfig):
            raise ValueError(f"SimConfig.mounting must be a MountingConfig or None, got {type(self.mounting).__name__}")
        if self.tremor is not None and not isinstance(self.tremor, PhysiologicalTremor):
            raise ValueError(f"SimConfig.tremor must be a PhysiologicalTremor or None, got {type(self.tremor).__name__}")
        if self.bandwidth_hz is not None and not (np.isfinite(self.bandwidth_hz) and self.bandwidth_hz > 0):
            raise ValueError(f"SimConfig.bandwidth_hz must be a positive number of Hz or None, got {self.bandwidth_hz!r}")


@dataclass
class ImuSignals:
    """Simulated IMU of S devices: samples at the device's timestamps, device frames."""

    t_s: np.ndarray  # [T] float64, timestamps the devices report (seconds from the motion's start)
    acc_mps2: np.ndarray  # [S, T, 3] float32, specific force
    gyro_rads: np.ndarray  # [S, T, 3] float32
    placement_id: np.ndarray  # [S] int32
    segment_id: np.ndarray  # [S] int16
    rate_hz: float  # nominal output rate
    device_rot: np.ndarray  # [S, 3, 3] device frame in the placement's sensor frame
    t_true_s: np.ndarray | None = None  # [T] the true sampling instants (motion time)
    hardware: str = ""  # the hardware's name


def resolve_hardware(hw: ImuHardware | str) -> ImuHardware:
    """An ``ImuHardware`` from a preset name ("ideal" = ``IDEAL``) or an instance."""
    if isinstance(hw, ImuHardware):
        return hw
    if isinstance(hw, str):
        return IDEAL if hw == "ideal" else device_preset(hw)
    raise ValueError(f"hardware must be an ImuHardware or a preset name ('ideal' or one of DEVICE_PRESETS), got {type(hw).__name__}")


def simulate_imu(motion: BodyMotion, placement_ids: np.ndarray, cfg: SimConfig, rng: np.random.Generator) -> ImuSignals:
    """Simulate devices at ``placement_ids`` (0..2399) over the whole motion at ``cfg.rate_hz``."""
    ids = _check_ids(placement_ids)
    if cfg.rate_hz > MAX_RATE_FACTOR * motion.rate_hz:
        raise ValueError(
            f"rate_hz={cfg.rate_hz:g} is above the motion's useful bandwidth: at most {MAX_RATE_FACTOR:g} x its "
            f"{motion.rate_hz:g} Hz frame rate = {MAX_RATE_FACTOR * motion.rate_hz:g} Hz; lower rate_hz or resample the motion"
        )
    hw = resolve_hardware(cfg.hardware).at_rate(float(cfg.rate_hz))  # ValueError if the device cannot output it
    table = surface_placements(motion.skeleton).subset(ids)

    n_s = ids.size
    if cfg.tremor is not None:
        motion = add_tremor(motion, cfg.tremor, rng)
    device_rot = np.broadcast_to(np.eye(3), (n_s, 3, 3)).copy() if cfg.mounting is None else random_mounting(n_s, cfg.mounting, rng)
    clock = sample_clock(motion.duration_s, hw, rng)  # at least one sample, all within [0, duration_s]
    t_true_s, t_device_s = clock.t_true_s, clock.t_device_s

    acc, gyro = ideal_imu(
        motion,
        table,
        t_true_s,
        device_rot=device_rot,
        bandwidth_hz=hw.bandwidth_hz if cfg.bandwidth_hz is None else float(cfg.bandwidth_hz),
        wobble=None if cfg.mounting is None else cfg.mounting.wobble,
        rng=rng,
    )
    acc, gyro = apply_sensor_errors(acc, gyro, hw, rng, rate_hz=float(cfg.rate_hz))
    return ImuSignals(
        t_s=np.asarray(t_device_s, dtype=np.float64),
        acc_mps2=np.asarray(acc, dtype=np.float32),
        gyro_rads=np.asarray(gyro, dtype=np.float32),
        placement_id=table.placement_id.astype(np.int32),
        segment_id=table.segment_id.astype(np.int16),
        rate_hz=float(cfg.rate_hz),
        device_rot=device_rot,
        t_true_s=t_true_s,
        hardware=hw.name,
    )


def _check_ids(placement_ids: np.ndarray) -> np.ndarray:
    ids = np.asarray(placement_ids)
    if ids.ndim != 1 or ids.size == 0:
        raise ValueError(f"placement_ids must be a non-empty 1-D array of placement ids, got shape {ids.shape}")
    if not (np.issubdtype(ids.dtype, np.integer) or (np.issubdtype(ids.dtype, np.floating) and np.all(ids == np.round(ids)))):
        raise ValueError(f"placement_ids must be integers in 0..{N_PLACEMENTS - 1}, got {ids.dtype} values")
    ids = ids.astype(np.int64)
    bad = ids[(ids < 0) | (ids >= N_PLACEMENTS)]
    if bad.size:
        raise ValueError(f"unknown placement ids {bad[:10].tolist()}: valid ids are 0..{N_PLACEMENTS - 1}")
    return ids


