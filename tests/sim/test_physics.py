"""Physics of the ideal IMU: gravity, free fall, spin, lever arms, derivative accuracy, band-limiting."""

from __future__ import annotations

import numpy as np
import pytest

from anymo.body.skeleton import GRAVITY_WORLD_MPS2, N_SEGMENTS, SEGMENT_INDEX, make_skeleton
from anymo.body.surface import placement_world_poses, surface_placements
from anymo.geometry.rotations import quat_from_axis_angle, quat_to_matrix, random_quat
from anymo.motion.base import BodyMotion
from anymo.sim.imu import ideal_imu, uniform_spline
from anymo.sim.mounting import MountingConfig, random_mounting

G = 9.80665
SKELETON = make_skeleton()
TABLE = surface_placements(SKELETON)


def _motion(pos_m: np.ndarray, quat: np.ndarray, rate_hz: float) -> BodyMotion:
    return BodyMotion(skeleton=SKELETON, rate_hz=rate_hz, pos_m=pos_m, quat_wxyz=quat)


def _times(motion: BodyMotion, rate_hz: float) -> np.ndarray:
    return np.arange(int(np.floor(motion.duration_s * rate_hz + 1e-9)) + 1) / rate_hz


def _spin_motion(omega_rads: float, duration_s: float = 2.0, rate_hz: float = 120.0) -> BodyMotion:
    """The whole body turning rigidly at ``omega_rads`` about the vertical through the pelvis origin."""
    t = np.arange(int(duration_s * rate_hz) + 1) / rate_hz
    local = np.zeros((t.size, N_SEGMENTS, 4))
    local[..., 0] = 1.0
    local[:, 0] = quat_from_axis_angle(np.array([0.0, 0.0, 1.0]), omega_rads * t)
    root = np.tile([0.1, -0.2, 0.95], (t.size, 1))
    return BodyMotion.from_local(SKELETON, rate_hz, root, local)


def test_static_sensor_reads_gravity_upward_in_its_own_frame_for_any_orientation():
    rng = np.random.default_rng(1)
    n_t = 60
    quat = np.broadcast_to(random_quat(rng, N_SEGMENTS), (n_t, N_SEGMENTS, 4)).copy()
    pos = np.broadcast_to(rng.normal(0.0, 1.0, (N_SEGMENTS, 3)), (n_t, N_SEGMENTS, 3)).copy()
    motion = _motion(pos, quat, 60.0)
    ids = rng.choice(len(TABLE), 300, replace=False)
    sub = TABLE.subset(ids)
    device_rot = random_mounting(len(ids), MountingConfig(), rng)
    acc, gyro = ideal_imu(motion, sub, _times(motion, 50.0), device_rot=device_rot)

    r_world_dev = quat_to_matrix(quat[0, sub.segment_id]) @ sub.frame @ device_rot
    expected = np.einsum("sji,j->si", r_world_dev, [0.0, 0.0, G])  # R^T (0 - g)
    np.testing.assert_allclose(acc, np.broadcast_to(expected[:, None], acc.shape), atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(acc, axis=-1), G, atol=1e-9)
    assert np.abs(gyro).max() < 1e-12


def test_free_fall_reads_zero_specific_force_and_a_tumble_reads_its_rate():
    rate = 100.0
    t = np.arange(151) / rate
    rng = np.random.default_rng(2)
    v0 = rng.normal(0.0, 2.0, (N_SEGMENTS, 3))
    pos = rng.normal(0.0, 1.0, (N_SEGMENTS, 3)) + v0 * t[:, None, None] + 0.5 * GRAVITY_WORLD_MPS2 * t[:, None, None] ** 2
    quat = np.broadcast_to(random_quat(rng, N_SEGMENTS), (t.size, N_SEGMENTS, 4)).copy()
    motion = _motion(pos, quat, rate)
    acc, gyro = ideal_imu(motion, TABLE.subset(np.arange(0, len(TABLE), 7)), _times(motion, 50.0))
    assert np.abs(acc).max() < 1e-8  # a falling sensor feels nothing
    assert np.abs(gyro).max() < 1e-12


@pytest.mark.parametrize("omega_rads", [3.0, -7.5])
def test_constant_spin_reads_omega_and_centripetal_acceleration_at_every_placement(omega_rads):
    motion = _spin_motion(omega_rads)
    ids = np.arange(0, len(TABLE), 5)
    sub = TABLE.subset(ids)
    t_out = _times(motion, 60.0)
    acc, gyro = ideal_imu(motion, sub, t_out)

    frames = np.round(t_out * motion.rate_hz).astype(int)  # 60 Hz instants fall on 120 Hz frames
    p_world, r_world_sensor = placement_world_poses(sub, motion.pos_m[frames], motion.quat_wxyz[frames])
    rho = p_world - motion.pos_m[frames, 0][:, None]  # from the spin axis' point
    rho[..., 2] = 0.0  # horizontal offset from the vertical axis
    a_world = -(omega_rads**2) * rho - GRAVITY_WORLD_MPS2  # centripetal acceleration minus gravity
    expected_acc = np.einsum("tpji,tpj->pti", r_world_sensor, a_world)
    expected_gyro = np.einsum("tpji,j->pti", r_world_sensor, [0.0, 0.0, omega_rads])
    # radii reach ~0.9 m (hands): omega^2 r up to 50 m/s^2
    np.testing.assert_allclose(acc, expected_acc, atol=2e-3 * omega_rads**2)
    np.testing.assert_allclose(gyro, expected_gyro, atol=1e-4 * abs(omega_rads))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_constant_body_rate_about_any_axis_reads_that_rate_and_its_centripetal_term(seed):
    """q(t) = q0 ⊗ exp(omega_b t): every segment tumbles at a constant body-frame rate about its origin."""
    from anymo.geometry.rotations import quat_from_rotvec, quat_mul

    rng = np.random.default_rng(seed)
    rate = 200.0
    t = np.arange(401) / rate
    omega_b = rng.normal(0.0, 3.0, (N_SEGMENTS, 3))
    q = quat_mul(random_quat(rng, N_SEGMENTS), quat_from_rotvec(omega_b * t[:, None, None]))
    pos = np.broadcast_to(rng.normal(0.0, 1.0, (N_SEGMENTS, 3)), (t.size, N_SEGMENTS, 3)).copy()
    motion = _motion(pos, q, rate)
    sub = TABLE.subset(rng.choice(len(TABLE), 60, replace=False))
    t_out = _times(motion, 100.0)[10:-10]
    acc, gyro = ideal_imu(motion, sub, t_out)
    w = omega_b[sub.segment_id]  # [S, 3] segment frame
    r = sub.position_m
    centripetal = np.cross(w, np.cross(w, r))
    np.testing.assert_allclose(gyro, np.broadcast_to(np.einsum("sji,sj->si", sub.frame, w)[:, None], gyro.shape), atol=1e-4 * 3)
    frames = np.round(t_out * rate).astype(int)
    rot = quat_to_matrix(q[frames][:, sub.segment_id])  # [T, S, 3, 3] world-from-segment
    f_seg = np.einsum("tsji,j->tsi", rot, -GRAVITY_WORLD_MPS2) + centripetal
    np.testing.assert_allclose(acc, np.einsum("sji,tsj->sti", sub.frame, f_seg), atol=2e-3)


def test_lever_arm_two_placements_on_one_spinning_segment_differ_by_omega_squared_r():
    omega = 4.0
    motion = _spin_motion(omega)
    seg = SEGMENT_INDEX["LeftForeArm"]
    on_seg = np.flatnonzero(TABLE.segment_id == seg)
    sub = TABLE.subset(on_seg)
    # the two placements furthest apart horizontally (forearm hangs down: compare front vs back / side)
    rho = sub.position_m[:, :2] + SKELETON.rest_positions_m()[seg, :2] - SKELETON.rest_positions_m()[0, :2]
    r_h = np.linalg.norm(rho, axis=1)
    a, b = int(np.argmin(r_h)), int(np.argmax(r_h))
    assert r_h[b] - r_h[a] > 0.05
    pair = sub.subset(sub.placement_id[[a, b]])
    t_out = _times(motion, 60.0)
    acc, _ = ideal_imu(motion, pair, t_out)
    frames = np.round(t_out * motion.rate_hz).astype(int)
    _, r_ws = placement_world_poses(pair, motion.pos_m[frames], motion.quat_wxyz[frames])
    acc_world = np.einsum("tpij,ptj->pti", r_ws, acc)
    horizontal = np.linalg.norm(acc_world[..., :2], axis=-1)  # |omega^2 rho| each
    np.testing.assert_allclose(horizontal[1] - horizontal[0], omega**2 * (r_h[b] - r_h[a]), rtol=2e-3)
    np.testing.assert_allclose(acc_world[..., 2], G, atol=1e-3)


def _rz(phi):
    c, s = np.cos(phi), np.sin(phi)
    z, o = np.zeros_like(phi), np.ones_like(phi)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def _rx(theta):
    c, s = np.cos(theta), np.sin(theta)
    z, o = np.zeros_like(theta), np.ones_like(theta)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _skew(v):
    return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])


def test_derivatives_match_a_closed_form_trajectory_to_1_percent():
    """Pelvis: sinusoidal translation and R = Rz(phi(t)) Rx(theta(t)); derivatives in closed form."""
    rate, dur = 120.0, 6.0
    t = np.arange(int(dur * rate) + 1) / rate
    w1, w2, w3 = 2 * np.pi * 0.8, 2 * np.pi * 1.3, 2 * np.pi * 1.9
    p = np.stack([0.3 * np.sin(w1 * t), 0.2 * np.cos(w2 * t), 1.0 + 0.05 * np.sin(w3 * t)], -1)
    p_dd = np.stack([-0.3 * w1**2 * np.sin(w1 * t), -0.2 * w2**2 * np.cos(w2 * t), -0.05 * w3**2 * np.sin(w3 * t)], -1)
    phi, phi_d, phi_dd = 1.2 * np.sin(w1 * t), 1.2 * w1 * np.cos(w1 * t), -1.2 * w1**2 * np.sin(w1 * t)
    th, th_d, th_dd = 0.7 * np.sin(w2 * t + 0.4), 0.7 * w2 * np.cos(w2 * t + 0.4), -0.7 * w2**2 * np.sin(w2 * t + 0.4)
    kz, kx = _skew([0, 0, 1.0]), _skew([1.0, 0, 0])
    rz, rx = _rz(phi), _rx(th)
    r = rz @ rx
    r_d = rz @ kz @ rx * phi_d[:, None, None] + rz @ rx @ kx * th_d[:, None, None]
    r_dd = (
        rz @ (kz * phi_dd[:, None, None] + kz @ kz * phi_d[:, None, None] ** 2) @ rx
        + 2 * rz @ kz @ rx @ kx * (phi_d * th_d)[:, None, None]
        + rz @ rx @ (kx * th_dd[:, None, None] + kx @ kx * th_d[:, None, None] ** 2)
    )
    from anymo.geometry.rotations import matrix_to_quat

    quat = np.tile(np.array([1.0, 0, 0, 0]), (t.size, N_SEGMENTS, 1))
    quat[:, 0] = matrix_to_quat(r)
    pos = np.zeros((t.size, N_SEGMENTS, 3))
    pos[:, 0] = p
    motion = _motion(pos, quat, rate)
    ids = np.flatnonzero(TABLE.segment_id == 0)[::10]  # pelvis placements, lever arms of 5-20 cm
    sub = TABLE.subset(ids)
    acc, gyro = ideal_imu(motion, sub, _times(motion, 60.0))

    k = slice(None, None, 2)  # 60 Hz instants on the 120 Hz grid
    pt_dd = p_dd[k, None] + np.einsum("tij,pj->tpi", r_dd[k], sub.position_m)  # d2/dt2 (p + R r)
    m = np.einsum("tij,pjk->tpik", r[k], sub.frame)  # world-from-sensor
    acc_true = np.einsum("tpji,tpj->pti", m, pt_dd - GRAVITY_WORLD_MPS2)
    omega_b = np.einsum("tji,tjk->tik", r[k], r_d[k])  # R^T R' = [omega_b]x
    omega_b = np.stack([omega_b[:, 2, 1], omega_b[:, 0, 2], omega_b[:, 1, 0]], -1)
    gyro_true = np.einsum("pji,tj->pti", sub.frame, omega_b)

    def rel_rms(x, ref):
        return np.sqrt(np.mean((x - ref) ** 2)) / np.sqrt(np.mean(ref**2))

    dyn = acc_true - acc_true.mean(axis=1, keepdims=True)  # judge against the motion part, not gravity
    assert np.sqrt(np.mean((acc - acc_true) ** 2)) / np.sqrt(np.mean(dyn**2)) < 0.01
    assert rel_rms(gyro, gyro_true) < 0.01


def test_uniform_spline_reproduces_a_cubic_exactly_and_matches_scipy():
    from scipy.interpolate import CubicSpline

    h = 0.05
    t = np.arange(40) * h
    y = np.stack([2 - t + 0.5 * t**2 - 0.3 * t**3, np.sin(3 * t)])  # [C, N], time last
    for k in (1, 3):
        val, d1, d2 = uniform_spline(y, h, k=k)
        tf = np.arange(val.shape[1]) * h / k
        np.testing.assert_allclose(d2[0], 1.0 - 1.8 * tf, atol=1e-9)  # not-a-knot: cubics are exact
        np.testing.assert_allclose(d1[0], -1 + tf - 0.9 * tf**2, atol=1e-9)
        cs = CubicSpline(t, y, axis=1)
        for d, out in enumerate((val, d1, d2)):
            np.testing.assert_allclose(out, cs(tf, d), atol=1e-8)
    for n in (2, 3, 4):  # short splines: a line, a parabola, one cubic
        yy = np.random.default_rng(n).normal(size=(2, n))
        val, d1, d2 = uniform_spline(yy, h, k=2)
        tf = np.arange(val.shape[1]) * h / 2
        cs = CubicSpline(np.arange(n) * h, yy, axis=1)
        for d, out in enumerate((val, d1, d2)):
            np.testing.assert_allclose(out, cs(tf, d), atol=1e-8)


def _tone_amplitude(x: np.ndarray, t: np.ndarray, f_hz: float) -> float:
    """Least-squares amplitude of the f_hz component of x(t) (with a constant)."""
    a = np.stack([np.ones_like(t), np.sin(2 * np.pi * f_hz * t), np.cos(2 * np.pi * f_hz * t)], -1)
    coef, *_ = np.linalg.lstsq(a, x, rcond=None)
    return float(np.hypot(coef[1], coef[2]))


def _vibrating_pelvis(rate_hz: float, dur_s: float, a2: float, a50: float) -> BodyMotion:
    """Pelvis translating along x with a 2 Hz and a 50 Hz component (acceleration amplitudes a2, a50)."""
    t = np.arange(int(dur_s * rate_hz) + 1) / rate_hz
    x = -a2 / (2 * np.pi * 2) ** 2 * np.sin(2 * np.pi * 2 * t) - a50 / (2 * np.pi * 50) ** 2 * np.sin(2 * np.pi * 50 * t + 0.3)
    pos = np.zeros((t.size, N_SEGMENTS, 3))
    pos[:, :, 0] = x[:, None]
    quat = np.zeros((t.size, N_SEGMENTS, 4))
    quat[..., 0] = 1.0
    return _motion(pos, quat, rate_hz)


def test_band_limit_keeps_2hz_and_does_not_alias_50hz_into_a_60hz_output():
    motion = _vibrating_pelvis(1000.0, 4.0, a2=3.0, a50=20.0)
    sub = TABLE.subset(np.flatnonzero(TABLE.segment_id == 0)[:1])
    t_out = _times(motion, 60.0)
    inner = (t_out > 0.5) & (t_out < motion.duration_s - 0.5)
    acc, _ = ideal_imu(motion, sub, t_out)
    ax = acc[0, inner] @ sub.frame[0].T  # back to the segment (= world) frame
    tt = t_out[inner]
    assert abs(_tone_amplitude(ax[:, 0], tt, 2.0) - 3.0) < 0.01 * 3.0  # 2 Hz passes, < 1 % loss
    assert _tone_amplitude(ax[:, 0], tt, 10.0) < 0.005 * 20.0  # 50 Hz would alias to 10 Hz at 60 Hz
    # the test can fail: without the band limit the 50 Hz tone shows up at 10 Hz at full strength
    acc_raw, _ = ideal_imu(motion, sub, t_out, bandwidth_hz=200.0)
    raw = acc_raw[0, inner] @ sub.frame[0].T
    assert _tone_amplitude(raw[:, 0], tt, 10.0) > 0.5 * 20.0


def test_non_uniform_sample_instants_read_the_signal_at_those_instants():
    motion = _vibrating_pelvis(200.0, 3.0, a2=5.0, a50=0.0)
    sub = TABLE.subset(np.flatnonzero(TABLE.segment_id == 0)[:1])
    rng = np.random.default_rng(3)
    t_out = np.sort(rng.uniform(0.2, 2.8, 150))
    acc, _ = ideal_imu(motion, sub, t_out, bandwidth_hz=20.0)
    ax = acc[0] @ sub.frame[0].T
    np.testing.assert_allclose(ax[:, 0], 5.0 * np.sin(2 * np.pi * 2 * t_out), atol=0.01 * 5.0)


def test_bad_inputs_raise_clear_errors():
    motion = _spin_motion(1.0, duration_s=1.0)
    sub = TABLE.subset([0, 1])
    with pytest.raises(ValueError, match="motion covers only"):
        ideal_imu(motion, sub, np.array([0.0, 2.0]))
    with pytest.raises(ValueError, match="at most 8 x"):
        ideal_imu(motion, sub, np.arange(0, 1.0, 1 / 2000.0))
    with pytest.raises(ValueError, match="strictly increasing"):
        ideal_imu(motion, sub, np.array([0.5, 0.2]))
    with pytest.raises(ValueError, match="NaN"):
        ideal_imu(motion, sub, np.array([0.1, np.nan]))
    with pytest.raises(ValueError, match="device_rot must"):
        ideal_imu(motion, sub, np.array([0.1, 0.2]), device_rot=np.ones((2, 3, 3)))
    with pytest.raises(ValueError, match="bandwidth_hz"):
        ideal_imu(motion, sub, np.array([0.1, 0.2]), bandwidth_hz=-1.0)
    bad = _spin_motion(1.0, duration_s=1.0)
    bad.pos_m[10, 3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ideal_imu(bad, sub, np.array([0.1, 0.2]))


def test_short_motions_and_empty_requests():
    motion = _spin_motion(2.0, duration_s=2 / 120.0)  # three frames
    sub = TABLE.subset([5, 900])
    acc, gyro = ideal_imu(motion, sub, np.array([0.0, 0.01]))
    assert np.all(np.isfinite(acc)) and np.all(np.isfinite(gyro))
    expected = np.einsum("sji,j->si", sub.frame, [0.0, 0.0, 2.0])  # rest pose: segment = world frame at t=0
    np.testing.assert_allclose(gyro[:, 0], expected, atol=1e-3)
    acc, gyro = ideal_imu(motion, sub, np.zeros(0))
    assert acc.shape == (2, 0, 3) and gyro.shape == (2, 0, 3)
