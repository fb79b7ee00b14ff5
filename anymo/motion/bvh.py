"""BVH motion capture: `read_bvh` parses a file, `bvh_to_motion` retargets it to the 23 segments.

Retargeting copies world orientations, not joint angles, so it works for any rest pose:
* The BVH rest pose (all channels zero) has every joint frame aligned with the BVH world; bone
  directions come from the child offsets. Our rest (N-pose) has every segment frame aligned with
  our world and bone directions ``skeleton.axis``.
* Axes: ``up_axis`` names the BVH up direction; "left" is found from the left/right hip joints and
  forward = left x up, so any facing convention maps to ours (x forward, y left, z up): matrix C.
* For our segment s driven by BVH joint j: ``Q_s(t) = C G_j(t) C^T A_s``, where G_j is j's world
  rotation and A_s the smallest rotation taking our rest bone direction onto j's rest bone
  direction (in our axes). A T-pose BVH therefore gives arms out to the sides at its rest and
  our N-pose (identity local rotations) when its arms are rotated down.
* Spine joints between the hips and the chest (the joint that carries both arms) are assigned to
  L5/L3/T12 by their place along the chain, whatever their names; unassigned spine segments share
  the rotation between their nearest assigned neighbours; other unassigned segments stay at rest.
* Root translation is converted to metres (units detected from the skeleton's height unless
  ``unit_scale_m`` is given) and scaled by our leg length (hip to ankle) over the BVH's.

Cleaning raw motion capture (the IMU simulator differentiates positions twice, so what is harmless
on screen becomes tens of g):
* Lead-in: many converted files start on the rig's rest pose (every cgspeed CMU file: frame 0 has
  whole-degree angles, the T-pose with a few fixed offsets; the DAZ-style "hip" rig: mostly zeros)
  and some blend from it over a few frames. `lead_in_frames` finds the frames before the motion
  proper - such a rest frame and the fast steps that follow it within `LEAD_IN_S`; without a rest
  frame only a jump much larger than the clip's typical step - and they are dropped.
* Flips: solver ambiguities in the source (a thigh that turns 180 deg about its own axis between
  two frames while the foot turns back, seen in the CMU dance and basketball clips) are steps no
  body makes: faster than `GLITCH_DEG_S`. Each such step of a segment's world orientation is
  removed (the rest of the clip is turned back by it), so the segment moves on continuously.
* Jitter: marker-based capture at 120 Hz carries millimetre noise that double differentiation
  turns into g. The retargeted joint rotations (components of sign-continuous quaternions,
  renormalised) and the root translation are low-passed at ``smooth_hz`` (default `SMOOTH_HZ` =
  8 Hz) with a zero-phase 4th-order Butterworth, as marker trajectories are before
  differentiation: Yu et al. (1999, J Appl Biomech 15:318) give the optimum cut-off for human
  movement data as fc = 0.071 fs - 0.00003 fs^2, 8.1 Hz at the CMU/HDM05 rate of 120 Hz; Winter
  (Biomechanics and Motor Control of Human Movement, 2009) uses 6 Hz for walking alone, which would
  blunt kicks, jumps and throws.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from anymo.body.skeleton import N_SEGMENTS, PARENTS, SEGMENT_INDEX, SEGMENTS, BodyShape, make_skeleton, segment_index
from anymo.geometry.rotations import (
    matrix_to_quat,
    quat_conj,
    quat_from_axis_angle,
    quat_from_rotvec,
    quat_make_continuous,
    quat_mul,
    quat_normalize,
    quat_rotate,
    quat_to_rotvec,
)
from anymo.motion._resample import spline_positions, spline_quats, uniform_times_s
from anymo.motion.base import BodyMotion

_AXES = {"X": 0, "Y": 1, "Z": 2}
_VALID_CHANNELS = {f"{a}{kind}" for a in "XYZ" for kind in ("position", "rotation")}
REQUIRED_SEGMENTS: tuple[str, ...] = (
    "Pelvis", "RightUpperLeg", "RightLowerLeg", "RightFoot", "LeftUpperLeg", "LeftLowerLeg", "LeftFoot",
)  # fmt: skip

# Candidate length units (metres per file unit); the one giving the most human height wins.
# "CMU ASF units" are 1/0.45 inch (the CMU mocap BVH conversions keep them).
UNIT_CANDIDATES_M: dict[str, float] = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "cmu_asf": 0.0254 / 0.45}
_TYPICAL_SKELETON_HEIGHT_M = 1.6  # rest-pose top joint to lowest joint, a little under standing height
SMOOTH_HZ = 8.0  # low-pass of the joint rotations and root translation (Yu et al. 1999 at 120 Hz; module docstring)
LEAD_IN_S = 0.25  # a rest pose / blend-in is looked for within this time from the start
LEAD_IN_STEP_FACTOR = 2.0  # a lead-in step is this many times the clip's median frame-to-frame step ...
LEAD_IN_MIN_STEP_DEG = 4.0  # ... and at least this many degrees (500 deg/s at 120 Hz)
# Fastest believable change of a segment's orientation. Peak segment angular velocities of everyday and
# sport movement stay below ~2,500 deg/s (e.g. knee ~1,000-1,500 deg/s in kicking, elbow extension
# ~2,400 deg/s in throwing, Fleisig et al. 1995); only baseball pitching's shoulder internal rotation
# reaches ~7,000 deg/s, and no clip here pitches. Steps above this rate are data flips.
GLITCH_DEG_S = 4000.0

# Normalised BVH joint name -> segment (names lower-cased, namespace prefixes and _ - . spaces removed).
# Spine joints between hips and chest are assigned by structure (see module docstring).
_NAME_MAP: dict[str, str] = {
    # hips / root
    "hips": "Pelvis", "hip": "Pelvis", "pelvis": "Pelvis", "root": "Pelvis",
    # neck and head
    "neck": "Neck", "neck0": "Neck", "head": "Head",
}  # fmt: skip
for _side, _s in (("Left", "l"), ("Right", "r")):
    _l = _side.lower()
    for _names, _seg in (
        ((f"{_l}shoulder", f"{_l}collar", f"{_l}clavicle", f"{_s}collar", f"{_s}clavicle", f"{_s}shoulder"), "Shoulder"),
        ((f"{_l}arm", f"{_l}upperarm", f"{_l}uparm", f"{_s}humerus", f"{_s}uparm", f"{_s}upperarm"), "UpperArm"),
        ((f"{_l}forearm", f"{_l}elbow", f"{_l}lowerarm", f"{_s}radius", f"{_s}forearm", f"{_s}elbow", f"{_s}lowarm"), "ForeArm"),
        ((f"{_l}hand", f"{_l}wrist", f"{_s}wrist", f"{_s}hand"), "Hand"),
        ((f"{_l}upleg", f"{_l}upperleg", f"{_l}thigh", f"{_l}hip", f"{_l}femur", f"{_s}femur", f"{_s}thigh", f"{_s}upleg"), "UpperLeg"),
        ((f"{_l}leg", f"{_l}lowerleg", f"{_l}shin", f"{_l}knee", f"{_l}tibia", f"{_s}tibia", f"{_s}shin", f"{_s}knee", f"{_s}lowleg"), "LowerLeg"),
        ((f"{_l}foot", f"{_l}ankle", f"{_s}foot", f"{_s}ankle"), "Foot"),
        ((f"{_l}toebase", f"{_l}toe", f"{_l}toes", f"{_s}toes", f"{_s}toe", f"{_s}toebase"), "Toe"),
    ):
        for _n in _names:
            _NAME_MAP.setdefault(_n, _side + _seg)
for _seg in SEGMENTS:  # Xsens MVN BVH names are our segment names
    _NAME_MAP[_seg.lower()] = _seg

_DISTAL_CHILD = {
    "L5": "L3", "L3": "T12", "T12": "T8", "T8": "Neck", "Neck": "Head",
    "RightShoulder": "RightUpperArm", "RightUpperArm": "RightForeArm", "RightForeArm": "RightHand",
    "LeftShoulder": "LeftUpperArm", "LeftUpperArm": "LeftForeArm", "LeftForeArm": "LeftHand",
    "RightUpperLeg": "RightLowerLeg", "RightLowerLeg": "RightFoot", "RightFoot": "RightToe",
    "LeftUpperLeg": "LeftLowerLeg", "LeftLowerLeg": "LeftFoot", "LeftFoot": "LeftToe",
}  # fmt: skip


@dataclass
class BvhClip:
    """A parsed BVH file: joint hierarchy, rest offsets, channels and frames (file units, degrees)."""

    names: list[str]
    parents: list[int]  # -1 for the root
    offsets: np.ndarray  # [J, 3] joint position in the parent frame at rest (file units)
    channels: list[tuple[str, ...]]  # per joint, e.g. ("Xposition", ..., "Zrotation", "Xrotation", "Yrotation")
    frame_time_s: float
    frames: np.ndarray  # [F, C] channel values in file order
    end_sites: dict[int, np.ndarray] = field(default_factory=dict)  # joint -> End Site offset
    path: str = ""

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

    def index(self, name: str) -> int:
        return self.names.index(name)

    def children(self, j: int) -> list[int]:
        return [k for k, p in enumerate(self.parents) if p == j]

    def _columns(self) -> list[int]:
        starts, c = [], 0
        for ch in self.channels:
            starts.append(c)
            c += len(ch)
        return starts

    def local_quats(self) -> np.ndarray:
        """[F, J, 4] joint rotations relative to the parent (BVH axes): product in channel order."""
        q = np.zeros((self.n_frames, len(self.names), 4))
        q[..., 0] = 1.0
        for j, (start, ch) in enumerate(zip(self._columns(), self.channels)):
            for k, name in enumerate(ch):
                if name.endswith("rotation"):
                    axis = np.eye(3)[_AXES[name[0]]]
                    q[:, j] = quat_mul(q[:, j], quat_from_axis_angle(axis, np.radians(self.frames[:, start + k])))
        return q

    def root_translation(self) -> np.ndarray:
        """[F, 3] root position (file units): its position channels, or its offset if it has none."""
        start, ch = self._columns()[0], self.channels[0]
        pos = np.tile(self.offsets[0], (self.n_frames, 1))
        for k, name in enumerate(ch):
            if name.endswith("position"):
                pos[:, _AXES[name[0]]] = self.frames[:, start + k]
        return pos

    def world_quats(self) -> np.ndarray:
        """[F, J, 4] joint orientations in the BVH world frame (world-from-joint)."""
        local = self.local_quats()
        world = np.empty_like(local)
        for j, p in enumerate(self.parents):
            world[:, j] = local[:, j] if p < 0 else quat_mul(world[:, p], local[:, j])
        return world

    def rest_positions(self) -> np.ndarray:
        """[J, 3] joint positions in the rest pose (file units, root at its offset)."""
        pos = np.zeros((len(self.names), 3))
        for j, p in enumerate(self.parents):
            pos[j] = self.offsets[j] + (pos[p] if p >= 0 else 0.0)
        return pos

    def rest_points(self) -> np.ndarray:
        """Rest positions of joints and End Sites together [J + E, 3]."""
        pos = self.rest_positions()
        ends = [pos[j] + off for j, off in self.end_sites.items()]
        return np.concatenate([pos, np.array(ends).reshape(-1, 3)])


def _tokens(text: str) -> list[tuple[str, int]]:
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        for tok in line.replace("{", " { ").replace("}", " } ").split():
            out.append((tok, lineno))
    return out


def read_bvh(path: str | Path) -> BvhClip:
    """Parse a BVH file; malformed hierarchy or motion data raise ValueError saying where."""
    path = Path(path)
    try:
        text = path.read_text(errors="strict")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read BVH file: {e}") from e
    return parse_bvh(text, str(path))


def parse_bvh(text: str, source: str = "<bvh>") -> BvhClip:
    """Parse BVH text (see `read_bvh`)."""
    parts = re.split(r"^\s*MOTION\s*$", text, maxsplit=1, flags=re.MULTILINE)
    if len(parts) != 2:
        raise ValueError(f"{source}: no MOTION section; a BVH file has HIERARCHY ... then MOTION with Frames/Frame Time")
    head, motion = parts
    toks = _tokens(head)
    pos = 0

    def err(msg: str) -> ValueError:
        line = toks[min(pos, len(toks) - 1)][1] if toks else 0
        return ValueError(f"{source}: unparseable BVH hierarchy near line {line}: {msg}")

    def take() -> str:
        nonlocal pos
        if pos >= len(toks):
            raise err("unexpected end of hierarchy (missing '}'?)")
        pos += 1
        return toks[pos - 1][0]

    def expect(word: str) -> None:
        got = take()
        if got.upper() != word.upper():
            raise err(f"expected {word!r}, found {got!r}")

    def floats(n: int) -> np.ndarray:
        vals = []
        for _ in range(n):
            t = take()
            try:
                vals.append(float(t))
            except ValueError:
                raise err(f"expected a number, found {t!r}") from None
        v = np.array(vals)
        if not np.all(np.isfinite(v)):
            raise err("NaN or infinite OFFSET")
        return v

    names: list[str] = []
    parents: list[int] = []
    offsets: list[np.ndarray] = []
    channels: list[tuple[str, ...]] = []
    end_sites: dict[int, np.ndarray] = {}

    def joint(parent: int) -> None:
        # after ROOT/JOINT keyword
        name = take()
        if name in names:
            raise err(f"joint name {name!r} appears twice")
        j = len(names)
        names.append(name)
        parents.append(parent)
        expect("{")
        expect("OFFSET")
        offsets.append(floats(3))
        channels.append(())
        while True:
            t = take()
            tu = t.upper()
            if tu == "CHANNELS":
                n_txt = take()
                if not n_txt.isdigit():
                    raise err(f"CHANNELS needs a count, found {n_txt!r}")
                ch = tuple(take() for _ in range(int(n_txt)))
                bad = [c for c in ch if c not in _VALID_CHANNELS]
                if bad:
                    raise err(f"unknown channel(s) {bad} for joint {name!r}; valid: X/Y/Z + position/rotation")
                channels[j] = ch
            elif tu == "JOINT":
                joint(j)
            elif tu == "END":
                expect("Site")
                expect("{")
                expect("OFFSET")
                end_sites[j] = floats(3)
                expect("}")
            elif t == "}":
                return
            else:
                raise err(f"unexpected {t!r} in joint {name!r}")

    expect("HIERARCHY")
    expect("ROOT")
    joint(-1)
    if pos != len(toks):
        raise err(f"unexpected {toks[pos][0]!r} after the root joint (only one ROOT is supported)")

    lines = [ln for ln in motion.splitlines() if ln.strip()]
    m_frames = re.match(r"\s*Frames:\s*(\S+)", lines[0]) if lines else None
    m_time = re.match(r"\s*Frame\s+Time:\s*(\S+)", lines[1]) if len(lines) > 1 else None
    if not m_frames or not m_time:
        raise ValueError(f"{source}: MOTION must start with 'Frames: N' and 'Frame Time: seconds'")
    try:
        n_frames = int(m_frames.group(1))
        frame_time = float(m_time.group(1))
    except ValueError:
        raise ValueError(f"{source}: bad 'Frames:' or 'Frame Time:' value ({m_frames.group(1)!r}, {m_time.group(1)!r})") from None
    if n_frames <= 0:
        raise ValueError(f"{source}: the BVH has zero frames (Frames: {n_frames}); nothing to play")
    if not (frame_time > 0 and math.isfinite(frame_time)):
        raise ValueError(f"{source}: Frame Time must be a positive number of seconds, got {m_time.group(1)}")
    n_ch = sum(len(c) for c in channels)
    rows = lines[2:]
    if len(rows) < n_frames:
        raise ValueError(f"{source}: header says {n_frames} frames but only {len(rows)} frame lines follow")
    data = np.empty((n_frames, n_ch))
    for i, row in enumerate(rows[:n_frames]):
        vals = row.split()
        if len(vals) != n_ch:
            raise ValueError(f"{source}: frame {i} has {len(vals)} values, the hierarchy declares {n_ch} channels")
        try:
            data[i] = [float(v) for v in vals]
        except ValueError:
            raise ValueError(f"{source}: frame {i} has a value that is not a number: {row.strip()[:80]!r}") from None
        if not np.all(np.isfinite(data[i])):
            c = int(np.argmax(~np.isfinite(data[i])))
            raise ValueError(f"{source}: NaN or infinite value in frame {i} (channel {c}); clean the file or cut that frame")
    return BvhClip(
        names=names,
        parents=parents,
        offsets=np.array(offsets),
        channels=channels,
        frame_time_s=frame_time,
        frames=data,
        end_sites=end_sites,
        path=source,
    )


def normalize_joint_name(name: str) -> str:
    """Lower-case, strip a namespace prefix (``mixamorig:``, ``Character1:``) and _ - . spaces."""
    n = name.rsplit(":", 1)[-1].lower()
    n = re.sub(r"^mixamorig\d*", "", n)
    return re.sub(r"[\s_\-.|]", "", n)


def default_joint_map(clip: BvhClip) -> dict[str, str]:
    """BVH joint name -> segment for the common naming schemes (CMU, Mixamo, Xsens MVN, Biovision)."""
    norm = {normalize_joint_name(n): n for n in clip.names}
    has_collar = any(k in norm for k in ("leftcollar", "lcollar", "rightcollar", "rcollar"))
    out: dict[str, str] = {}
    used: set[str] = set()
    for n in clip.names:
        key = normalize_joint_name(n)
        seg = _NAME_MAP.get(key)
        if has_collar and key in ("leftshoulder", "rightshoulder", "lshoulder", "rshoulder"):
            seg = key.startswith("l") and "LeftUpperArm" or "RightUpperArm"  # Biovision: Collar, Shoulder, Elbow
        if seg is None or seg in used:
            continue
        out[n] = seg
        used.add(seg)
    # The chest: the joint that carries both arms (T8); spine joints between hips and chest -> L5/L3/T12.
    by_seg = {s: clip.index(n) for n, s in out.items()}
    if "Pelvis" in by_seg and not any(s in used for s in ("L5", "L3", "T12", "T8")):
        arms = [by_seg.get(s + "Shoulder", by_seg.get(s + "UpperArm")) for s in ("Left", "Right")]
        if arms[0] is not None and arms[1] is not None:
            chest = _common_ancestor(clip.parents, arms[0], arms[1])
            chain = _path(clip.parents, by_seg["Pelvis"], chest)
            if chain is not None and len(chain) >= 1:
                for n in [clip.names[j] for j in chain]:
                    out.pop(n, None)
                out[clip.names[chain[-1]]] = "T8"
                between = chain[:-1]
                targets = {"L5": 0.25, "L3": 0.5, "T12": 0.75}
                fractions = {j: (k + 1) / (len(between) + 1) for k, j in enumerate(between)}
                if len(between) <= 3:
                    for j, f in fractions.items():
                        seg = min((s for s in targets if s not in out.values()), key=lambda s: abs(targets[s] - f))
                        out[clip.names[j]] = seg
                else:
                    for seg, f in targets.items():
                        j = min(between, key=lambda j: abs(fractions[j] - f))
                        out[clip.names[j]] = seg
    return out


def _ancestors(parents: list[int], j: int) -> list[int]:
    out = []
    while j >= 0:
        out.append(j)
        j = parents[j]
    return out


def _common_ancestor(parents: list[int], a: int, b: int) -> int:
    anc_b = set(_ancestors(parents, b))
    return next(j for j in _ancestors(parents, a) if j in anc_b)


def _path(parents: list[int], top: int, bottom: int) -> list[int] | None:
    """Joints strictly below ``top`` down to ``bottom`` (inclusive), or None if not a descendant."""
    anc = _ancestors(parents, bottom)
    if top not in anc or top == bottom:
        return None
    return anc[: anc.index(top)][::-1]


def detect_unit_scale_m(clip: BvhClip, up: int) -> float:
    """Metres per file unit, chosen from `UNIT_CANDIDATES_M` by the rest skeleton's height."""
    pts = clip.rest_points()
    height = float(pts[:, up].max() - pts[:, up].min())
    if not (height > 0):
        raise ValueError(f"{clip.path}: the skeleton has zero height along the up axis; check up_axis or the OFFSETs")
    best = min(UNIT_CANDIDATES_M.values(), key=lambda u: abs(math.log(height * u / _TYPICAL_SKELETON_HEIGHT_M)))
    if abs(math.log(height * best / _TYPICAL_SKELETON_HEIGHT_M)) > math.log(2.0):
        raise ValueError(
            f"{clip.path}: cannot tell the length unit from the skeleton height ({height:g} file units); pass unit_scale_m"
        )
    return best


def _parse_up(up_axis: str) -> np.ndarray:
    u = up_axis.strip().lower()
    sign = -1.0 if u.startswith("-") else 1.0
    u = u.lstrip("+-")
    if u not in ("x", "y", "z"):
        raise ValueError(f"up_axis must be 'x', 'y' or 'z' (optionally signed), got {up_axis!r}")
    return sign * np.eye(3)["xyz".index(u)]


def _min_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation (wxyz) taking unit direction a onto direction b."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    c = np.cross(a, b)
    d = float(a @ b)
    if d < -1 + 1e-9:  # opposite: any perpendicular axis
        perp = np.cross(a, [1.0, 0, 0] if abs(a[0]) < 0.9 else [0, 1.0, 0])
        return quat_from_axis_angle(perp, np.pi)
    return quat_normalize(np.concatenate([[1.0 + d], c]))


def _quat_pow(q: np.ndarray, s: float) -> np.ndarray:
    return quat_from_rotvec(s * quat_to_rotvec(q))


def bvh_to_motion(
    clip: BvhClip,
    joint_map: dict[str, str] | None = None,
    shape: BodyShape | None = None,
    rate_hz: float = 200.0,
    up_axis: str = "y",
    unit_scale_m: float | None = None,
    smooth_hz: float | None = SMOOTH_HZ,
    trim_lead_in: bool = True,
    fix_flips: bool = True,
    report: dict | None = None,
) -> BodyMotion:
    """Retarget a BVH clip onto the 23-segment skeleton sized from ``shape``, resampled to ``rate_hz``.

    ``joint_map`` (BVH joint name -> segment name) replaces the default name matching entirely.
    Joints not in the map (fingers, twist bones, extra spine links) are ignored, though their
    rotations still move their mapped descendants. Cleaning (module docstring): ``trim_lead_in``
    drops a rest-pose / blend-in start, ``fix_flips`` removes orientation steps faster than
    `GLITCH_DEG_S`, ``smooth_hz`` low-passes rotations and root (None: raw frames, spline only).
    ``report``, when a dict, receives what cleaning did: ``lead_in_frames``, ``flips`` (segment ->
    count), ``unit_scale_m``, ``skeleton_height_m`` (the source rig's rest height in metres, lowest
    to highest joint or end site) and ``standing_height_m`` (the source body's height from its legs).
    """
    if clip.n_frames < 1:
        raise ValueError(f"{clip.path}: the BVH has zero frames; nothing to play")
    if not (clip.frame_time_s > 0):
        raise ValueError(f"{clip.path}: Frame Time must be positive, got {clip.frame_time_s}")
    if joint_map is None:
        joint_map = default_joint_map(clip)
    else:
        unknown = [n for n in joint_map if n not in clip.names]
        if unknown:
            raise ValueError(f"{clip.path}: joint_map names joints not in the BVH: {unknown}; its joints are {clip.names}")
        for seg in joint_map.values():
            segment_index(seg)
        segs = list(joint_map.values())
        dup = sorted({s for s in segs if segs.count(s) > 1})
        if dup:
            raise ValueError(f"{clip.path}: joint_map drives segment(s) {dup} from more than one joint")
    seg_to_joint = {seg: clip.index(n) for n, seg in joint_map.items()}
    missing = [s for s in REQUIRED_SEGMENTS if s not in seg_to_joint]
    if missing:
        raise ValueError(
            f"{clip.path}: cannot find the joints for {missing} (hips and legs are required). BVH joints: {clip.names}. "
            f"Pass joint_map={{bvh_joint_name: segment}} naming them, e.g. {{'Hips': 'Pelvis', 'LeftUpLeg': 'LeftUpperLeg'}}; "
            f"segments are {list(SEGMENTS)}"
        )

    # Axes: up given, left from the hips, forward = left x up. C maps BVH vectors to ours.
    up = _parse_up(up_axis)
    rest = clip.rest_positions()
    left = rest[seg_to_joint["LeftUpperLeg"]] - rest[seg_to_joint["RightUpperLeg"]]
    left = left - (left @ up) * up
    if np.linalg.norm(left) < 1e-9:
        raise ValueError(f"{clip.path}: left and right hips coincide across the up axis; check up_axis ({up_axis!r})")
    left /= np.linalg.norm(left)
    fwd = np.cross(left, up)
    c_mat = np.stack([fwd, left, up])  # rows: our x, y, z in BVH coordinates
    q_c = matrix_to_quat(c_mat)

    scale_m = unit_scale_m if unit_scale_m is not None else detect_unit_scale_m(clip, int(np.argmax(np.abs(up))))
    if not (scale_m > 0):
        raise ValueError(f"unit_scale_m must be positive, got {unit_scale_m}")
    key_rate_hz = 1.0 / clip.frame_time_s
    if smooth_hz is not None and not (np.isfinite(smooth_hz) and 0 < smooth_hz < 0.5 * key_rate_hz):
        raise ValueError(
            f"smooth_hz must be a cut-off in (0, {0.5 * key_rate_hz:g}) Hz (half the file's {key_rate_hz:g} Hz frame rate) or None, got {smooth_hz}"
        )
    skeleton = make_skeleton(shape)
    # Body size: our thigh + shank over the BVH's (rest splay and floor level do not matter).
    bvh_leg = np.mean([
        np.linalg.norm(rest[seg_to_joint[s + "LowerLeg"]] - rest[seg_to_joint[s + "UpperLeg"]])
        + np.linalg.norm(rest[seg_to_joint[s + "Foot"]] - rest[seg_to_joint[s + "LowerLeg"]])
        for s in ("Left", "Right")
    ]) * scale_m
    if not (bvh_leg > 0):
        raise ValueError(f"{clip.path}: the legs have zero length in the rest pose; check the OFFSETs and joint_map")
    our_leg = sum(skeleton.length_m[SEGMENT_INDEX["Left" + s]] for s in ("UpperLeg", "LowerLeg"))
    height_ratio = float(our_leg / bvh_leg)

    start = lead_in_frames(clip, list(seg_to_joint.values())) if trim_lead_in else 0
    if start >= clip.n_frames - 1:
        raise ValueError(f"{clip.path}: only the rig's rest pose / lead-in, no motion ({clip.n_frames} frames); pass trim_lead_in=False to keep it")
    n_frames = clip.n_frames - start
    # World orientation of each mapped segment: C G_j C^T A_s.
    g = clip.world_quats()[start:]  # [F, J, 4]
    world = {}
    for seg, j in seg_to_joint.items():
        a_s = np.eye(4)[0]
        if seg != "Pelvis":
            d = _rest_bone_dir(clip, seg, j, seg_to_joint, rest)
            if d is not None:
                ours, theirs = skeleton.axis[SEGMENT_INDEX[seg]], c_mat @ d
                if seg.endswith(("Foot", "Toe")):
                    # feet rest flat in both skeletons; only their heading (toe-out) is corrected,
                    # since ankle height / foot length proportions differ between skeletons
                    ours, theirs = ours * [1, 1, 0], theirs * [1, 1, 0]
                if np.linalg.norm(ours) > 0.05 and np.linalg.norm(theirs) > 0.05 * np.linalg.norm(d):
                    a_s = _min_rotation(ours, theirs)
        world[seg] = quat_mul(quat_mul(quat_mul(q_c, g[:, j]), quat_conj(q_c)), a_s)
    flips: dict[str, int] = {}
    if fix_flips and n_frames > 1:
        max_step_rad = math.radians(GLITCH_DEG_S) * clip.frame_time_s
        for seg, q_seg in world.items():
            world[seg], n_flips = remove_flips(q_seg, max_step_rad)
            if n_flips:
                flips[seg] = n_flips
    local = _locals_from_world(world, n_frames)

    # Our pelvis origin is the hip-joint centre; a BVH root usually sits ~10 cm above it (CMU: the
    # pelvis marker centre), so the path of the file's hip-joint centre drives ours.
    hips = [seg_to_joint["LeftUpperLeg"], seg_to_joint["RightUpperLeg"]]
    hip_centre = _hip_centre(clip, hips, g, start)
    root = hip_centre @ c_mat.T * scale_m * height_ratio
    if smooth_hz is not None and n_frames > 1:
        local = quat_normalize(lowpass(quat_make_continuous(local, axis=0), smooth_hz, key_rate_hz))
        root = lowpass(root, smooth_hz, key_rate_hz)
    if report is not None:
        pts = clip.rest_points()
        up_i = int(np.argmax(np.abs(up)))
        report.update(
            lead_in_frames=start,
            flips=flips,
            unit_scale_m=float(scale_m),
            skeleton_height_m=float((pts[:, up_i].max() - pts[:, up_i].min()) * scale_m),
            # standing height from the legs: hip-to-ankle is 0.491 of it (our skeleton, Drillis & Contini)
            standing_height_m=float(bvh_leg / (our_leg / skeleton.shape.height_m)),
        )
    key_t = np.arange(n_frames) * clip.frame_time_s
    if n_frames == 1:  # a single pose: hold it for one frame time
        key_t = np.array([0.0, clip.frame_time_s])
        local = np.concatenate([local, local])
        root = np.concatenate([root, root])
    t_s = uniform_times_s(float(key_t[-1]), rate_hz)
    if len(t_s) < 2:
        raise ValueError(f"{clip.path}: the clip lasts {key_t[-1]:g} s, less than one sample period at {rate_hz} Hz")
    name = Path(clip.path).name if clip.path else "bvh"
    return BodyMotion.from_local(
        skeleton,
        rate_hz,
        spline_positions(key_t, root, t_s),
        spline_quats(key_t, local, t_s),
        source=f"bvh:{name}",
    )


def _hip_centre(clip: BvhClip, hips: list[int], world: np.ndarray, start: int) -> np.ndarray:
    """[F, 3] mean position of the ``hips`` joints from frame ``start`` (file axes and units);
    ``world`` [F - start, J, 4] are the joints' world rotations from that frame."""
    root = clip.root_translation()[start:]
    out = np.zeros_like(root)
    for j in hips:
        pos = root.copy()
        chain = _ancestors(clip.parents, j)[::-1]  # root ... j
        for parent, child in itertools.pairwise(chain):
            pos = pos + quat_rotate(world[:, parent], np.broadcast_to(clip.offsets[child], pos.shape))
        out += pos / len(hips)
    return out


def lead_in_frames(clip: BvhClip, joints: list[int] | None = None) -> int:
    """Frames at the start that are the rig's rest pose or a blend from it, not the motion (0 if none).

    Frame 0 is a rest pose when its rotation channels are all whole degrees (the cgspeed CMU
    conversions start on their T-pose like that) or mostly exactly zero (the DAZ-style conversions)
    while no other frame is like that. The blend that follows a rest pose - every step (largest
    change of any of ``joints``' local rotations, default all) above ``max(LEAD_IN_MIN_STEP_DEG,
    LEAD_IN_STEP_FACTOR x median step)``, within `LEAD_IN_S` - is lead-in too. Without a rest pose,
    only a jump (a step above twice that threshold) within `LEAD_IN_S` marks the frames before it.
    """
    if clip.n_frames < 3:
        return 0
    q = clip.local_quats()
    if joints is not None:
        q = q[:, joints]
    step = np.degrees(_step_angle_rad(q)).max(axis=1)  # [F-1]: frame k -> k+1
    thr = max(LEAD_IN_MIN_STEP_DEG, LEAD_IN_STEP_FACTOR * float(np.median(step)))
    n_lead = min(round(LEAD_IN_S / clip.frame_time_s), step.size - 1)
    rot_cols = np.array([c for c, name in enumerate(_channel_names(clip)) if name.endswith("rotation")], dtype=int)
    rest = False
    if rot_cols.size:
        rot = clip.frames[:, rot_cols]
        whole = np.all(np.abs(rot - np.round(rot)) < 1e-9, axis=1)
        zero = np.mean(np.abs(rot) < 1e-6, axis=1) >= 0.5
        rest = bool((whole[0] and not whole[1:].any()) or (zero[0] and not zero[1:].any()))
    if rest:
        start = 1
        while start < n_lead and step[start] > thr:
            start += 1
        return start
    big = np.nonzero(step[:n_lead] > 2.0 * thr)[0]
    return int(big[-1]) + 1 if big.size else 0


def _channel_names(clip: BvhClip) -> list[str]:
    return [c for ch in clip.channels for c in ch]


def _step_angle_rad(q: np.ndarray) -> np.ndarray:
    """Rotation angle between consecutive frames of quaternions [F, ..., 4] -> [F-1, ...]."""
    d = np.abs(np.sum(q[:-1] * q[1:], axis=-1)).clip(0.0, 1.0)
    return 2.0 * np.arccos(d)


def remove_flips(q: np.ndarray, max_step_rad: float) -> tuple[np.ndarray, int]:
    """Remove frame-to-frame orientation steps larger than ``max_step_rad`` from world quaternions [F, 4].

    The step is replaced by the one before it (the segment keeps turning as it was) and the rest of
    the clip is turned by the difference, in the segment frame, so the motion after the step is kept
    as it was relative to the segment. Returns (quaternions, steps removed).
    """
    step = _step_angle_rad(q)
    bad = np.nonzero(step > max_step_rad)[0]
    if not bad.size:
        return q, 0
    out = q.copy()
    for k in bad:  # frame k -> k+1 jumps
        jump = quat_mul(quat_conj(out[k]), out[k + 1])
        prev = quat_mul(quat_conj(out[k - 1]), out[k]) if k > 0 else np.array([1.0, 0.0, 0.0, 0.0])
        if _step_angle_rad(np.stack([np.array([1.0, 0.0, 0.0, 0.0]), prev]))[0] > max_step_rad:
            prev = np.array([1.0, 0.0, 0.0, 0.0])  # two jumps in a row: hold the pose for the frame
        out[k + 1 :] = quat_mul(out[k + 1 :], quat_mul(quat_conj(jump), prev))
    return quat_normalize(out), int(bad.size)


def lowpass(x: np.ndarray, cutoff_hz: float, rate_hz: float) -> np.ndarray:
    """Zero-phase 4th-order Butterworth low-pass along axis 0 (scipy's odd extension at the ends)."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(4, cutoff_hz, fs=rate_hz, output="sos")
    return sosfiltfilt(sos, x, axis=0, padlen=min(x.shape[0] - 1, int(np.ceil(3.0 * rate_hz / cutoff_hz))))


def _rest_bone_dir(clip: BvhClip, seg: str, j: int, seg_to_joint: dict[str, int], rest: np.ndarray) -> np.ndarray | None:
    """Rest bone direction of joint j (BVH axes).

    Towards the joint of our next segment down the chain if it is mapped; otherwise towards the
    descendant point (joint or End Site) that best continues the incoming bone (a hand's middle
    finger rather than its thumb; zero-length helper joints skipped); None if nothing is found.
    """
    nxt = _DISTAL_CHILD.get(seg)
    while nxt is not None and nxt not in seg_to_joint:
        nxt = _DISTAL_CHILD.get(nxt)
    scale = max(float(np.abs(clip.offsets).max()), 1e-12)
    if nxt is not None and j in _ancestors(clip.parents, seg_to_joint[nxt]):
        cand = rest[seg_to_joint[nxt]] - rest[j]
        if np.linalg.norm(cand) > 1e-6 * scale:
            return cand
    desc = [k for k in range(len(clip.names)) if k != j and j in _ancestors(clip.parents, k)]
    pts = [rest[k] - rest[j] for k in desc] + [rest[k] + clip.end_sites[k] - rest[j] for k in desc + [j] if k in clip.end_sites]
    pts = [v for v in pts if np.linalg.norm(v) > 1e-6 * scale]
    own = clip.offsets[j]
    if not pts:
        return own if np.linalg.norm(own) > 1e-6 * scale else None
    if np.linalg.norm(own) <= 1e-6 * scale:
        mean = np.mean(pts, axis=0)
        return mean if np.linalg.norm(mean) > 1e-6 * scale else None
    cos = [v @ own / np.linalg.norm(v) for v in pts]
    return pts[int(np.argmax(cos))]


def _locals_from_world(world: dict[str, np.ndarray], n_frames: int) -> np.ndarray:
    """Local rotations [F, 23, 4]; unmapped spine/neck links share the rotation of the span they sit in."""
    w = np.zeros((n_frames, N_SEGMENTS, 4))
    known = np.zeros(N_SEGMENTS, dtype=bool)
    for seg, q in world.items():
        w[:, SEGMENT_INDEX[seg]] = q
        known[SEGMENT_INDEX[seg]] = True
    spine = ["Pelvis", "L5", "L3", "T12", "T8", "Neck", "Head"]
    idx = [SEGMENT_INDEX[s] for s in spine]
    # Fill unknown spine links between known ones with equal shares of the relative rotation.
    k = 0
    while k < len(idx):
        if known[idx[k]]:
            k += 1
            continue
        lo = k - 1
        hi = next((m for m in range(k, len(idx)) if known[idx[m]]), None)
        if hi is None:  # nothing known above: rest relative to the parent
            for m in range(k, len(idx)):
                w[:, idx[m]] = w[:, idx[m - 1]]
                known[idx[m]] = True
            break
        rel = quat_mul(quat_conj(w[:, idx[lo]]), w[:, idx[hi]])
        n = hi - lo
        share = _quat_pow(rel, 1.0 / n)
        for m in range(k, hi):
            w[:, idx[m]] = quat_mul(w[:, idx[m - 1]], share)
            known[idx[m]] = True
        k = hi
    for i, p in enumerate(PARENTS):  # everything else unmapped: at rest relative to its parent
        if not known[i]:
            w[:, i] = w[:, p]
            known[i] = True
    local = np.empty_like(w)
    for i, p in enumerate(PARENTS):
        local[:, i] = w[:, i] if p < 0 else quat_mul(quat_conj(w[:, p]), w[:, i])
    return quat_normalize(local)


__all__ = [
    "BvhClip",
    "bvh_to_motion",
    "default_joint_map",
    "detect_unit_scale_m",
    "lead_in_frames",
    "lowpass",
    "normalize_joint_name",
    "parse_bvh",
    "read_bvh",
    "remove_flips",
]
