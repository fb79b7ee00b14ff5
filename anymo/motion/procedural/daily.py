"""Everyday arm activities: hands to the mouth, head and ear, table tasks, waving and clapping.

Hands are placed by two-link IK at targets relative to the moving body (face landmarks, the chest),
with reach envelopes at the start and end of the clip and repetitive micro-motion on top.
"""

from __future__ import annotations

import numpy as np

from anymo.body.skeleton import Skeleton
from anymo.motion.procedural.impacts import HandImpacts, hand_contact_impacts
from anymo.motion.procedural.params import ActivityParams
from anymo.motion.procedural.pose import OTHER_SIDE, SIDES, Pose
from anymo.motion.procedural.postures import planted, sitting_base, standing_base
from anymo.motion.procedural.signals import dwell, fade_in_out, phase_from_freq, rep_profile, smooth_noise
from anymo.motion.procedural.upper import Body, blend_path, pulse

D = np.deg2rad
Motion = tuple[np.ndarray, np.ndarray]


def _seated(p: ActivityParams, rng: np.random.Generator, prob: float) -> bool:
    """Sitting or standing: as asked in p.extra["posture"], else at random."""
    if "posture" in p.extra:
        return p.extra["posture"] == "sitting"
    return bool(rng.random() < prob)


def _base(p: ActivityParams, rng: np.random.Generator, t_s: np.ndarray, seated: bool) -> Pose:
    p.extra["posture"] = "sitting" if seated else "standing"
    return sitting_base(p, rng, t_s) if seated else standing_base(p, rng, t_s, sway=0.6)


def _envelope(p: ActivityParams, rng: np.random.Generator, t_s: np.ndarray) -> np.ndarray:
    """Reach from the hanging arm at the start and back at the end, 1-1.6 s each way (a hand raised to
    the head in 0.7 s swung the upper arm at up to 680 deg/s, 3.7 g at the wrist)."""
    return fade_in_out(t_s, t_s[-1], min(rng.uniform(1.0, 1.6), 0.3 * t_s[-1]))


def _pole(b: Body, side: str, down: float = 1.0, out: float = 0.7, back: float = 0.1) -> np.ndarray:
    return b.trunk_dir(np.array([-back, SIDES[side] * out, -down]))


def _table_rest(b: Body, side: str, seated: bool) -> np.ndarray:
    """Hand resting on a table in front (seated) or hanging (standing)."""
    if seated:
        return b.chest(np.array([0.17, SIDES[side] * 0.09, -0.17]))
    return b.rest_wrist(side)


def brushing_teeth(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    side, s = p.hand, SIDES[p.hand]
    pose = _base(p, rng, t_s, seated=False)
    b = Body(sk, pose)
    env = _envelope(p, rng, t_s)
    p.tempo_hz = rng.uniform(2.0, 5.0)
    ph = phase_from_freq(t_s, p.tempo_hz * (1 + 0.08 * smooth_noise(t_s, rng, 0.3)))
    amp = p.amplitude * rng.uniform(0.010, 0.016)  # stroke half-amplitude, fraction of height
    side_shift = 0.02 * smooth_noise(t_s, rng, 0.15)  # which teeth: the brush wanders across the mouth
    goal = np.stack([0.03 + 0.0 * t_s, s * (0.05 + side_shift) + amp * np.sin(ph), -0.03 + 0.3 * amp * np.cos(ph)], -1)
    target = b.from_rest(side, b.head(goal), env)
    b.reach(side, target, _pole(b, side, down=1.0, out=0.5, back=-0.3), pronation=env * (D(50) + D(12) * np.sin(ph)))
    pose.wrist(side, flex=env * D(10) * np.cos(ph), deviation=env * D(15))
    return planted(sk, pose, p.rate_hz)


def combing_hair(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    side, s = p.hand, SIDES[p.hand]
    pose = _base(p, rng, t_s, seated=False)
    b = Body(sk, pose)
    env = _envelope(p, rng, t_s)
    p.tempo_hz = rng.uniform(0.7, 1.3)
    ph = phase_from_freq(t_s, p.tempo_hz * (1 + 0.1 * smooth_noise(t_s, rng, 0.2)))
    stroke = dwell(ph, 1.5)  # 1 at the front of the head, 0 at the back
    lift = 0.5 - 0.5 * np.cos(ph)  # comb lifts away on the way back
    goal = np.stack([-0.06 + 0.10 * stroke * p.amplitude, s * (0.06 + 0.02 * lift), -0.01 + 0.02 * lift], -1)
    target = b.from_rest(side, b.head(goal, at="crown"), env)
    pole = blend_path(_pole(b, side), b.trunk_dir(np.array([0.1, s * 1.0, 0.1])), env)  # the elbow rises as the hand goes up
    b.reach(side, target, pole, pronation=env * D(60))
    pose.wrist(side, flex=env * D(15) * (stroke - 0.5), deviation=env * D(-10))
    return planted(sk, pose, p.rate_hz)


def _sips(p: ActivityParams, rng: np.random.Generator, t_s: np.ndarray, period_s: tuple[float, float]) -> np.ndarray:
    """0..1 'at the mouth' profile: repeated raises with holds, starting and ending down."""
    tempo_hz = 1.0 / rng.uniform(*period_s)
    up, p.tempo_hz = rep_profile(t_s, tempo_hz * (1 + 0.1 * smooth_noise(t_s, rng, 0.1)), 2.0)
    return up


def set_down_contacts(b: Body, side: str, target: np.ndarray, up: np.ndarray, t_s: np.ndarray, rng: np.random.Generator,
                      rate_hz: float) -> HandImpacts:
    """Hand-object contacts where an object (glass, spoon, fork) is brought back down onto the table: each
    time ``up`` comes down through 0.1 the object lands as ``up`` reaches ~0. The landing speed is the hand's
    speed at that last tenth of the way: people slow down before setting an object down (the final,
    visually guided phase of a reach, e.g. Jeannerod 1984, J Mot Behav 16:235), so that is the speed
    the object still has when it touches; the table pushes back up (the trunk's up axis)."""
    below = up < 0.1
    starts = np.flatnonzero(below[1:] & ~below[:-1]) + 1
    if starts.size == 0:
        return HandImpacts.empty()
    speed = np.linalg.norm(np.gradient(target, 1.0 / rate_hz, axis=0), axis=1)
    land = []
    for i in starts:
        j = i + int(np.argmax(up[i:] < 0.01)) if np.any(up[i:] < 0.01) else -1
        land.append(j)
    keep = np.array([j > 0 for j in land])
    if not keep.any():
        return HandImpacts.empty()
    i0, j0 = starts[keep], np.array(land)[keep]
    return hand_contact_impacts(t_s[j0], 0 if side == "right" else 1, speed[i0], b.trunk_dir(np.array([0.0, 0.0, 1.0]))[j0], rng)


def drinking(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    side, s = p.hand, SIDES[p.hand]
    seated = _seated(p, rng, 0.5)
    pose = _base(p, rng, t_s, seated)
    up = _sips(p, rng, t_s, (4.0, 8.0))
    pose.head(flex=-D(12) * up)  # head tips back while drinking
    b = Body(sk, pose)
    hold = b.chest(np.array([0.14, s * 0.08, -0.12 if seated else -0.2]))
    mouth = b.head(np.array([0.04, s * 0.03, -0.05]))
    start = _table_rest(b, side, seated)
    reach_env = fade_in_out(t_s, t_s[-1], min(1.0, 0.25 * t_s[-1]))
    if seated:  # at a table the glass goes back onto it between sips (hand-object contacts when it lands)
        target = blend_path(start, mouth, up, b.trunk_dir(np.array([1.0, 0.0, 0.0])), 0.05)
        p.hand_impacts = set_down_contacts(b, side, target, up, t_s, rng, p.rate_hz)
    else:
        target = blend_path(blend_path(start, hold, reach_env), mouth, up, b.trunk_dir(np.array([1.0, 0.0, 0.0])), 0.05)
    b.reach(side, target, _pole(b, side, out=0.6, back=-0.2), pronation=D(10) - D(35) * up)
    pose.wrist(side, deviation=-D(20) * up)
    return planted(sk, pose, p.rate_hz)


def _eating(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray, soup: bool) -> Motion:
    side, s = p.hand, SIDES[p.hand]
    other, so = OTHER_SIDE[side], -s
    pose = _base(p, rng, t_s, seated=True)
    up = _sips(p, rng, t_s, (3.0, 5.0) if soup else (5.0, 9.0))
    pose.trunk(flex=D(8) * up)  # lean towards the food
    b = Body(sk, pose)
    env = fade_in_out(t_s, t_s[-1], min(1.0, 0.25 * t_s[-1]))
    plate = b.chest(np.array([0.2, s * 0.04, -0.2]))
    mouth = b.head(np.array([0.05, s * 0.02, -0.04]))
    if soup:  # spoon scoops in small loops in the bowl
        ph = phase_from_freq(t_s, 1.5)
        plate = plate + 0.02 * np.stack([np.cos(ph), np.sin(ph), 0 * ph], -1) * (1 - up)[:, None]
        fork_hand = side
    else:  # the knife (dominant hand) saws on the plate; the fork (other hand) lifts each bite: it moves most
        ph = phase_from_freq(t_s, rng.uniform(2.0, 3.0))
        knife = b.chest(np.array([0.2, s * 0.05, -0.21])) + 0.035 * b.trunk_dir(np.array([1.0, 0.0, 0.0])) * (np.sin(ph) * (1 - up))[:, None]
        b.reach(side, blend_path(_table_rest(b, side, True), knife, env), _pole(b, side), pronation=D(75))
        fork_hand = other
        plate = b.chest(np.array([0.2, so * 0.03, -0.2]))
        mouth = b.head(np.array([0.05, so * 0.02, -0.04]))
    target = blend_path(blend_path(_table_rest(b, fork_hand, True), plate, env), mouth, up, b.trunk_dir(np.array([1.0, 0.0, 0.5])), 0.04)
    b.reach(fork_hand, target, _pole(b, fork_hand, out=0.8, back=-0.1), pronation=D(60) - D(40) * up)
    # the spoon / fork comes back down into the bowl / onto the plate after each bite
    p.hand_impacts = set_down_contacts(b, fork_hand, target, up * env, t_s, rng, p.rate_hz)
    if soup:
        b.reach(other, _table_rest(b, other, True), _pole(b, other), pronation=D(70))
    return planted(sk, pose, p.rate_hz)


def eating_soup(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    return _eating(p, rng, sk, t_s, soup=True)


def eating_meat(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    return _eating(p, rng, sk, t_s, soup=False)


def phone_call(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    side, s = p.hand, SIDES[p.hand]
    seated = _seated(p, rng, 0.4)
    pose = _base(p, rng, t_s, seated)
    env = _envelope(p, rng, t_s)
    pose.head(side_bend=-s * D(8) * env)  # head tilts towards the phone
    b = Body(sk, pose)
    ear = b.head(np.array([0.02, s * 0.035, -0.04]), at=p.hand + "_ear")
    ear = ear + 0.006 * b.h * np.stack([smooth_noise(t_s, rng, 0.5) for _ in range(3)], -1)
    if seated:
        target = blend_path(_table_rest(b, side, seated), ear, env, b.trunk_dir(np.array([1.0, 0.0, 0.0])), 0.1)
    else:
        target = b.from_rest(side, ear, env)
    b.reach(side, target, _pole(b, side, down=1.0, out=0.3, back=-0.6), pronation=env * D(30))
    return planted(sk, pose, p.rate_hz)


def pouring_water(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    side, s = p.hand, SIDES[p.hand]
    pose = _base(p, rng, t_s, seated=False)
    tilt = _sips(p, rng, t_s, (4.0, 7.0))
    b = Body(sk, pose)
    env = fade_in_out(t_s, t_s[-1], min(1.0, 0.25 * t_s[-1]))
    jug = b.chest(np.array([0.2, s * 0.1, -0.2])) + 0.05 * b.h * tilt[:, None] * b.trunk_dir(np.array([0.2, -s, 0.6]))
    b.reach(side, b.from_rest(side, jug, env), _pole(b, side), pronation=env * D(10) + tilt * D(70))
    return planted(sk, pose, p.rate_hz)


def waving(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    side, s = p.hand, SIDES[p.hand]
    pose = _base(p, rng, t_s, seated=False)
    b = Body(sk, pose)
    env = _envelope(p, rng, t_s)
    p.tempo_hz = rng.uniform(1.5, 3.0)
    ph = phase_from_freq(t_s, p.tempo_hz)
    wave = b.chest(np.array([0.06, s * 0.14, 0.17])) + (0.05 * p.amplitude * b.h * np.sin(ph))[:, None] * b.trunk_dir(np.array([0.0, 1.0, 0.0]))
    b.reach(side, b.from_rest(side, wave, env), _pole(b, side, down=1.0, out=1.0, back=-0.3), pronation=env * D(80))
    pose.wrist(side, flex=env * D(20) * np.sin(ph + 0.5))
    return planted(sk, pose, p.rate_hz)


# Clapping, from the literature on hand claps (nothing set from recorded IMU):
# * rate: people clap at ~2-4.5 claps per second on their own (mean inter-clap interval ~250 ms over 20
#   clappers, Repp 1987, J Acoust Soc Am 81:1100; unsynchronised applause faster than synchronised,
#   Neda, Ravasz, Brechet, Vicsek & Barabasi 2000, Nature 403:849); was 1.5-3.5;
# * each clap is a hand-hand contact that stops both hands within a few ms (the clap's acoustic pulse
#   lasts a few ms, Repp 1987): a shock like a heel strike (`impacts.hand_contact_impacts`), at the
#   hands' approach speed;
# * the hands do not only translate: the forearms swing about the elbows and the palms turn towards each
#   other for the contact (pronation-supination within its ~75/85 deg range, Morrey et al. 1981), ~20-30
#   deg per clap; before, the arms translated the hands with the forearms nearly fixed in orientation.
def clapping(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    pose = _base(p, rng, t_s, seated=_seated(p, rng, 0.3))
    b = Body(sk, pose)
    env = _envelope(p, rng, t_s)
    p.tempo_hz = rng.uniform(2.0, 4.5)
    p.both_hands = True
    ph = phase_from_freq(t_s, p.tempo_hz)
    gap = 0.012 + 0.05 * p.amplitude * (1 - pulse(np.mod(ph / (2 * np.pi), 1.0)) ** 0.5)  # hands meet at mid-cycle
    centre = b.chest(np.array([0.16, 0.0, -0.06]))
    open_ = 1 - pulse(np.mod(ph / (2 * np.pi), 1.0)) ** 0.5  # 1 = hands apart, 0 = together
    turn = D(rng.uniform(20, 30)) * open_ * env
    for side in ("right", "left"):
        target = centre + (gap * b.h)[:, None] * b.trunk_dir(np.array([0.0, SIDES[side], 0.0]))
        b.reach(side, b.from_rest(side, target, env), _pole(b, side, out=0.8), pronation=turn)
        pose.wrist(side, flex=-D(15) * open_ * env)  # the hands open back at the wrist between claps
    # contacts: mid-cycle of every clap while the hands are up (envelope near 1)
    k = np.floor(ph / (2 * np.pi) - 0.5)
    i = np.flatnonzero(np.diff(k) > 0) + 1
    i = i[env[i] > 0.95]
    if i.size:
        right = b.from_rest("right", centre + (gap * b.h)[:, None] * b.trunk_dir(np.array([0.0, -1.0, 0.0])), env)
        speed = np.linalg.norm(np.gradient(right, 1.0 / p.rate_hz, axis=0), axis=1)
        quarter = max(1, int(0.25 * p.rate_hz / p.tempo_hz))
        v = np.array([speed[max(0, j - quarter) : j].max() for j in i])  # the approach speed before the contact
        p.hand_impacts = hand_contact_impacts(t_s[i], 2, v, -b.trunk_dir(np.array([0.0, 1.0, 0.0]))[i], rng)
    return planted(sk, pose, p.rate_hz)


def typing(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    pose = _base(p, rng, t_s, seated=True)
    b = Body(sk, pose)
    p.both_hands = True
    p.tempo_hz = rng.uniform(3.0, 7.0)  # key presses per second
    for side in ("right", "left"):
        s = SIDES[side]
        home = b.chest(np.array([0.2, s * 0.07, -0.16]))
        drift = 0.015 * b.h * np.stack([smooth_noise(t_s, rng, 0.3), smooth_noise(t_s, rng, 0.3), 0 * t_s], -1)
        taps = 0.002 * b.h * smooth_noise(t_s, rng, p.tempo_hz, n_sines=8)
        b.reach(side, home + drift + taps[:, None] * np.array([0.0, 0.0, 1.0]), _pole(b, side, out=0.5), pronation=D(85))
        pose.wrist(side, flex=-D(15) + D(3) * smooth_noise(t_s, rng, p.tempo_hz))
    return planted(sk, pose, p.rate_hz)
