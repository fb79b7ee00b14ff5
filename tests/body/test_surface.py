"""Body surface and candidate placements: frames, on-surface positions, stable ids, density, FK."""

from __future__ import annotations

import json

import numpy as np
import pytest

from anymo.body.kinematics import forward_kinematics
from anymo.body.named_placements import placement_table_json
from anymo.body.skeleton import N_SEGMENTS, SEGMENT_INDEX, SEGMENTS, BodyShape, make_skeleton
from anymo.body.surface import (
    N_PLACEMENTS,
    SPECS,
    PlacementTable,
    lattice_digest,
    placement_table_from_json,
    placement_world_poses,
    reference_placements,
    surface_distance_m,
    surface_implicit,
    surface_placements,
    surface_points,
)
from anymo.geometry.rotations import quat_rotate, quat_to_matrix, random_quat

I = SEGMENT_INDEX  # noqa: E741
SHAPES = [BodyShape(), BodyShape(1.55, "female", 0.85), BodyShape(1.95, "male", 1.3), BodyShape(1.2, "neutral", 1.0)]
# The lattice is frozen: placement ids are written into datasets. If this fails, ids moved: bump
# surface.LATTICE_VERSION, update the digest, and regenerate any data that refers to ids.
FROZEN_DIGEST = "77a34081730037b9"


def _table(shape: BodyShape) -> tuple[PlacementTable, object]:
    sk = make_skeleton(shape)
    return surface_placements(sk), sk


def _nn_distance_m(p: np.ndarray) -> np.ndarray:
    d = np.linalg.norm(p[:, None] - p[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    return d.min(axis=1)


def test_at_least_2000_placements_with_unique_dense_ids() -> None:
    t = reference_placements()
    assert len(t) == N_PLACEMENTS >= 2000
    assert t.placement_id.dtype == np.int32 and t.segment_id.dtype == np.int16
    np.testing.assert_array_equal(t.placement_id, np.arange(len(t)))
    assert set(np.unique(t.segment_id)) == set(range(N_SEGMENTS))  # every segment has placements
    assert np.all((t.u[:, 0] >= 0) & (t.u[:, 0] <= 1) & (t.u[:, 1] >= 0) & (t.u[:, 1] < 1))


@pytest.mark.parametrize("shape", SHAPES)
def test_frames_are_orthonormal_right_handed_and_named_columns(shape: BodyShape) -> None:
    t, _ = _table(shape)
    f = t.frame
    np.testing.assert_allclose(np.einsum("pji,pjk->pik", f, f), np.broadcast_to(np.eye(3), f.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(f), 1.0, atol=1e-12)
    # columns (x_s, y_s, z_s) = (tangent, binormal, normal); y = z x x
    np.testing.assert_array_equal(f[:, :, 0], t.tangent)
    np.testing.assert_array_equal(f[:, :, 1], t.binormal)
    np.testing.assert_array_equal(f[:, :, 2], t.normal)
    np.testing.assert_allclose(np.cross(t.normal, t.tangent), t.binormal, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_positions_lie_on_the_surface_and_normals_are_its_outward_gradient(shape: BodyShape) -> None:
    t, sk = _table(shape)
    for seg in range(N_SEGMENTS):
        m = t.segment_id == seg
        p, n = t.position_m[m], t.normal[m]
        assert np.max(np.abs(surface_distance_m(sk, seg, p))) < 1e-9
        _, grad = surface_implicit(sk, seg, p)
        np.testing.assert_allclose(n, grad / np.linalg.norm(grad, axis=1, keepdims=True), atol=1e-12)
        # outward: 1 mm out along the normal is outside (F > 0), 1 mm in is inside
        assert np.all(surface_implicit(sk, seg, p + 1e-3 * n)[0] > 0)
        assert np.all(surface_implicit(sk, seg, p - 1e-3 * n)[0] < 0)
        # and away from the inside: the bone axis (tubes) or the centroid (ellipsoids, convex)
        if SPECS[seg].kind == "tube":
            a = sk.axis[seg]
            radial = p - (p @ a)[:, None] * a
        else:
            radial = p - p.mean(axis=0)
        assert np.all(np.sum(n * radial, axis=1) > 0), SEGMENTS[seg]


@pytest.mark.parametrize("shape", SHAPES[:2])
def test_tangent_is_the_limb_axis_projected_on_the_skin(shape: BodyShape) -> None:
    t, sk = _table(shape)
    for seg in range(N_SEGMENTS):
        m = t.segment_id == seg
        name = SEGMENTS[seg]
        d = np.array([1.0, 0.0, 0.0]) if name.endswith(("Foot", "Toe")) else sk.axis[seg]  # feet: forward
        n = t.normal[m]
        proj = d - (n @ d)[:, None] * n
        np.testing.assert_allclose(t.tangent[m], proj / np.linalg.norm(proj, axis=1, keepdims=True), atol=1e-12)
        # toward the distal end / up / forward (around an ellipsoid's poles only just)
        assert np.all(t.tangent[m] @ d > (0.15 if SPECS[seg].kind == "tube" else 0.0)), name
        assert np.min(np.linalg.norm(proj, axis=1)) > 0.05, name  # never degenerate
    for name, world_dir in (("Head", [0, 0, 1]), ("T8", [0, 0, 1]), ("LeftForeArm", [0, 0, -1]), ("RightFoot", [1, 0, 0])):
        assert np.median(t.tangent[t.segment_id == I[name]] @ world_dir) > 0.9


def test_ids_are_stable_across_body_sizes_and_sexes() -> None:
    ref = reference_placements()
    for shape in SHAPES[1:]:
        t, _ = _table(shape)
        np.testing.assert_array_equal(t.placement_id, ref.placement_id)
        np.testing.assert_array_equal(t.segment_id, ref.segment_id)
        np.testing.assert_array_equal(t.u, ref.u)  # same normalised coordinate for every id
    # positions scale with height at equal build; frames do not change
    a, _ = _table(BodyShape(1.5, "male"))
    b, _ = _table(BodyShape(2.0, "male"))
    np.testing.assert_allclose(b.position_m, a.position_m * 2.0 / 1.5, atol=1e-12)
    np.testing.assert_allclose(b.frame, a.frame, atol=1e-12)
    # build changes girth only: the position along a limb's axis stays, the distance from it grows
    slim, _ = _table(BodyShape(1.75, build=0.85))
    heavy, _ = _table(BodyShape(1.75, build=1.3))
    sk = make_skeleton()
    for name in ("LeftForeArm", "RightUpperLeg", "LeftLowerLeg"):
        m = slim.segment_id == I[name]
        a_ = sk.axis[I[name]]
        np.testing.assert_allclose(slim.position_m[m] @ a_, heavy.position_m[m] @ a_, atol=1e-12)
        r_slim = np.linalg.norm(np.cross(slim.position_m[m], a_), axis=1)
        r_heavy = np.linalg.norm(np.cross(heavy.position_m[m], a_), axis=1)
        np.testing.assert_allclose(r_heavy / r_slim, 1.3 / 0.85, rtol=1e-9)


def test_lattice_is_frozen() -> None:
    assert lattice_digest() == FROZEN_DIGEST


def test_left_and_right_placements_are_mirror_pairs() -> None:
    t = reference_placements()
    flip = np.array([1.0, -1.0, 1.0])
    for name in SEGMENTS:
        if not name.startswith("Left"):
            continue
        left = t.position_m[t.segment_id == I[name]]
        right = t.position_m[t.segment_id == I["Right" + name.removeprefix("Left")]]
        np.testing.assert_allclose(right, left * flip, atol=1e-12)  # the k-th left id mirrors the k-th right id


def test_density_is_fairly_uniform_and_without_holes() -> None:
    t = reference_placements()
    sk = make_skeleton()
    nn_cm = _nn_distance_m(sk.rest_positions_m()[t.segment_id] + t.position_m) * 100
    assert 1.0 < np.median(nn_cm) < 4.0  # ~2-3 cm between neighbouring candidates
    medians = []
    for seg in range(N_SEGMENTS):
        m = t.segment_id == seg
        d = _nn_distance_m(t.position_m[m]) * 100
        if m.sum() >= 50:  # on a larger patch the spacing is near-constant (hexagonal rows)
            assert np.percentile(d, 90) / np.percentile(d, 10) < 1.35, SEGMENTS[seg]
            assert d.max() / d.min() < 1.8, SEGMENTS[seg]
        # density weights differ by segment (denser where devices are worn), by at most 2x in spacing
        medians.append(np.median(d) * np.sqrt(SPECS[seg].density))
    assert max(medians) / min(medians) < 1.6
    # no holes: random surface points are close to a candidate on the same segment
    rng = np.random.default_rng(1)
    for seg in (I["T8"], I["LeftForeArm"], I["RightUpperLeg"], I["Head"], I["LeftFoot"]):
        m = t.segment_id == seg
        u = np.column_stack([rng.uniform(0.02, 0.98, 400), rng.random(400)])
        q, _ = surface_points(sk, np.full(400, seg), u)
        gap_cm = np.linalg.norm(q[:, None] - t.position_m[m][None], axis=-1).min(axis=1) * 100
        assert np.percentile(gap_cm, 99) < 3.5, SEGMENTS[seg]


def test_rest_pose_surface_is_anatomical() -> None:
    for shape in SHAPES:
        t, sk = _table(shape)
        h = shape.height_m
        w = sk.rest_positions_m()[t.segment_id] + t.position_m
        seg = t.segment_id
        feet = np.isin(seg, [I[n] for n in ("LeftFoot", "RightFoot", "LeftToe", "RightToe")])
        assert abs(w[feet, 2].min()) < 0.01 * h  # soles on the floor
        assert w[:, 2].min() > -0.01 * h
        assert w[seg == I["Head"], 2].max() == pytest.approx(h, abs=0.01 * h)  # top of the head
        trunk = np.isin(seg, [I[n] for n in ("Pelvis", "L5", "L3", "T12", "T8")])
        assert 0.08 * h * shape.build < w[trunk, 1].max() < 0.12 * h * shape.build  # half the trunk width
        for side, s in (("Left", 1), ("Right", -1)):
            hand = w[seg == I[side + "Hand"]]
            assert hand[:, 2].min() / h == pytest.approx(0.377, abs=0.02)  # fingertips
            if shape.build <= 1.0:  # (heavier thighs press together across the midline)
                assert np.all(s * w[seg == I[side + "UpperLeg"], 1] > -0.01 * h)  # the thigh stays on its side


def test_placements_follow_the_segments_under_forward_kinematics() -> None:
    sk = make_skeleton(BodyShape(1.8, "male"))
    t = surface_placements(sk)
    rng = np.random.default_rng(7)
    n_t = 4
    q = random_quat(rng, (n_t, N_SEGMENTS))
    root = rng.normal(size=(n_t, 3))
    seg_pos, seg_quat = forward_kinematics(sk, root, q)
    pos, rot = placement_world_poses(t, seg_pos, seg_quat)
    for k in rng.choice(len(t), 50, replace=False):
        s = t.segment_id[k]
        expect = seg_pos[:, s] + quat_rotate(seg_quat[:, s], t.position_m[k])
        np.testing.assert_allclose(pos[:, k], expect, atol=1e-12)
        np.testing.assert_allclose(rot[:, k], quat_to_matrix(seg_quat[:, s]) @ t.frame[k], atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-12)
    # rigid attachment: distances between placements on one segment do not change with the pose
    m = np.flatnonzero(t.segment_id == I["LeftForeArm"])[:20]
    d0 = np.linalg.norm(t.position_m[m][:, None] - t.position_m[m][None], axis=-1)
    for k in range(n_t):
        dk = np.linalg.norm(pos[k, m][:, None] - pos[k, m][None], axis=-1)
        np.testing.assert_allclose(dk, d0, atol=1e-12)
    # in the rest pose (identity rotations) the sensor axes are the segment-frame axes
    q_rest = np.zeros((1, N_SEGMENTS, 4))
    q_rest[..., 0] = 1.0
    p0, r0 = placement_world_poses(t, *forward_kinematics(sk, sk.offset_m[:1], q_rest))
    np.testing.assert_allclose(p0[0], sk.rest_positions_m()[t.segment_id] + t.position_m, atol=1e-12)
    np.testing.assert_allclose(r0[0], t.frame, atol=1e-12)


def test_cache_returns_the_same_read_only_table() -> None:
    sk = make_skeleton(BodyShape(1.62, "female"))
    a = surface_placements(sk)
    assert surface_placements(make_skeleton(BodyShape(1.62, "female"))) is a
    with pytest.raises(ValueError):
        a.position_m[0, 0] = 1.0
    sub = a.subset([5, 3])
    np.testing.assert_array_equal(sub.placement_id, [5, 3])
    np.testing.assert_array_equal(sub.position_m, a.position_m[[5, 3]])
    with pytest.raises(ValueError, match="not in this table"):
        a.index_of([N_PLACEMENTS])


def test_surface_points_reproduce_the_table() -> None:
    sk = make_skeleton(BodyShape(1.62, "female", 1.1))
    t = surface_placements(sk)
    p, f = surface_points(sk, t.segment_id, t.u)
    np.testing.assert_allclose(p, t.position_m, atol=1e-15)
    np.testing.assert_allclose(f, t.frame, atol=1e-15)


def test_json_round_trip(tmp_path) -> None:
    t = reference_placements()
    doc = placement_table_json(t)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(doc))
    back = placement_table_from_json(json.loads(path.read_text()))
    np.testing.assert_array_equal(back.placement_id, t.placement_id)
    np.testing.assert_array_equal(back.segment_id, t.segment_id)
    np.testing.assert_allclose(back.position_m, t.position_m, atol=1e-9)
    np.testing.assert_allclose(back.frame, t.frame, atol=1e-9)
    assert doc["placements"][0]["segment"] in SEGMENTS
    assert doc["named"]["left_wrist"]["segment"] == "LeftForeArm"
    assert doc["lattice_digest"] == lattice_digest()
