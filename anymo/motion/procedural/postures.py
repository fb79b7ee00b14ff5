"""Standing, sitting and lying bodies and the one-off transitions between them.

Standing and sitting keep both feet planted (`plant_root`): the pelvis height and horizontal
position follow from the legs, so a squat lowers the body and standing up moves the pelvis over the
feet. Lying is on a bed whose top is at chair-seat height, reached by sitting on its edge first.
"""

from __future__ import annotations

import numpy as np

from anymo.body.skeleton import Skeleton
from anymo.geometry.rotations import quat_from_axis_angle, quat_mul, quat_slerp
from anymo.motion.procedural.params import ActivityParams
from anymo.motion.procedural.pose import EY, EZ, Pose, fk_rel, plant_root
from anymo.motion.procedural.signals import ramp, smooth_noise

D = np.deg2rad


def breathing(t_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Chest rise (rad of thoracic extension) at 12-18 breaths per minute."""
    f = rng.uniform(0.2, 0.3)
    return D(0.8) * np.sin(2 * np.pi * f * t_s + rng.uniform(0, 2 * np.pi))


def standing_base(p: ActivityParams, rng: np.random.Generator, t_s: np.ndarray, *, knee_deg: float | np.ndarray = 3.0,
                  sway: float = 1.0, arms: bool = True) -> Pose:
    """Quiet standing: postural sway, weight shifts, breathing, habitual lean; arms hanging if ``arms``."""
    st, n = p.style, len(t_s)
    pose = Pose(n)
    ap = sway * D(1.0) * smooth_noise(t_s, rng, 0.3)  # ankle strategy, anteroposterior
    ml = sway * D(1.2) * smooth_noise(t_s, rng, 0.15)  # weight shift between the feet
    pose.pelvis(yaw=D(3.0) * sway * smooth_noise(t_s, rng, 0.1), roll_left_up=0.3 * ml)
    pose.trunk(flex=st.trunk_lean_rad - breathing(t_s, rng) + 0.3 * ap, side_bend=-0.3 * ml)
    pose.head(flex=st.head_flex_rad + st.jitter_rad * smooth_noise(t_s, rng, 0.5), twist=D(4.0) * sway * smooth_noise(t_s, rng, 0.15))
    for side, s in (("right", -1.0), ("left", 1.0)):
        k = D(np.asarray(knee_deg)) + st.jitter_rad * 0.5 * np.abs(smooth_noise(t_s, rng, 0.2))
        pose.hip(side, k / 2 - ap, abd=s * ml + D(2.0), int_rot=-st.toe_out_rad)
        pose.knee(side, k)
        pose.ankle(side, ap + k / 2)
        if arms:
            pose.shoulder(side, flex=D(3.0) + 0.5 * ap + st.jitter_rad * smooth_noise(t_s, rng, 0.3), abd=st.arm_abd_rad * 0.6)
            pose.elbow(side, flex=D(rng.uniform(8, 20)) + st.jitter_rad * smooth_noise(t_s, rng, 0.3), pronation=D(10.0))
    return pose


def sitting_angles(rng: np.random.Generator) -> dict[str, float]:
    """A sitting posture (rad): hips and knees near 90 deg, trunk upright or slumped."""
    return {"hip": D(rng.uniform(82, 95)), "knee": D(rng.uniform(80, 105)), "trunk": D(rng.uniform(-8, 12)),
            "abd": D(rng.uniform(2, 10))}


def sitting_base(p: ActivityParams, rng: np.random.Generator, t_s: np.ndarray, *, arms: bool = True,
                 angles: dict[str, float] | None = None) -> Pose:
    """Sitting on a chair, feet on the floor; small fidgets, breathing."""
    a = angles or sitting_angles(rng)
    st, n = p.style, len(t_s)
    pose = Pose(n)
    pose.pelvis(tilt_fwd=0.3 * a["trunk"], yaw=D(2.0) * smooth_noise(t_s, rng, 0.1))
    pose.trunk(flex=0.7 * a["trunk"] + 0.5 * st.trunk_lean_rad - breathing(t_s, rng) + st.jitter_rad * smooth_noise(t_s, rng, 0.2))
    pose.head(flex=st.head_flex_rad + st.jitter_rad * smooth_noise(t_s, rng, 0.4), twist=D(5.0) * smooth_noise(t_s, rng, 0.1))
    for side, s in (("right", -1.0), ("left", 1.0)):
        hip = a["hip"] - 0.3 * a["trunk"] + st.jitter_rad * smooth_noise(t_s, rng, 0.2)
        pose.hip(side, hip, abd=a["abd"], int_rot=-st.toe_out_rad)
        pose.knee(side, a["knee"] + st.jitter_rad * smooth_noise(t_s, rng, 0.2))
        pose.ankle(side, a["knee"] - hip - D(2.0))  # feet flat
        if arms:  # hands resting on the thighs
            pose.shoulder(side, flex=D(25.0) + st.jitter_rad * smooth_noise(t_s, rng, 0.3), abd=st.arm_abd_rad)
            pose.elbow(side, flex=D(rng.uniform(45, 65)), pronation=D(rng.uniform(30, 70)))
    return pose


def planted(sk: Skeleton, pose: Pose, rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Local rotations and the root that keeps both feet on the floor."""
    local = pose.local
    return local, plant_root(sk, *fk_rel(sk, local), rate_hz, softness_m=0.02)


IDLE_HANDS_PROB = 0.5  # share of standing clips with idle hand movements (a prior, not measured)


def idle_hand_movements(pose: Pose, t_s: np.ndarray, rng: np.random.Generator) -> int:
    """Occasional hand movements while standing - to the face, the chest, a pocket, a small
    gesture - one arm at a time, 0.8-2.5 s each, one every 2-8 s. People standing "still" in daily life
    rarely keep the arms still: wrist-worn accelerometry finds the upper limbs moving for most of the
    time spent upright (Bailey, Klaesner & Lang 2015, Neurorehabil Neural Repair 29:969). Without these,
    simulated standing gave a wrist sensor nothing but sway. Returns the number of movements."""
    n, t_end = 0, float(t_s[-1])
    t0 = rng.uniform(0.3, 3.0)
    while t0 < t_end - 0.8:
        dur = min(rng.uniform(0.8, 2.5), t_end - t0)
        side = str(rng.choice(["right", "left"]))
        bump = np.sin(np.pi * np.clip((t_s - t0) / dur, 0.0, 1.0)) ** 2
        pose.shoulder(side, flex=D(rng.uniform(10, 60)) * bump, abd=D(rng.uniform(-5, 20)) * bump,
                      int_rot=D(rng.uniform(0, 40)) * bump)
        pose.elbow(side, flex=D(rng.uniform(30, 110)) * bump, pronation=D(rng.uniform(-40, 60)) * bump)
        n += 1
        t0 += dur + rng.uniform(2.0, 8.0)
    return n


def standing(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standing; in `IDLE_HANDS_PROB` of the clips with idle hand movements (p.extra["idle_hands"]). A caller
    whose own arm action owns the arms (the compositional generator) presets p.extra["idle_hands"] = False."""
    pose = standing_base(p, rng, t_s)
    allowed = p.extra.get("idle_hands") is not False
    p.extra["idle_hands"] = allowed and bool(rng.random() < IDLE_HANDS_PROB) and idle_hand_movements(pose, t_s, rng) > 0
    return planted(sk, pose, p.rate_hz)


def sitting(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return planted(sk, sitting_base(p, rng, t_s), p.rate_hz)


# --- transitions ------------------------------------------------------------------------------

def _stand_sit(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray, e: np.ndarray) -> Pose:
    """Whole-body pose blending standing (e=0) into sitting (e=1) with the forward trunk lean in between."""
    a = sitting_angles(rng)
    st, n = p.style, len(t_s)
    bump = np.sin(np.pi * e) ** 2
    lean = D(rng.uniform(30, 50)) * bump
    pose = Pose(n)
    pose.pelvis(tilt_fwd=0.3 * a["trunk"] * e + 0.5 * lean)
    pose.trunk(flex=st.trunk_lean_rad * (1 - 0.5 * e) + 0.7 * a["trunk"] * e + 0.5 * lean - breathing(t_s, rng))
    pose.head(flex=st.head_flex_rad - 0.3 * lean)
    for side in ("right", "left"):
        hip = a["hip"] * e + 0.5 * lean - 0.3 * a["trunk"] * e
        knee = a["knee"] * e + D(3.0) * (1 - e)
        pose.hip(side, hip, abd=a["abd"] * e + D(2.0), int_rot=-st.toe_out_rad)
        pose.knee(side, knee)
        pose.ankle(side, knee - hip + 0.5 * lean - D(2.0) * e)
        pose.shoulder(side, flex=D(25.0) * e + D(30.0) * bump, abd=st.arm_abd_rad)
        pose.elbow(side, flex=D(15.0) + D(40.0) * e, pronation=D(10.0) + D(40.0) * e)
    return pose


def stand_to_sit(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sitting down on a chair: the movement itself takes 1.5-3 s, centred in the clip."""
    dur = min(rng.uniform(1.5, 3.0), 0.8 * t_s[-1])
    p.tempo_hz = 1.0 / dur
    e = ramp(t_s, 0.5 * (t_s[-1] - dur), dur)
    return planted(sk, _stand_sit(p, rng, sk, t_s, e), p.rate_hz)


def sit_to_stand(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standing up from a chair (1.2-2.5 s)."""
    dur = min(rng.uniform(1.2, 2.5), 0.8 * t_s[-1])
    p.tempo_hz = 1.0 / dur
    e = 1.0 - ramp(t_s, 0.5 * (t_s[-1] - dur), dur)
    return planted(sk, _stand_sit(p, rng, sk, t_s, e), p.rate_hz)


def _lie_down(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sit on the bed's edge, then swing the legs up and lie back (supine, head to the right)."""
    total = t_s[-1]
    d_sit = min(rng.uniform(1.5, 2.5), 0.35 * total)
    d_lie = min(rng.uniform(2.0, 3.5), 0.45 * total)
    t_sit = 0.5 * (total - d_sit - d_lie - 0.5)
    e_sit = ramp(t_s, t_sit, d_sit)
    e_lie = ramp(t_s, t_sit + d_sit + 0.5, d_lie)
    pose = _stand_sit(p, rng, sk, t_s, e_sit)
    local = pose.local
    root = plant_root(sk, *fk_rel(sk, local), p.rate_hz, softness_m=0.02)
    # second phase: the pelvis turns a quarter and reclines, hips and knees straighten, root slides back
    n = len(t_s)
    lie_q = quat_mul(quat_from_axis_angle(EZ, D(90.0)), quat_from_axis_angle(EY, D(-90.0)))
    pelvis0 = local[:, 0]
    pelvis1 = quat_mul(lie_q, quat_from_axis_angle(EY, -D(rng.uniform(0, 8))))
    local[:, 0] = quat_slerp(pelvis0, np.broadcast_to(pelvis1, pelvis0.shape), e_lie)
    straight = Pose(n)
    straight.trunk(flex=D(rng.uniform(-5, 5)))
    straight.head(flex=D(rng.uniform(10, 25)))
    for side in ("right", "left"):
        straight.hip(side, D(rng.uniform(0, 10)), abd=D(rng.uniform(2, 8)))
        straight.knee(side, D(rng.uniform(3, 15)))
        straight.ankle(side, D(rng.uniform(-25, -10)))
        straight.shoulder(side, flex=D(rng.uniform(0, 15)), abd=D(rng.uniform(5, 20)))
        straight.elbow(side, flex=D(rng.uniform(10, 40)), pronation=D(60.0))
    w = e_lie[:, None]
    local[:, 1:] = quat_slerp(local[:, 1:], straight.local[:, 1:], np.broadcast_to(w, local.shape[:2])[:, 1:])
    h = sk.shape.height_m
    shift = np.array([-0.05 * h, -0.02 * h, 0.012 * h])
    root = root + e_lie[:, None] * shift
    p.tempo_hz = 1.0 / (d_sit + d_lie)
    local = _arm_support(sk, local, root, t_s, t_sit + d_sit, d_lie, p.rate_hz)
    return local, root


def _arm_support(sk: Skeleton, local: np.ndarray, root: np.ndarray, t_s: np.ndarray, t_down_s: float, d_lie_s: float,
                 rate_hz: float) -> np.ndarray:
    """The arm on the side the trunk goes down to takes its weight: the hand is put on the bed beside the
    hips just before reclining and stays there while the elbow bends under the lowering trunk, then the
    arm joins the body (getting up, the same backwards: the arm pushes the trunk up). Adults rising from
    or lying down on a bed use such an upper-extremity push (Ford-Smith & VanSant 1993, Phys Ther 73:300;
    the "push" patterns of most young and older adults). Was: both arms slerped to the lying pose."""
    from anymo.body.skeleton import SEGMENT_INDEX
    from anymo.geometry.rotations import quat_rotate
    from anymo.motion.procedural.arms import body_dir, solve_arm

    h = sk.shape.height_m
    pos, quat = fk_rel(sk, local)
    i0 = int(np.clip(round(t_down_s * rate_hz), 0, len(t_s) - 1))
    pelvis_q = quat[i0, SEGMENT_INDEX["Pelvis"]]
    hip_w = pos[i0, SEGMENT_INDEX["RightUpperLeg"]] + root[i0]
    right = quat_rotate(pelvis_q, np.array([0.0, -1.0, 0.0]))
    back = quat_rotate(pelvis_q, np.array([-1.0, 0.0, 0.0]))
    right[2] = back[2] = 0.0
    bed_w = hip_w + 0.12 * h * right / np.linalg.norm(right) + 0.04 * h * back / np.linalg.norm(back)
    bed_w[2] = hip_w[2] - 0.05 * h  # the bed top, a little below the hip joints of someone sitting on it
    target = bed_w[None, :] - root
    pose = Pose(len(t_s))
    pose.local = np.array(local, copy=True)
    pole = body_dir(quat, "T8", np.array([-1.0, -0.6, 0.0]))  # elbow back and out
    solve_arm(sk, pose, "right", target, pole, rel=(pos, quat), rate_hz=rate_hz)
    w = ramp(t_s, t_down_s - 0.4, 0.9) * (1.0 - ramp(t_s, t_down_s + 0.5 + 0.6 * d_lie_s, 0.4 * d_lie_s))
    out = np.array(local, copy=True)
    for seg in ("RightUpperArm", "RightForeArm"):
        i = SEGMENT_INDEX[seg]
        out[:, i] = quat_slerp(local[:, i], pose.local[:, i], w)
    return out


def lying_down(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _lie_down(p, rng, sk, t_s)


def getting_up(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Getting up from bed: lying down played backwards in time (sit up, legs down, stand)."""
    local, root = _lie_down(p, rng, sk, t_s)
    return local[::-1].copy(), root[::-1].copy()


def lying(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lying supine on a bed (the pose `lying_down` ends in), breathing, small shifts of the limbs."""
    ref_t = np.linspace(0.0, 8.0, int(8.0 * p.rate_hz) + 1)
    end_local, end_root = _lie_down(p, np.random.default_rng(int(rng.integers(2**31))), sk, ref_t)
    n = len(t_s)
    local = np.broadcast_to(end_local[-1], (n,) + end_local.shape[1:]).copy()
    wiggle = Pose(n)
    wiggle.trunk(flex=-breathing(t_s, rng), twist=D(2.0) * smooth_noise(t_s, rng, 0.05))
    wiggle.head(twist=D(8.0) * smooth_noise(t_s, rng, 0.05), flex=D(3.0) * smooth_noise(t_s, rng, 0.05))
    for side in ("right", "left"):
        wiggle.hip(side, D(3.0) * smooth_noise(t_s, rng, 0.05), abd=D(2.0) * smooth_noise(t_s, rng, 0.05))
        wiggle.shoulder(side, D(4.0) * smooth_noise(t_s, rng, 0.05), abd=D(3.0) * smooth_noise(t_s, rng, 0.05))
        wiggle.elbow(side, D(5.0) * smooth_noise(t_s, rng, 0.05))
    local = quat_mul(local, wiggle.local)
    root = np.broadcast_to(end_root[-1], (n, 3)).copy()
    return local, root
