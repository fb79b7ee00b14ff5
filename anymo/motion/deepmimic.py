"""DeepMimic humanoid motion clips -> `BodyMotion` on the 23-segment skeleton.

File format (DeepMimic / pybullet_data ``humanoid3d_*.txt``): JSON ``{"Loop": "wrap"|"none",
"Frames": [[dt, root_pos(3), root_quat(4), chest(4), neck(4), r_hip(4), r_knee(1), r_ankle(4),
r_shoulder(4), r_elbow(1), l_hip(4), l_knee(1), l_ankle(4), l_shoulder(4), l_elbow(1)], ...]}``,
quaternions w x y z, each joint relative to its parent, angles in radians, positions in metres.

Conventions of the DeepMimic humanoid (``humanoid.urdf``, drawn at 4x scale, loaded at 0.25):
* World and every link frame at rest: x forward (the walk clip's root moves along +x), y up,
  z to the body's right (right hip at +z). Ours: x forward, y left, z up, so a vector maps as
  (x, y, z)_dm -> (x, -z, y)_ours, a proper rotation (+90 deg about x) applied to every frame.
* Rest pose: upright, arms hanging straight down (links extend along -y), feet flat - the same as
  our N-pose, so no offset rotations are needed: every rest frame is aligned with the world in
  both skeletons, and local rotations carry over by the change of basis alone.
* Knee and elbow are 1-DoF revolute about the link z axis (lateral, to the right): knee angle
  <= 0 bends the shank backwards, elbow angle >= 0 brings the forearm forward. In our frame
  the axis is -y.
* Segment mapping: root -> Pelvis; chest rotation split equally over L5, L3, T12, T8; neck split
  equally over Neck and Head; shoulders -> UpperArm (Shoulder segments identity); elbows ->
  ForeArm; hands identity; hips/knees/ankles -> UpperLeg/LowerLeg/Foot; toes identity.

Looping ("wrap") clips end on the pose they start with, displaced and turned. Loops are chained
with that displacement and heading change carried over; small residual pose mismatches between
the last and the first frame (up to ~30 deg at some joints in the raw data) are spread linearly
over the cycle so that the wrap has no jump. The whole keyframe sequence is then resampled with
C2 splines.

Smoothing: the keyframes are 24-60 Hz retargeted capture with frame-to-frame jitter and glitches
(the walk clip turns the pelvis by 7 deg between two frames 33 ms apart, once per cycle). An
interpolating spline turns them into accelerations of 15 g at a walking wrist. Like marker
trajectories before differentiation, the resampled root translation, joint rotations (components of
the sign-continuous quaternions, renormalised) and elbow/knee angles are low-passed at ``smooth_hz``
(default `SMOOTH_HZ` = 6 Hz, Winter's cut-off for gait kinematics; 4th-order Butterworth, zero
phase). Looping clips are filtered with one more cycle on each side, so loops join as before;
non-looping ones are padded by odd extension.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfiltfilt

from anymo.body.skeleton import N_SEGMENTS, SEGMENT_INDEX, BodyShape, make_skeleton
from anymo.data.recording import LabelSegment
from anymo.geometry.rotations import (
    quat_conj,
    quat_from_axis_angle,
    quat_from_rotvec,
    quat_make_continuous,
    quat_mul,
    quat_normalize,
    quat_to_rotvec,
)
from anymo.motion._resample import spline_positions, spline_quats, uniform_times_s
from anymo.motion.base import BodyMotion

# Standing root (hip) height of the DeepMimic humanoid: thigh + shank + ankle-to-sole, at 0.25 scale.
DEEPMIMIC_ROOT_HEIGHT_M = 0.25 * (1.686184 + 1.639480 + 0.27)
_FRAME_LEN = 44
SMOOTH_HZ = 6.0  # low-pass of the resampled keyframes (Winter, Biomechanics and Motor Control of Human Movement)
_SPHERICAL = {  # name -> first column of its quaternion in a frame row
    "root": 4, "chest": 8, "neck": 12, "r_hip": 16, "r_ankle": 21, "r_shoulder": 25,
    "l_hip": 30, "l_ankle": 35, "l_shoulder": 39,
}  # fmt: skip
_REVOLUTE = {"r_knee": 20, "r_elbow": 29, "l_knee": 34, "l_elbow": 43}
_REVOLUTE_AXIS_OURS = np.array([0.0, -1.0, 0.0])  # DeepMimic link z (right) in our frame

# Clip file stem -> plain-language activity. Unknown stems fall back to the stem in words.
DEEPMIMIC_CLIPS: dict[str, str] = {
    "humanoid3d_walk": "walking",
    "humanoid3d_run": "running",
    "humanoid3d_jump": "jumping",
    "humanoid3d_kick": "kicking",
    "humanoid3d_punch": "punching",
    "humanoid3d_spin": "spinning",
    "humanoid3d_spinkick": "spin kick",
    "humanoid3d_backflip": "backflip",
    "humanoid3d_cartwheel": "cartwheel",
    "humanoid3d_crawl": "crawling",
    "humanoid3d_dance_a": "dancing",
    "humanoid3d_dance_b": "dancing",
    "humanoid3d_getup_facedown": "getting up from lying face down",
    "humanoid3d_getup_faceup": "getting up from lying on the back",
    "humanoid3d_roll": "forward roll",
    "0walk_forward": "walking",
    "turn_left0": "walking and turning left",
    "turn_left1": "walking and turning left",
    "turn_right0": "walking and turning right",
    "turn_right1": "walking and turning right",
}

# Full sentences like the procedural captions ("A person walks."), so the caption style does not tell
# motion capture from procedural motion.
_CAPTIONS: dict[str, list[str]] = {
    "walking": ["A person walks.", "Someone walks forward at an easy pace.", "The subject walks steadily on level ground."],
    "running": ["A person runs.", "Someone runs forward, arms pumping.", "The subject is running on level ground."],
    "jumping": ["A person jumps forward.", "Someone jumps with both feet.", "The subject does a standing long jump."],
    "kicking": ["A person kicks.", "Someone kicks with one leg.", "The subject does a front kick."],
    "punching": ["A person punches.", "Someone throws punches.", "The subject throws boxing punches while standing."],
    "spinning": ["A person spins around.", "Someone turns on the spot.", "The subject is spinning in place."],
    "spin kick": ["A person does a spin kick.", "Someone spins and kicks.", "The subject does a martial arts spinning kick."],
    "backflip": ["A person does a backflip.", "Someone flips backwards.", "The subject does a standing back somersault."],
    "cartwheel": ["A person does a cartwheel.", "Someone cartwheels sideways.", "The subject turns a gymnastic cartwheel."],
    "crawling": ["A person crawls on hands and knees.", "Someone crawls forward.", "The subject is crawling on all fours."],
    "dancing": ["A person dances.", "Someone is dancing.", "The subject does dance moves."],
    "getting up from lying face down": [
        "A person gets up from lying face down.",
        "Someone stands up from the floor, starting prone.",
        "The subject rises from a prone position.",
    ],
    "getting up from lying on the back": [
        "A person gets up from lying on the back.",
        "Someone stands up from the floor, starting supine.",
        "The subject rises from lying face up.",
    ],
    "forward roll": ["A person does a forward roll.", "Someone rolls forward over the shoulder.", "The subject does a dive roll."],
    "walking and turning left": ["A person walks and turns left.", "Someone walks in a curve to the left.", "The subject turns left while walking."],
    "walking and turning right": [
        "A person walks and turns right.",
        "Someone walks in a curve to the right.",
        "The subject turns right while walking.",
    ],
}


def deepmimic_activity(name: str) -> str:
    """Plain-language activity for a clip file name or stem (e.g. ``humanoid3d_walk.txt`` -> walking)."""
    stem = Path(name).stem
    if stem in DEEPMIMIC_CLIPS:
        return DEEPMIMIC_CLIPS[stem]
    words = stem.removeprefix("humanoid3d_").strip("0123456789_").replace("_", " ")
    return words or stem


def _dm_to_ours_vec(v: np.ndarray) -> np.ndarray:
    """(x, y, z) in DeepMimic's y-up frame -> (x, -z, y) in our z-up frame."""
    return np.stack([v[..., 0], -v[..., 2], v[..., 1]], axis=-1)


def _dm_to_ours_quat(q: np.ndarray) -> np.ndarray:
    """Change of basis of a rotation (w, x, y, z) from DeepMimic's frame to ours."""
    return np.concatenate([q[..., :1], _dm_to_ours_vec(q[..., 1:])], axis=-1)


def _yaw_rad(q: np.ndarray) -> np.ndarray:
    """Heading about world z of q = yaw (x) tilt: the twist of q about z."""
    return 2.0 * np.arctan2(q[..., 3], q[..., 0])


def _rot_z_quat(angle_rad: np.ndarray | float) -> np.ndarray:
    return quat_from_axis_angle(np.array([0.0, 0.0, 1.0]), np.asarray(angle_rad, dtype=np.float64))


def _rot2(angle_rad: float) -> np.ndarray:
    """2x2 rotation of the horizontal plane by ``angle_rad`` (counter-clockwise seen from above)."""
    c, sn = math.cos(angle_rad), math.sin(angle_rad)
    return np.array([[c, -sn], [sn, c]])


def _quat_pow(q: np.ndarray, s: np.ndarray | float) -> np.ndarray:
    """q^s via the rotation vector (short way round)."""
    return quat_from_rotvec(np.asarray(s, dtype=np.float64)[..., None] * quat_to_rotvec(q))


def read_deepmimic_frames(path: str | Path) -> tuple[bool, np.ndarray]:
    """(loops, frames [K, 44]) from a DeepMimic motion file, validated."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a readable DeepMimic motion file (JSON with 'Loop' and 'Frames'): {e}") from e
    if not isinstance(data, dict) or "Frames" not in data:
        raise ValueError(f"{path}: a DeepMimic motion file is a JSON object with a 'Frames' list; none found")
    loop = str(data.get("Loop", "none")).lower()
    if loop not in ("wrap", "none"):
        raise ValueError(f"{path}: 'Loop' must be 'wrap' or 'none', got {data.get('Loop')!r}")
    try:
        frames = np.asarray(data["Frames"], dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: 'Frames' must be rows of {_FRAME_LEN} numbers: {e}") from e
    if frames.ndim != 2 or frames.shape[1] != _FRAME_LEN:
        raise ValueError(
            f"{path}: each frame must have {_FRAME_LEN} numbers (dt, root pos, 13 joints of the 3D humanoid), got shape {frames.shape}"
        )
    if len(frames) < 2:
        raise ValueError(f"{path}: a motion needs at least two frames, got {len(frames)}")
    bad = np.argwhere(~np.isfinite(frames))
    if len(bad):
        raise ValueError(f"{path}: NaN or infinite value in frame {bad[0][0]} (column {bad[0][1]})")
    if np.any(frames[:-1, 0] <= 0):
        i = int(np.argmax(frames[:-1, 0] <= 0))
        raise ValueError(f"{path}: frame {i} has a non-positive duration dt={frames[i, 0]}; frame times must increase")
    return loop == "wrap", frames


def _keyframes(frames: np.ndarray, scale: float) -> dict[str, np.ndarray]:
    """Frames -> our frame: times, root position (scaled), spherical joints, revolute angles."""
    out = {"t": np.concatenate([[0.0], np.cumsum(frames[:-1, 0])]), "root_pos": scale * _dm_to_ours_vec(frames[:, 1:4])}
    for name, c in _SPHERICAL.items():
        out[name] = quat_make_continuous(_dm_to_ours_quat(quat_normalize(frames[:, c : c + 4])))
    for name, c in _REVOLUTE.items():
        out[name] = frames[:, c].copy()
    return out


def _close_loop(kf: dict[str, np.ndarray]) -> tuple[float, np.ndarray]:
    """Make the last frame a displaced, turned copy of the first; return (yaw step, xy step).

    The cycle's rigid step maps the first root pose onto the last: a turn by ``yaw`` about z, then
    ``p -> R(yaw) p + step_xy``. Remaining mismatches (root height/tilt, joint rotations) are spread
    linearly in time over the clip, a constant-rate correction that keeps the wrap smooth.
    """
    t = kf["t"]
    s = (t - t[0]) / (t[-1] - t[0])
    root_q = kf["root"]
    d_yaw = float(np.angle(np.exp(1j * (_yaw_rad(root_q[-1]) - _yaw_rad(root_q[0])))))
    rot = _rot2(d_yaw)
    p0, pn = kf["root_pos"][0], kf["root_pos"][-1]
    step_xy = pn[:2] - rot @ p0[:2]
    kf["root_pos"][:, 2] += s * (p0[2] - pn[2])
    target = quat_mul(_rot_z_quat(d_yaw), root_q[0])
    kf["root"] = quat_mul(root_q, _quat_pow(quat_mul(quat_conj(root_q[-1]), target), s))
    for name in _SPHERICAL:
        if name == "root":
            continue
        q = kf[name]
        kf[name] = quat_mul(q, _quat_pow(quat_mul(quat_conj(q[-1]), q[0]), s))
    for name in _REVOLUTE:
        kf[name] = kf[name] + s * (kf[name][0] - kf[name][-1])
    return d_yaw, step_xy


def _chain_loops(kf: dict[str, np.ndarray], n_loops: int, d_yaw: float, step_xy: np.ndarray) -> dict[str, np.ndarray]:
    """Concatenate ``n_loops`` cycles, each turned and displaced by the accumulated cycle step."""
    period = kf["t"][-1] - kf["t"][0]
    parts: dict[str, list[np.ndarray]] = {k: [] for k in kf}
    offset = np.zeros(2)
    for k in range(n_loops):
        last = k == n_loops - 1
        sl = slice(None) if last else slice(0, -1)  # the last frame of a cycle is the next cycle's first
        yaw = k * d_yaw
        rot = _rot2(yaw)
        pos = kf["root_pos"][sl].copy()
        pos[:, :2] = pos[:, :2] @ rot.T + offset
        parts["root_pos"].append(pos)
        parts["root"].append(quat_mul(_rot_z_quat(yaw), kf["root"][sl]))
        parts["t"].append(kf["t"][sl] + k * period)
        for name in kf:
            if name not in ("root_pos", "root", "t"):
                parts[name].append(kf[name][sl])
        offset = rot @ step_xy + offset
    return {k: np.concatenate(v) for k, v in parts.items()}


def _local_quats(j: dict[str, np.ndarray]) -> np.ndarray:
    """Map DeepMimic joints (our frame, resampled) onto local rotations of the 23 segments."""
    n_t = j["root"].shape[0]
    local = np.zeros((n_t, N_SEGMENTS, 4))
    local[..., 0] = 1.0
    I = SEGMENT_INDEX  # noqa: E741
    local[:, I["Pelvis"]] = j["root"]
    chest_quarter = _quat_pow(j["chest"], 0.25)
    for seg in ("L5", "L3", "T12", "T8"):
        local[:, I[seg]] = chest_quarter
    neck_half = _quat_pow(j["neck"], 0.5)
    local[:, I["Neck"]] = neck_half
    local[:, I["Head"]] = neck_half
    for side, p in (("Right", "r_"), ("Left", "l_")):
        local[:, I[side + "UpperArm"]] = j[p + "shoulder"]
        local[:, I[side + "ForeArm"]] = quat_from_axis_angle(_REVOLUTE_AXIS_OURS, j[p + "elbow"])
        local[:, I[side + "UpperLeg"]] = j[p + "hip"]
        local[:, I[side + "LowerLeg"]] = quat_from_axis_angle(_REVOLUTE_AXIS_OURS, j[p + "knee"])
        local[:, I[side + "Foot"]] = j[p + "ankle"]
    return local


def _lowpass(x: np.ndarray, cutoff_hz: float, rate_hz: float) -> np.ndarray:
    """Zero-phase 4th-order Butterworth low-pass along axis 0 (odd extension at the ends)."""
    sos = butter(4, cutoff_hz, fs=rate_hz, output="sos")
    return sosfiltfilt(sos, x, axis=0, padlen=min(x.shape[0] - 1, int(np.ceil(3.0 * rate_hz / cutoff_hz))))


def load_deepmimic(
    path: str | Path,
    shape: BodyShape | None = None,
    rate_hz: float = 200.0,
    n_loops: int = 1,
    duration_s: float | None = None,
    smooth_hz: float | None = SMOOTH_HZ,
) -> BodyMotion:
    """Load a DeepMimic clip as a `BodyMotion` on our skeleton sized from ``shape``.

    Rotations are retargeted unchanged; the root translation is scaled by the ratio of our pelvis
    height to the DeepMimic humanoid's. Looping clips repeat ``n_loops`` times, or as often as
    needed to cover ``duration_s`` (then cut to it); non-looping clips play once and refuse more.
    The result is resampled to ``rate_hz`` with C2 splines and low-passed at ``smooth_hz``
    (None: the raw interpolated keyframes; see the module docstring).
    """
    path = Path(path)
    if smooth_hz is not None and not (np.isfinite(smooth_hz) and 0 < smooth_hz < 0.5 * rate_hz):
        raise ValueError(f"smooth_hz must be a cut-off in (0, rate_hz / 2) = (0, {0.5 * rate_hz:g}) Hz or None, got {smooth_hz}")
    loops, frames = read_deepmimic_frames(path)
    skeleton = make_skeleton(shape)
    scale = float(skeleton.offset_m[SEGMENT_INDEX["Pelvis"], 2]) / DEEPMIMIC_ROOT_HEIGHT_M
    kf = _keyframes(frames, scale)
    period_s = float(kf["t"][-1])
    if duration_s is not None:
        if not (duration_s > 0):
            raise ValueError(f"duration_s must be positive, got {duration_s}")
        n_loops = max(1, math.ceil(duration_s / period_s - 1e-9))
    if n_loops < 1:
        raise ValueError(f"n_loops must be at least 1, got {n_loops}")
    if not loops and n_loops > 1:
        raise ValueError(
            f"{path.name} does not loop (Loop: none, {period_s:.2f} s long); it plays once - ask for n_loops=1 "
            f"or a duration_s of at most {period_s:.2f} s"
        )
    pad = 0  # samples of the extra cycle on each side (looping clips, smoothing on)
    t_end = period_s * n_loops if duration_s is None else min(duration_s, period_s * n_loops)
    t_s = uniform_times_s(t_end, rate_hz)
    if loops:
        d_yaw, step_xy = _close_loop(kf)
        pad = int(math.floor(period_s * rate_hz)) if smooth_hz is not None else 0
        kf = _chain_loops(kf, n_loops + (2 if pad else 0), d_yaw, step_xy)
        if pad:  # sample from the second cycle on, one cycle of padding before and after
            t_s = period_s + np.arange(-pad, t_s.size + pad) / rate_hz
    joints = {name: spline_quats(kf["t"], kf[name], t_s) for name in _SPHERICAL}
    for name in _REVOLUTE:
        joints[name] = spline_positions(kf["t"], kf[name], t_s)
    root_pos = spline_positions(kf["t"], kf["root_pos"], t_s)
    if smooth_hz is not None:
        root_pos = _lowpass(root_pos, smooth_hz, rate_hz)
        for name in _SPHERICAL:
            joints[name] = quat_normalize(_lowpass(quat_make_continuous(joints[name]), smooth_hz, rate_hz))
        for name in _REVOLUTE:
            joints[name] = _lowpass(joints[name], smooth_hz, rate_hz)
    if pad:  # keep the padded middle, moved back by one cycle step so the motion starts like the clip
        keep = slice(pad, t_s.size - pad)
        root_pos = root_pos[keep].copy()
        root_pos[:, :2] = (root_pos[:, :2] - step_xy) @ _rot2(-d_yaw).T
        joints = {k: v[keep] for k, v in joints.items()}
        joints["root"] = quat_mul(_rot_z_quat(-d_yaw), joints["root"])
        t_s = t_s[keep] - period_s
    activity = deepmimic_activity(path.name)
    total_s = float(t_s[-1])
    return BodyMotion.from_local(
        skeleton,
        rate_hz,
        root_pos,
        _local_quats(joints),
        labels=[LabelSegment(activity, 0.0, total_s)],
        captions=list(_CAPTIONS.get(activity, [f"A person: {activity}.", f"Someone: {activity}.", f"The subject: {activity}."])),
        source=f"deepmimic:{path.stem}",
    )


def find_deepmimic_clips(directory: str | Path) -> list[Path]:
    """DeepMimic motion files (``*.txt`` / ``*.json`` with a 'Frames' list) under ``directory``, sorted."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"{directory} is not a folder of DeepMimic clips (e.g. pybullet_data/data/motions)")
    out = []
    for p in sorted(directory.rglob("*")):
        if p.suffix.lower() in (".txt", ".json") and p.is_file():
            with p.open("rb") as f:
                head = f.read(4096)
            if b'"Frames"' in head:
                out.append(p)
    return out


def load_deepmimic_dir(directory: str | Path, **kw) -> dict[str, BodyMotion]:
    """Every DeepMimic clip under ``directory``: {path relative to it without suffix: motion}."""
    directory = Path(directory)
    clips = find_deepmimic_clips(directory)
    if not clips:
        raise ValueError(f"no DeepMimic clips (JSON with 'Frames') found under {directory}")
    return {p.relative_to(directory).with_suffix("").as_posix(): load_deepmimic(p, **kw) for p in clips}
