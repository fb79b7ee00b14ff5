"""Acclaim ASF/AMC reading: the rotation conventions on a hand-made skeleton, errors, and the
retargeted CMU and HDM05 clips (scale, up axis, feet on the floor)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from anymo.body.skeleton import SEGMENT_INDEX as I
from anymo.body.skeleton import BodyShape
from anymo.data.datasets import default_data_dir  # the one data-folder rule (tests/conftest.py)
from anymo.geometry.rotations import quat_rotate
from anymo.motion.asf_amc import (
    asf_amc_clip,
    find_asf_for,
    load_asf_amc,
    parse_asf,
    read_amc,
)
from anymo.motion.files import load_motion_file, load_motions

REPO = Path(__file__).resolve().parents[2]
MOCAP = default_data_dir() / "mocap"

# A root with two legs and one arm bone: y up, the body facing +z, +x its left (as CMU).
_ASF = """# hand-made
:version 1.10
:name TEST
:units
  mass 1.0
  length 0.45
  angle deg
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 7
     name lhipjoint
     direction 1 0 0
     length 1
     axis 0 0 0  XYZ
  end
  begin
     id 8
     name rhipjoint
     direction -1 0 0
     length 1
     axis 0 0 0  XYZ
  end
  begin
     id 9
     name lfoot
     direction 0 0 1
     length 2
     axis 0 0 0  XYZ
  end
  begin
     id 10
     name rfoot
     direction 0 0 1
     length 2
     axis 0 0 0  XYZ
  end
  begin
     id 1
     name lfemur
     direction 0 -1 0
     length 8
     axis 0 0 0  XYZ
    dof rx ry rz
  end
  begin
     id 2
     name ltibia
     direction 0 -1 0
     length 8
     axis 0 0 0  XYZ
    dof rx
  end
  begin
     id 3
     name rfemur
     direction 0 -1 0
     length 8
     axis 0 0 0  XYZ
    dof rx ry rz
  end
  begin
     id 4
     name rtibia
     direction 0 -1 0
     length 8
     axis 0 0 0  XYZ
    dof rx
  end
  begin
     id 5
     name larm
     direction 1 0 0
     length 5
     axis 0 0 90  XYZ
    dof rx
  end
  begin
     id 6
     name lhand
     direction 1 0 0
     length 2
     axis 0 0 0  XYZ
  end
:hierarchy
  begin
    root lhipjoint rhipjoint larm
    lhipjoint lfemur
    rhipjoint rfemur
    lfemur ltibia
    rfemur rtibia
    ltibia lfoot
    rtibia rfoot
    larm lhand
  end
"""


def _amc(frames: list[dict[str, list[float]]]) -> str:
    lines = [":FULLY-SPECIFIED", ":DEGREES"]
    for i, f in enumerate(frames, 1):
        lines.append(str(i))
        lines += [f"{k} {' '.join(str(v) for v in vals)}" for k, vals in f.items()]
    return "\n".join(lines) + "\n"


def _positions(clip, frame: int) -> dict[str, np.ndarray]:
    """World joint positions (file units) of one frame by forward kinematics of the BvhClip."""
    g = clip.world_quats()[frame]
    pos: dict[int, np.ndarray] = {}
    for j, p in enumerate(clip.parents):
        pos[j] = clip.root_translation()[frame] if p < 0 else pos[p] + quat_rotate(g[p], clip.offsets[j])
    return {clip.names[j]: v for j, v in pos.items()}


def test_bone_rotation_is_about_the_bone_axis_given_in_world_coordinates(tmp_path: Path) -> None:
    asf = parse_asf(_ASF, "t.asf")
    assert asf.unit_m == pytest.approx(0.0254 / 0.45)  # a CMU/HDM05 unit is 0.0564 m
    (tmp_path / "t.amc").write_text(_amc([{"root": [0, 10, 0, 0, 0, 0], "larm": [0.0]}, {"root": [0, 10, 0, 0, 0, 0], "larm": [90.0]}]))
    clip = asf_amc_clip(asf, read_amc(tmp_path / "t.amc", asf), 120.0)
    # larm's axis is turned 90 deg about z: its local x is the world y axis. rx = 90 therefore turns the
    # bone (pointing +x) about world +y, to -z (the mistaken C^-1 M C would give +z).
    p0, p1 = _positions(clip, 0), _positions(clip, 1)
    np.testing.assert_allclose(p0["lhand"] - p0["larm"], [5, 0, 0], atol=1e-9)
    np.testing.assert_allclose(p1["lhand"] - p1["larm"], [0, 0, -5], atol=1e-9)
    # the root's children start at the root; a bone starts at its parent's end
    np.testing.assert_allclose(p1["lfemur"] - p1["root"], [1, 0, 0], atol=1e-9)
    np.testing.assert_allclose(p1["ltibia"] - p1["root"], [1, -8, 0], atol=1e-9)


def test_root_and_joint_rotation_orders_compose_x_then_y_then_z(tmp_path: Path) -> None:
    asf = parse_asf(_ASF, "t.asf")
    (tmp_path / "t.amc").write_text(_amc([{"root": [0, 16, 0, 90, 90, 0], "lfemur": [0, 0, 0], "ltibia": [0]}]))
    clip = asf_amc_clip(asf, read_amc(tmp_path / "t.amc", asf), 120.0)
    # "XYZ": R = Rz(0) Ry(90) Rx(90). The femur (pointing -y) goes by Rx(90) to -z, then by Ry(90) to -x;
    # the other order (Rx Ry) would put it at -z
    p = _positions(clip, 0)
    np.testing.assert_allclose(p["ltibia"] - p["lfemur"], [-8, 0, 0], atol=1e-9)


def test_parse_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no :hierarchy"):
        parse_asf(_ASF.split(":hierarchy")[0], "x.asf")
    with pytest.raises(ValueError, match="does not define"):
        parse_asf(_ASF.replace("larm lhand", "larm lpalm"), "x.asf")
    asf = parse_asf(_ASF, "t.asf")
    (tmp_path / "bad.amc").write_text(_amc([{"root": [0, 10, 0, 0, 0, 0], "lnope": [1.0]}]))
    with pytest.raises(ValueError, match="not in the skeleton"):
        read_amc(tmp_path / "bad.amc", asf)
    (tmp_path / "count.amc").write_text(_amc([{"root": [0, 10, 0, 0, 0, 0], "ltibia": [1.0, 2.0]}]))
    with pytest.raises(ValueError, match="has 2 values.*1 dofs"):
        read_amc(tmp_path / "count.amc", asf)
    with pytest.raises(ValueError, match=r"skeleton \(.asf\) without motion"):
        (tmp_path / "s.asf").write_text(_ASF)
        load_motion_file(tmp_path / "s.asf")


def test_amc_finds_its_skeleton_and_loads_through_load_motion_file(tmp_path: Path) -> None:
    (tmp_path / "asf").mkdir()
    (tmp_path / "amc").mkdir()
    (tmp_path / "asf" / "subject_16.asf").write_text(_ASF)
    (tmp_path / "asf" / "subject_61.asf").write_text(_ASF)
    n = 240
    t = np.arange(n) / 120.0
    frames = [{"root": [0, 16, 0.2 * k, 0, 0, 0], "lfemur": [30 * np.sin(2 * np.pi * t[k]), 0, 0], "ltibia": [20.0],
               "rfemur": [-30 * np.sin(2 * np.pi * t[k]), 0, 0], "rtibia": [20.0]} for k in range(n)]  # fmt: skip
    (tmp_path / "amc" / "cmu_16_01.amc").write_text(_amc(frames))
    assert find_asf_for(tmp_path / "amc" / "cmu_16_01.amc").name == "subject_16.asf"
    m = load_motion_file(tmp_path / "amc" / "cmu_16_01.amc", rate_hz=60.0, shape=BodyShape(height_m=1.8))
    assert m.source == "amc:cmu_16_01.amc" and abs(m.duration_s - (n - 1) / 120.0) < 1 / 60
    # the root moves +z in the file = forward = our +x, 0.2 units per frame = 0.0113 m x 120 Hz, scaled by legs
    speed = (m.pos_m[-1, 0, 0] - m.pos_m[0, 0, 0]) / m.duration_s
    assert speed == pytest.approx(0.2 * 0.0254 / 0.45 * 120 * ((0.530 - 0.039) * 1.8) / (16 * 0.0254 / 0.45), rel=0.02)
    motions = load_motions(tmp_path)
    assert list(motions) == ["amc/cmu_16_01.amc"]
    (tmp_path / "amc" / "other_7.amc").write_text(_amc(frames[:3]))
    with pytest.raises(ValueError, match="cannot tell which skeleton"):
        find_asf_for(tmp_path / "amc" / "other_7.amc")


# ---- the real CMU and HDM05 skeletons -----------------------------------------------------------

# (clip, rig) - a sample of every rig of the shared set, standing/walking clips
RIG_SAMPLE = [
    ("cmu/bvh/cmu_02_01.bvh", "CMU BVH (cgspeed, Hips)"),
    ("cmu/bvh/cmu_07_01.bvh", "CMU BVH (cgspeed, Hips)"),
    ("cmu/bvh/cmu_12_01.bvh", "CMU BVH (DAZ-style, hip)"),
    ("cmu/bvh/cmu_13_41.bvh", "CMU BVH (DAZ-style, hip)"),
    ("cmu/amc/cmu_16_15.amc", "CMU ASF/AMC"),
    ("cmu/amc/cmu_10_04.amc", "CMU ASF/AMC"),
    ("hdm05/amc/hdm05_bd_squat1Reps_001.amc", "HDM05 ASF/AMC"),
    ("hdm05/amc/hdm05_mm_grabHighR_017.amc", "HDM05 ASF/AMC"),
]


def _load(rel: str, report: dict) -> object:
    p = MOCAP / rel
    if not p.exists():
        pytest.skip(f"real data absent: {p} (set ANYMO_DATA to the shared data folder)")
    if p.suffix == ".amc":
        return load_asf_amc(p, shape=BodyShape(height_m=1.75), rate_hz=120.0, report=report)
    return load_motion_file(p, shape=BodyShape(height_m=1.75), rate_hz=120.0, report=report)


@pytest.mark.needs_data
@pytest.mark.parametrize(("rel", "rig"), RIG_SAMPLE)
def test_real_rigs_have_human_scale_up_axis_and_feet_on_the_floor(rel: str, rig: str) -> None:
    rep: dict = {}
    m = _load(rel, rep)
    # scale: the source body's standing height (from its legs) and its rest skeleton are human
    assert 1.4 <= rep["standing_height_m"] <= 2.1, rig
    assert 0.8 <= rep["skeleton_height_m"] / rep["standing_height_m"] <= 1.0, rig
    p = m.pos_m
    # up axis: the head is above the pelvis, the pelvis above the feet, through the whole clip
    assert np.all(p[:, I["Head"], 2] > p[:, I["Pelvis"], 2] + 0.2), rig
    assert np.all(p[:, I["Pelvis"], 2] > np.maximum(p[:, I["LeftFoot"], 2], p[:, I["RightFoot"], 2]) + 0.2), rig
    # foot contact: the ball of the lower foot (ours is 1.4 cm up at rest) touches the floor - within the
    # few cm that differing foot proportions (ankle height, foot length) of the two skeletons allow -
    # and the feet never sink deep below it
    toe = np.minimum(p[:, I["LeftToe"], 2], p[:, I["RightToe"], 2])
    assert -0.04 <= np.percentile(toe, 5) <= 0.06, (rig, np.percentile(toe, 5))
    assert toe.min() > -0.08, rig


@pytest.mark.needs_data
def test_every_indexed_amc_finds_the_skeleton_the_index_names() -> None:
    import csv

    if not (MOCAP / "index.csv").exists():
        pytest.skip(f"real data absent: {MOCAP}/index.csv")
    with (MOCAP / "index.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["format"] == "amc"]
    assert len(rows) == 373
    for r in rows:  # e.g. cmu_16_13 is subject 16's trial 13, not subject 13's
        assert find_asf_for(MOCAP / r["file"]) == MOCAP / r["skeleton"], r["id"]


@pytest.mark.needs_data
def test_hdm05_clips_do_what_their_class_says_with_the_side_it_names() -> None:
    # left/right and up through the whole ASF/AMC path, checked against the words of the classes
    def motion(name: str):
        rep: dict = {}
        return _load(f"hdm05/amc/{name}.amc", rep).pos_m

    p = motion("hdm05_bd_elbowToKnee1RepsLelbowStart_001")
    left_elbow_right_knee = np.linalg.norm(p[:, I["LeftForeArm"]] - p[:, I["RightLowerLeg"]], axis=1)
    right_elbow_left_knee = np.linalg.norm(p[:, I["RightForeArm"]] - p[:, I["LeftLowerLeg"]], axis=1)
    assert left_elbow_right_knee.min() < 0.25  # "left elbow first": the left elbow meets the right knee
    if right_elbow_left_knee.min() < 0.25:
        assert left_elbow_right_knee.argmin() < right_elbow_left_knee.argmin()
    p = motion("hdm05_mm_kickLFront1Reps_019")  # the left foot kicks up, the right stays down
    assert p[:, I["LeftFoot"], 2].max() > 0.8 and p[:, I["RightFoot"], 2].max() < 0.4
    p = motion("hdm05_mm_grabHighR_017")  # the right hand reaches above the head, the left does not
    assert p[:, I["RightHand"], 2].max() > p[:, I["Head"], 2].max() > p[:, I["LeftHand"], 2].max()
    p = motion("hdm05_mm_depositFloorR_019")  # the right hand goes down near the floor
    assert p[:, I["RightHand"], 2].min() < 0.25 and p[:, I["RightHand"], 2].min() < p[:, I["LeftHand"], 2].min()
