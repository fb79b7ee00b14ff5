"""Named placements map to the right anatomical surface regions on every body."""

from __future__ import annotations

import numpy as np
import pytest

from anymo.body.named_placements import (
    NAMED_REGIONS,
    canonical_placement,
    placement_ids_for,
    region_mask,
)
from anymo.body.placement_names import NAMED_PLACEMENTS
from anymo.body.skeleton import SEGMENT_INDEX, SEGMENTS, BodyShape, make_skeleton
from anymo.body.surface import reference_placements, surface_placements

I = SEGMENT_INDEX  # noqa: E741
SHAPES = [BodyShape(), BodyShape(1.55, "female", 0.85), BodyShape(1.95, "male", 1.3)]


def _rest(shape: BodyShape, name: str) -> dict[str, np.ndarray]:
    """World positions/normals/tangents (rest pose: segment frames = world) of a named region."""
    sk = make_skeleton(shape)
    t = surface_placements(sk)
    idx = t.index_of(placement_ids_for(name, t))
    return {
        "pos": sk.rest_positions_m()[t.segment_id[idx]] + t.position_m[idx],
        "n": t.normal[idx],
        "t": t.tangent[idx],
        "seg": t.segment_id[idx],
        "joint": sk.rest_positions_m(),
        "sk": sk,
    }


def test_every_name_has_a_non_empty_region_and_a_canonical_id_in_it() -> None:
    assert set(NAMED_REGIONS) == set(NAMED_PLACEMENTS)
    t = reference_placements()
    for name, spec in NAMED_REGIONS.items():
        ids = placement_ids_for(name)
        assert ids.size >= 8, name
        assert np.all(np.diff(ids) > 0)
        canon = canonical_placement(name)
        assert canon in ids
        assert SEGMENTS[t.segment_id[canon]] == spec.segment
        assert set(SEGMENTS[s] for s in t.segment_id[ids]) <= set(spec.segments)


def test_region_ids_do_not_depend_on_the_body() -> None:
    for shape in SHAPES[1:]:
        t = surface_placements(make_skeleton(shape))
        for name in NAMED_PLACEMENTS:
            np.testing.assert_array_equal(placement_ids_for(name, t), placement_ids_for(name))
    # a subset table keeps the ids it holds
    ref = reference_placements()
    sub = ref.subset(placement_ids_for("left_wrist")[::2])
    np.testing.assert_array_equal(placement_ids_for("left_wrist", sub), placement_ids_for("left_wrist")[::2])
    assert region_mask("chest", sub).sum() == 0


@pytest.mark.parametrize("shape", SHAPES)
def test_sides_are_right(shape: BodyShape) -> None:
    rest = make_skeleton(shape).rest_positions_m()
    for name in NAMED_PLACEMENTS:
        r = _rest(shape, name)
        if name.startswith("left_"):
            assert np.all(rest[r["seg"], 1] > 0) and np.all(r["pos"][:, 1] > 0), name
        elif name.startswith("right_"):
            assert np.all(rest[r["seg"], 1] < 0) and np.all(r["pos"][:, 1] < 0), name
        else:
            assert np.all(rest[r["seg"], 1] == 0), name  # trunk and head: midline segments


@pytest.mark.parametrize("shape", SHAPES)
def test_trunk_regions_face_the_right_way(shape: BodyShape) -> None:
    h = shape.height_m
    chest = _rest(shape, "chest")
    assert np.all(chest["n"][:, 0] > 0.8)  # forward
    assert np.all((chest["pos"][:, 2] > 0.70 * h) & (chest["pos"][:, 2] < 0.84 * h))
    for name in ("upper_back", "lower_back"):
        r = _rest(shape, name)
        assert np.all(r["n"][:, 0] < -0.8), name  # backward
    assert _rest(shape, "upper_back")["pos"][:, 2].min() > _rest(shape, "lower_back")["pos"][:, 2].max()
    low = _rest(shape, "lower_back")["pos"][:, 2] / h
    assert low.min() > 0.53 and low.max() < 0.63  # sacrum to L3
    waist = _rest(shape, "waist")
    assert np.all(np.abs(waist["n"][:, 1]) > 0.8)  # side of the hip
    assert np.all(np.abs(waist["pos"][:, 2] / h - 0.56) < 0.03)  # belt height
    head = _rest(shape, "head")
    assert np.all(np.abs(head["n"][:, 1]) > 0.65)  # sides of the head, at the ears
    assert np.all(np.abs(head["pos"][:, 2] / h - 0.935) < 0.04)
    c = canonical_placement("head")
    assert reference_placements().normal[c, 1] > 0.9  # the left ear


@pytest.mark.parametrize("shape", SHAPES)
def test_wrists_are_dorsal_near_the_hand(shape: BodyShape) -> None:
    for side, s in (("left", 1.0), ("right", -1.0)):
        r = _rest(shape, f"{side}_wrist")
        seg = I[side.capitalize() + "ForeArm"]
        assert np.all(r["seg"] == seg)
        # N-pose: palms face the thighs, so the back of the hand/wrist faces laterally
        assert np.all(s * r["n"][:, 1] > 0.5)
        assert np.all(r["t"][:, 2] < -0.95)  # watch x axis along the forearm toward the hand
        wrist_z = r["joint"][I[side.capitalize() + "Hand"], 2]
        length = r["sk"].length_m[seg]
        assert np.all((r["pos"][:, 2] > wrist_z) & (r["pos"][:, 2] < wrist_z + 0.26 * length))
        fa = _rest(shape, f"{side}_forearm")
        assert np.all(s * fa["n"][:, 1] > 0.4) and fa["pos"][:, 2].min() > r["pos"][:, 2].max() - 0.02
        ua = _rest(shape, f"{side}_upper_arm")
        assert np.all(s * ua["n"][:, 1] > 0.4) and np.all(ua["seg"] == I[side.capitalize() + "UpperArm"])
        # the palm side faces the other way: no candidate of the region points medially
        assert not np.any(s * r["n"][:, 1] < 0)


@pytest.mark.parametrize("shape", SHAPES)
def test_leg_regions(shape: BodyShape) -> None:
    h = shape.height_m
    for side, s in (("left", 1.0), ("right", -1.0)):
        cap = side.capitalize()
        joints = make_skeleton(shape).rest_positions_m()
        hip_z, knee_z, ankle_z = joints[I[cap + "UpperLeg"], 2], joints[I[cap + "LowerLeg"], 2], joints[I[cap + "Foot"], 2]
        pocket = _rest(shape, f"{side}_front_pocket")
        assert np.all(pocket["seg"] == I[cap + "UpperLeg"])
        assert np.all(pocket["n"][:, 0] > 0.5)  # anterior thigh
        assert np.all(s * pocket["n"][:, 1] > -0.3)  # front to front-lateral, not the inner thigh
        assert np.all(pocket["pos"][:, 2] > hip_z - 0.45 * (hip_z - knee_z))  # upper part of the thigh
        assert np.all(pocket["pos"][:, 2] < hip_z)
        thigh = _rest(shape, f"{side}_thigh")
        assert np.all(thigh["n"][:, 0] + s * thigh["n"][:, 1] > 0.5)  # anterior to lateral
        assert np.all((thigh["pos"][:, 2] < hip_z) & (thigh["pos"][:, 2] > knee_z))
        shank = _rest(shape, f"{side}_shank")
        assert np.all((shank["pos"][:, 2] < knee_z) & (shank["pos"][:, 2] > ankle_z + 0.2 * (knee_z - ankle_z)))
        assert np.all(shank["n"][:, 0] > -0.45)  # shin or lateral calf, not the back of the calf
        ankle = _rest(shape, f"{side}_ankle")
        assert np.all((ankle["pos"][:, 2] > ankle_z) & (ankle["pos"][:, 2] < ankle_z + 0.08 * h))
        assert np.all(s * ankle["n"][:, 1] > 0.3)  # lateral malleolus side
        foot = _rest(shape, f"{side}_foot")
        assert np.all(foot["seg"] == I[cap + "Foot"])
        assert np.all(foot["n"][:, 2] > 0.6)  # top of the foot
        assert np.all(foot["t"][:, 0] > 0.7)  # sensor x forward
        assert np.all(foot["pos"][:, 0] > joints[I[cap + "Foot"], 0])  # in front of the ankle


def test_left_and_right_regions_are_mirror_images() -> None:
    t = reference_placements()
    sk = make_skeleton()
    w = sk.rest_positions_m()[t.segment_id] + t.position_m
    for name in NAMED_PLACEMENTS:
        if not name.startswith("left_"):
            continue
        left = w[placement_ids_for(name)]
        right = w[placement_ids_for("right_" + name.removeprefix("left_"))]
        np.testing.assert_allclose(right, left * [1.0, -1.0, 1.0], atol=1e-12)
        cl, cr = canonical_placement(name), canonical_placement("right_" + name.removeprefix("left_"))
        np.testing.assert_allclose(w[cr], w[cl] * [1.0, -1.0, 1.0], atol=1e-12)


def test_names_are_normalised_and_unknown_names_list_the_valid_ones() -> None:
    np.testing.assert_array_equal(placement_ids_for("Left Wrist"), placement_ids_for("left_wrist"))
    assert canonical_placement("right-front-pocket") == canonical_placement("right_front_pocket")
    for fn in (placement_ids_for, canonical_placement, region_mask):
        with pytest.raises(ValueError) as info:
            fn("left_elbow")
        msg = str(info.value)
        assert "left_elbow" in msg and all(n in msg for n in NAMED_PLACEMENTS)
    with pytest.raises(ValueError):
        placement_ids_for("unknown")  # "unknown" is a valid label for recordings, not a region


def test_canonical_id_is_the_candidate_nearest_the_typical_spot() -> None:
    from anymo.body.surface import normalised_coords, surface_points

    sk = make_skeleton()
    t = reference_placements()
    for name, spec in NAMED_REGIONS.items():
        seg, s, deg = spec.canonical
        target, _ = surface_points(sk, np.array([I[seg]]), normalised_coords(seg, s, deg))
        ids = placement_ids_for(name)
        d = np.linalg.norm(t.position_m[ids] - target[0], axis=1)
        c = canonical_placement(name)
        assert d[np.searchsorted(ids, c)] == pytest.approx(d[t.segment_id[ids] == I[seg]].min())
        assert d.min() < 0.03, name  # the lattice is dense enough to land within 3 cm
    with pytest.raises(ValueError, match="outside"):
        normalised_coords("LeftForeArm", 1.5, 0.0)
