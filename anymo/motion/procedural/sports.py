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
from anymo.motion.procedural.signals import dwell, fade_in_out, phase_from_freq, smooth_noise, smoothstep
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


def strike_profile(phase_rad: np.ndarray, start_frac: float, out_frac: float, hold_frac: float, back_frac: float) -> np.ndarray:
    """0 -> 1 -> 0 once per cycle: minimum-jerk (quintic) extension from ``start_frac`` of the cycle over
    ``out_frac``, a hold of ``hold_frac``, a minimum-jerk retraction over ``back_frac`` (all C2)."""
    u = np.mod(np.asarray(phase_rad) / (2 * np.pi) - start_frac, 1.0)
    return smoothstep(u / out_frac) * (1.0 - smoothstep((u - out_frac - hold_frac) / back_frac))


# Punching, from published boxing kinematics (nothing here was set from recorded IMU):
# * straight punches: peak fist speed ~6-9 m/s, jab slower than the cross (Olympic boxers' straight
#   punches 9.1 +- 2.1 m/s: Walilko, Viano & Bir 2005, Br J Sports Med 39:710; jab vs cross fist speeds
#   of several m/s with the rear hand faster: Piorkowski, Lees & Barton 2011, Sports Biomech 10:1);
# * the extension is quick and the return slower: a jab reaches full extension in ~0.1-0.2 s (the
#   punch durations of those studies); the fist travels ~0.4-0.5 m from the guard;
# * combinations are thrown at ~2-3 punches per second (shadow boxing / pad-work rates, e.g. the
#   punch-rate counts of Davis, Benson, Pitty, Connorton & Waldock 2015, Int J Sports Physiol Perform 10:734).
# A minimum-jerk extension of d metres in T seconds peaks at 1.875 d / T (and 5.77 d / T^2): d 0.30-0.33 m
# in 0.11-0.15 s gives 4-5.5 m/s - a recreational air punch, below trained boxers' full punches - and
# ~8-12 g. The strike point stays within reach (93 % of the arm's length from the shoulder): the old one
# lay beyond it (0.42 h ahead of the chest), so the IK whipped the elbow's swivel at full stretch and the
# wrist read 14-15 g with a fist of only ~3.5 m/s, a punch every ~1.3 s.
def punching(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    """Boxing combinations: jab with the lead hand, cross with the rear hand, back to guard."""
    lead = OTHER_SIDE[p.hand]  # orthodox stance for a right-hander
    pose = _stance(p, rng, t_s, lead)
    ph = _timed_loop(p, rng, t_s, (0.65, 1.0))  # one jab + cross per cycle: 2-3 punches per second
    cycle_s = 1.0 / p.tempo_hz
    env = fade_in_out(t_s, t_s[-1], min(0.6, 0.2 * t_s[-1]))
    out_s = {lead: rng.uniform(0.12, 0.15), p.hand: rng.uniform(0.11, 0.14)}  # the cross is the faster
    hits = {}
    for side, start in ((lead, 0.0), (p.hand, 0.5)):
        hits[side] = strike_profile(ph, start, out_s[side] / cycle_s, 0.03 / cycle_s, 0.2 / cycle_s) * env
    jab, cross = hits[lead], hits[p.hand] * p.amplitude
    s_rear = SIDES[p.hand]
    pose.trunk(twist=s_rear * (D(20) * cross - D(10) * jab))  # the rear shoulder drives forward
    pose.pelvis(yaw=s_rear * D(8) * cross)
    b = Body(sk, pose, p.rate_hz)
    for side, hit in ((lead, jab), (p.hand, cross)):
        s = SIDES[side]
        guard = np.array([0.12, s * 0.06, 0.12])
        strike = np.array([0.30, s * 0.03, 0.09])  # arm almost straight in front of the shoulder
        pts = guard + hit[:, None] * (strike - guard)
        target = b.from_rest(side, _in_trunk(b, pts), fade_in_out(t_s, t_s[-1], min(0.8, 0.2 * t_s[-1])))
        # the fist turns palm-down as the arm extends (the "corkscrew"), with the extension
        b.reach(side, target, b.trunk_dir(np.array([-0.3, s * 0.8, -1.0])), pronation=D(20) + D(35) * hit)
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
    # the forward swing, from its start to contact, lasts ~0.15-0.2 s and the hands reach 7-9 m/s (the bat
    # head ~30 m/s): Welch, Banks, Cook & Draovitch 1995, J Orthop Sports Phys Ther 22:193; Escamilla et al.
    # 2009, J Appl Biomech 25:210. Knots in seconds before/after contact (was: 0.45 -> 0.72 of a 2.5-4 s
    # cycle, i.e. a 0.7-1.1 s swing with the hands at ~2.5 m/s).
    cyc = 1.0 / p.tempo_hz
    swing = rng.uniform(0.15, 0.2) / cyc
    contact = 0.6
    knots = [0.0, contact - swing - 0.25 / cyc, contact - swing, contact, contact + 0.12 / cyc, 0.85]
    coil = loop_path(ph, knots, np.array([[-0.5], [-0.6], [-0.7], [0.6], [1.0], [0.3]]))[:, 0]
    pose.pelvis(yaw=-s * D(25) * coil * env)
    pose.trunk(twist=-s * D(35) * coil * env)
    b = Body(sk, pose, p.rate_hz)
    # stance (bat up over the rear shoulder), load, launch, contact in front, extension, finish over the lead shoulder
    keys = np.array([[0.05, s * 0.15, 0.05], [0.0, s * 0.17, 0.08], [0.02, s * 0.18, 0.06], [0.28, s * 0.02, -0.06],
                     [0.22, -s * 0.15, 0.0], [0.05, -s * 0.12, 0.1]])
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
        # the forearm turns with the extension: pushing turns the palm from facing in to facing forward
        # (pronation), pulling the reverse; ranges within the forearm's ~75 deg pronation / ~85 deg
        # supination (Morrey, Askew & Chao 1981, J Bone Joint Surg Am 63:872); was a fixed angle
        pron = D(10) + D(70) * ext if push else D(70) - D(60) * ext
        b.reach(side, target, b.trunk_dir(np.array([-0.5, s * 0.8, -1.0])), pronation=pron)
    return planted(sk, pose, p.rate_hz)


def pushing(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    return _push_pull(p, rng, sk, t_s, push=True)


def pulling(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    return _push_pull(p, rng, sk, t_s, push=False)
