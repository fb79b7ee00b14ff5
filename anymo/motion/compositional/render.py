"""Render a `MotionSpec`: the base (standing, sitting or walking, from the procedural library), then the
arm action by two-link IK on hand paths given in the trunk frame, then contact shocks (knocks, taps,
catches) the way heel strikes are added (`anymo.motion.procedural.impacts`).

Frames: T8 (the chest) is x forward, y left, z up; hand paths are in that frame in units of body
height, so they follow the trunk as it sways or walks. A trace plane is seen as (right, up) by its
viewer: "front" by the person looking forward (right = -y, up = +z); "overhead" from above (right =
-y, up = +x, forward at the top); "side" from the person's right (right = +x forward, up = +z), so a
clockwise circle at the side moves forward at its top ("forward circles") for either hand.
"""

from __future__ import annotations

import numpy as np

from anymo.body.skeleton import Skeleton
from anymo.motion.compositional.shapes import shape_xy
from anymo.motion.compositional.spec import HALF_SIZE_M, ArmAction, MotionSpec
from anymo.motion.procedural.impacts import HandImpacts, hand_contact_impacts
from anymo.motion.procedural.params import ActivityParams
from anymo.motion.procedural.pose import SIDES, Pose
from anymo.motion.procedural.signals import (
    fade_in_out,
    phase_from_freq,
    rep_profile,
    smooth_noise,
    smoothstep,
)
from anymo.motion.procedural.upper import Body, in_frame, loop_path

D = np.deg2rad
EX, EY, EZ = np.eye(3)
PLANE_AXES = {"front": (-EY, EZ), "overhead": (-EY, EX), "side": (EX, EZ)}
SWIPE_AXES = {"left": EY, "right": -EY, "up": EZ, "down": -EZ, "forward": EX, "back": -EX}
# hand height relative to the shoulder (units of body height) for each reach height
REACH_DZ = {"knee": -0.42, "waist": -0.24, "chest": -0.08, "head": 0.08, "overhead": 0.28}


def hands_of(action: ArmAction) -> list[str]:
    return ["right", "left"] if action.hand == "both" else [action.hand]


def _t8(b: Body, pts_h: np.ndarray) -> np.ndarray:
    """Trunk-frame points (units of height) [T, 3] or [3] -> world [T, 3]."""
    pts = np.broadcast_to(np.asarray(pts_h, dtype=np.float64), (b.pos.shape[0], 3))
    return in_frame(b, "T8", pts)


def _envelope(t_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return fade_in_out(t_s, t_s[-1], min(float(rng.uniform(0.8, 1.2)), 0.25 * t_s[-1]))


def _phase(t_s: np.ndarray, tempo_hz: float, rng: np.random.Generator) -> np.ndarray:
    return phase_from_freq(t_s, tempo_hz * (1 + 0.04 * smooth_noise(t_s, rng, 0.1)))


def trace_target(b: Body, action: ArmAction, side: str, t_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Wrist path [T, 3] (world) of a shape traced in its plane, entered from the hanging arm."""
    s = SIDES[side]
    both = action.hand == "both"
    centre = {"front": np.array([0.25, s * (0.1 if both else 0.06), 0.05]),
              "overhead": np.array([0.08, s * 0.1, 0.33]),
              "side": np.array([0.06, s * 0.27, 0.0])}[action.plane]
    e_right, e_up = PLANE_AXES[action.plane]
    half_h = HALF_SIZE_M[action.size] / b.h
    xy = shape_xy(action.shape, _phase(t_s, action.tempo_hz, rng), bool(action.clockwise)) * half_h
    pts = centre + xy[:, :1] * e_right + xy[:, 1:] * e_up
    return b.from_rest(side, _t8(b, pts), _envelope(t_s, rng))


def _stroke_profile(ph: np.ndarray) -> np.ndarray:
    """0 -> 1 -> 0 per cycle: a hold, a fast stroke (20 % of the cycle), a hold, a slower return."""
    return loop_path(ph, [0.0, 0.12, 0.32, 0.45, 0.85], np.array([[0.0], [0.0], [1.0], [1.0], [0.0]]))[:, 0]


def swipe_target(b: Body, action: ArmAction, side: str, t_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    s = SIDES[side]
    u = SWIPE_AXES[action.direction]
    centre = np.array([0.24, s * (0.1 if action.hand == "both" else 0.05), 0.02])
    half = 0.075
    e = _stroke_profile(_phase(t_s, action.tempo_hz, rng))
    pts = centre + (e[:, None] - 0.5) * 2 * half * u
    return b.from_rest(side, _t8(b, pts), _envelope(t_s, rng))


def reach_target(b: Body, pose: Pose, action: ArmAction, side: str, t_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Reach out to a height and back, repeatedly (knee height leans the trunk forward first)."""
    s = SIDES[side]
    e, _ = rep_profile(t_s, action.tempo_hz, 1.5)
    dz = REACH_DZ[action.height]
    arm = b.arm_len(side) / b.h
    horiz = np.sqrt(max(0.0, (0.92 * arm) ** 2 - dz**2)) if action.height != "knee" else 0.12
    d = np.array([horiz, 0.0, dz]) if action.direction == "forward" else np.array([0.05, s * horiz, dz])
    sh = b.shoulder(side)
    fwd = b.trunk_dir(EX)
    fwd[:, 2] = 0.0
    fwd /= np.linalg.norm(fwd, axis=1, keepdims=True)
    left = np.stack([-fwd[:, 1], fwd[:, 0], 0 * fwd[:, 0]], axis=1)
    goal = sh + b.h * (d[0] * fwd + d[1] * left + d[2] * EZ)
    return b.from_rest(side, goal, e), e


def wave_target(b: Body, action: ArmAction, side: str, t_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    s = SIDES[side]
    ph = _phase(t_s, action.tempo_hz, rng)
    pts = np.array([0.06, s * 0.15, 0.17]) + (0.045 * np.sin(ph))[:, None] * EY
    return b.from_rest(side, _t8(b, pts), _envelope(t_s, rng)), ph


def _contact_train(t_s: np.ndarray, freq_hz: float, gate: np.ndarray, amp_h: float) -> tuple[np.ndarray, np.ndarray]:
    """Gap to a surface (units of height) opening and closing at ``freq_hz`` while ``gate`` is on, and the
    contact instants (gap back at 0 with the gate above 0.9)."""
    ph = 2 * np.pi * freq_hz * t_s
    gap = amp_h * (1.0 - gate * (0.5 + 0.5 * np.cos(ph)))
    k = np.floor(ph / (2 * np.pi))
    hits = np.flatnonzero(np.diff(k) > 0) + 1
    hits = hits[gate[hits] > 0.9]
    return gap, t_s[hits]


def knock_or_tap(b: Body, action: ArmAction, side: str, t_s: np.ndarray, rng: np.random.Generator,
                 seated: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]:
    """Knocking on a door in front (bursts of 2-4 knocks) or tapping on a table; returns the wrist path,
    the contact times, the shock directions (world), the approach speed and the pronation."""
    s = SIDES[side]
    env = _envelope(t_s, rng)
    if action.kind == "knock":
        f_knock = float(rng.uniform(4.0, 5.5))  # knocks per second within a burst
        n_knocks = int(rng.integers(2, 5))
        burst_ph = np.mod(_phase(t_s, action.tempo_hz, rng) / (2 * np.pi), 1.0)
        width = n_knocks / f_knock * action.tempo_hz  # burst length as a fraction of the cycle
        x = (burst_ph - 0.2) / (width + 0.1)  # 0..1 over the burst (C2 edges: no kinks for the IMU to see)
        gate = smoothstep(x / 0.25) * smoothstep((1.0 - x) / 0.25) * env
        amp = 0.03
        surface = np.array([0.27, s * 0.05, 0.1])  # the door, in front at face height
        u = EX
        gap, hits = _contact_train(t_s, f_knock, gate, amp)
        pts = surface - gap[:, None] * u
        v = np.pi * f_knock * amp * b.h
        pron = D(10)
    else:
        f_tap = action.tempo_hz
        amp = 0.012
        surface = np.array([0.22, s * 0.08, -0.2 if seated else -0.27])  # a table top
        u = -EZ
        gap, hits = _contact_train(t_s, f_tap, env, amp)
        pts = surface - gap[:, None] * u
        v = np.pi * f_tap * amp * b.h
        pron = D(80)
    target = _t8(b, pts)
    i = np.clip(np.round(hits * (len(t_s) - 1) / t_s[-1]).astype(int), 0, len(t_s) - 1)
    shock_dir = -b.trunk_dir(u)[i]  # the surface pushes the hand back
    return b.from_rest(side, target, env), hits, shock_dir, v, pron


def scratch_target(b: Body, action: ArmAction, side: str, t_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    s = SIDES[side]
    ph = _phase(t_s, action.tempo_hz, rng)
    osc = 0.012 * np.sin(ph)
    if action.spot == "head":
        base = b.face["crown"] + b.h * (b.trunk_dir(np.array([0.0, s * 0.04, 0.0])))
        path = base + b.h * osc[:, None] * b.trunk_dir(EX)
    elif action.spot == "neck":
        base = b.face["crown"] + b.h * b.trunk_dir(np.array([-0.05, s * 0.03, -0.12]))
        path = base + b.h * osc[:, None] * b.trunk_dir(EZ)
    else:  # the other forearm, held across the belly
        base = _t8(b, np.array([0.14, -s * 0.04, -0.14]))
        path = base + b.h * osc[:, None] * b.trunk_dir(EY)
    return b.from_rest(side, path, _envelope(t_s, rng))


_THROW_KNOTS = [0.0, 0.3, 0.47, 0.52, 0.6, 0.8]  # wind-up to release in 5 % of the cycle (~0.15 s)


def throw_target(b: Body, action: ArmAction, side: str, ph: np.ndarray, env: np.ndarray) -> np.ndarray:
    s = SIDES[side]
    if action.style == "overarm":  # wind-up behind the head, release high in front, follow-through
        keys = np.array([[0.10, s * 0.15, -0.25], [-0.05, s * 0.30, -0.05], [-0.20, s * 0.30, 0.18],
                         [0.15, s * 0.18, 0.28], [0.28, 0.0, -0.08], [0.14, s * 0.08, -0.25]])
    else:  # underarm: back-swing behind the hip, release low in front, follow-through up
        keys = np.array([[0.12, s * 0.12, -0.22], [0.02, s * 0.15, -0.30], [-0.16, s * 0.16, -0.30],
                         [0.22, s * 0.10, -0.24], [0.28, s * 0.06, -0.02], [0.16, s * 0.10, -0.20]])
    return b.from_rest(side, _t8(b, loop_path(ph, _THROW_KNOTS, keys)), env)


_CATCH_KNOTS = [0.0, 0.3, 0.45, 0.55, 0.75]


def catch_target(b: Body, action: ArmAction, side: str, ph: np.ndarray, env: np.ndarray) -> np.ndarray:
    """Ready at the chest, hands out to meet the ball (high or low), the catch at 45 % of the cycle, the
    hands give with the ball back to the chest, then down."""
    s = SIDES[side]
    dy = 0.05 if action.hand == "both" else 0.08
    if action.style == "overarm":
        meet, give = np.array([0.30, s * dy, 0.14]), np.array([0.16, s * dy, 0.08])
    else:
        meet, give = np.array([0.28, s * dy, -0.22]), np.array([0.16, s * dy, -0.12])
    ready = np.array([0.12, s * 0.1, -0.1])
    keys = np.stack([ready, meet - np.array([0.02, 0, 0]), meet, give, ready + np.array([0, 0, -0.05])])
    return b.from_rest(side, _t8(b, loop_path(ph, _CATCH_KNOTS, keys)), env)


def render_arms(spec: MotionSpec, p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray,
                local: np.ndarray) -> tuple[np.ndarray, HandImpacts]:
    """The base's local rotations with the arm action applied, and its hand contacts."""
    a = spec.action
    pose = Pose(len(t_s))
    pose.local = np.array(local, copy=True)
    env = _envelope(t_s, rng)
    ph = None
    if a.kind in ("throw", "catch"):  # trunk first: the arms are solved in the turned trunk's frame
        ph = _phase(t_s, a.tempo_hz, rng)
        lead = a.hand if a.hand != "both" else "right"
        s = SIDES[lead]
        if a.kind == "throw":
            coil = loop_path(ph, _THROW_KNOTS, np.array([[0.0], [-0.5], [-1.0], [0.6], [1.0], [0.3]]))[:, 0]
            amp = D(30) if a.style == "overarm" else D(15)
            pose.trunk(twist=-s * amp * coil * env, flex=D(12) * np.clip(coil, 0, 1) * env)
        else:
            lean = loop_path(ph, _CATCH_KNOTS, np.array([[0.0], [0.6], [1.0], [0.3], [0.0]]))[:, 0]
            pose.trunk(flex=D(10 if a.style == "overarm" else 25) * lean * env)
    if a.kind == "reach" and a.height == "knee":  # bend down: trunk forward, hips and knees flexed
        e, _ = rep_profile(t_s, a.tempo_hz, 1.5)
        pose.trunk(flex=D(50) * e)
        for leg in ("right", "left"):
            pose.hip(leg, D(35) * e)
            pose.knee(leg, D(45) * e)
            pose.ankle(leg, D(12) * e)
    b = Body(sk, pose, p.rate_hz)
    contacts: list[HandImpacts] = []
    for side in hands_of(a):
        s = SIDES[side]
        pole = b.trunk_dir(np.array([-0.3, s * 0.8, -1.0]))
        pron: np.ndarray | float = D(20)
        if a.kind == "trace":
            target = trace_target(b, a, side, t_s, rng)
            if a.plane == "overhead":
                pole = b.trunk_dir(np.array([0.0, s * 1.0, -0.4]))
        elif a.kind == "swipe":
            target = swipe_target(b, a, side, t_s, rng)
            pron = D(40)
        elif a.kind == "reach":
            target, e = reach_target(b, pose, a, side, t_s, rng)
            pron = D(30) * e
        elif a.kind == "wave":
            target, wph = wave_target(b, a, side, t_s, rng)
            pole = b.trunk_dir(np.array([0.3, s * 1.0, -1.0]))
            pron = D(80) * env
            pose.wrist(side, flex=env * D(20) * np.sin(wph + 0.5))
        elif a.kind in ("knock", "tap"):
            target, hits, shock_dir, v, pron = knock_or_tap(b, a, side, t_s, rng, spec.base == "sitting")
            if a.kind == "knock":
                pole = b.trunk_dir(np.array([-0.2, s * 1.0, -0.6]))
            contacts.append(hand_contact_impacts(hits, 0 if side == "right" else 1, v, shock_dir, rng))
        elif a.kind == "scratch":
            target = scratch_target(b, a, side, t_s, rng)
            pole = b.trunk_dir(np.array([0.2, s * 1.0, -0.5]))
        elif a.kind == "throw":
            target = throw_target(b, a, side, ph, env)
            pole = b.trunk_dir(np.array([-0.3, s * 1.0, -0.6]))
            pron = D(20) + D(40) * env
        else:  # catch
            target = catch_target(b, a, side, ph, env)
            pron = D(60) if a.style == "underarm" else D(10)
            k = np.floor(ph / (2 * np.pi) - 0.45)
            i = np.flatnonzero(np.diff(k) > 0) + 1
            i = i[env[i] > 0.9]
            ball_dir = b.trunk_dir(np.array([-1.0, 0.0, -0.3 if a.style == "underarm" else 0.0]))[i]
            contacts.append(hand_contact_impacts(t_s[i], 0 if side == "right" else 1, rng.uniform(0.3, 0.6, i.size), ball_dir, rng))
        b.reach(side, target, pole, pronation=pron)
    hand = HandImpacts(*(np.concatenate([getattr(c, f) for c in contacts]) for f in ("t_s", "side", "peak_mps2", "freq_hz", "zeta", "direction"))) \
        if contacts else HandImpacts.empty()
    return pose.local, hand
