"""DeepMimic clips -> BodyMotion: behaviour of the retargeted motion on the real clips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from anymo.body.skeleton import SEGMENT_INDEX as I
from anymo.body.skeleton import BodyShape
from anymo.data.datasets import default_data_dir  # the one data-folder rule (tests/conftest.py)
from anymo.motion.deepmimic import DEEPMIMIC_CLIPS, deepmimic_activity, load_deepmimic, load_deepmimic_dir

REPO = Path(__file__).resolve().parents[2]
DM_DIR = default_data_dir() / "deepmimic_motions"

pytestmark = pytest.mark.needs_data


def clip(rel: str) -> Path:
    p = DM_DIR / rel
    if not p.exists():
        pytest.skip(f"real data absent: {p} (set ANYMO_DATA to the shared data folder)")
    return p


def _heading_rad(q: np.ndarray) -> np.ndarray:
    """Pelvis heading about z from its forward (x) axis projected on the floor."""
    w, x, y, z = np.moveaxis(q, -1, 0)
    fx, fy = 1 - 2 * (y * y + z * z), 2 * (x * y + w * z)
    return np.unwrap(np.arctan2(fy, fx))


def test_every_clip_loads_with_labels_and_finite_poses() -> None:
    clip("humanoid3d_walk.txt")
    motions = load_deepmimic_dir(DM_DIR, rate_hz=100.0)
    assert len(motions) == 20 and set(Path(k).name for k in motions) == set(DEEPMIMIC_CLIPS)
    for name, m in motions.items():
        assert np.all(np.isfinite(m.pos_m)) and np.all(np.isfinite(m.quat_wxyz)), name
        assert m.labels and m.labels[0].activity == deepmimic_activity(name) and len(m.captions) >= 3
        assert m.source == f"deepmimic:{Path(name).name}"
        # nothing sinks far below or flies far above the floor
        assert -0.12 < m.pos_m[..., 2].min() and m.pos_m[..., 2].max() < 2.6, name


def test_walk_is_an_upright_gait_with_feet_on_the_floor() -> None:
    shape = BodyShape(height_m=1.75)
    m = load_deepmimic(clip("humanoid3d_walk.txt"), shape=shape, n_loops=3)
    p, t = m.pos_m, m.times_s()
    ankle_rest_m = m.skeleton.rest_positions_m()[I["RightFoot"], 2]
    rz, lz = p[:, I["RightFoot"], 2], p[:, I["LeftFoot"], 2]
    # each foot comes down to ankle height (stance) and lifts clearly (swing)
    for z in (rz, lz):
        assert abs(z.min() - ankle_rest_m) < 0.025
        assert z.max() - z.min() > 0.12
    toes = p[:, [I["RightToe"], I["LeftToe"]], 2]
    assert -0.02 < toes.min() < 0.03
    # feet alternate: the higher foot switches sides twice per cycle
    crossings = t[np.nonzero(np.diff(np.sign(rz - lz)))[0]]
    step_hz = 1.0 / np.median(np.diff(crossings))
    assert 1.45 < step_hz < 2.2  # the clip walks at 1.58 steps/s (two steps per 1.27 s cycle)
    # upright: head above pelvis, hands hang near hip height
    assert np.all(p[:, I["Head"], 2] - p[:, I["Pelvis"], 2] > 0.45)
    for hand in ("RightHand", "LeftHand"):
        assert np.all(np.abs(p[:, I[hand], 2] - p[:, I["Pelvis"], 2]) < 0.2)
    # forward progression along +x (the way the body faces), at a walking speed
    v = np.diff(p[:, I["Pelvis"], :2], axis=0) * m.rate_hz
    facing = _heading_rad(m.quat_wxyz[:, I["Pelvis"]])
    assert np.all(v[:, 0] > 0.3) and np.abs(np.degrees(facing)).max() < 30
    assert 0.8 < np.linalg.norm(p[-1, 0, :2] - p[0, 0, :2]) / m.duration_s < 1.3
    # right is -y: the right foot is to the right of the left one in the body frame
    assert np.mean(p[:, I["RightFoot"], 1] - p[:, I["LeftFoot"], 1]) < -0.05


def test_looped_walk_has_no_jump_at_the_wraps_and_carries_displacement() -> None:
    path = clip("humanoid3d_walk.txt")
    one = load_deepmimic(path, rate_hz=200.0)
    three = load_deepmimic(path, rate_hz=200.0, n_loops=3)
    assert three.duration_s == pytest.approx(3 * one.duration_s, abs=0.01)
    wraps = [one.n_frames - 1, 2 * (one.n_frames - 1)]
    step = np.linalg.norm(np.diff(three.pos_m, axis=0), axis=-1)  # [T-1, 23] metres per frame
    for w in wraps:
        # each segment's step across the wrap vs its median step over the surrounding 0.2 s
        local = np.median(step[w - 20 : w + 20], axis=0)
        assert np.all(step[w - 1 : w + 1].max(axis=0) < 2.0 * local + 1e-4)
        # velocities continue: the change across the wrap is like any other frame-to-frame change
        acc = np.linalg.norm(np.diff(three.pos_m[w - 3 : w + 4, I["Pelvis"]], n=2, axis=0), axis=-1) * 200.0**2
        assert acc.max() < 25.0
    per_cycle = one.pos_m[-1, 0, :2] - one.pos_m[0, 0, :2]
    total = three.pos_m[-1, 0, :2] - three.pos_m[0, 0, :2]
    assert np.linalg.norm(total) == pytest.approx(3 * np.linalg.norm(per_cycle), rel=0.03)
    # the first cycle of the looped motion is the single clip (up to the spline's end conditions)
    n = one.n_frames
    assert np.abs(three.pos_m[20 : n - 20] - one.pos_m[20 : n - 20]).max() < 0.01


def test_turning_walker_keeps_turning_across_loops() -> None:
    path = clip("walker/turn_left0.txt")
    one = load_deepmimic(path)
    three = load_deepmimic(path, n_loops=3)
    h1 = _heading_rad(one.quat_wxyz[:, I["Pelvis"]])
    h3 = _heading_rad(three.quat_wxyz[:, I["Pelvis"]])
    turn_per_cycle = h1[-1] - h1[0]
    assert np.degrees(turn_per_cycle) > 20  # a left turn: heading increases about +z
    assert h3[-1] - h3[0] == pytest.approx(3 * turn_per_cycle, abs=np.radians(3))
    # the heading has no jump at the wraps
    assert np.abs(np.diff(h3)).max() < 5 * np.median(np.abs(np.diff(h3))) + np.radians(0.5)
    # the path bends left: the last cycle moves mostly sideways-left of the first
    d_first = one.pos_m[-1, 0, :2] - one.pos_m[0, 0, :2]
    n = one.n_frames
    d_last = three.pos_m[-1, 0, :2] - three.pos_m[2 * (n - 1), 0, :2]
    cross = d_first[0] * d_last[1] - d_first[1] * d_last[0]
    assert cross > 0 and np.degrees(np.arccos(d_first @ d_last / np.linalg.norm(d_first) / np.linalg.norm(d_last))) > 40


def test_jump_has_a_ballistic_flight_phase() -> None:
    m = load_deepmimic(clip("humanoid3d_jump.txt"), rate_hz=200.0)
    p, dt = m.pos_m, 1.0 / m.rate_hz
    toes = np.minimum(p[:, I["RightToe"], 2], p[:, I["LeftToe"], 2])
    airborne = toes > 0.08
    idx = np.nonzero(airborne)[0]
    assert len(idx) * dt > 0.2, "the jump clip should leave the floor for a while"
    # the longest airborne run, without its edges (take-off and landing transients)
    runs = np.split(idx, np.nonzero(np.diff(idx) > 1)[0] + 1)
    run = max(runs, key=len)[10:-10]
    az = np.gradient(np.gradient(p[:, I["Pelvis"], 2], dt), dt)[run]
    # ballistic: -g, scaled by the height ratio (root translation is scaled, time is not): ~ -10.1
    assert -11.5 < az.mean() < -8.5
    assert az.std() < 1.5


def test_body_height_scales_translation_not_rotation() -> None:
    path = clip("humanoid3d_run.txt")
    small = load_deepmimic(path, shape=BodyShape(height_m=1.5), rate_hz=60.0)
    tall = load_deepmimic(path, shape=BodyShape(height_m=2.0), rate_hz=60.0)
    np.testing.assert_allclose(np.abs(small.quat_wxyz), np.abs(tall.quat_wxyz), atol=1e-9)
    ratio = (tall.pos_m[-1, 0, 0] - tall.pos_m[0, 0, 0]) / (small.pos_m[-1, 0, 0] - small.pos_m[0, 0, 0])
    assert ratio == pytest.approx(2.0 / 1.5, rel=1e-6)


def test_duration_and_bad_input(tmp_path: Path) -> None:
    walk = load_deepmimic(clip("humanoid3d_walk.txt"), duration_s=4.0, rate_hz=50.0)
    assert walk.duration_s == pytest.approx(4.0)
    with pytest.raises(ValueError, match="does not loop"):
        load_deepmimic(clip("humanoid3d_kick.txt"), n_loops=2)
    frames = json.loads(clip("humanoid3d_walk.txt").read_text())["Frames"]
    frames[5][9] = float("nan")
    bad = tmp_path / "bad.txt"
    bad.write_text(json.dumps({"Loop": "wrap", "Frames": frames}).replace("NaN", "NaN"))
    with pytest.raises(ValueError, match="frame 5"):
        load_deepmimic(bad)
    short = tmp_path / "short.txt"
    short.write_text(json.dumps({"Loop": "none", "Frames": [row[:20] for row in frames]}))
    with pytest.raises(ValueError, match="44 numbers"):
        load_deepmimic(short)


def _peak_accel_mps2(pos_m: np.ndarray, rate_hz: float) -> float:
    return float(np.linalg.norm(np.diff(pos_m, n=2, axis=0), axis=-1).max() * rate_hz**2)


def _peak_rate_rads(quat: np.ndarray, rate_hz: float) -> float:
    dot = np.clip(np.abs(np.sum(quat[1:] * quat[:-1], axis=-1)), 0.0, 1.0)
    return float((2.0 * np.arccos(dot)).max() * rate_hz)


def test_walk_accelerations_are_those_of_walking_not_of_keyframe_glitches() -> None:
    """The raw walk turns the pelvis 7 deg between two keyframes once per cycle; interpolated as is, the
    hands reach ~18 g and the pelvis spins at 4+ rad/s. Walking at 1 m/s: hands below 3 g, pelvis < 2 rad/s
    (smoothed: 2.2 g, 1.7 rad/s - what is left of the glitch)."""
    path = clip("humanoid3d_walk.txt")
    smooth = load_deepmimic(path, rate_hz=120.0, n_loops=3)
    raw = load_deepmimic(path, rate_hz=120.0, n_loops=3, smooth_hz=None)
    for m, hand_g, pelvis_rads in ((smooth, 3.0, 2.0), (raw, 8.0, 3.0)):
        hands = max(_peak_accel_mps2(m.pos_m[:, I[h]], 120.0) for h in ("LeftHand", "RightHand")) / 9.80665
        pelvis = _peak_rate_rads(m.quat_wxyz[:, I["Pelvis"]], 120.0)
        if m is smooth:
            assert hands < hand_g and pelvis < pelvis_rads, (hands, pelvis)
        else:  # the glitch is in the data: without smoothing it is there
            assert hands > hand_g and pelvis > pelvis_rads, (hands, pelvis)
    # smoothing keeps the gait: same distance walked, same pose on average
    d = [np.linalg.norm(m.pos_m[-1, 0, :2] - m.pos_m[0, 0, :2]) for m in (smooth, raw)]
    assert d[0] == pytest.approx(d[1], rel=0.01)
    assert np.abs(smooth.pos_m - raw.pos_m).mean() < 0.01
    with pytest.raises(ValueError, match="smooth_hz"):
        load_deepmimic(path, rate_hz=10.0, smooth_hz=6.0)


def test_captions_are_sentences_like_the_procedural_ones() -> None:
    """Simulated windows mix both sources: a lower-case fragment ("a gymnastic cartwheel") would tell a
    model the source instead of the motion, and the run clip must not be captioned as jogging."""
    clip("humanoid3d_walk.txt")
    for name, m in load_deepmimic_dir(DM_DIR, rate_hz=30.0, smooth_hz=None).items():
        for cap in m.captions:
            assert cap[0].isupper() and cap.endswith(".") and len(cap.split()) >= 3, (name, cap)
        if m.labels[0].activity == "running":
            assert not any("jog" in c for c in m.captions)
