"""The 23-segment skeleton: proportions, symmetry and forward kinematics (geometry, not shapes)."""

from __future__ import annotations

import numpy as np
import pytest

from anymo.body.kinematics import forward_kinematics
from anymo.body.skeleton import N_SEGMENTS, PARENTS, SEGMENT_INDEX, SEGMENTS, BodyShape, make_skeleton, segment_index
from anymo.geometry.rotations import quat_from_axis_angle, quat_rotate, random_quat

I = SEGMENT_INDEX  # noqa: E741
SHAPES = [BodyShape(), BodyShape(1.55, "female", 0.85), BodyShape(1.95, "male", 1.3)]


def _mirror(side: str) -> str:
    return side.replace("Left", "Right") if side.startswith("Left") else side.replace("Right", "Left")


@pytest.mark.parametrize("shape", SHAPES)
def test_segment_lengths_sum_to_plausible_fractions_of_height(shape: BodyShape) -> None:
    sk = make_skeleton(shape)
    h = shape.height_m
    rest = sk.rest_positions_m()
    head_top_z = rest[I["Head"], 2] + sk.length_m[I["Head"]]
    assert head_top_z == pytest.approx(h, rel=0.01)  # the head reaches the top of the body
    assert (head_top_z - rest[I["Pelvis"], 2]) / h == pytest.approx(0.47, abs=0.02)
    for side in ("Left", "Right"):
        leg = sk.length_m[I[side + "UpperLeg"]] + sk.length_m[I[side + "LowerLeg"]]
        arm = sum(sk.length_m[I[side + s]] for s in ("UpperArm", "ForeArm", "Hand"))
        assert leg / h == pytest.approx(0.49, abs=0.02)  # hip joint -> ankle joint
        assert arm / h == pytest.approx(0.43, abs=0.02)  # shoulder joint -> fingertip
        # the ankle is a few cm above the floor, the toes rest on it
        assert 0.03 * h < rest[I[side + "Foot"], 2] < 0.05 * h
        assert abs(rest[I[side + "Toe"], 2]) < 0.02 * h
        # hanging arm: fingertip at about 0.38 H (mid-thigh)
        fingertip_z = rest[I[side + "Hand"], 2] - sk.length_m[I[side + "Hand"]]
        assert fingertip_z / h == pytest.approx(0.377, abs=0.02)
    assert rest[I["Pelvis"], 2] / h == pytest.approx(0.53, abs=0.02)


@pytest.mark.parametrize("shape", SHAPES)
def test_axes_are_unit_and_distal_ends_meet_the_children(shape: BodyShape) -> None:
    sk = make_skeleton(shape)
    np.testing.assert_allclose(np.linalg.norm(sk.axis, axis=1), 1.0, atol=1e-12)
    assert np.all(sk.length_m > 0) and np.all(sk.radius_m > 0)
    # along a limb the child's joint is exactly the parent's distal end (rest pose: frames aligned)
    chains = [("UpperArm", "ForeArm"), ("ForeArm", "Hand"), ("UpperLeg", "LowerLeg"), ("LowerLeg", "Foot"), ("Foot", "Toe")]
    for side in ("Left", "Right"):
        for parent, child in chains:
            p, c = I[side + parent], I[side + child]
            np.testing.assert_allclose(sk.axis[p] * sk.length_m[p], sk.offset_m[c], atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_left_and_right_are_mirror_images(shape: BodyShape) -> None:
    sk = make_skeleton(shape)
    flip = np.array([1.0, -1.0, 1.0])
    rest = sk.rest_positions_m()
    for name in SEGMENTS:
        j = I[_mirror(name)]
        i = I[name]
        np.testing.assert_allclose(sk.offset_m[j], sk.offset_m[i] * flip, atol=1e-12)
        np.testing.assert_allclose(sk.axis[j], sk.axis[i] * flip, atol=1e-12)
        assert sk.length_m[j] == pytest.approx(sk.length_m[i])
        np.testing.assert_allclose(sk.radius_m[j], sk.radius_m[i])
        if name.startswith("Left"):
            assert rest[i, 1] > 0 > rest[j, 1]
        elif not name.startswith("Right"):
            assert rest[i, 1] == 0.0


def test_sizes_scale_with_height_and_girth_with_build() -> None:
    a, b = make_skeleton(BodyShape(1.5)), make_skeleton(BodyShape(2.0))
    np.testing.assert_allclose(b.offset_m, a.offset_m * 2.0 / 1.5, atol=1e-12)
    np.testing.assert_allclose(b.length_m, a.length_m * 2.0 / 1.5)
    np.testing.assert_allclose(b.radius_m, a.radius_m * 2.0 / 1.5)
    heavy = make_skeleton(BodyShape(1.5, build=1.3))
    np.testing.assert_allclose(heavy.radius_m, a.radius_m * 1.3)
    np.testing.assert_allclose(heavy.length_m, a.length_m)
    wide = make_skeleton(BodyShape(1.75, "male")).rest_positions_m()
    narrow = make_skeleton(BodyShape(1.75, "female")).rest_positions_m()
    assert wide[I["LeftUpperArm"], 1] > narrow[I["LeftUpperArm"], 1]  # broader shoulders
    assert wide[I["LeftUpperLeg"], 1] < narrow[I["LeftUpperLeg"], 1]  # narrower hips


def test_girths_are_anatomical() -> None:
    sk = make_skeleton()
    r = sk.radius_m  # (along y, across the other way)
    # palms face the thighs at rest: the hand is thin sideways and wide front-to-back
    assert r[I["LeftHand"], 0] < 0.6 * r[I["LeftHand"], 1]
    # the trunk is wider than deep; limbs taper from thigh to shank, upper arm to forearm
    assert r[I["T8"], 0] > r[I["T8"], 1] and r[I["Pelvis"], 0] > r[I["Pelvis"], 1]
    assert r[I["LeftUpperLeg"]].mean() > r[I["LeftLowerLeg"]].mean()
    assert r[I["LeftUpperArm"]].mean() > r[I["LeftForeArm"]].mean()
    # chest circumference (ellipse, Ramanujan) between 0.45 H and 0.7 H
    a, b = r[I["T8"]]
    circ = np.pi * (3 * (a + b) - np.sqrt((3 * a + b) * (a + 3 * b)))
    assert 0.45 < circ / 1.75 < 0.7


def test_invalid_shapes_and_segment_names_raise() -> None:
    for kwargs in ({"height_m": 0.3}, {"sex": "other"}, {"build": 3.0}):
        with pytest.raises(ValueError):
            BodyShape(**kwargs)
    with pytest.raises(ValueError, match="LeftForeArm"):
        segment_index("LeftFrearm")
    assert segment_index("Head") == I["Head"]


def test_fk_with_identity_rotations_reproduces_rest_positions() -> None:
    sk = make_skeleton(BodyShape(1.68, "female"))
    t = 3
    q = np.zeros((t, N_SEGMENTS, 4))
    q[..., 0] = 1.0
    root = sk.offset_m[0] + np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 0.0], [-0.5, 0.3, 0.1]])
    pos, quat = forward_kinematics(sk, root, q)
    for k in range(t):
        np.testing.assert_allclose(pos[k], sk.rest_positions_m() + (root[k] - sk.offset_m[0]), atol=1e-12)
    np.testing.assert_allclose(np.abs(quat[..., 0]), 1.0)


def _pose(rotations: dict[str, tuple[np.ndarray, float]]) -> np.ndarray:
    q = np.zeros((1, N_SEGMENTS, 4))
    q[..., 0] = 1.0
    for name, (axis, angle) in rotations.items():
        q[0, I[name]] = quat_from_axis_angle(axis, np.deg2rad(angle))
    return q


def test_knee_flexion_puts_the_foot_behind_the_knee() -> None:
    sk = make_skeleton()
    y = np.array([0.0, 1.0, 0.0])
    root = sk.offset_m[:1]
    pos, quat = forward_kinematics(sk, root, _pose({"LeftLowerLeg": (y, 90.0)}))
    knee, ankle = pos[0, I["LeftLowerLeg"]], pos[0, I["LeftFoot"]]
    shank = sk.length_m[I["LeftLowerLeg"]]
    # 90 deg of flexion: the shank is horizontal, pointing backward, the ankle at knee height
    np.testing.assert_allclose(ankle, knee + [-shank, 0.0, 0.0], atol=1e-12)
    # the foot then points down (sole facing backward), toes below the ankle
    toe = pos[0, I["LeftToe"]]
    assert toe[2] < ankle[2] - 0.5 * sk.length_m[I["LeftFoot"]]
    # the other leg is untouched
    np.testing.assert_allclose(pos[0, I["RightFoot"]], sk.rest_positions_m()[I["RightFoot"]], atol=1e-12)
    # hip flexion by 90 deg (about -y) lifts the thigh forward: knee in front of the hip at hip height
    pos, _ = forward_kinematics(sk, root, _pose({"RightUpperLeg": (-y, 90.0)}))
    hip, knee = pos[0, I["RightUpperLeg"]], pos[0, I["RightLowerLeg"]]
    np.testing.assert_allclose(knee, hip + [sk.length_m[I["RightUpperLeg"]], 0.0, 0.0], atol=1e-12)


def test_elbow_flexion_brings_the_hand_forward() -> None:
    sk = make_skeleton()
    pos, _ = forward_kinematics(sk, sk.offset_m[:1], _pose({"RightForeArm": (np.array([0.0, -1.0, 0.0]), 90.0)}))
    elbow, wrist = pos[0, I["RightForeArm"]], pos[0, I["RightHand"]]
    np.testing.assert_allclose(wrist, elbow + [sk.length_m[I["RightForeArm"]], 0.0, 0.0], atol=1e-12)


def test_fk_preserves_bone_lengths_for_random_poses() -> None:
    sk = make_skeleton(BodyShape(1.9, "male", 1.1))
    rng = np.random.default_rng(0)
    q = random_quat(rng, (5, N_SEGMENTS))
    pos, quat = forward_kinematics(sk, rng.normal(size=(5, 3)), q)
    for i, p in enumerate(PARENTS):
        if p >= 0:
            np.testing.assert_allclose(np.linalg.norm(pos[:, i] - pos[:, p], axis=-1), np.linalg.norm(sk.offset_m[i]), atol=1e-12)
            np.testing.assert_allclose(pos[:, i], pos[:, p] + quat_rotate(quat[:, p], sk.offset_m[i]), atol=1e-12)
