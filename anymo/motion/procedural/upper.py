"""Shared pieces of arm activities: body-relative targets, reach envelopes, looping key paths."""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline

from anymo.body.skeleton import SEGMENT_INDEX, Skeleton
from anymo.motion.procedural.arms import body_dir, body_point, face_points, solve_arm
from anymo.motion.procedural.pose import SIDES, Pose, fk_rel


class Body:
    """Forward kinematics of a posed body (root at the origin) with helpers to place hand targets.

    With ``rate_hz`` (of the pose's frames) `reach` keeps each elbow's swivel continuous in time.
    """

    def __init__(self, sk: Skeleton, pose: Pose, rate_hz: float | None = None):
        self.sk, self.pose, self.rate_hz = sk, pose, rate_hz
        self.pos, self.quat = fk_rel(sk, pose.local)
        self.face = face_points(sk, self.pos, self.quat)
        self.h = sk.shape.height_m
        self.rest_w: dict[str, np.ndarray] = {}  # per side: how far the hand is from hanging (see from_rest)

    def chest(self, offset_h: np.ndarray) -> np.ndarray:
        """Points [T, 3] at an offset from T8 given in the T8 frame, in units of body height."""
        return body_point(self.pos, self.quat, "T8", np.asarray(offset_h) * self.h)

    def head(self, offset_h: np.ndarray, at: str = "mouth") -> np.ndarray:
        """Points near a face landmark, offset given in the head frame (units of body height)."""
        return self.face[at] + body_dir(self.quat, "Head", np.asarray(offset_h) * self.h)

    def trunk_dir(self, direction: np.ndarray) -> np.ndarray:
        d = body_dir(self.quat, "T8", np.asarray(direction, dtype=np.float64))
        return d / np.linalg.norm(d, axis=-1, keepdims=True)

    def shoulder(self, side: str) -> np.ndarray:
        return self.pos[:, SEGMENT_INDEX[side.capitalize() + "UpperArm"]]

    def arm_len(self, side: str) -> float:
        cap = side.capitalize()
        return float(np.linalg.norm(self.sk.offset_m[SEGMENT_INDEX[cap + "ForeArm"]]) + np.linalg.norm(self.sk.offset_m[SEGMENT_INDEX[cap + "Hand"]]))

    def rest_wrist(self, side: str) -> np.ndarray:
        """Where the wrist hangs: below the shoulder, slightly forward and out."""
        s = SIDES[side]
        return self.shoulder(side) + self.trunk_dir(np.array([0.12, 0.12 * s, -1.0])) * 0.97 * self.arm_len(side)

    def from_rest(self, side: str, target: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Wrist path from hanging (w=0) to ``target`` (w=1) swinging round the front of the shoulder.

        Direction and distance from the shoulder are interpolated separately, so the hand never
        cuts through the shoulder on its way up (a straight line from the hip to above the head would).
        """
        self.rest_w[side] = np.asarray(w, dtype=np.float64)
        sh = self.shoulder(side)
        a, b = self.rest_wrist(side) - sh, target - sh
        ra, rb = np.linalg.norm(a, axis=-1, keepdims=True), np.linalg.norm(b, axis=-1, keepdims=True)
        w = np.asarray(w)[..., None]
        fwd = self.trunk_dir(np.array([1.0, 0.0, 0.0]))
        d = (1 - w) * a / ra + w * b / rb + np.sin(np.pi * np.clip(w, 0, 1)) * fwd
        return sh + d / np.linalg.norm(d, axis=-1, keepdims=True) * ((1 - w) * ra + w * rb)

    def reach(self, side: str, target: np.ndarray, pole: np.ndarray, pronation: np.ndarray | float = 0.0) -> None:
        """IK of one arm. After `from_rest`, the elbow hint starts from a hanging arm's (back and out)."""
        if side in self.rest_w:
            rest_pole = self.trunk_dir(np.array([-1.0, 0.5 * SIDES[side], 0.0]))
            w = self.rest_w[side][..., None]
            pole = (1 - w) * rest_pole + w * pole / np.linalg.norm(pole, axis=-1, keepdims=True)
        solve_arm(self.sk, self.pose, side, target, pole, pronation=pronation, rel=(self.pos, self.quat), rate_hz=self.rate_hz)


def blend_path(a: np.ndarray, b: np.ndarray, w: np.ndarray, bulge: np.ndarray | None = None, bulge_m: float = 0.0) -> np.ndarray:
    """Points moving from ``a`` (w=0) to ``b`` (w=1), bowing out along ``bulge`` on the way."""
    w = np.asarray(w)[..., None]
    out = (1 - w) * a + w * b
    if bulge is not None:
        out = out + bulge * bulge_m * np.sin(np.pi * np.clip(w, 0, 1))
    return out


def loop_path(phase_rad: np.ndarray, knots_frac: list[float], points: np.ndarray) -> np.ndarray:
    """A closed C2 path through ``points`` [K, D] reached at cycle fractions ``knots_frac``, at the phase."""
    x = np.concatenate([np.asarray(knots_frac, dtype=np.float64), [1.0 + knots_frac[0]]])
    y = np.concatenate([points, points[:1]], axis=0)
    spline = CubicSpline(x, y, axis=0, bc_type="periodic")
    u = knots_frac[0] + np.mod(np.asarray(phase_rad) / (2 * np.pi) - knots_frac[0], 1.0)
    return spline(u)


def in_frame(body: Body, segment: str, local_points: np.ndarray) -> np.ndarray:
    """Points [T, 3] given per frame in a segment's frame (units of body height) -> world."""
    return body_point(body.pos, body.quat, segment, local_points * body.h)


def pulse(x: np.ndarray) -> np.ndarray:
    """Smooth bump on [0, 1] (zero with three derivatives at both ends), peak 1 at 0.5."""
    x = np.clip(x, 0.0, 1.0)
    return np.sin(np.pi * x) ** 4
