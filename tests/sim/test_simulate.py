"""The whole simulation chain: placements, mounting, clock, physics and hardware errors together."""

from __future__ import annotations

import numpy as np
import pytest

from anymo.body.skeleton import N_SEGMENTS, make_skeleton
from anymo.body.surface import surface_placements
from anymo.geometry.rotations import quat_from_axis_angle, quat_to_matrix
from anymo.motion.base import BodyMotion
from anymo.sim.hardware import ImuHardware
from anymo.sim.imu import ideal_imu
from anymo.sim.mounting import MountingConfig, SoftTissue
from anymo.sim.simulate import SimConfig, simulate_imu

SKELETON = make_skeleton()
G = 9.80665


def _walkish(rate_hz: float = 120.0, dur_s: float = 4.0) -> BodyMotion:
    t = np.arange(int(dur_s * rate_hz) + 1) / rate_hz
    local = np.zeros((t.size, N_SEGMENTS, 4))
    local[..., 0] = 1.0
    swing = 0.5 * np.sin(2 * np.pi * 0.9 * t)
    for seg, sign in ((15, 1.0), (19, -1.0), (8, -0.6), (12, 0.6)):  # thighs and upper arms swing about y
        local[:, seg] = quat_from_axis_angle(np.array([0.0, 1.0, 0.0]), sign * swing)
    local[:, 0] = quat_from_axis_angle(np.array([0.0, 0.0, 1.0]), 0.3 * t)  # turning slowly
    root = np.stack([np.cos(0.3 * t), np.sin(0.3 * t), 0.93 + 0.02 * np.sin(2 * np.pi * 1.8 * t)], -1)
    return BodyMotion.from_local(SKELETON, rate_hz, root, local)


def _static(rate_hz: float = 100.0, dur_s: float = 3.0) -> BodyMotion:
    n = int(dur_s * rate_hz) + 1
    local = np.zeros((n, N_SEGMENTS, 4))
    local[..., 0] = 1.0
    return BodyMotion.from_local(SKELETON, rate_hz, np.tile([0.0, 0.0, 0.93], (n, 1)), local)


IDS = np.array([3, 250, 777, 1200, 1500, 2399])


def test_ideal_chain_equals_the_physics_at_the_nominal_instants():
    motion = _walkish()
    sig = simulate_imu(motion, IDS, SimConfig(rate_hz=60.0), np.random.default_rng(0))
    table = surface_placements(SKELETON).subset(IDS)
    t = np.arange(int(motion.duration_s * 60) + 1) / 60.0
    acc, gyro = ideal_imu(motion, table, t)
    np.testing.assert_allclose(sig.t_s, t, atol=1e-12)
    np.testing.assert_allclose(sig.acc_mps2, acc, atol=1e-4, rtol=1e-6)
    np.testing.assert_allclose(sig.gyro_rads, gyro, atol=1e-5, rtol=1e-6)
    assert sig.acc_mps2.dtype == np.float32 and sig.gyro_rads.dtype == np.float32
    np.testing.assert_array_equal(sig.placement_id, IDS)
    np.testing.assert_array_equal(sig.segment_id, table.segment_id)
    np.testing.assert_array_equal(sig.device_rot, np.broadcast_to(np.eye(3), (IDS.size, 3, 3)))
    assert sig.rate_hz == 60.0 and np.std(sig.acc_mps2[:, :, 0]) > 0.5


def test_mounting_rotates_the_readings_by_the_returned_device_rotation():
    motion = _walkish()
    cfg = SimConfig(rate_hz=60.0, mounting=MountingConfig(inplane_deg=180.0, tilt_deg=10.0))
    sig = simulate_imu(motion, IDS, cfg, np.random.default_rng(1))
    aligned = simulate_imu(motion, IDS, SimConfig(rate_hz=60.0), np.random.default_rng(1))
    r = sig.device_rot
    np.testing.assert_allclose(r @ r.transpose(0, 2, 1), np.broadcast_to(np.eye(3), r.shape), atol=1e-12)
    assert not np.allclose(r, np.eye(3))
    np.testing.assert_allclose(sig.acc_mps2, np.einsum("sji,stj->sti", r, aligned.acc_mps2), atol=1e-4)
    np.testing.assert_allclose(sig.gyro_rads, np.einsum("sji,stj->sti", r, aligned.gyro_rads), atol=1e-5)


def test_same_seed_same_signals_other_seed_other_signals():
    motion = _walkish(dur_s=2.0)
    cfg = SimConfig(rate_hz=52.0, hardware="movesense", mounting=MountingConfig(wobble=SoftTissue(spread_frac=0.3)))
    a = simulate_imu(motion, IDS, cfg, np.random.default_rng(11))
    b = simulate_imu(motion, IDS, cfg, np.random.default_rng(11))
    c = simulate_imu(motion, IDS, cfg, np.random.default_rng(12))
    for name in ("t_s", "acc_mps2", "gyro_rads", "device_rot"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.allclose(a.acc_mps2, c.acc_mps2)


def test_a_real_device_at_rest_reads_gravity_within_its_errors_and_adds_noise():
    motion = _static()
    hw = ImuHardware(name="noisy", acc_noise_density_ug_rthz=300.0, gyro_noise_density_mdps_rthz=10.0, rate_hz=100.0)
    sig = simulate_imu(motion, IDS, SimConfig(rate_hz=100.0, hardware=hw), np.random.default_rng(2))
    table = surface_placements(SKELETON).subset(IDS)
    r = quat_to_matrix(motion.quat_wxyz[0, table.segment_id]) @ table.frame
    expected = np.einsum("sji,j->si", r, [0.0, 0.0, G])
    noise = sig.acc_mps2 - expected[:, None]
    want_std = 300e-6 * G * np.sqrt(100.0 / 2)  # density x sqrt(Nyquist band)
    assert abs(np.std(noise) / want_std - 1.0) < 0.1
    np.testing.assert_allclose(sig.acc_mps2.mean(axis=1), expected, atol=5 * want_std / np.sqrt(sig.t_s.size) + 1e-4)
    assert sig.hardware == "noisy"


def test_presets_run_at_their_own_rates_and_refuse_others():
    motion = _walkish(dur_s=2.0)
    sig = simulate_imu(motion, IDS[:2], SimConfig(rate_hz=104.0, hardware="smartwatch"), np.random.default_rng(3))
    assert np.all(np.diff(sig.t_s) > 0) and abs(np.median(np.diff(sig.t_s)) - 1 / 104.0) < 1e-3
    assert np.all(sig.t_true_s <= motion.duration_s) and np.all(np.isfinite(sig.acc_mps2))
    with pytest.raises(ValueError, match="cannot output 60 Hz"):
        simulate_imu(motion, IDS[:2], SimConfig(rate_hz=60.0, hardware="smartwatch"), np.random.default_rng(3))
    with pytest.raises(ValueError, match="movesense"):
        simulate_imu(motion, IDS[:2], SimConfig(rate_hz=60.0, hardware="no-such-watch"), np.random.default_rng(3))


def test_bad_requests_raise_clear_errors():
    motion = _walkish(dur_s=1.0)
    rng = np.random.default_rng(4)
    with pytest.raises(ValueError, match=r"at most 8 x .* = 960 Hz"):
        simulate_imu(motion, IDS, SimConfig(rate_hz=1000.0), rng)
    with pytest.raises(ValueError, match=r"valid ids are 0\.\.2399"):
        simulate_imu(motion, np.array([5, 2400]), SimConfig(), rng)
    with pytest.raises(ValueError, match="integers"):
        simulate_imu(motion, np.array([1.5]), SimConfig(), rng)
    with pytest.raises(ValueError, match="non-empty"):
        simulate_imu(motion, np.array([], dtype=int), SimConfig(), rng)
    for rate in (0.0, -60.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="rate_hz"):
            SimConfig(rate_hz=rate)
    bad = _walkish(dur_s=1.0)
    bad.quat_wxyz[20, 9] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        simulate_imu(bad, IDS, SimConfig(), rng)


def test_a_motion_shorter_than_a_sample_period_still_gives_its_first_sample():
    motion = _static(rate_hz=120.0, dur_s=1 / 120.0)  # two frames, 8 ms
    sig = simulate_imu(motion, IDS, SimConfig(rate_hz=60.0), np.random.default_rng(5))
    assert sig.t_s.size == 1 and sig.acc_mps2.shape == (IDS.size, 1, 3)
    np.testing.assert_allclose(np.linalg.norm(sig.acc_mps2[:, 0], axis=-1), G, atol=1e-5)
    assert np.abs(sig.gyro_rads).max() == 0.0
