"""Cleaning raw motion capture for the IMU simulator: rest-pose lead-in, flips, jitter; and what the
cleaned CMU clips give through the simulator (acceleration levels, cadence)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from anymo.body.named_placements import canonical_placement
from anymo.body.skeleton import BodyShape
from anymo.data.datasets import default_data_dir  # the one data-folder rule (tests/conftest.py)
from anymo.geometry.rotations import quat_from_axis_angle, quat_mul
from anymo.motion.bvh import GLITCH_DEG_S, lead_in_frames, parse_bvh, remove_flips
from anymo.motion.files import load_motion_file
from anymo.sim.simulate import SimConfig, simulate_imu

REPO = Path(__file__).resolve().parents[2]
DATA = default_data_dir()
MOCAP = DATA / "mocap"


def _chain_bvh(frames: np.ndarray) -> str:
    """A 3-joint chain (root + 2 joints, ZXY rotations) with the given [F, 9] rotation channels (deg)."""
    head = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT A
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT B
    {
      OFFSET 0 10 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 0 10 0
      }
    }
  }
}
MOTION
"""
    rows = [" ".join(f"{v:.6f}" for v in [0, 90, 0, *f]) for f in frames]
    return head + f"Frames: {len(frames)}\nFrame Time: {1 / 120:.8f}\n" + "\n".join(rows) + "\n"


def _motion_frames(n: int) -> np.ndarray:
    t = np.arange(n) / 120.0
    f = np.zeros((n, 9))
    f[:, 1] = 20 * np.sin(2 * np.pi * 1.0 * t) + 0.37  # never whole degrees
    f[:, 4] = 30 * np.sin(2 * np.pi * 0.8 * t + 1) + 0.11
    f[:, 7] = 10 * np.cos(2 * np.pi * 1.3 * t) + 0.53
    return f


def test_a_rest_pose_first_frame_and_its_blend_in_are_dropped_not_the_motion() -> None:
    motion = _motion_frames(240)
    assert lead_in_frames(parse_bvh(_chain_bvh(motion))) == 0  # a clip that starts moving keeps every frame
    rest = np.zeros((1, 9))
    rest[0, 4] = -21.0  # a whole-degree T-pose offset, as in the cgspeed files
    assert lead_in_frames(parse_bvh(_chain_bvh(np.concatenate([rest, motion])))) == 1
    # a blend from the rest pose: 3 frames sweeping 30 deg each, then the motion
    blend = motion[0] + np.linspace(-90, -30, 3)[:, None] * np.array([0, 1, 0, 0, 0, 0, 0, 0, 0])
    assert lead_in_frames(parse_bvh(_chain_bvh(np.concatenate([np.zeros((1, 9)), blend, motion])))) == 4
    # without a rest pose only a jump is cut: a 60-deg jump after frame 5
    jumped = motion.copy()
    jumped[:6, 4] -= 60
    assert lead_in_frames(parse_bvh(_chain_bvh(jumped))) == 6


def test_flips_faster_than_any_body_are_removed_and_fast_real_turns_kept() -> None:
    dt = 1 / 120.0
    t = np.arange(240) * dt
    base = quat_from_axis_angle(np.array([0.0, 0.0, 1.0]), np.radians(90.0) * np.sin(2 * np.pi * t))
    flipped = base.copy()
    twist = quat_from_axis_angle(np.array([1.0, 0.0, 0.0]), np.pi)
    flipped[100:170] = quat_mul(flipped[100:170], twist)  # the segment turns 180 deg about its own axis and back
    fixed, n = remove_flips(flipped, np.radians(GLITCH_DEG_S) * dt)
    assert n == 2
    dots = np.abs(np.sum(fixed * base, axis=-1))
    # the same orientations as without the flip, but for the frame steps replaced by the step before them
    assert np.degrees(2 * np.arccos(np.clip(dots, 0, 1))).max() < 0.5  # 4.7 deg per frame at its fastest
    fast = quat_from_axis_angle(np.array([0.0, 1.0, 0.0]), np.radians(2000.0) * t)  # a 2000 deg/s swing is real
    kept, n_fast = remove_flips(fast, np.radians(GLITCH_DEG_S) * dt)
    assert n_fast == 0 and np.array_equal(kept, fast)


def _need(rel: str) -> Path:
    p = MOCAP / rel
    if not p.exists():
        pytest.skip(f"real data absent: {p} (set ANYMO_DATA to the shared data folder)")
    return p


def _acc(motion, names: list[str]) -> np.ndarray:
    ids = np.array([canonical_placement(n) for n in names])
    sig = simulate_imu(motion, ids, SimConfig(rate_hz=60.0), np.random.default_rng(0))
    return np.linalg.norm(sig.acc_mps2, axis=2)


@pytest.mark.needs_data
def test_cmu_walk_gives_walking_accelerations_at_wrist_and_thigh() -> None:
    # before the cleaning (rest-pose frame, 120 Hz jitter): wrist 107-146 +- 1016-1498 m/s^2, thigh 30-50 +- 199-434
    m = load_motion_file(_need("cmu/bvh/cmu_02_01.bvh"), shape=BodyShape(height_m=1.75), rate_hz=120.0)
    a = _acc(m, ["left_wrist", "right_wrist", "left_thigh", "right_thigh"])
    for k in range(4):
        assert 8.0 < a[k].mean() < 14.0 and a[k].std() < 5.0 and a[k].max() < 4 * 9.81, (k, a[k].mean(), a[k].std(), a[k].max())


@pytest.mark.needs_data
def test_cleaned_clips_have_no_segment_turning_faster_than_a_body_can() -> None:
    # a ballet clip with 54 thigh/foot flips in the source and a playground clip
    for rel in ("cmu/bvh/cmu_05_06.bvh", "cmu/bvh/cmu_01_12.bvh"):
        rep: dict = {}
        m = load_motion_file(_need(rel), rate_hz=120.0, report=rep)
        assert sum(rep["flips"].values()) > 0
        q = m.quat_wxyz
        step = 2 * np.arccos(np.clip(np.abs(np.sum(q[1:] * q[:-1], axis=-1)), 0, 1))
        assert np.degrees(step).max() * m.rate_hz < GLITCH_DEG_S, rel


def _stride_cadence_spm(mag: np.ndarray, rate_hz: float) -> float:
    """Steps/min from the stride period: the autocorrelation peak of |acc| in 0.8-1.6 s."""
    x = mag - mag.mean()
    ac = np.correlate(x, x, "full")[len(x) - 1 :]
    ac = ac / (ac[0] * (len(x) - np.arange(len(x))) / len(x))
    lo, hi = int(0.8 * rate_hz), int(1.6 * rate_hz)
    return 120.0 / ((lo + int(np.argmax(ac[lo : hi + 1]))) / rate_hz)


@pytest.mark.needs_data
def test_walking_clips_of_every_cmu_rig_give_walking_cadence_through_the_simulator() -> None:
    from anymo.motion.mocap import MocapSource, foot_strikes

    if not (MOCAP / "index.csv").exists():
        pytest.skip("real data absent: mocap/index.csv")
    src = MocapSource(DATA, split="all")
    # walking clips long enough for two strides (the autocorrelation needs them): cgspeed BVH, DAZ BVH, ASF/AMC
    walks = [c for c in src.clips if c.activity == "walking" and not c.text.startswith(("slow", "navigate"))]
    cadence: dict[str, float] = {}
    step_m: list[float] = []
    for c in walks:
        m = src.clip_motion(c, BodyShape(height_m=1.72), 120.0)
        if m.duration_s >= 3.3:
            cadence[c.id] = _stride_cadence_spm(_acc(m, ["right_thigh"])[0], 60.0)
        t, _, v = foot_strikes(m)
        if c.text == "walk" and t.size >= 4:
            step_m.append(float(np.median(v) * np.median(np.diff(t))))  # speed x step time
    # scale: a 1.72 m body walks with ~0.7-0.8 m steps; translation in the wrong unit would be far off
    assert 0.6 < np.median(step_m) < 0.9, np.median(step_m)
    kinds = {src.folder.joinpath(c.file).suffix + (":hip" if c.id.startswith(("cmu_12",)) else "") for c in walks if c.id in cadence}
    assert kinds == {".bvh", ".bvh:hip", ".amc"} and len(cadence) >= 15
    assert all(80.0 <= v <= 130.0 for v in cadence.values()), cadence
    # the same subject's slow walks step more slowly than its walks
    slow = [c for c in src.clips if c.id.startswith("cmu_07") and c.text == "slow walk"]
    slow_spm = [_stride_cadence_spm(_acc(src.clip_motion(c, BodyShape(height_m=1.72), 120.0), ["right_thigh"])[0], 60.0) for c in slow]
    normal = [v for k, v in cadence.items() if k.startswith("cmu_07")]
    assert slow_spm and normal and max(slow_spm) < min(normal)



def test_euler_angles_wrapping_at_180_deg_give_a_smooth_turn() -> None:
    # The hips turn about the vertical at 90 deg/s through +-180 deg: the file's Euler channels wrap
    # (+179 -> -179) and the quaternions change sign there. Read, cleaned and low-passed, the pelvis
    # must turn smoothly at 90 deg/s, with no 360 deg jump and no dip at the wrap.
    from scipy.spatial.transform import Rotation
    from test_bvh import (  # the hand-made CMU-style skeleton of test_bvh.py
        _CMU,
        make_bvh,
    )

    from anymo.motion.bvh import bvh_to_motion

    n, dt = 480, 1 / 120.0
    yaw = 120.0 + 90.0 * np.arange(n) * dt
    text = make_bvh(_CMU, {"Hips": Rotation.from_euler("y", yaw[:, None], degrees=True).as_matrix()}, n_frames=n, frame_time_s=dt)
    clip = parse_bvh(text)
    y_col = 5  # root channels: X Y Z position, Z X Y rotation
    assert np.any(np.diff(clip.frames[:, y_col]) < -300)  # the file wraps
    m = bvh_to_motion(clip, rate_hz=120.0)
    q = m.quat_wxyz[:, 0]
    rate = np.degrees(2 * np.arccos(np.clip(np.abs(np.sum(q[1:] * q[:-1], axis=-1)), 0, 1))) * m.rate_hz
    assert np.abs(rate[10:-10] - 90.0).max() < 0.5
