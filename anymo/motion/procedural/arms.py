"""Analytic two-link inverse kinematics for arms (and legs): hand targets -> joint rotations."""

from __future__ import annotations

import numpy as np

from anymo.body.skeleton import SEGMENT_INDEX, Skeleton
from anymo.geometry.rotations import matrix_to_quat, quat_conj, quat_mul, quat_rotate
from anymo.motion.procedural.pose import EY, EZ, SIDES, Pose, fk_rel, rot
from anymo.motion.procedural.signals import smoothstep


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _swivel_rad(prev: np.ndarray, want: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Signed roll [...] about unit ``axis`` from ``prev`` (carried into the plane normal to it) to ``want``."""
    prev = _unit(prev - np.sum(prev * axis, axis=-1, keepdims=True) * axis)
    return np.arctan2(np.sum(np.cross(prev, want) * axis, axis=-1), np.sum(prev * want, axis=-1))


def _rate_limited_swivel(p_perp: np.ndarray, dhat: np.ndarray, max_step_rad: float) -> np.ndarray:
    """Unit directions [T, 3] normal to ``dhat`` that follow ``p_perp`` but roll about ``dhat`` by at
    most ``max_step_rad`` per frame, each frame starting from the previous frame's direction.

    Frames the limit does not touch are returned as they are; the per-frame recurrence only runs from
    where the hints jump until the direction has caught up with them again.
    """
    out = p_perp.copy()
    jumps = np.flatnonzero(np.abs(_swivel_rad(p_perp[:-1], p_perp[1:], dhat[1:])) > max_step_rad) + 1
    t_done = 0
    for t0 in jumps:
        if t0 < t_done:
            continue
        t = int(t0)
        while t < len(out):
            step = _swivel_rad(out[t - 1], p_perp[t], dhat[t])
            if abs(step) <= max_step_rad:  # caught up: from here on the hints themselves
                break
            prev = _unit(out[t - 1] - np.dot(out[t - 1], dhat[t]) * dhat[t])
            step = np.clip(step, -max_step_rad, max_step_rad)
            out[t] = np.cos(step) * prev + np.sin(step) * np.cross(dhat[t], prev)
            t += 1
        t_done = t
    return out


def two_link_ik(base_m: np.ndarray, target_m: np.ndarray, pole: np.ndarray, l1: float, l2: float,
                bend: float = 1.0, fallback: np.ndarray | None = None, rate_hz: float | None = None,
                max_swivel_degs: float = 1000.0, soft_frac: float = 0.03) -> tuple[np.ndarray, np.ndarray]:
    """World rotation matrices [T, 3, 3] of the first link and the middle-joint flexion [T] (rad).

    The first link's long axis is its local -z; the middle joint (elbow/knee) lies towards ``pole``
    (world directions [T, 3]); where the pole lines up with the target, ``fallback`` [T, 3] takes
    over smoothly. With ``rate_hz`` (of the frames) the swivel (the middle joint's roll about
    base->target) follows the hints at most ``max_swivel_degs`` fast, so it cannot flip between frames
    where the pole and the fallback cancel. ``bend`` = +1 when the distal link swings towards local +x when
    flexing (elbow), -1 when towards -x (knee). Unreachable targets are approached as far as possible.
    """
    d = target_m - base_m
    r = np.linalg.norm(d, axis=-1)
    # soft limits (a hard clip would put kinks into the joint angles when a target is out of reach)
    w = soft_frac * (l1 + l2)  # width of the soft reach limits, as a fraction of the limb's length
    r_max, r_min = 0.999 * (l1 + l2), abs(l1 - l2) + 0.05 * (l1 + l2)
    r = r_max - w * np.logaddexp(0.0, (r_max - r) / w)
    r = r_min + w * np.logaddexp(0.0, (r - r_min) / w)
    dhat = _unit(d)
    cos_inner = np.clip((l1**2 + l2**2 - r**2) / (2 * l1 * l2), -1.0, 1.0)
    flex = np.pi - np.arccos(cos_inner)
    cos_a = np.clip((l1**2 + r**2 - l2**2) / (2 * l1 * r), -1.0, 1.0)
    sin_a = np.sqrt(1.0 - cos_a**2)
    pole = _unit(pole)
    p_perp = pole - np.sum(pole * dhat, axis=-1, keepdims=True) * dhat
    if fallback is not None:
        # where the pole nearly lines up with the target the swivel is undefined and would flip:
        # lean smoothly on the second hint (the elbow out to the side, the knee forward)
        n = np.linalg.norm(p_perp, axis=-1, keepdims=True)
        pole = pole + 2.0 * smoothstep((0.6 - n) / 0.6) * _unit(fallback)
    p_perp = _unit(pole - np.sum(pole * dhat, axis=-1, keepdims=True) * dhat)
    if rate_hz is not None:
        p_perp = _rate_limited_swivel(p_perp, dhat, np.deg2rad(max_swivel_degs) / rate_hz)
    u = cos_a[:, None] * dhat + sin_a[:, None] * p_perp  # first link direction
    z_ax = -u
    x_ax = -bend * p_perp
    x_ax = _unit(x_ax - np.sum(x_ax * z_ax, axis=-1, keepdims=True) * z_ax)
    y_ax = np.cross(z_ax, x_ax)
    return np.stack([x_ax, y_ax, z_ax], axis=-1), flex


def solve_arm(skeleton: Skeleton, pose: Pose, side: str, wrist_target_m: np.ndarray, elbow_pole: np.ndarray,
              *, pronation: np.ndarray | float = 0.0, rel: tuple[np.ndarray, np.ndarray] | None = None,
              rate_hz: float | None = None) -> None:
    """Set UpperArm and ForeArm of ``side`` so the wrist reaches ``wrist_target_m`` [T, 3].

    Targets and poles are in the root-at-origin world of ``pose`` (see `fk_rel`); pass ``rel`` (its
    forward kinematics) to reuse it. With ``rate_hz`` (of the frames) the elbow's swivel is kept
    continuous in time (see `two_link_ik`). Everything above the shoulder must already be posed.
    """
    cap = side.capitalize()
    i_sh, i_ua, i_fa, i_h = (SEGMENT_INDEX[cap + s] for s in ("Shoulder", "UpperArm", "ForeArm", "Hand"))
    pos, quat = rel if rel is not None else fk_rel(skeleton, pose.local)
    l1 = float(np.linalg.norm(skeleton.offset_m[i_fa]))
    l2 = float(np.linalg.norm(skeleton.offset_m[i_h]))
    base = pos[:, i_ua]
    out = quat_rotate(quat[:, SEGMENT_INDEX["T8"]], np.array([0.0, SIDES[side], 0.0]))
    m_upper, flex = two_link_ik(base, wrist_target_m, elbow_pole, l1, l2, bend=1.0, fallback=out, rate_hz=rate_hz)
    q_upper_world = matrix_to_quat(m_upper)
    q_parent = quat[:, i_sh]
    pose.set(cap + "UpperArm", quat_mul(quat_conj(q_parent), q_upper_world))
    s = SIDES[side]
    pose.set(cap + "ForeArm", quat_mul(rot(EY, -flex, pose.n), rot(EZ, -s * np.asarray(pronation, dtype=float), pose.n)))


def solve_leg(skeleton: Skeleton, pose: Pose, side: str, ankle_target_m: np.ndarray, knee_pole: np.ndarray,
              rel: tuple[np.ndarray, np.ndarray] | None = None, soft_frac: float = 0.03) -> None:
    """Set UpperLeg and LowerLeg of ``side`` so the ankle reaches ``ankle_target_m`` [T, 3] (``soft_frac``:
    width of the soft reach limits, see `two_link_ik`)."""
    cap = side.capitalize()
    i_ul, i_ll, i_f = (SEGMENT_INDEX[cap + s] for s in ("UpperLeg", "LowerLeg", "Foot"))
    pos, quat = rel if rel is not None else fk_rel(skeleton, pose.local)
    l1 = float(np.linalg.norm(skeleton.offset_m[i_ll]))
    l2 = float(np.linalg.norm(skeleton.offset_m[i_f]))
    m_upper, flex = two_link_ik(pos[:, i_ul], ankle_target_m, knee_pole, l1, l2, bend=-1.0, soft_frac=soft_frac)
    pose.set(cap + "UpperLeg", quat_mul(quat_conj(quat[:, SEGMENT_INDEX["Pelvis"]]), matrix_to_quat(m_upper)))
    pose.set(cap + "LowerLeg", rot(EY, flex, pose.n))


def body_point(pos: np.ndarray, quat: np.ndarray, segment: str, offset_m: np.ndarray) -> np.ndarray:
    """World points [T, 3] at ``offset_m`` ([3] or [T, 3]) in a segment's frame."""
    i = SEGMENT_INDEX[segment]
    return pos[:, i] + quat_rotate(quat[:, i], offset_m)


def body_dir(quat: np.ndarray, segment: str, direction: np.ndarray) -> np.ndarray:
    """World directions [T, 3] of a direction given in a segment's frame."""
    return quat_rotate(quat[:, SEGMENT_INDEX[segment]], np.asarray(direction, dtype=np.float64))


def face_points(skeleton: Skeleton, pos: np.ndarray, quat: np.ndarray) -> dict[str, np.ndarray]:
    """Mouth, the ears and the top/back of the head [T, 3] in the world, from the head's pose."""
    h = skeleton.shape.height_m
    r_lat, r_ap = skeleton.radius_m[SEGMENT_INDEX["Head"]]
    return {
        "mouth": body_point(pos, quat, "Head", np.array([0.9 * r_ap, 0.0, 0.02 * h])),
        "right_ear": body_point(pos, quat, "Head", np.array([0.0, -r_lat, 0.05 * h])),
        "left_ear": body_point(pos, quat, "Head", np.array([0.0, r_lat, 0.05 * h])),
        "crown": body_point(pos, quat, "Head", np.array([-0.2 * r_ap, 0.0, 0.12 * h])),
    }

