"""Exercises: shoulder physiotherapy, strength moves, jumps and cycling.

Repetitions follow a smooth dwell profile (hold at both ends) at a sampled tempo; amplitudes,
tempo and the working arm vary per sample.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from anymo.body.skeleton import Skeleton
from anymo.motion.procedural.arms import solve_leg
from anymo.motion.procedural.gait import _hop_z, _lowest_on_floor, _spring_mass_z
from anymo.motion.procedural.params import ActivityParams
from anymo.motion.procedural.pose import OTHER_SIDE, SIDES, Pose, fk_rel, plant_root
from anymo.motion.procedural.postures import breathing, planted, standing_base
from anymo.motion.procedural.signals import dwell, fade_in_out, phase_from_freq, rep_profile, smooth_noise, smoothstep, whole_cycles
from anymo.motion.procedural.upper import Body

D = np.deg2rad
Motion = tuple[np.ndarray, np.ndarray]


# Dwell sharpness of a repetition (`signals.dwell`): repetitions done without a pause follow a minimum-jerk
# profile (Flash & Hogan 1985, J Neurosci 5:1688), peak speed 1.875 x the mean, which the dwell profile gives at
# sharpness ~0.8; higher values hold at both ends (1.6: peak ~2.7 x mean). Each clip samples one, continuous to
# holding; was always 1.5 (every repetition held at both ends).
REP_SHARPNESS = (0.8, 1.6)


def _reps(p: ActivityParams, rng: np.random.Generator, t_s: np.ndarray, period_s: tuple[float, float]) -> np.ndarray:
    """0..1 repetition profile (0 = start position), continuous or holding briefly at both ends; whole
    repetitions, so it starts and ends at rest (was: began at the top, reached in a 0.5 s fade, 3-7 g at the wrist)."""
    tempo_hz = 1.0 / rng.uniform(*period_s)
    sharp = float(rng.uniform(*REP_SHARPNESS))
    e, p.tempo_hz = rep_profile(t_s, tempo_hz * (1 + 0.06 * smooth_noise(t_s, rng, 0.1)), sharp)
    return e


def _arms(p: ActivityParams, rng: np.random.Generator) -> list[str]:
    """Working arms: the chosen hand, or both."""
    p.both_hands = bool(rng.random() < 0.4)
    return ["right", "left"] if p.both_hands else [p.hand]


def _stand(p: ActivityParams, rng: np.random.Generator, t_s: np.ndarray, **kw) -> Pose:
    p.extra["posture"] = "standing"
    return standing_base(p, rng, t_s, sway=0.5, **kw)


# --- shoulder physiotherapy (the WATCH exercises) and arm strength ---------------------------
# Repetition periods span the velocities the ACSM position stand on resistance training describes
# (ACSM 2009, Med Sci Sports Exerc 41:687): moderate, 1-2 s up and 1-2 s down (2-4 s per repetition),
# slow and intentionally slow (up to ~5 s), and fast, under 1 s up and about 1 s down (~1.2-2 s per
# repetition, the lower ends below; the smaller 90-degree rotations reach ~1.2 s). Unloaded
# physiotherapy moves are done at all of these; the periods were 2-5 s (moderate and slow only).

def _arm_rep(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray, period: tuple[float, float],
             fn: Callable, anatomical_range: bool = False) -> Motion:
    """Standing repetitions of ``fn(pose, side, e)`` on the working arm(s). ``e`` is the 0..1 repetition
    profile, scaled by the clip's amplitude unless the move's range is an anatomical one already sampled
    (``anatomical_range``: the end point is where the joint stops, not a size of the move)."""
    pose = _stand(p, rng, t_s)
    e = _reps(p, rng, t_s, period)
    for side in _arms(p, rng):
        fn(pose, side, e if anatomical_range else e * p.amplitude)
    return planted(sk, pose, p.rate_hz)


# Shoulder ranges of motion: the moves go through most of the active range of adults. Gill et al. 2020 (BMC
# Musculoskelet Disord 21:676; 2404 adults aged 20-91, inclinometer): mean active flexion 161.5 / 158.5 deg
# (men / women) and abduction 151.5 / 149.7 deg, ~40 deg less in the oldest than the youngest. Rotations with
# the arm at the side: external rotation taken to the 45-75 deg of the clinically quoted 60-90 deg range (Gill et
# al. measured it too but their abstract gives no figure: an assumption, not a citation); internal rotation stops
# where the forearm meets the belly (~60-90 deg, body geometry). Were 110-165 / 90-160 deg times the clip amplitude 0.8-1.1 (means ~130 /
# ~119 deg) and rotation arcs of 60-110 deg.
ELEVATION_TOP_DEG = {"forward": (125.0, 180.0), "abduction": (115.0, 180.0)}


def shoulder_forward_elevation(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    top = D(rng.uniform(*ELEVATION_TOP_DEG["forward"]))
    return _arm_rep(p, rng, sk, t_s, (1.5, 5.0), lambda pose, s, e: (pose.shoulder(s, flex=top * e, abd=D(5)), pose.elbow(s, D(8), pronation=D(10))),
                    anatomical_range=True)


def shoulder_abduction(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    top = D(rng.uniform(*ELEVATION_TOP_DEG["abduction"]))
    return _arm_rep(p, rng, sk, t_s, (1.5, 5.0), lambda pose, s, e: (pose.shoulder(s, flex=D(10) * e, abd=D(5) + top * e, int_rot=-D(40) * e), pose.elbow(s, D(8))),
                    anatomical_range=True)


def shoulder_internal_rotation(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    """From external rotation (25-55 deg) in to the belly (60-85 deg internal rotation), elbow at 90 deg at the side."""
    lo, hi = -D(rng.uniform(25, 55)), D(rng.uniform(60, 85))
    return _arm_rep(p, rng, sk, t_s, (1.2, 4.0), lambda pose, s, e: (pose.shoulder(s, flex=D(5), abd=D(10), int_rot=lo + (hi - lo) * e), pose.elbow(s, D(90), pronation=D(0))),
                    anatomical_range=True)


def shoulder_external_rotation(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    """From the belly (50-80 deg internal rotation) out to 45-75 deg external rotation, elbow at 90 deg at the side."""
    lo, hi = D(rng.uniform(50, 80)), -D(rng.uniform(45, 75))
    return _arm_rep(p, rng, sk, t_s, (1.2, 4.0), lambda pose, s, e: (pose.shoulder(s, flex=D(5), abd=D(10), int_rot=lo + (hi - lo) * e), pose.elbow(s, D(90), pronation=D(0))),
                    anatomical_range=True)


def trapezius_row(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    """Straight arms pulled from the front down and back, squeezing the shoulder blades."""
    start, end = D(rng.uniform(50, 80)), D(rng.uniform(-25, -5))
    return _arm_rep(p, rng, sk, t_s, (1.5, 4.5), lambda pose, s, e: (pose.clavicle(s, protraction=D(8) - D(20) * e, elevation=-D(5) * e),
                                                                      pose.shoulder(s, flex=start + (end - start) * e, abd=D(8)), pose.elbow(s, D(10), pronation=D(60))))


def shoulder_shrug(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    return _arm_rep(p, rng, sk, t_s, (1.5, 3.0), lambda pose, s, e: (pose.clavicle(s, elevation=D(rng.uniform(15, 25)) * e), pose.elbow(s, D(8))))


def arm_curls(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    """Biceps curls: the elbow flexes 110-140 deg while the forearm supinates from neutral (palm in, arm
    hanging) to palm up - the biceps is the main supinator and a dumbbell curl turns the palm up as it
    rises (forearm range ~75 deg pronation / ~85 deg supination: Morrey, Askew & Chao 1981, J Bone Joint
    Surg Am 63:872); the elbow drifts forward 15-25 deg. Was: a fixed supinated forearm and a 15 deg drift,
    so the forearm only turned about one axis. Tempo 2-4 s per repetition (moderate tempo, 1-2 s per
    phase: ACSM 2009, Med Sci Sports Exerc 41:687)."""
    top = D(rng.uniform(110, 140))
    drift = D(rng.uniform(15, 25))
    return _arm_rep(p, rng, sk, t_s, (2.0, 4.0), lambda pose, s, e: (pose.shoulder(s, flex=D(5) + drift * e, abd=D(5)),
                                                                      pose.elbow(s, D(10) + top * e, pronation=D(0) - D(80) * e)))


def upright_row(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    """Hands from the thighs up to the chin, elbows leading up and out."""
    pose = _stand(p, rng, t_s)
    e = _reps(p, rng, t_s, (1.5, 4.5))
    b = Body(sk, pose)
    for side in _arms(p, rng):
        s = SIDES[side]
        low = b.chest(np.array([0.1, s * 0.06, -0.3]))
        high = b.chest(np.array([0.09, s * 0.05, 0.1]))
        target = low + e[:, None] * (high - low) * p.amplitude
        b.reach(side, target, b.trunk_dir(np.array([-0.2, s * 1.0, 0.3])), pronation=D(80))
    return planted(sk, pose, p.rate_hz)


def shoulder_pendulum(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    """Bent forward, the free arm hangs and swings in small circles or to and fro."""
    side = p.hand
    pose = Pose(len(t_s))
    lean = D(rng.uniform(45, 75))
    p.extra["posture"] = "standing"
    pose.pelvis(tilt_fwd=0.5 * lean)
    pose.trunk(flex=0.5 * lean - breathing(t_s, rng))
    pose.head(flex=-D(20))
    for leg, s in (("right", -1.0), ("left", 1.0)):
        pose.hip(leg, 0.5 * lean + D(10), abd=D(4))
        pose.knee(leg, D(20))
        pose.ankle(leg, D(10) - 0.0 * s)
    other = OTHER_SIDE[side]
    pose.shoulder(other, flex=lean + D(10), abd=D(10))  # leaning on a table
    pose.elbow(other, D(20), pronation=D(80))
    b = Body(sk, pose)
    p.tempo_hz = rng.uniform(0.5, 1.0)
    ph = phase_from_freq(t_s, p.tempo_hz)
    # circles of ~20-50 cm across, the small and large pendulums of Long et al. 2010 (J Orthop Sports Phys
    # Ther 40:230); was 0.05 x body height (~17 cm across), the small end only
    r = rng.uniform(0.10, 0.25) * p.amplitude * fade_in_out(t_s, t_s[-1], min(1.0, 0.2 * t_s[-1]))
    circle = rng.random() < 0.6
    p.extra["pendulum"] = "circles" if circle else "to and fro"
    sway = np.stack([np.cos(ph), np.sin(ph) if circle else 0 * ph, 0 * ph], -1) * r[:, None]
    hang = b.shoulder(side) + np.array([0.0, 0.0, -0.97 * b.arm_len(side)]) + sway
    b.reach(side, hang, np.broadcast_to(np.array([-1.0, SIDES[side] * 0.3, 0.0]), hang.shape), pronation=D(10))
    return planted(sk, pose, p.rate_hz)


# --- lower-body strength and jumps ----------------------------------------------------------

def squats(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    """Bodyweight squats at 1.6-3.0 s per repetition (was 2.5-4.5 s): healthy adults stand up from and
    sit back down on a chair 12-19 times in 30 s (1.6-2.5 s per cycle) in the 30-s chair stand test (Jones,
    Rikli & Beam 1999, Res Q Exerc Sport 70:113; Rikli & Jones 1999 norms), and self-paced squats take
    about 2 s (1 s down, 1 s up: e.g. Dionisio, Almeida, Duarte & Hirata 2008, J Electromyogr Kinesiol 18:134)."""
    e = _reps(p, rng, t_s, (1.6, 3.0)) * p.amplitude
    depth = D(rng.uniform(80, 115))
    pose = Pose(len(t_s))
    p.extra["posture"] = "standing"
    thigh = D(2) + 0.9 * depth * e  # thigh angle from vertical
    knee = D(3) + depth * e
    tilt = D(rng.uniform(15, 30)) * e  # pelvis and trunk lean forward to keep balance
    pose.pelvis(tilt_fwd=tilt)
    pose.trunk(flex=0.5 * tilt + p.style.trunk_lean_rad - breathing(t_s, rng))
    pose.head(flex=-0.8 * tilt)
    for side in ("right", "left"):
        pose.hip(side, thigh + tilt, abd=D(10) + D(5) * e, int_rot=-D(15))
        pose.knee(side, knee)
        pose.ankle(side, knee - thigh)  # feet flat on the floor
        pose.shoulder(side, flex=D(85) * e + D(5) - 1.5 * tilt * e, abd=D(5))
        pose.elbow(side, D(10) + D(20) * e)
    return planted(sk, pose, p.rate_hz)


def lunges(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    """Forward lunges: from standing, step forward with one leg, lower until the back knee nears the floor,
    rise, and step back to standing - every repetition. The back leg stays planted and its thigh swings
    from vertical to ~25 deg behind as the front foot steps out (the forward lunge of e.g. Escamilla et al.
    2008, J Orthop Sports Phys Ther 38:681: front knee to ~90 deg, step length ~0.7-0.9 of leg length;
    Riemann, Lapinski, Smith & Davies 2012, J Strength Cond Res 26:1466). Was: a split squat in place, both
    feet fixed, so the back thigh only rotated ~10 deg."""
    p.tempo_hz = 1.0 / rng.uniform(2.5, 4.5)
    ph, scale = whole_cycles(phase_from_freq(t_s, p.tempo_hz * (1 + 0.05 * smooth_noise(t_s, rng, 0.1))))
    p.tempo_hz *= scale
    u = np.mod(ph / (2 * np.pi), 1.0)
    env = fade_in_out(t_s, t_s[-1], min(0.5, 0.1 * t_s[-1]))
    amp = p.amplitude
    step = smoothstep(u / 0.2) * (1 - smoothstep((u - 0.8) / 0.2)) * env  # 0 feet together, 1 split stance
    depth = smoothstep((u - 0.25) / 0.2) * (1 - smoothstep((u - 0.55) / 0.2)) * amp * env  # lowering
    lift = (np.sin(np.pi * np.clip(u / 0.2, 0, 1)) ** 2 + np.sin(np.pi * np.clip((u - 0.8) / 0.2, 0, 1)) ** 2) * env  # foot off the floor
    front = p.hand  # the leading leg (reported as the side in the captions)
    back = OTHER_SIDE[front]
    pose = Pose(len(t_s))
    p.extra["posture"] = "standing"
    pose.trunk(flex=p.style.trunk_lean_rad + D(5) * depth - breathing(t_s, rng))
    pose.hip(front, D(30) * step + D(55) * depth + D(25) * lift, abd=D(3))
    pose.knee(front, D(5) + D(85) * depth + D(45) * lift)
    pose.ankle(front, -D(25) * step + D(30) * depth)
    pose.hip(back, -D(25) * step + D(10) * depth, abd=D(3))
    pose.knee(back, D(5) + D(5) * step + D(80) * depth)
    pose.ankle(back, -D(15) * step + D(40) * depth)
    pose.toe(back, D(40) * step + D(10) * depth)
    for side in ("right", "left"):
        pose.shoulder(side, flex=D(5), abd=D(8))
        pose.elbow(side, D(70), pronation=D(20))
    local = pose.local
    # the back foot carries the body; the front one only once it has landed in the split stance
    w_front = 0.5 * step * (1 - np.clip(lift, 0, 1))
    stance = np.stack([w_front, 1 - w_front], axis=1) if front == "right" else np.stack([1 - w_front, w_front], axis=1)
    return local, plant_root(sk, *fk_rel(sk, local), p.rate_hz, softness_m=0.02, stance=stance)


def _bump(ph: np.ndarray, centre_frac: float, width_frac: float) -> np.ndarray:
    """Periodic smooth bump (von Mises) peaking at ``centre_frac`` of the cycle."""
    return np.exp((np.cos(ph - 2 * np.pi * centre_frac) - 1.0) / (2 * np.pi * width_frac) ** 2)


def jumping(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    """Repeated countermovement jumps on the spot."""
    p.tempo_hz = rng.uniform(0.6, 1.0)
    p.extra["posture"] = "standing"
    ph = phase_from_freq(t_s, p.tempo_hz, 0.0)
    flight = rng.uniform(0.3, 0.45) * p.tempo_hz * p.amplitude  # fraction of the cycle in the air
    # phase 0 = take-off: crouch before take-off and absorb after landing
    env = fade_in_out(t_s, t_s[-1], min(1.0, 0.2 * t_s[-1]))
    crouch = (_bump(ph, 0.82, 0.07) + 0.6 * _bump(ph, flight + 0.08, 0.05)) * env
    air = _bump(ph, 0.5 * flight, 0.3 * flight) * env
    depth = D(rng.uniform(60, 90))
    pose = Pose(len(t_s))
    pose.pelvis(tilt_fwd=D(20) * crouch)
    pose.trunk(flex=D(10) * crouch + p.style.trunk_lean_rad)
    pose.head(flex=-D(20) * crouch)
    for side in ("right", "left"):
        thigh = 0.9 * depth * crouch
        pose.hip(side, thigh + D(20) * crouch, abd=D(4))
        pose.knee(side, D(3) + depth * crouch)
        pose.ankle(side, D(3) + 0.1 * depth * crouch - D(30) * air)
        pose.shoulder(side, flex=-D(40) * crouch + D(120) * air, abd=D(10))
        pose.elbow(side, D(20))
    local, root = planted(sk, pose, p.rate_hz)
    root[:, :2] = 0.0
    root[:, 2] += _hop_z(ph, flight, p.tempo_hz) * env
    return local, root


def jumping_jacks(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    p.tempo_hz = rng.uniform(0.8, 1.2)  # full jacks per second
    p.extra["posture"] = "standing"
    ph, scale = whole_cycles(phase_from_freq(t_s, p.tempo_hz * (1 + 0.03 * smooth_noise(t_s, rng, 0.1))))
    p.tempo_hz *= scale
    env = fade_in_out(t_s, t_s[-1], min(1.0, 0.2 * t_s[-1]))
    out = (1 - dwell(ph, 1.0)) * env * p.amplitude  # 0 feet together / arms down, 1 apart / overhead
    pose = Pose(len(t_s))
    pose.trunk(flex=p.style.trunk_lean_rad - breathing(t_s, rng))
    for side in ("right", "left"):
        pose.hip(side, D(5), abd=D(3) + D(14) * out, int_rot=-D(10))
        pose.knee(side, D(8))
        pose.ankle(side, D(3), inversion=-D(14) * out)
        pose.shoulder(side, flex=D(5), abd=D(8) + D(150) * out, int_rot=-D(60) * out)
        pose.elbow(side, D(10))
    local = pose.local
    z = _lowest_on_floor(sk, fk_rel(sk, local), _spring_mass_z(2 * ph, 2 * p.tempo_hz, 0.7) * env)
    return local, np.concatenate([np.zeros((len(t_s), 2)), z[:, None]], axis=1)


def cycling(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> Motion:
    """Riding a bicycle: seated, trunk leaning onto the bars, feet on the pedals, moving forward."""
    p.tempo_hz = rng.uniform(55, 95) / 60.0  # crank revolutions per second
    p.speed_mps = float(rng.uniform(3.5, 7.5))
    p.extra["posture"] = "sitting"
    h = sk.shape.height_m
    n = len(t_s)
    lean = D(rng.uniform(25, 50))
    pose = Pose(n)
    heading = D(10) * smooth_noise(t_s, rng, 0.03, n_sines=3)
    pose.pelvis(tilt_fwd=0.5 * lean, yaw=heading, roll_left_up=D(1.5) * smooth_noise(t_s, rng, 0.3))
    pose.trunk(flex=0.5 * lean - breathing(t_s, rng))
    pose.head(flex=-0.6 * lean)
    b = Body(sk, pose)
    ph = phase_from_freq(t_s, p.tempo_hz * (1 + 0.05 * smooth_noise(t_s, rng, 0.1)))
    crank = 0.1 * h
    leg_len = 0.49 * h
    centre = np.array([0.1 * leg_len, 0.0, -0.83 * leg_len])  # bottom bracket, in the heading frame below the hip
    fwd = np.stack([np.cos(heading), np.sin(heading), 0 * heading], -1)
    left = np.stack([-np.sin(heading), np.cos(heading), 0 * heading], -1)
    up = np.array([0.0, 0.0, 1.0])
    for side, off in (("right", 0.0), ("left", np.pi)):
        s = SIDES[side]
        hip = b.pos[:, 15 if side == "right" else 19]
        pedal = (centre[0] + crank * np.cos(ph + off))[:, None] * fwd + (centre[2] + crank * np.sin(ph + off))[:, None] * up
        ankle = hip + pedal + (s * 0.02 * h) * left + 0.035 * h * up
        solve_leg(sk, pose, side, ankle, fwd + 0.3 * s * left, rel=(b.pos, b.quat))
        pose.ankle(side, D(10) * np.sin(ph + off))
    b2 = Body(sk, pose)
    for side in ("right", "left"):
        s = SIDES[side]
        bar = b2.pos[:, 0] + (0.42 * h) * fwd + (s * 0.13 * h) * left + (0.2 * h) * up  # arms nearly straight
        b2.reach(side, bar, b2.trunk_dir(np.array([-0.3, s * 1.0, -0.6])), pronation=D(80))
    local = pose.local
    xy = np.concatenate([[[0.0, 0.0]], np.cumsum(p.speed_mps * fwd[1:, :2], axis=0) / p.rate_hz])
    z = np.full(n, 0.58 * h)  # saddle: the hip joints over a bottom bracket well above the road
    return local, np.concatenate([xy, z[:, None]], axis=1)
