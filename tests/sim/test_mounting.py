"""Device mounting on the skin: rotations, their effect on readings, and soft-tissue wobble."""

from __future__ import annotations

import numpy as np
import pytest

from anymo.body.skeleton import N_SEGMENTS, make_skeleton
from anymo.body.surface import surface_placements
from anymo.geometry.rotations import quat_from_axis_angle
from anymo.motion.base import BodyMotion
from anymo.sim.imu import ideal_imu
from anymo.sim.mounting import MountingConfig, SoftTissue, random_mounting

SKELETON = make_skeleton()
TABLE = surface_placements(SKELETON)


def _assert_rotations(r: np.ndarray) -> None:
    np.testing.assert_allclose(r @ r.transpose(0, 2, 1), np.broadcast_to(np.eye(3), r.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-12)


def test_mounted_frames_are_orthonormal_and_right_handed_at_every_placement():
    rng = np.random.default_rng(0)
    rot = random_mounting(len(TABLE), MountingConfig(inplane_deg=180.0, tilt_deg=20.0), rng)
    _assert_rotations(rot)
    _assert_rotations(np.asarray(TABLE.frame))
    _assert_rotations(TABLE.frame @ rot)  # segment-from-device
    r = TABLE.frame @ rot
    np.testing.assert_allclose(np.cross(r[:, :, 0], r[:, :, 1]), r[:, :, 2], atol=1e-12)  # x cross y = z


def test_inplane_rotation_stays_in_range_and_covers_it():
    rng = np.random.default_rng(1)
    rot = random_mounting(4000, MountingConfig(inplane_deg=30.0, tilt_deg=0.0), rng)
    np.testing.assert_allclose(rot[:, :, 2], np.tile([0.0, 0.0, 1.0], (4000, 1)), atol=1e-12)  # normal kept
    angle = np.degrees(np.arctan2(rot[:, 1, 0], rot[:, 0, 0]))
    assert np.abs(angle).max() <= 30.0 + 1e-9
    assert angle.min() < -29.0 and angle.max() > 29.0
    full = random_mounting(4000, MountingConfig(inplane_deg=180.0, tilt_deg=0.0), rng)
    hist, _ = np.histogram(np.degrees(np.arctan2(full[:, 1, 0], full[:, 0, 0])), bins=8, range=(-180, 180))
    assert hist.min() > 0.8 * 4000 / 8  # uniform round the normal


def test_tilt_is_bounded_and_about_an_axis_in_the_skin_plane():
    rng = np.random.default_rng(2)
    rot = random_mounting(4000, MountingConfig(inplane_deg=0.0, tilt_deg=6.0), rng)
    tilt = np.degrees(np.arccos(np.clip(rot[:, 2, 2], -1, 1)))
    assert tilt.max() <= 6.0 + 1e-9 and tilt.max() > 5.8
    assert np.median(tilt) > 2.0
    # a tilt about an in-plane axis has no twist: the rotation axis has no normal component
    axis = np.stack([rot[:, 2, 1] - rot[:, 1, 2], rot[:, 0, 2] - rot[:, 2, 0], rot[:, 1, 0] - rot[:, 0, 1]], -1)
    big = tilt > 1.0
    assert np.abs(axis[big, 2]).max() < 1e-12


def test_random_mounting_is_deterministic_per_seed():
    cfg = MountingConfig()
    a = random_mounting(50, cfg, np.random.default_rng(7))
    b = random_mounting(50, cfg, np.random.default_rng(7))
    c = random_mounting(50, cfg, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def _swinging_arm(rate_hz: float = 120.0, dur_s: float = 3.0) -> BodyMotion:
    t = np.arange(int(dur_s * rate_hz) + 1) / rate_hz
    local = np.zeros((t.size, N_SEGMENTS, 4))
    local[..., 0] = 1.0
    local[:, 12] = quat_from_axis_angle(np.array([0.3, 1.0, 0.2]), 0.8 * np.sin(2 * np.pi * 1.1 * t))  # LeftUpperArm
    local[:, 13] = quat_from_axis_angle(np.array([0.0, 1.0, 0.0]), -0.6 - 0.5 * np.sin(2 * np.pi * 1.7 * t))  # elbow
    root = np.stack([0.8 * t, 0.0 * t, 0.95 + 0.02 * np.sin(2 * np.pi * 2.2 * t)], -1)
    return BodyMotion.from_local(SKELETON, rate_hz, root, local)


def test_inplane_rotation_leaves_the_normal_axis_reading_unchanged():
    motion = _swinging_arm()
    ids = np.flatnonzero(np.isin(TABLE.segment_id, [12, 13]))[::9]
    sub = TABLE.subset(ids)
    t_out = np.arange(0, motion.duration_s, 1 / 60.0)
    rot = random_mounting(len(ids), MountingConfig(inplane_deg=180.0, tilt_deg=0.0), np.random.default_rng(3))
    acc0, gyro0 = ideal_imu(motion, sub, t_out)
    acc1, gyro1 = ideal_imu(motion, sub, t_out, device_rot=rot)
    assert np.std(acc0[..., 0]) > 1.0  # the motion is not trivial
    np.testing.assert_allclose(acc1[..., 2], acc0[..., 2], atol=1e-10)
    np.testing.assert_allclose(gyro1[..., 2], gyro0[..., 2], atol=1e-10)
    # the in-plane components are those of the aligned device, rotated by the mounting angle
    np.testing.assert_allclose(acc1, np.einsum("sji,stj->sti", rot, acc0), atol=1e-10)
    # and a tilt does change the normal-axis reading
    tilted = random_mounting(len(ids), MountingConfig(inplane_deg=0.0, tilt_deg=10.0), np.random.default_rng(4))
    acc2, _ = ideal_imu(motion, sub, t_out, device_rot=tilted)
    assert np.abs(acc2[..., 2] - acc0[..., 2]).max() > 0.1


def _acceleration_step(rate_hz: float, dur_s: float, t0_s: float, a_mps2: float) -> BodyMotion:
    """The whole body at rest, then from t0 accelerating along x at a constant a (a step in p'')."""
    t = np.arange(int(dur_s * rate_hz) + 1) / rate_hz
    x = 0.5 * a_mps2 * np.clip(t - t0_s, 0.0, None) ** 2
    pos = np.zeros((t.size, N_SEGMENTS, 3))
    pos[:, :, 0] = x[:, None]
    pos[:, :, 2] = 1.0
    quat = np.zeros((t.size, N_SEGMENTS, 4))
    quat[..., 0] = 1.0
    return BodyMotion(SKELETON, rate_hz, pos, quat)


@pytest.mark.parametrize("freq_hz,zeta", [(12.0, 0.1), (7.0, 0.05)])
def test_wobble_step_response_rings_at_the_spring_frequency_with_its_damping(freq_hz, zeta):
    rate, t0, a = 1000.0, 0.5, 2.0
    motion = _acceleration_step(rate, 2.0, t0, a)
    sub = TABLE.subset(np.flatnonzero(TABLE.segment_id == 0)[:1])  # pelvis: segment axes = world here
    t_out = np.arange(0, motion.duration_s, 1 / 500.0)
    acc, _ = ideal_imu(motion, sub, t_out, wobble=SoftTissue(freq_hz=freq_hz, damping_ratio=zeta, coupling=1.0), bandwidth_hz=150.0)
    ax = (acc[0] @ sub.frame[0].T)[:, 0]  # along world x
    assert np.abs(ax[t_out < t0 - 0.05]).max() < 1e-9  # at rest before the step
    after = t_out > t0
    e = ax[after] - a  # ringing about the new level
    te = t_out[after]
    peaks = np.flatnonzero((e[1:-1] > e[:-2]) & (e[1:-1] > e[2:]) & (e[1:-1] > 0.02 * a)) + 1
    assert peaks.size >= 3
    period = np.diff(te[peaks[:3]]).mean()
    f_damped = freq_hz * np.sqrt(1 - zeta**2)
    assert abs(1 / period - f_damped) < 0.02 * f_damped
    delta = np.log(e[peaks[0]] / e[peaks[1]])  # logarithmic decrement
    zeta_measured = delta / np.sqrt(4 * np.pi**2 + delta**2)
    assert abs(zeta_measured - zeta) < 0.1 * zeta
    # the rigid mount reads the step without ringing
    rigid, _ = ideal_imu(motion, sub, t_out, bandwidth_hz=150.0)
    rx = (rigid[0] @ sub.frame[0].T)[:, 0]
    assert np.abs(rx[t_out > t0 + 0.05] - a).max() < 1e-3 * a


def test_no_wobble_equals_a_rigid_mount_and_wobble_keeps_gravity():
    motion = _swinging_arm()
    sub = TABLE.subset(np.flatnonzero(TABLE.segment_id == 13)[::20])
    t_out = np.arange(0, motion.duration_s, 1 / 60.0)
    rigid = ideal_imu(motion, sub, t_out)
    zero = ideal_imu(motion, sub, t_out, wobble=SoftTissue(coupling=0.0, gyro_coupling=0.0))
    soft = ideal_imu(motion, sub, t_out, wobble=SoftTissue(freq_hz=8.0, damping_ratio=0.2))
    for r, z in zip(rigid, zero):
        np.testing.assert_array_equal(r, z)
    for r, s in zip(rigid, soft):
        assert np.abs(r - s).max() > 0.05  # the spring does something
    acc_only = ideal_imu(motion, sub, t_out, wobble=SoftTissue(freq_hz=8.0, damping_ratio=0.2, gyro_coupling=0.0))
    np.testing.assert_array_equal(acc_only[1], rigid[1])  # no rocking: the gyro is the bone's
    np.testing.assert_array_equal(acc_only[0], soft[0])
    # slow content (gravity, the mean) passes the spring unchanged
    np.testing.assert_allclose(soft[0].mean(axis=1), rigid[0].mean(axis=1), atol=0.02)


def test_wobble_spread_is_drawn_per_device_from_the_rng():
    st = SoftTissue(spread_frac=0.3)
    f1, z1 = st.per_device(200, np.random.default_rng(5))
    f2, _ = st.per_device(200, np.random.default_rng(5))
    np.testing.assert_array_equal(f1, f2)
    assert 0.2 < np.std(np.log(f1)) < 0.4 and 0.2 < np.std(np.log(z1)) < 0.4
    f0, z0 = st.per_device(3, None)
    np.testing.assert_array_equal(f0, 12.0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: MountingConfig(inplane_deg=200.0),
        lambda: MountingConfig(tilt_deg=-1.0),
        lambda: MountingConfig(tilt_deg=float("nan")),
        lambda: MountingConfig(wobble=12.0),
        lambda: SoftTissue(freq_hz=0.0),
        lambda: SoftTissue(damping_ratio=-0.1),
        lambda: SoftTissue(coupling=1.5),
        lambda: SoftTissue(spread_frac=2.0),
    ],
)
def test_bad_mounting_configs_raise(make):
    with pytest.raises(ValueError, match="must be"):
        make()


def test_random_mounting_rejects_a_bad_count():
    with pytest.raises(ValueError, match="non-negative integer"):
        random_mounting(-1, MountingConfig(), np.random.default_rng(0))
    assert random_mounting(0, MountingConfig(), np.random.default_rng(0)).shape == (0, 3, 3)
