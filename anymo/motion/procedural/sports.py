"""Striking, throwing and pushing/pulling: fast arm paths with trunk rotation.

Hand paths are closed C2 splines through key positions in the trunk frame (guard, wind-up, release,
follow-through), timed non-uniformly so the strike is fast and the recovery slow.
"""

from __future__ import annotations

import numpy as np

from anymo.body.skeleton import Skeleton
from anymo.motion.procedural.params import ActivityParams
from anymo.motion.procedural.pose import OTHER_SIDE, SIDES, Pose
from anymo.motion.procedural.postures import planted, standing_base
from anymo.motion.procedural.signals import dwell, fade_in_out, phase_from_freq, smooth_noise
from anymo.motion.procedural.upper import Body, in_frame, loop_path

D = np.deg2rad
Motion = tuple[np.ndarray, np.ndarray]


def _stance(p: ActivityParams, rng: np.random.Generator, t_s: np.ndarray, lead: str, knee_deg: float = 15.0) -> Pose:
    """Athletic stance: knees bent, feet staggered with ``lead`` foot forward."""
    p.extra["posture"] = "standing"
    pose = standing_base(p, rng, t_s, knee_deg=knee_deg, sway=0.8, arms=False)
    back = OTHER_SIDE[lead]
    pose.hip(lead, D(12))
    pose.ankle(lead, -D(6))
    pose.hip(back, -D(12))
    pose.ankle(back, D(12))
    return pose


def _in_trunk(b: Body, pts: np.ndarray) -> np.ndarray:
    """Per-frame trunk-frame points [T, 3] (units of height) -> world."""
    return in_frame(b, "T8", pts)


def _timed_loop(p: ActivityParams, rng: np.random.Generator, t_s: np.ndarray, period_s: tuple[float, float]) -> np.ndarray:
    p.tempo_hz = 1.0 / rng.uniform(*period_s)
    return phase_from_freq(t_s, p.tempo_hz * (1 + 0.05 * smooth_noise(t_s, rng, 0.1)))


def punching(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    """Boxing combinations: jab with the lead hand, cross with the rear hand, back to guard."""
    lead = OTHER_SIDE[p.hand]  # orthodox stance for a right-hander
    pose = _stance(p, rng, t_s, lead)
    ph = _timed_loop(p, rng, t_s, (0.9, 1.6))  # one jab + cross per cycle
    env = fade_in_out(t_s, t_s[-1], min(0.6, 0.2 * t_s[-1]))
    jab = np.exp((np.cos(ph - 2 * np.pi * 0.15) - 1) / 0.2) * env
    cross = np.exp((np.cos(ph - 2 * np.pi * 0.55) - 1) / 0.2) * env * p.amplitude
    s_rear = SIDES[p.hand]
    pose.trunk(twist=s_rear * (D(25) * cross - D(12) * jab))  # the rear shoulder drives forward
    pose.pelvis(yaw=s_rear * D(10) * cross)
    b = Body(sk, pose, p.rate_hz)
    for side, hit in ((lead, jab), (p.hand, cross)):
        s = SIDES[side]
        guard = np.array([0.12, s * 0.06, 0.12])
        strike = np.array([0.42, s * 0.02, 0.09])
        pts = guard + hit[:, None] * (strike - guard)
        target = b.from_rest(side, _in_trunk(b, pts), fade_in_out(t_s, t_s[-1], min(0.8, 0.2 * t_s[-1])))
        b.reach(side, target, b.trunk_dir(np.array([-0.3, s * 0.8, -1.0])), pronation=D(20) + D(60) * hit)
    return planted(sk, pose, p.rate_hz)


def throwing(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    """Overarm throws: wind-up behind the head, fast release in front, follow-through across the body."""
    side, s = p.hand, SIDES[p.hand]
    lead = OTHER_SIDE[side]
    pose = _stance(p, rng, t_s, lead, knee_deg=10.0)
    ph = _timed_loop(p, rng, t_s, (2.5, 4.0))
    env = fade_in_out(t_s, t_s[-1], min(0.8, 0.2 * t_s[-1]))
    # trunk: coil away (wind-up, ~0.45 of the cycle), uncoil through release (~0.6)
    coil = loop_path(ph, [0.0, 0.3, 0.45, 0.58, 0.7, 0.85], np.array([[0.0], [-0.5], [-1.0], [0.6], [1.0], [0.3]]))[:, 0]
    pose.trunk(twist=-s * D(30) * coil * env * p.amplitude, flex=D(15) * np.clip(coil, 0, 1) * env)
    b = Body(sk, pose, p.rate_hz)
    keys = np.array([
        [0.10, s * 0.15, -0.25],  # ready, ball at the chest
        [-0.05, s * 0.30, -0.05],
        [-0.20, s * 0.30, 0.18],  # wind-up, behind and beside the head
        [0.15, s * 0.18, 0.28],  # release, high in front
        [0.28, 0.0, -0.08],  # follow-through
        [0.14, s * 0.08, -0.25],
    ])  # fmt: skip
    path = loop_path(ph, [0.0, 0.3, 0.45, 0.58, 0.7, 0.85], keys)
    target = b.from_rest(side, _in_trunk(b, path), env)
    b.reach(side, target, b.trunk_dir(np.array([-0.3, s * 1.0, -0.6])), pronation=D(20) + D(50) * np.clip(coil, 0, 1))
    return planted(sk, pose, p.rate_hz)


def playing_badminton(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    """Ready stance with a bounce, overhead clears and forehand drives with the racket hand."""
    side, s = p.hand, SIDES[p.hand]
    pose = _stance(p, rng, t_s, side, knee_deg=20.0)
    ph = _timed_loop(p, rng, t_s, (1.4, 2.5))
    env = fade_in_out(t_s, t_s[-1], min(0.8, 0.2 * t_s[-1]))
    coil = loop_path(ph, [0.0, 0.35, 0.55, 0.65, 0.8], np.array([[0.0], [-0.6], [-1.0], [0.8], [0.3]]))[:, 0]
    pose.trunk(twist=-s * D(25) * coil * env, side_bend=-s * D(8) * np.clip(-coil, 0, 1) * env)
    bounce = D(8) * np.sin(2 * ph)  # split-step rhythm
    for leg in ("right", "left"):
        pose.knee(leg, bounce * env)
        pose.hip(leg, 0.5 * bounce * env)
    b = Body(sk, pose, p.rate_hz)
    overhead = rng.random() < 0.6
    p.extra["stroke"] = "overhead clears" if overhead else "forehand drives"
    if overhead:
        keys = np.array([[0.15, s * 0.15, -0.08], [0.0, s * 0.28, 0.1], [-0.12, s * 0.28, 0.2], [0.12, s * 0.15, 0.36], [0.25, -s * 0.02, -0.02]])
    else:
        keys = np.array([[0.15, s * 0.15, -0.08], [-0.05, s * 0.33, 0.0], [-0.12, s * 0.35, -0.02], [0.28, s * 0.22, 0.0], [0.22, -s * 0.08, -0.02]])
    path = loop_path(ph, [0.0, 0.35, 0.55, 0.65, 0.8], keys)
    target = b.from_rest(side, _in_trunk(b, path), env)
    snap = np.exp((np.cos(ph - 2 * np.pi * 0.65) - 1) / 0.03)
    b.reach(side, target, b.trunk_dir(np.array([-0.3, s * 0.3, -1.0])), pronation=D(10) + D(70) * snap * env)
    other = OTHER_SIDE[side]
    b.reach(other, b.chest(np.array([0.15, -s * 0.1, -0.05])), b.trunk_dir(np.array([0.0, -s, -1.0])), pronation=D(20))
    return planted(sk, pose, p.rate_hz)


def swinging_bat(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    """Two-handed horizontal bat swings from the rear shoulder through the front."""
    side, s = p.hand, SIDES[p.hand]  # the bat starts over this shoulder
    lead = OTHER_SIDE[side]
    p.both_hands = True
    pose = _stance(p, rng, t_s, lead, knee_deg=18.0)
    ph = _timed_loop(p, rng, t_s, (2.5, 4.0))
    env = fade_in_out(t_s, t_s[-1], min(0.8, 0.2 * t_s[-1]))
    knots = [0.0, 0.45, 0.6, 0.72, 0.85]
    coil = loop_path(ph, knots, np.array([[-0.5], [-0.7], [0.2], [1.0], [0.3]]))[:, 0]
    pose.pelvis(yaw=-s * D(25) * coil * env)
    pose.trunk(twist=-s * D(35) * coil * env)
    b = Body(sk, pose, p.rate_hz)
    keys = np.array([[0.05, s * 0.15, 0.05], [0.0, s * 0.17, 0.08], [0.25, s * 0.05, -0.05], [0.2, -s * 0.15, 0.0], [0.05, -s * 0.12, 0.1]])
    path = loop_path(ph, knots, keys)
    for hand, dy in ((side, 0.0), (lead, -s * 0.035)):
        pts = path + np.array([0.0, dy, -0.035 if hand == lead else 0.0])
        target = b.from_rest(hand, _in_trunk(b, pts), env)
        b.reach(hand, target, b.trunk_dir(np.array([-0.3, SIDES[hand] * 0.8, -1.0])), pronation=D(40))
    return planted(sk, pose, p.rate_hz)


def _push_pull(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray, push: bool) -> Motion:
    lead = p.hand
    pose = _stance(p, rng, t_s, lead, knee_deg=15.0)
    p.both_hands = True
    p.tempo_hz = 1.0 / rng.uniform(1.5, 3.0)
    ph = phase_from_freq(t_s, p.tempo_hz * (1 + 0.05 * smooth_noise(t_s, rng, 0.1)), np.pi)
    env = fade_in_out(t_s, t_s[-1], min(0.8, 0.2 * t_s[-1]))
    ext = (1 - dwell(ph, 1.5)) * env * p.amplitude  # 1 = arms extended
    # pushing leans into the extension; pulling leans back as the hands come in
    lean = D(15) * ext if push else -D(15) * (1 - ext) * env
    pose.trunk(flex=lean + p.style.trunk_lean_rad)
    pose.pelvis(tilt_fwd=0.5 * lean)
    b = Body(sk, pose, p.rate_hz)
    for side in ("right", "left"):
        s = SIDES[side]
        near = np.array([0.12, s * 0.1, -0.08])
        far = np.array([0.38, s * 0.1, -0.05])
        pts = near + ext[:, None] * (far - near)
        target = b.from_rest(side, _in_trunk(b, pts), env)
        b.reach(side, target, b.trunk_dir(np.array([-0.5, s * 0.8, -1.0])), pronation=D(70) if push else D(20))
    return planted(sk, pose, p.rate_hz)


def pushing(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    return _push_pull(p, rng, sk, t_s, push=True)


def pulling(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    return _push_pull(p, rng, sk, t_s, push=False)
