"""BVH reading and retargeting onto the 23 segments, on hand-made files (no downloads)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from anymo.body.skeleton import SEGMENT_INDEX as I
from anymo.body.skeleton import SEGMENTS, BodyShape
from anymo.geometry.rotations import quat_conj, quat_from_axis_angle, quat_mul, quat_to_rotvec
from anymo.motion.bvh import bvh_to_motion, default_joint_map, read_bvh
from anymo.motion.files import load_motion_file

# These hand-made clips test the retargeting geometry with jumps no body makes (90 deg in 10 ms);
# the mocap cleaning (lead-in trim, flip removal, low-pass) is tested on its own below.
RAW = {"smooth_hz": None, "trim_lead_in": False, "fix_flips": False}

# --- a CMU-style full body in a T-pose, y up, facing +z (so +x is the body's left), centimetres ---
# (name, parent, offset_cm); End Sites are joints named "<parent>_End".
_CMU = [
    ("Hips", None, (0, 97, 0)),
    ("LHipJoint", "Hips", (0, 0, 0)), ("LeftUpLeg", "LHipJoint", (9, -5, 0)), ("LeftLeg", "LeftUpLeg", (0, -43, 0)),
    ("LeftFoot", "LeftLeg", (0, -42, 0)), ("LeftToeBase", "LeftFoot", (0, -6, 12)), ("LeftToeBase_End", "LeftToeBase", (0, 0, 5)),
    ("RHipJoint", "Hips", (0, 0, 0)), ("RightUpLeg", "RHipJoint", (-9, -5, 0)), ("RightLeg", "RightUpLeg", (0, -43, 0)),
    ("RightFoot", "RightLeg", (0, -42, 0)), ("RightToeBase", "RightFoot", (0, -6, 12)), ("RightToeBase_End", "RightToeBase", (0, 0, 5)),
    ("LowerBack", "Hips", (0, 0, 0)), ("Spine", "LowerBack", (0, 10, 0)), ("Spine1", "Spine", (0, 12, 0)),
    ("Neck", "Spine1", (0, 20, 0)), ("Neck1", "Neck", (0, 4, 0)), ("Head", "Neck1", (0, 4, 0)), ("Head_End", "Head", (0, 18, 0)),
    ("LeftShoulder", "Spine1", (2, 17, 0)), ("LeftArm", "LeftShoulder", (15, 0, 0)), ("LeftForeArm", "LeftArm", (30, 0, 0)),
    ("LeftHand", "LeftForeArm", (25, 0, 0)), ("LeftFingerBase", "LeftHand", (8, 0, 0)), ("LeftFingerBase_End", "LeftFingerBase", (4, 0, 0)),
    ("LThumb", "LeftHand", (3, 0, 3)), ("LThumb_End", "LThumb", (3, 0, 2)),
    ("RightShoulder", "Spine1", (-2, 17, 0)), ("RightArm", "RightShoulder", (-15, 0, 0)), ("RightForeArm", "RightArm", (-30, 0, 0)),
    ("RightHand", "RightForeArm", (-25, 0, 0)), ("RightFingerBase", "RightHand", (-8, 0, 0)), ("RightFingerBase_End", "RightFingerBase", (-4, 0, 0)),
]  # fmt: skip


def make_bvh(
    skeleton: list[tuple[str, str | None, tuple[float, float, float]]],
    rotations: dict[str, np.ndarray] | None = None,
    root_pos: np.ndarray | None = None,
    n_frames: int = 2,
    frame_time_s: float = 0.01,
    order: str = "ZXY",
    pos_order: str = "XYZ",
    unit: float = 1.0,
) -> str:
    """BVH text: ``rotations`` joint -> [F, 3, 3] local rotation matrices (others identity);
    ``root_pos`` [F, 3] in file units before ``unit`` scaling of all lengths."""
    rotations = rotations or {}
    joints = [s for s in skeleton if not s[0].endswith("_End")]
    kids: dict[str | None, list] = {}
    for s in skeleton:
        kids.setdefault(s[1], []).append(s)
    lines = ["HIERARCHY"]

    def emit(s: tuple, depth: int) -> None:
        name, parent, off = s
        pad = "  " * depth
        off_txt = " ".join(f"{v * unit:.6f}" for v in off)
        if name.endswith("_End"):
            lines.extend([f"{pad}End Site", f"{pad}{{", f"{pad}  OFFSET {off_txt}", f"{pad}}}"])
            return
        lines.append(f"{pad}{'ROOT' if parent is None else 'JOINT'} {name}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {off_txt}")
        ch = [f"{a}rotation" for a in order]
        if parent is None:
            ch = [f"{a}position" for a in pos_order] + ch
        lines.append(f"{pad}  CHANNELS {len(ch)} {' '.join(ch)}")
        for k in kids.get(name, []):
            emit(k, depth + 1)
        lines.append(f"{pad}}}")

    emit(skeleton[0], 0)
    if root_pos is None:
        root_pos = np.tile(np.asarray(skeleton[0][2], float), (n_frames, 1))
    lines += ["MOTION", f"Frames: {n_frames}", f"Frame Time: {frame_time_s}"]
    for f in range(n_frames):
        vals: list[float] = []
        for name, parent, _ in joints:
            if parent is None:
                vals += [root_pos[f, "XYZ".index(a)] * unit for a in pos_order]
            m = rotations.get(name)
            eul = Rotation.from_matrix(m[f]).as_euler(order, degrees=True) if m is not None else np.zeros(3)
            vals += list(eul)
        lines.append(" ".join(f"{v:.9f}" for v in vals))
    return "\n".join(lines) + "\n"


def _write(tmp_path: Path, text: str, name: str = "clip.bvh") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _rot(axis: str, deg: np.ndarray) -> np.ndarray:
    return Rotation.from_euler(axis, np.atleast_1d(np.asarray(deg, float))[:, None], degrees=True).as_matrix()


def _angle_deg(q1: np.ndarray, q2: np.ndarray) -> np.ndarray:
    return np.degrees(np.linalg.norm(quat_to_rotvec(quat_mul(quat_conj(q1), q2)), axis=-1))


def test_chain_rotating_at_a_constant_rate_gives_the_known_world_orientations(tmp_path: Path) -> None:
    chain = [("A", None, (0, 0, 0)), ("B", "A", (0, 1, 0)), ("C", "B", (0, 1, 0)), ("C_End", "C", (0, 1, 0))]
    t = np.arange(50) * 0.02
    w_b, w_c = 90.0, 45.0  # deg/s: B about its z, C about its x
    clip = read_bvh(
        _write(tmp_path, make_bvh(chain, {"B": _rot("z", w_b * t), "C": _rot("x", w_c * t)}, n_frames=50, frame_time_s=0.02))
    )
    assert clip.names == ["A", "B", "C"] and clip.parents == [-1, 0, 1] and clip.frame_time_s == 0.02
    g = clip.world_quats()
    expect_b = quat_from_axis_angle([0, 0, 1], np.radians(w_b * t))
    expect_c = quat_mul(expect_b, quat_from_axis_angle([1, 0, 0], np.radians(w_c * t)))
    assert _angle_deg(g[:, 1], expect_b).max() < 1e-5
    assert _angle_deg(g[:, 2], expect_c).max() < 1e-5
    np.testing.assert_allclose(clip.rest_positions()[2], [0, 2, 0])
    np.testing.assert_allclose(clip.end_sites[2], [0, 1, 0])


def _arms_down() -> dict[str, np.ndarray]:
    # T-pose arms lie along +-x (BVH); about the forward axis (+z) by -90 / +90 deg they hang down
    return {"LeftArm": _rot("z", [0.0, -90.0]), "RightArm": _rot("z", [0.0, 90.0])}


def test_t_pose_bvh_retargets_its_pose_and_reaches_our_n_pose_with_arms_down(tmp_path: Path) -> None:
    clip = read_bvh(_write(tmp_path, make_bvh(_CMU, _arms_down())))
    m = bvh_to_motion(clip, shape=BodyShape(height_m=1.75), rate_hz=100.0, **RAW)
    p = m.pos_m
    # frame 0 is the file's T-pose: arms straight out to the sides, level with the shoulders
    for side, s in (("Left", 1), ("Right", -1)):
        arm = p[0, I[side + "Hand"]] - p[0, I[side + "UpperArm"]]
        assert abs(arm[2]) < 0.01 and s * arm[1] > 0.4 and abs(arm[0]) < 0.01
    # last frame (arms rotated down) is our rest N-pose: every local rotation ~ identity
    last = m.quat_wxyz[-1]
    assert _angle_deg(last, np.array([1.0, 0, 0, 0])).max() < 0.5
    rest = m.skeleton.rest_positions_m()
    np.testing.assert_allclose(p[-1] - p[-1, 0], rest - rest[0], atol=0.005)
    # the hands hang at the sides, below the shoulders, near hip height
    for side in ("Left", "Right"):
        assert p[-1, I[side + "Hand"], 2] < p[-1, I[side + "UpperArm"], 2] - 0.25


def test_default_joint_map_covers_cmu_and_mixamo_names(tmp_path: Path) -> None:
    cmu = read_bvh(_write(tmp_path, make_bvh(_CMU)))
    jm = default_joint_map(cmu)
    assert jm["Hips"] == "Pelvis" and jm["LowerBack"] == "L5" and jm["Spine"] == "T12" and jm["Spine1"] == "T8"
    assert jm["LeftArm"] == "LeftUpperArm" and jm["LeftLeg"] == "LeftLowerLeg" and jm["RightToeBase"] == "RightToe"
    assert "LThumb" not in jm and "LHipJoint" not in jm and "Neck1" not in jm
    rename = {"LowerBack": "Spine", "Spine": "Spine1", "Spine1": "Spine2"}
    mix = [(f"mixamorig:{rename.get(n, n)}" if not n.endswith("_End") else n, p and f"mixamorig:{rename.get(p, p)}", o) for n, p, o in _CMU]
    mclip = read_bvh(_write(tmp_path, make_bvh(mix, {f"mixamorig:{k}": v for k, v in _arms_down().items()}), "mix.bvh"))
    mjm = default_joint_map(mclip)
    assert mjm["mixamorig:Spine"] == "L5" and mjm["mixamorig:Spine2"] == "T8" and mjm["mixamorig:LeftForeArm"] == "LeftForeArm"
    cm = bvh_to_motion(read_bvh(_write(tmp_path, make_bvh(_CMU, _arms_down()))), rate_hz=100.0, **RAW)
    mm = bvh_to_motion(mclip, rate_hz=100.0, **RAW)
    np.testing.assert_allclose(mm.pos_m, cm.pos_m, atol=1e-9)
    # Xsens MVN names are our segment names
    mvn_names = {"Hips": "Pelvis", "LowerBack": "L5", "Spine": "L3", "Spine1": "T8", "LeftUpLeg": "LeftUpperLeg"}
    mvn = [(mvn_names.get(n, n), mvn_names.get(p, p) if p else None, o) for n, p, o in _CMU]
    jm_mvn = default_joint_map(read_bvh(_write(tmp_path, make_bvh(mvn), "mvn.bvh")))
    assert jm_mvn["L3"] == "L3" and jm_mvn["Pelvis"] == "Pelvis" and jm_mvn["LeftUpperLeg"] == "LeftUpperLeg"


def test_units_are_detected_and_translation_scaled_to_our_body(tmp_path: Path) -> None:
    n = 30
    root = np.tile([0.0, 97.0, 0.0], (n, 1))
    root[:, 2] += np.linspace(0, 60, n)  # walks 60 cm along +z (the way it faces)
    yaw = {"Hips": _rot("y", np.linspace(0, 30, n))}  # turns 30 deg to its left about up
    cm = bvh_to_motion(read_bvh(_write(tmp_path, make_bvh(_CMU, yaw, root, n_frames=n), "cm.bvh")), rate_hz=100.0, **RAW)
    metres = bvh_to_motion(read_bvh(_write(tmp_path, make_bvh(_CMU, yaw, root, n_frames=n, unit=0.01), "m.bvh")), rate_hz=100.0, **RAW)
    inches = bvh_to_motion(
        read_bvh(_write(tmp_path, make_bvh(_CMU, yaw, root, n_frames=n, unit=1 / 2.54), "in.bvh")), rate_hz=100.0, **RAW
    )
    np.testing.assert_allclose(metres.pos_m, cm.pos_m, atol=1e-6)
    np.testing.assert_allclose(inches.pos_m, cm.pos_m, atol=1e-5)
    # forward (+z in the file) is our +x; scaled by our hip-to-ankle length over the file's (0.85 m)
    d = cm.pos_m[-1, 0] - cm.pos_m[0, 0]
    assert d[0] == pytest.approx(0.60 * (0.530 - 0.039) * 1.75 / 0.85, rel=1e-3) and abs(d[1]) < 1e-6 and abs(d[2]) < 1e-6
    # the pelvis turns +30 deg about our z (to the left)
    q = cm.quat_wxyz[-1, I["Pelvis"]]
    assert _angle_deg(q, quat_from_axis_angle([0, 0, 1], np.radians(30.0))) < 0.05
    with_unit = bvh_to_motion(read_bvh(tmp_path / "cm.bvh"), unit_scale_m=0.01, rate_hz=100.0, **RAW)
    np.testing.assert_allclose(with_unit.pos_m, cm.pos_m, atol=1e-9)


def test_channel_orders_are_respected(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 12
    rots = {j: Rotation.random(n, random_state=rng).as_matrix() for j in ("Hips", "Spine", "LeftArm", "RightForeArm", "LeftUpLeg", "RightFoot")}
    root = np.tile([0.0, 97.0, 0.0], (n, 1)) + rng.normal(0, 5, (n, 3))
    a = make_bvh(_CMU, rots, root, n_frames=n, order="ZXY", pos_order="XYZ")
    b = make_bvh(_CMU, rots, root, n_frames=n, order="XYZ", pos_order="ZXY")
    c = make_bvh(_CMU, rots, root, n_frames=n, order="YZX", pos_order="YZX")
    assert a != b
    ma = bvh_to_motion(read_bvh(_write(tmp_path, a, "a.bvh")), rate_hz=50.0, **RAW)
    for text, name in ((b, "b.bvh"), (c, "c.bvh")):
        mb = bvh_to_motion(read_bvh(_write(tmp_path, text, name)), rate_hz=50.0, **RAW)
        np.testing.assert_allclose(mb.pos_m, ma.pos_m, atol=1e-6)
        assert _angle_deg(mb.quat_wxyz, ma.quat_wxyz).max() < 1e-4


def test_retargeted_limb_rotates_at_the_file_rate(tmp_path: Path) -> None:
    n, dt = 101, 1 / 100
    t = np.arange(n) * dt
    # arms down; then the left elbow flexes forward at 60 deg/s: in the arm-down frame of LeftArm
    # the joint's local y is the body's left, and flexion is negative about it
    rots = {"LeftArm": _rot("z", np.full(n, -90.0)), "RightArm": _rot("z", np.full(n, 90.0)), "LeftForeArm": _rot("y", -60.0 * t)}
    m = bvh_to_motion(read_bvh(_write(tmp_path, make_bvh(_CMU, rots, n_frames=n, frame_time_s=dt))), rate_hz=200.0, **RAW)
    q = m.quat_wxyz[:, I["LeftForeArm"]]
    expect = quat_from_axis_angle([0, 1, 0], -np.radians(60.0 * m.times_s()))  # about our left axis (+y)
    assert _angle_deg(q, expect).max() < 0.05
    hand = m.pos_m[-1, I["LeftHand"]] - m.pos_m[-1, I["LeftForeArm"]]
    assert hand[0] > 0.1  # after 1 s at 60 deg/s the forearm points forward and down


def test_bad_files_give_clear_errors(tmp_path: Path) -> None:
    good = make_bvh(_CMU, _arms_down())
    no_left_leg = [s for s in _CMU if not s[0].startswith(("LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToe", "LHip"))]
    clip = read_bvh(_write(tmp_path, make_bvh(no_left_leg), "noleg.bvh"))
    with pytest.raises(ValueError, match=r"LeftUpperLeg.*joint_map=") as e:
        bvh_to_motion(clip)
    assert "LeftLowerLeg" in str(e.value) and "RightUpperLeg" not in str(e.value).split("BVH joints")[0]
    # a custom map fixes unusual names
    odd = [(n.replace("LeftUpLeg", "thigh_l"), p and p.replace("LeftUpLeg", "thigh_l"), o) for n, p, o in _CMU]
    odd_clip = read_bvh(_write(tmp_path, make_bvh(odd), "odd.bvh"))
    with pytest.raises(ValueError, match="LeftUpperLeg"):
        bvh_to_motion(odd_clip, joint_map={"Hips": "Pelvis"})
    jm = default_joint_map(odd_clip)
    jm["thigh_l"] = "LeftUpperLeg"
    assert bvh_to_motion(odd_clip, joint_map=jm, rate_hz=200.0, **RAW).n_frames == 3
    with pytest.raises(ValueError, match="not in the BVH"):
        bvh_to_motion(odd_clip, joint_map={"Nope": "Pelvis"})

    lines = good.splitlines()
    nan_lines = lines.copy()
    nan_lines[-1] = nan_lines[-1].replace("0.000000000", "nan", 1)
    with pytest.raises(ValueError, match="frame 1"):
        read_bvh(_write(tmp_path, "\n".join(nan_lines), "nan.bvh"))
    inf_lines = lines.copy()
    inf_lines[-2] = inf_lines[-2].replace("0.000000000", "inf", 1)
    with pytest.raises(ValueError, match="frame 0"):
        read_bvh(_write(tmp_path, "\n".join(inf_lines), "inf.bvh"))
    with pytest.raises(ValueError, match="zero frames"):
        read_bvh(_write(tmp_path, good.replace("Frames: 2", "Frames: 0"), "zero.bvh"))
    with pytest.raises(ValueError, match="Frame Time"):
        read_bvh(_write(tmp_path, good.replace("Frame Time: 0.01", "Frame Time: 0"), "ft.bvh"))
    with pytest.raises(ValueError, match="unparseable BVH hierarchy"):
        read_bvh(_write(tmp_path, good.replace("OFFSET", "OFSET", 3), "bad.bvh"))
    with pytest.raises(ValueError, match="unknown channel"):
        read_bvh(_write(tmp_path, good.replace("Zrotation", "Wrotation", 1), "ch.bvh"))
    with pytest.raises(ValueError, match="frame 0 has"):
        read_bvh(_write(tmp_path, "\n".join(lines[:-2] + [lines[-2] + " 1.0", lines[-1]]), "cols.bvh"))
    with pytest.raises(ValueError, match="MOTION"):
        read_bvh(_write(tmp_path, good.split("MOTION")[0], "nomotion.bvh"))


def test_load_motion_file_dispatches_on_extension(tmp_path: Path) -> None:
    p = _write(tmp_path, make_bvh(_CMU, _arms_down()))
    m = load_motion_file(p, rate_hz=100.0, shape=BodyShape(height_m=1.9))
    direct = bvh_to_motion(read_bvh(p), rate_hz=100.0, shape=BodyShape(height_m=1.9))
    assert m.source == "bvh:clip.bvh" and m.pos_m.shape[1] == len(SEGMENTS)
    # the reader's keyword arguments reach it: same motion as calling it directly
    assert m.rate_hz == 100.0 and np.array_equal(m.pos_m, direct.pos_m) and np.array_equal(m.quat_wxyz, direct.quat_wxyz)
    with pytest.raises(ValueError, match="not found"):
        load_motion_file(tmp_path / "missing.bvh")
    with pytest.raises(ValueError, match="unknown motion file type"):
        load_motion_file(_write(tmp_path, "x", "clip.fbx"))
