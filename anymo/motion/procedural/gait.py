"""Walking, running, jogging (also in place) and stairs from normative gait curves.

Sagittal hip/knee/ankle angles are Fourier approximations of published normative curves (walking:
Winter 2009 / Perry; running: Novacheck 1998; stairs: McFadyen & Winter 1988), as key points over the
gait cycle (0 % = heel strike of the same leg). Cadence and stride length follow the speed and leg
length (dimensionless Froude speed). Walking plants the feet: the root height and horizontal motion
come from the lowest sole points, so the pelvis bobs twice per stride and stance feet do not slide.
Running has a flight phase: the pelvis follows a spring-mass vertical acceleration pattern.
Walking and running record their foot strikes in ``p.impacts`` (see `impacts`): each is the instant
the generated foot comes down to the floor (`landing_gap_m`), and its shock is added to the segment
positions after forward kinematics. Known limits of the kinematics (documented, not hidden by the
impacts): in slow walking the landing heel can hover 1-3 cm up for up to ~0.3 s after 0 % of the
cycle (the trailing toe or the swinging toe holds the body up), so those contacts come that much later;
walking's double support floats by up to ~1 cm (the planting softens the switch between the feet);
jogging at speed lands ~150-190 ms after 0 % of the running cycle, often on the forefoot.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from anymo.body.skeleton import Skeleton
from anymo.motion.procedural.impacts import G_MPS2, gait_impacts
from anymo.motion.procedural.params import ActivityParams
from anymo.motion.procedural.pose import Pose, fk_rel, foot_contacts_m, plant_root, softmin_weights, stance_weights
from anymo.motion.procedural.signals import (
    fourier_eval,
    fourier_fit,
    fourier_smooth_periodic,
    phase_from_freq,
    smooth_noise,
)

D = np.deg2rad

# Key points (percent of the gait cycle, degrees). Knee: the stance "double bump" and swing peak.
# Hip: thigh angle to the pelvis as drawn here, i.e. the published hip flexion minus the ~8 deg
# anterior pelvic tilt of normal standing (our rest pelvis is upright).
WALK = {
    "hip": fourier_fit([0, 10, 20, 30, 40, 50, 55, 60, 70, 80, 87], [22, 19, 12, 3, -6, -15, -17, -13, 4, 18, 24]),
    "knee": fourier_fit([0, 5, 15, 25, 40, 50, 60, 70, 73, 80, 90, 97], [3, 10, 16, 10, 4, 8, 38, 61, 63, 54, 22, 4]),
    "ankle": fourier_fit([0, 7, 20, 45, 55, 62, 70, 80, 90], [0, -6, 4, 10, 4, -12, 0, 8, 5]),
    "toe": fourier_fit([0, 40, 50, 57, 65, 75], [0, 3, 20, 30, 10, 0]),
}
RUN = {
    "hip": fourier_fit([0, 15, 38, 55, 70, 85], [30, 18, -16, 4, 37, 44]),
    "knee": fourier_fit([0, 15, 38, 55, 70, 80, 90], [22, 40, 20, 60, 92, 75, 35]),
    "ankle": fourier_fit([0, 15, 38, 55, 70, 90], [5, 18, -20, -5, 8, 5]),
    "toe": fourier_fit([0, 25, 35, 45, 60], [0, 15, 25, 5, 0]),
}
STAIRS_UP = {
    "hip": fourier_fit([0, 20, 40, 60, 75, 85], [60, 45, 20, 8, 45, 65]),
    "knee": fourier_fit([0, 15, 35, 55, 65, 75, 85], [55, 40, 15, 10, 35, 90, 92]),
    "ankle": fourier_fit([0, 20, 45, 60, 75], [10, 15, 5, -15, 10]),
    "toe": fourier_fit([0, 50, 60, 70], [0, 10, 15, 0]),
}
STAIRS_DOWN = {
    "hip": fourier_fit([0, 30, 50, 60, 70, 85], [12, 10, 20, 30, 35, 25]),
    "knee": fourier_fit([0, 10, 30, 50, 60, 70, 85], [8, 15, 30, 65, 85, 92, 45]),
    "ankle": fourier_fit([0, 15, 40, 60, 70, 90], [-20, 0, 15, 25, 10, -20]),
    "toe": fourier_fit([0, 60, 70], [0, 5, 0]),
}


def walking_cadence_spm(speed_mps: float, leg_m: float) -> float:
    """Preferred walking cadence: step length / leg length = 1.26 * Froude-speed^0.58."""
    froude = speed_mps / np.sqrt(G_MPS2 * leg_m)
    step_m = 1.26 * froude**0.58 * leg_m
    return 60.0 * speed_mps / step_m


def running_cadence_spm(speed_mps: float, height_m: float) -> float:
    """Running cadence rises slowly with speed (about 150-185 steps/min), lower for taller runners."""
    return float(np.clip((155.0 + 9.0 * (speed_mps - 3.0)) * np.sqrt(1.75 / height_m), 140.0, 195.0))


def _positive(x_deg: np.ndarray, soft_deg: float = 2.0) -> np.ndarray:
    """Smooth max(x, 0) (a hard clip would put kinks into the angles)."""
    return 0.5 * (x_deg + np.sqrt(x_deg**2 + soft_deg**2))


def _gait_pose(n: int, phase: np.ndarray, curves: dict, p: ActivityParams, rng: np.random.Generator, t_s: np.ndarray,
               *, hip_scale: float, knee_scale: float, heading: np.ndarray, lean_rad: float, pelvis_deg: tuple[float, float],
               arm_swing_rad: float, elbow_rad: tuple[float, float]) -> Pose:
    """Whole-body gait pose: legs from curves at the stride phase (left leg half a cycle later)."""
    st = p.style
    pose = Pose(n)
    jit = lambda: st.jitter_rad * smooth_noise(t_s, rng, 1.5)  # noqa: E731
    rot_deg, obl_deg = pelvis_deg
    yaw_pelvis = D(rot_deg) * np.cos(phase)
    roll = -D(obl_deg) * np.cos(phase - 0.9)  # the swing side drops after the other foot's heel strike
    sway = D(1.8) * np.cos(phase - 0.6 * np.pi)  # legs tilt so the pelvis shifts over the stance foot
    pose.pelvis(tilt_fwd=0.4 * lean_rad + D(1.5) * np.cos(2 * phase), roll_left_up=roll, yaw=heading + yaw_pelvis)
    pose.trunk(flex=0.6 * lean_rad + jit(), side_bend=D(obl_deg) * 0.5 * np.cos(phase - 0.9), twist=-1.3 * yaw_pelvis)
    pose.head(flex=st.head_flex_rad - 0.4 * lean_rad + 0.5 * jit(), twist=0.3 * yaw_pelvis)
    hip_mean = curves["hip"][0, 0]
    for side, off, asym in (("right", 0.0, 1 + st.asymmetry / 2), ("left", np.pi, 1 - st.asymmetry / 2)):
        ph = phase + off
        hip = hip_mean + hip_scale * asym * (fourier_eval(curves["hip"], ph) - hip_mean)
        s = -1.0 if side == "right" else 1.0
        pose.hip(side, D(hip) + jit(), abd=s * (sway - roll) + D(1.0) + 0.5 * jit(), int_rot=-st.toe_out_rad)
        pose.knee(side, D(_positive(knee_scale * asym * fourier_eval(curves["knee"], ph))) + np.abs(jit()))
        pose.ankle(side, D(fourier_eval(curves["ankle"], ph)) + 0.5 * jit())
        pose.toe(side, D(_positive(fourier_eval(curves["toe"], ph))))
        # the arm swings with the opposite leg: forward when its own leg is behind
        swing = -np.cos(ph - 0.35 - st.phase_offset_rad)
        pose.clavicle(side, elevation=D(2.0), protraction=D(3.0) * swing)
        pose.shoulder(side, flex=D(3.0) + asym * arm_swing_rad * swing + jit(), abd=st.arm_abd_rad)
        pose.elbow(side, flex=elbow_rad[0] + elbow_rad[1] * (0.5 + 0.5 * swing) + jit(), pronation=D(10.0))
    return pose


def _heading(t_s: np.ndarray, rng: np.random.Generator, wander_rad: float) -> np.ndarray:
    return wander_rad * smooth_noise(t_s, rng, 0.05, n_sines=3)


def _advance(heading: np.ndarray, speed_mps: np.ndarray | float, rate_hz: float) -> np.ndarray:
    """Horizontal root path [T, 2] moving at ``speed_mps`` along ``heading``."""
    v = np.stack([np.cos(heading), np.sin(heading)], -1) * np.asarray(speed_mps)[..., None]
    return np.concatenate([[[0.0, 0.0]], np.cumsum(0.5 * (v[1:] + v[:-1]), axis=0) / rate_hz])


def _spring_mass_z(step_phase: np.ndarray, f_step_hz: float, contact_frac: float) -> np.ndarray:
    """Pelvis vertical oscillation (m) of bouncing gait: half-sine ground force, ballistic flight.

    ``contact_frac`` is the contact time as a fraction of the step; step phase 0 = touchdown.
    """
    tau = np.arange(256) / 256.0
    acc = np.where(tau < contact_frac, np.pi / (2 * contact_frac) * np.sin(np.pi * np.minimum(tau / contact_frac, 1.0)), 0.0)
    acc = G_MPS2 * (acc - 1.0)
    coef = fourier_smooth_periodic(acc, 10)
    w = 2 * np.pi * f_step_hz
    z = np.zeros_like(step_phase)
    for k in range(1, coef.shape[0]):
        z -= (coef[k, 0] * np.cos(k * step_phase) + coef[k, 1] * np.sin(k * step_phase)) / (k * w) ** 2
    return z


def _hop_z(phase: np.ndarray, flight_frac: float, f_hz: float) -> np.ndarray:
    """Ballistic flight of a fraction of each cycle (phase 0 = take-off), smoothed to 12 harmonics."""
    tau = np.arange(256) / 256.0
    tf = flight_frac / f_hz
    x = tau / f_hz
    z = np.where(tau < flight_frac, 0.5 * G_MPS2 * x * (tf - x), 0.0)
    return fourier_eval(fourier_smooth_periodic(z, 12), phase)


def _lowest_on_floor(sk: Skeleton, rel: tuple[np.ndarray, np.ndarray], z_osc: np.ndarray) -> np.ndarray:
    """Root height z_osc + z0 with z0 chosen so the soles touch (never sink through) the floor."""
    c = foot_contacts_m(sk, *rel)
    zmin, _ = softmin_weights(c[..., 2], 0.005)
    return z_osc + np.max(-zmin - z_osc)


LANDED_M = 0.008  # a foot has landed when its lowest sole point is this close to the floor (shoe sole, soft tissue)


def landing_gap_m(sk: Skeleton, rel: tuple[np.ndarray, np.ndarray], root_z_m: np.ndarray, *, walking: bool) -> np.ndarray:
    """Each foot's height [T, 2] (right, left) above the floor it comes down onto, less `LANDED_M` (<= 0: landed).

    Running: the foot's lowest sole point above the floor. Walking: above the level the body stands on,
    the other foot's lowest sole point (at most 1 cm up: the planting softens the switch between the
    feet over ~50 ms, so double support can float by up to ~1 cm).
    """
    soles_m = foot_contacts_m(sk, *rel)[..., 2] + root_z_m[:, None]  # [T, 6]: heel, ball, tip; right then left
    lowest = np.stack([soles_m[:, :3].min(axis=1), soles_m[:, 3:].min(axis=1)], axis=1)
    floor_m = np.minimum(lowest[:, ::-1], 0.01) if walking else 0.0
    return lowest - floor_m - LANDED_M


def walking(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Level walking with planted feet. Needs p.speed_mps; sets cadence and arm swing."""
    leg = 0.53 * sk.shape.height_m
    cad = walking_cadence_spm(p.speed_mps, leg) * rng.uniform(0.94, 1.06)
    p.cadence_spm = cad
    f_stride = cad / 120.0 * (1.0 + 0.015 * smooth_noise(t_s, rng, 0.2))
    phase = phase_from_freq(t_s, f_stride, rng.uniform(0, 2 * np.pi))
    froude = p.speed_mps / np.sqrt(G_MPS2 * leg)
    knee_scale = float(np.clip(0.8 + 0.5 * froude, 0.85, 1.15))
    if not p.arm_swing_deg:
        p.arm_swing_deg = float(np.clip(rng.normal(20 + 40 * froude, 6), 6, 55))
    heading = _heading(t_s, rng, D(12.0))
    lean = p.style.trunk_lean_rad + D(4.0) * froude
    step_m = p.speed_mps / (cad / 60.0)

    def build(hip_scale: float, n: int = len(t_s)) -> Pose:
        return _gait_pose(n, phase[:n], WALK, p, np.random.default_rng(seed), t_s[:n], hip_scale=hip_scale, knee_scale=knee_scale,
                          heading=heading[:n], lean_rad=lean, pelvis_deg=(4.0 + 4 * froude, 3.0 + 2 * froude),
                          arm_swing_rad=D(p.arm_swing_deg / 2), elbow_rad=(D(12.0), D(18.0) * (0.5 + froude)))

    seed = int(rng.integers(2**31))
    stance = stance_weights(phase, 0.6)
    # calibrate the hip excursion on a few strides so that planted feet give the wanted step length
    hip_scale = 1.0
    n_cal = min(len(t_s), int(3 * p.rate_hz / f_stride[0]))
    for _ in range(2):
        cal = build(hip_scale, n_cal).local
        root = plant_root(sk, *fk_rel(sk, cal), p.rate_hz, stance=stance[:n_cal])
        moved = np.linalg.norm(root[-1, :2] - root[0, :2]) / (t_s[n_cal - 1] - t_s[0] + 1e-9)
        hip_scale *= float(np.clip(p.speed_mps / max(moved, 1e-3), 0.7, 1.5))
    hip_scale = float(np.clip(hip_scale, 0.5, 2.0))
    pose = build(hip_scale)
    local = pose.local
    rel = fk_rel(sk, local)
    root = plant_root(sk, *rel, p.rate_hz, stance=stance)
    # the exact mean speed: scale the (already nearly right) horizontal path
    path = np.sum(np.linalg.norm(np.diff(root[:, :2], axis=0), axis=1))
    root[:, :2] *= p.speed_mps * (t_s[-1] - t_s[0]) / max(path, 1e-9)
    p.extra["step_length_m"] = step_m
    local, root = smooth_pelvis(sk, local, root, phase, p.speed_mps, p.rate_hz)
    rel = fk_rel(sk, local)
    p.impacts = gait_impacts(t_s, phase, running=False, speed_mps=p.speed_mps, rng=rng,
                             gap_m=landing_gap_m(sk, rel, root[:, 2], walking=True))
    return local, root


def smooth_pelvis(sk: Skeleton, local: np.ndarray, root: np.ndarray, phase: np.ndarray, speed_mps: float,
                  rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Give walking the pelvis path of human gait and re-solve the legs so the feet stay where they were.

    Planting the feet on angle curves (`plant_root`) moves the pelvis wherever the stance foot's motion
    relative to it says: at 1.3 m/s its forward speed swung between ~0.1 and ~2.4 m/s within each step
    (0.6 g RMS fore-aft acceleration at the pelvis, ~4x the literature) and the contact switches put 9-11
    Hz into its height. Human walking keeps the centre of mass moving smoothly: the forward speed dips
    by ~10 % at each midstance, the body rises 2.7-4.8 cm at midstance (0.7-1.6 m/s) and sways 3-4 cm
    towards the stance foot (Orendurff et al. 2004, J Rehabil Res Dev 41:829); lower-trunk accelerations
    of ~1-2 m/s² RMS per axis (Menz, Lord & Fitzpatrick 2003, Gait Posture 18:35). The pelvis follows
    that (its mean path: the planted one averaged over a stride); each leg is then solved (two-link IK,
    knee towards where it was) to reach the ankle positions of the planted walk, and each foot keeps its
    orientation, so the feet are where they were: still on the floor and not sliding.
    """
    from scipy.ndimage import uniform_filter1d

    from anymo.body.skeleton import SEGMENT_INDEX
    from anymo.geometry.rotations import quat_conj, quat_mul
    from anymo.motion.procedural.arms import solve_leg

    n = len(root)
    stride_n = max(3, int(round(2 * np.pi / np.median(np.gradient(phase)) )))
    k = min(stride_n, n - 2)  # odd extension at the ends keeps the average of a straight path on it
    ext = np.concatenate([2 * root[:1] - root[k:0:-1], root, 2 * root[-1:] - root[-2 : -k - 2 : -1]])
    mean = uniform_filter1d(ext, stride_n, axis=0, mode="nearest")[k : k + n]
    mean_xy, mean_z = mean[:, :2], uniform_filter1d(root[:, 2], stride_n, mode="nearest")
    tangent = np.gradient(mean_xy, axis=0)
    tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-12)
    left = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    w_stride = np.gradient(phase) * rate_hz  # rad/s
    mid = 2 * np.pi * 0.3  # right midstance at 30 % of the cycle, left at 80 %
    fluct = 0.1  # forward speed dips ~10 % at each midstance
    along = -speed_mps * fluct * np.sin(2 * (phase - mid)) / (2 * w_stride)
    sway = -0.017 * np.cos(phase - mid)  # towards the stance foot (left +)
    rise = float(np.clip(0.027 + (0.048 - 0.027) * (speed_mps - 0.7) / 0.9, 0.02, 0.05))
    new = np.empty_like(root)
    new[:, :2] = mean_xy + along[:, None] * tangent + sway[:, None] * left
    new[:, 2] = mean_z + 0.5 * rise * np.cos(2 * (phase - mid))
    pos, quat = fk_rel(sk, local)
    pose = Pose(n)
    pose.local = np.array(local, copy=True)
    delta = (root - new)[:, None, :]
    for side in ("Right", "Left"):
        i_ul, i_ll, i_f = (SEGMENT_INDEX[side + s] for s in ("UpperLeg", "LowerLeg", "Foot"))
        ankle = pos[:, i_f] + delta[:, 0]  # the planted walk's ankle, relative to the new pelvis
        pole = pos[:, i_ll] - 0.5 * (pos[:, i_ul] + pos[:, i_f])  # the knee bends where it bent
        # a sharp reach limit: the planted walk reached these ankles from a pelvis within ~2 cm of the new one
        solve_leg(sk, pose, side.lower(), ankle, pole, rel=(pos, quat), soft_frac=0.006)
    pos2, quat2 = fk_rel(sk, pose.local)
    for side in ("Right", "Left"):
        i_ll, i_f = SEGMENT_INDEX[side + "LowerLeg"], SEGMENT_INDEX[side + "Foot"]
        pose.local[:, i_f] = quat_mul(quat_conj(quat2[:, i_ll]), quat[:, i_f])  # the foot keeps its world orientation
    return pose.local, new


def _bouncing(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray, curves: dict, *,
              contact_frac: float, hip_scale: float, knee_scale: float, lean_rad: float, arm_swing_deg: float,
              elbow_deg: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    f_stride = p.cadence_spm / 120.0 * (1.0 + 0.01 * smooth_noise(t_s, rng, 0.2))
    phase = phase_from_freq(t_s, f_stride, rng.uniform(0, 2 * np.pi))
    heading = _heading(t_s, rng, D(8.0)) if not p.in_place else np.zeros_like(t_s)
    p.arm_swing_deg = arm_swing_deg
    seed = int(rng.integers(2**31))

    def build(scale: float, n: int = len(t_s)) -> Pose:
        return _gait_pose(n, phase[:n], curves, p, np.random.default_rng(seed), t_s[:n], hip_scale=scale, knee_scale=knee_scale,
                          heading=heading[:n], lean_rad=lean_rad, pelvis_deg=(6.0, 4.0), arm_swing_rad=D(arm_swing_deg / 2),
                          elbow_rad=(D(elbow_deg[0]), D(elbow_deg[1])))

    if not p.in_place:
        # calibrate the hip excursion so that the foot on the ground moves back at the running speed
        stance = stance_weights(phase, contact_frac / 2, sharpness=0.05)
        n_cal = min(len(t_s), int(2 * p.rate_hz / f_stride[0]))
        for _ in range(2):
            rel = fk_rel(sk, build(hip_scale, n_cal).local)
            ball = foot_contacts_m(sk, *rel)[:, [1, 4], :2]  # balls of the right and left foot
            v_ball = np.gradient(ball, 1.0 / p.rate_hz, axis=0)
            fwd = np.stack([np.cos(heading[:n_cal]), np.sin(heading[:n_cal])], -1)
            v_back = -np.sum(v_ball * fwd[:, None], axis=-1)  # [T, 2]
            down = stance[:n_cal] > 0.95
            measured = float(np.mean(v_back[down])) if np.any(down) else p.speed_mps
            hip_scale *= float(np.clip(p.speed_mps / max(measured, 0.1), 0.7, 1.4))
        hip_scale = float(np.clip(hip_scale, 0.5, 1.8))
    local = build(hip_scale).local
    rel = fk_rel(sk, local)
    # on the ground the legs carry the pelvis (planted height); between contacts it flies ballistically.
    # Right touchdown at stride phase 0 (left at pi): the step phase is twice the stride phase.
    f_step = 2 * float(np.mean(f_stride))
    z = plant_root(sk, *rel, p.rate_hz)[:, 2] + _hop_z(2 * phase - 2 * np.pi * contact_frac, 1 - contact_frac, f_step)
    xy = np.zeros((len(t_s), 2)) if p.in_place else _advance(heading, p.speed_mps * (1 + 0.03 * np.cos(2 * phase)), p.rate_hz)
    p.impacts = gait_impacts(t_s, phase, running=True, speed_mps=p.speed_mps, rng=rng, gap_m=landing_gap_m(sk, rel, z, walking=False))
    return local, np.concatenate([xy, z[:, None]], axis=1)


IN_PLACE = {
    "hip": fourier_fit([0, 20, 45, 65, 80], [5, 5, 30, 55, 25]),
    "knee": fourier_fit([0, 20, 45, 65, 80], [12, 12, 60, 90, 40]),
    "ankle": fourier_fit([0, 25, 40, 65, 85], [8, 5, -25, -10, 0]),
    "toe": fourier_fit([0, 30, 40, 50], [0, 0, 20, 0]),
}


def running(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Running or jogging at p.speed_mps (or in place when p.in_place) with a flight phase."""
    p.cadence_spm = running_cadence_spm(max(p.speed_mps, 2.4), sk.shape.height_m) * rng.uniform(0.95, 1.05)
    fast = float(np.clip((p.speed_mps - 2.0) / 3.0, 0.0, 1.0))
    if p.in_place:
        amp = p.amplitude
        return _bouncing(p, rng, sk, t_s, IN_PLACE, contact_frac=0.8, hip_scale=amp, knee_scale=amp, lean_rad=p.style.trunk_lean_rad,
                         arm_swing_deg=rng.uniform(25, 45), elbow_deg=(rng.uniform(70, 90), 10.0))
    step_m = p.speed_mps / (p.cadence_spm / 60.0)
    p.extra["step_length_m"] = step_m
    return _bouncing(p, rng, sk, t_s, RUN, contact_frac=0.75 - 0.2 * fast, hip_scale=0.75 + 0.45 * fast,
                     knee_scale=0.8 + 0.3 * fast, lean_rad=p.style.trunk_lean_rad + D(5 + 5 * fast),
                     arm_swing_deg=rng.uniform(35, 60) * (0.8 + 0.4 * fast), elbow_deg=(rng.uniform(75, 95), 10.0))


def stairs(p: ActivityParams, rng: np.random.Generator, sk: Skeleton, t_s: np.ndarray, up: bool) -> tuple[np.ndarray, np.ndarray]:
    """Stair climbing (up) or descending: one stair per step, root rises/falls by the riser height."""
    riser_m = rng.uniform(0.15, 0.19)
    going_m = rng.uniform(0.25, 0.31)
    p.cadence_spm = (rng.uniform(85, 105) if up else rng.uniform(95, 115)) * np.sqrt(1.75 / sk.shape.height_m)
    f_step = p.cadence_spm / 60.0
    p.speed_mps = going_m * f_step
    p.extra.update(riser_m=riser_m, going_m=going_m)
    phase = phase_from_freq(t_s, f_step / 2 * (1 + 0.015 * smooth_noise(t_s, rng, 0.2)), rng.uniform(0, 2 * np.pi))
    p.arm_swing_deg = float(rng.uniform(8, 20))
    heading = np.zeros_like(t_s)
    lean = p.style.trunk_lean_rad + (D(8.0) if up else D(2.0))
    pose = _gait_pose(len(t_s), phase, STAIRS_UP if up else STAIRS_DOWN, p, rng, t_s, hip_scale=1.0, knee_scale=1.0,
                      heading=heading, lean_rad=lean, pelvis_deg=(4.0, 4.0), arm_swing_rad=D(p.arm_swing_deg / 2),
                      elbow_rad=(D(15.0), D(10.0)))
    local = pose.local
    rel = fk_rel(sk, local)
    c = foot_contacts_m(sk, *rel)
    zmin, _ = softmin_weights(c[..., 2], 0.01)
    bob = gaussian_filter1d(-zmin, 0.05 * p.rate_hz, mode="nearest")
    # the legs reach down to the step below (descending) or rest on the step above (climbing)
    base = 0.5 * (bob - bob.mean()) + np.max(bob)
    rise = (1.0 if up else -1.0) * riser_m * f_step * (t_s - t_s[0])
    xy = _advance(heading, p.speed_mps, p.rate_hz)
    # Foot contacts (were: none on stairs). Descending lands the body's weight on the forefoot a riser
    # below, with a first vertical force peak well above body weight and above that of ascending, where
    # the foot is placed on the step above (McFadyen & Winter 1988, J Biomech 21:733; Riener, Rabuffetti
    # & Frigo 2002, Gait Posture 15:32). No shank g for stairs is at hand, so the level-walking heel-strike
    # scale stands in (an assumption): descending like walking at 1.35 m/s (4.5 g nominal), ascending
    # like slow walking at 0.6 m/s (2 g).
    p.impacts = gait_impacts(t_s, phase, running=False, speed_mps=0.6 if up else 1.35, rng=rng)
    return local, np.concatenate([xy, (base + rise)[:, None]], axis=1)

