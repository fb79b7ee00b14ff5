"""The 23-segment Xsens MVN skeleton, sized from body height by anthropometric ratios.

Conventions (used everywhere in ``anymo``):
* World frame: z up, x forward (the way the body faces at rest), y to the body's left; gravity is
  ``GRAVITY_WORLD_MPS2 = (0, 0, -9.80665)``.
* Rest pose: standing upright, arms hanging at the sides, palms facing the thighs (N-pose).
  In the rest pose every segment frame is aligned with the world frame.
* A segment's origin is its proximal joint; ``offset_m`` is that joint's position in the parent's
  frame; ``axis`` is the unit direction from the proximal to the distal end in the segment frame.
* Right is -y. Ratios of standing height follow Drillis & Contini (1966) / Winter (2009).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anymo.constants import STANDARD_GRAVITY_MPS2

GRAVITY_WORLD_MPS2 = np.array([0.0, 0.0, -STANDARD_GRAVITY_MPS2])

SEGMENTS: tuple[str, ...] = (
    "Pelvis", "L5", "L3", "T12", "T8", "Neck", "Head",
    "RightShoulder", "RightUpperArm", "RightForeArm", "RightHand",
    "LeftShoulder", "LeftUpperArm", "LeftForeArm", "LeftHand",
    "RightUpperLeg", "RightLowerLeg", "RightFoot", "RightToe",
    "LeftUpperLeg", "LeftLowerLeg", "LeftFoot", "LeftToe",
)  # fmt: skip
N_SEGMENTS = len(SEGMENTS)
SEGMENT_INDEX: dict[str, int] = {name: i for i, name in enumerate(SEGMENTS)}

PARENTS: tuple[int, ...] = (
    -1, 0, 1, 2, 3, 4, 5,
    4, 7, 8, 9,
    4, 11, 12, 13,
    0, 15, 16, 17,
    0, 19, 20, 21,
)  # fmt: skip


def segment_index(name: str) -> int:
    """Index of a segment by its MVN name; unknown names raise listing the valid ones."""
    try:
        return SEGMENT_INDEX[name]
    except KeyError:
        raise ValueError(f"unknown segment {name!r}; valid segments are: {', '.join(SEGMENTS)}") from None


@dataclass(frozen=True)
class BodyShape:
    """Body size. ``build`` scales segment girth (1.0 average, 0.85 slim, 1.2 heavy)."""

    height_m: float = 1.75
    sex: str = "neutral"  # "female", "male" or "neutral": small changes in shoulder/hip width
    build: float = 1.0

    def __post_init__(self) -> None:
        if not (0.5 <= self.height_m <= 2.5):
            raise ValueError(f"height_m must be a human height between 0.5 and 2.5 m, got {self.height_m}")
        if self.sex not in ("female", "male", "neutral"):
            raise ValueError(f"sex must be 'female', 'male' or 'neutral', got {self.sex!r}")
        if not (0.6 <= self.build <= 1.6):
            raise ValueError(f"build must be between 0.6 (very slim) and 1.6 (very heavy), got {self.build}")


@dataclass(frozen=True)
class Skeleton:
    """Sized skeleton: rest offsets, segment lengths and girths (all metres)."""

    shape: BodyShape
    offset_m: np.ndarray  # [23, 3] proximal joint in the parent frame (root: pelvis height above floor)
    axis: np.ndarray  # [23, 3] unit proximal->distal direction in the segment frame
    length_m: np.ndarray  # [23] proximal->distal length
    radius_m: np.ndarray  # [23, 2] girth radii (across the axis: the first lateral, the second the other)

    @property
    def parents(self) -> tuple[int, ...]:
        return PARENTS

    def rest_positions_m(self) -> np.ndarray:
        """World positions [23, 3] of the segment origins in the rest pose."""
        pos = np.zeros((N_SEGMENTS, 3))
        for i, p in enumerate(PARENTS):
            pos[i] = self.offset_m[i] if p < 0 else pos[p] + self.offset_m[i]
        return pos


def make_skeleton(shape: BodyShape | None = None) -> Skeleton:
    """Size the 23 segments from ``shape`` by anthropometric ratios of standing height."""
    shape = shape or BodyShape()
    h = shape.height_m
    shoulder_w = {"female": 0.96, "male": 1.04, "neutral": 1.0}[shape.sex]
    hip_w = {"female": 1.06, "male": 0.96, "neutral": 1.0}[shape.sex]

    # Joint heights as fractions of height (standing): hip 0.530, knee 0.285, ankle 0.039,
    # shoulder (glenohumeral) 0.818, elbow 0.630, wrist 0.485; chin 0.870.
    z = {
        "hip": 0.530, "L5": 0.575, "L3": 0.625, "T12": 0.675, "T8": 0.730, "neck": 0.830, "head": 0.870,
        "sc": 0.800, "gh": 0.810, "elbow": 0.630, "wrist": 0.485, "knee": 0.285, "ankle": 0.039,
    }  # fmt: skip
    gh_y = 0.105 * shoulder_w  # glenohumeral joint, lateral
    sc_y = 0.020  # sternoclavicular joint, lateral
    hip_y = 0.050 * hip_w  # hip joint centre, lateral
    off = np.zeros((N_SEGMENTS, 3))
    axis = np.zeros((N_SEGMENTS, 3))
    length = np.zeros(N_SEGMENTS)
    I = SEGMENT_INDEX  # noqa: E741

    off[I["Pelvis"]] = [0, 0, z["hip"]]
    chain = [("L5", "hip", "L5"), ("L3", "L5", "L3"), ("T12", "L3", "T12"), ("T8", "T12", "T8"), ("Neck", "T8", "neck"), ("Head", "neck", "head")]
    for seg, frm, to in chain:
        off[I[seg]] = [0, 0, z[to] - z[frm]]
    up = np.array([0.0, 0.0, 1.0])
    spine_next = {"Pelvis": "L5", "L5": "L3", "L3": "T12", "T12": "T8", "T8": "Neck", "Neck": "Head"}
    for seg, nxt in spine_next.items():
        axis[I[seg]] = up
        length[I[seg]] = off[I[nxt]][2]
    axis[I["Head"]] = up
    length[I["Head"]] = 1.0 - z["head"]

    for side, s in (("Right", -1.0), ("Left", 1.0)):
        off[I[side + "Shoulder"]] = [0, s * sc_y, z["sc"] - z["T8"]]
        off[I[side + "UpperArm"]] = [-0.01, s * (gh_y - sc_y), z["gh"] - z["sc"]]
        off[I[side + "ForeArm"]] = [0, 0, z["elbow"] - z["gh"]]
        off[I[side + "Hand"]] = [0, 0, z["wrist"] - z["elbow"]]
        axis[I[side + "Shoulder"]] = [0, s, 0]
        length[I[side + "Shoulder"]] = gh_y - sc_y
        for seg, ln in (("UpperArm", z["gh"] - z["elbow"]), ("ForeArm", z["elbow"] - z["wrist"]), ("Hand", 0.108)):
            axis[I[side + seg]] = [0, 0, -1]
            length[I[side + seg]] = ln

        off[I[side + "UpperLeg"]] = [0, s * hip_y, 0]
        off[I[side + "LowerLeg"]] = [0, 0, z["knee"] - z["hip"]]
        off[I[side + "Foot"]] = [0, 0, z["ankle"] - z["knee"]]
        foot_len, toe_len = 0.085, 0.045  # ankle -> ball of foot, ball -> toe tip
        off[I[side + "Toe"]] = [foot_len, 0, -z["ankle"] + 0.008]
        axis[I[side + "UpperLeg"]] = [0, 0, -1]
        axis[I[side + "LowerLeg"]] = [0, 0, -1]
        length[I[side + "UpperLeg"]] = z["hip"] - z["knee"]
        length[I[side + "LowerLeg"]] = z["knee"] - z["ankle"]
        foot_dir = np.array([foot_len, 0, -z["ankle"] + 0.008])
        axis[I[side + "Foot"]] = foot_dir / np.linalg.norm(foot_dir)
        length[I[side + "Foot"]] = np.linalg.norm(foot_dir)
        axis[I[side + "Toe"]] = [1, 0, 0]
        length[I[side + "Toe"]] = toe_len

    off *= h
    off[I["Pelvis"]] = [0, 0, z["hip"] * h]
    length = length * h

    # Girth radii (fraction of height) across the segment axis, scaled by build: the first along the
    # segment-frame y axis (lateral), the second along the other axis across the segment (x for the
    # vertical segments: anteroposterior; for the feet: the dorsal/plantar direction). The hand is
    # thin along y because the palms face the thighs in the rest pose.
    r = {
        "Pelvis": (0.095, 0.060), "L5": (0.085, 0.055), "L3": (0.080, 0.055), "T12": (0.085, 0.060),
        "T8": (0.095, 0.065), "Neck": (0.032, 0.032), "Head": (0.050, 0.058),
        "Shoulder": (0.020, 0.020), "UpperArm": (0.027, 0.027), "ForeArm": (0.021, 0.019),
        "Hand": (0.009, 0.022), "UpperLeg": (0.045, 0.045), "LowerLeg": (0.030, 0.032),
        "Foot": (0.024, 0.022), "Toe": (0.025, 0.010),
    }  # fmt: skip
    radius = np.zeros((N_SEGMENTS, 2))
    for i, name in enumerate(SEGMENTS):
        key = name.removeprefix("Right").removeprefix("Left")
        radius[i] = r[key]
    radius *= h * shape.build
    return Skeleton(shape=shape, offset_m=off, axis=axis, length_m=length, radius_m=radius)
