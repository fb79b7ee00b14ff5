"""No implausible spikes in procedural motion: sweeps of every activity and of random sequences through
the ideal IMU, with bounds fitting what each kind of activity does (a reviewer found 6,500 deg/s at a
sequence boundary, 145 g at the forearm, and 5-7 g at the start of slow rehab exercises)."""

from __future__ import annotations

import numpy as np
import pytest

from anymo.body.named_placements import canonical_placement
from anymo.body.skeleton import N_SEGMENTS, SEGMENT_INDEX
from anymo.body.surface import surface_placements
from anymo.geometry.rotations import quat_conj, quat_from_axis_angle, quat_mul
from anymo.motion.procedural import ACTIVITIES, generate_activity, generate_sequence
from anymo.motion.procedural.sequence import _blend
from anymo.sim.imu import ideal_imu

RATE_HZ = 60.0
G = 9.80665
# slow physiotherapy and strength moves (WATCH recordings of them are gentle)
REHAB = ("shoulder_abduction", "shoulder_forward_elevation", "shoulder_internal_rotation", "shoulder_external_rotation",
         "trapezius_row", "upright_row", "shoulder_shrug", "arm_curls", "shoulder_pendulum")  # fmt: skip
# ballistic sports and jumps: fast by nature (a smash or a punch turns the arm at thousands of deg/s)
FAST = ("jogging", "running", "jumping", "jumping_jacks", "punching", "throwing", "playing_badminton", "swinging_bat")
FAST_TEXT = {"jogging", "running", "jumping", "jumping jacks", "punching", "throwing", "playing badminton", "swinging a bat"}
WRISTS = np.array([canonical_placement("right_wrist"), canonical_placement("left_wrist")])


def wrist_imu(m) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample times, |specific force| in g and |angular rate| (rad/s) of ideal watches on both wrists [2, T]."""
    t = np.arange(int(round(m.duration_s * m.rate_hz)) + 1) / m.rate_hz
    acc, gyro = ideal_imu(m, surface_placements(m.skeleton).subset(WRISTS), t)
    return t, np.linalg.norm(acc, axis=-1) / G, np.linalg.norm(gyro, axis=-1)


def segment_rate_degs(m) -> np.ndarray:
    """Rotation of each segment between consecutive frames, as an angular speed [T-1, 23] (deg/s)."""
    q = m.quat_wxyz
    d = quat_mul(quat_conj(q[:-1]), q[1:])
    return 2.0 * np.degrees(np.arccos(np.clip(np.abs(d[..., 0]), 0.0, 1.0))) * m.rate_hz


def test_blend_stays_continuous_when_the_two_clips_drift_past_180_degrees() -> None:
    # the old clip holds the upper arm still; the new one turns it steadily from 150 to 210 deg away:
    # the short way round switches sides mid-overlap, the blend must not
    n, j = 121, SEGMENT_INDEX["RightUpperArm"]
    old = np.zeros((n + 10, N_SEGMENTS, 4))
    old[..., 0] = 1.0
    new = old.copy()
    angle = np.deg2rad(np.linspace(150.0, 210.0, n + 10))
    new[:, j] = quat_from_axis_angle(np.array([1.0, 0.0, 0.0]), angle)
    root = np.tile([0.0, 0.0, 0.9], (n + 10, 1))
    _, (blended, _) = _blend(old, root, new, root, n)
    q = blended[: n + 5, j]
    step_deg = 2.0 * np.degrees(np.arccos(np.clip(np.abs(np.sum(q[1:] * q[:-1], axis=-1)), 0.0, 1.0)))
    # smooth step over 120 frames: at most 1.875 x 210 deg / 120 + the clip's own 0.46 deg per frame
    assert step_deg.max() < 4.0, f"the blend jumps {step_deg.max():.1f} deg in one frame"
    np.testing.assert_allclose(np.abs(np.sum(blended[n:, j] * new[n:, j], axis=-1)), 1.0, atol=1e-9)  # ends on the new clip


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_activity_stays_within_bounds_fitting_its_kind(seed: int) -> None:
    for a in ACTIVITIES:
        m = generate_activity(a, 6.0, np.random.default_rng(seed), rate_hz=RATE_HZ)
        t, g, gyro = wrist_imu(m)
        rate = segment_rate_degs(m)
        if a in FAST:
            assert g.max() < 40.0 and rate.max() < 3000.0, f"{a} seed {seed}: {g.max():.1f} g, {rate.max():.0f} deg/s"
            continue
        # daily activities, gait, postures and exercises: well under the 16 g of a wrist accelerometer
        assert g.max() < 6.0, f"{a} seed {seed}: {g.max():.1f} g at the wrist at {t[np.argmax(g.max(0))]:.2f} s"
        assert rate.max() < 1200.0, f"{a} seed {seed}: a segment turns {rate.max():.0f} deg/s"
        if a in REHAB:  # controlled: no jolt at the first and last moves; fast repetitions (ACSM 2009's
            # fast velocity, ~1.2-2 s each) stay under the 6 g above
            # (the first and last moves run at the repetition pace: no sharper than the ones in between)
            edge = (t < 0.25) | (t > t[-1] - 0.25)
            assert g[:, edge].max() <= max(1.5, 1.05 * g[:, ~edge].max()) and gyro[:, edge].max() <= max(3.0, 1.05 * gyro[:, ~edge].max()), (
                f"{a} seed {seed}: {g[:, edge].max():.1f} g, {gyro[:, edge].max():.1f} rad/s in the first or last 0.25 s")


def test_sequence_boundaries_add_no_spike() -> None:
    """Near each label boundary no segment turns much faster than in either activity on its own, and
    between two gentle activities the wrists stay gentle. Seeds 80-109 include a pulling -> throwing
    boundary where the per-frame short-way slerp flipped (5,700 deg/s)."""
    for seed in range(80, 110):
        m = generate_sequence(None, 20.0, np.random.default_rng(seed), rate_hz=RATE_HZ, segment_s=(3.0, 8.0))
        t, g, _ = wrist_imu(m)
        rate = segment_rate_degs(m).max(axis=1)
        t_step = t[1:] - 0.5 / RATE_HZ
        for a, b in zip(m.labels[:-1], m.labels[1:]):
            near = np.abs(t_step - b.start_s) < 0.5
            inside = ((t_step > a.start_s + 0.75) & (t_step < a.end_s - 0.75)) | ((t_step > b.start_s + 0.75) & (t_step < b.end_s - 0.75))
            own = rate[inside].max() if inside.any() else 0.0
            assert rate[near].max() < max(1.5 * own, 800.0), (
                f"seed {seed}: {rate[near].max():.0f} deg/s at {a.activity} -> {b.activity} ({b.start_s:.2f} s); "
                f"the two activities reach {own:.0f} deg/s on their own")
            if a.activity not in FAST_TEXT and b.activity not in FAST_TEXT:
                near_g = np.abs(t - b.start_s) < 0.5
                assert g[:, near_g].max() < 6.0, f"seed {seed}: {g[:, near_g].max():.1f} g at {a.activity} -> {b.activity}"


def test_eating_meat_captions_name_the_knife_hand_and_the_fork_hand_moves_more() -> None:
    from anymo.motion.procedural import generate_with_params

    for seed in range(4):
        m, p = generate_with_params("eating_meat", 12.0, np.random.default_rng(seed), rate_hz=RATE_HZ)
        other = "left" if p.hand == "right" else "right"
        z = {s: m.pos_m[:, SEGMENT_INDEX[s.capitalize() + "Hand"], 2] for s in ("right", "left")}
        lift_m = {s: np.percentile(v, 98) - np.percentile(v, 50) for s, v in z.items()}
        # the fork hand lifts each bite from the plate to the mouth; the knife hand saws at the plate
        assert lift_m[other] > 0.15 and lift_m[other] > 3.0 * lift_m[p.hand], f"seed {seed}: lifts {lift_m}, knife {p.hand}"
        text = " ".join(m.captions)
        assert f"knife in the {p.hand} hand" in text and other not in text, m.captions  # the other hand is 'the other hand'
        assert all("fork" in c for c in m.captions), m.captions  # each says what the moving (fork) hand does


def test_cycling_starts_from_standing_not_from_a_chair() -> None:
    from anymo.motion.procedural.sequence import plan_sequence

    assert plan_sequence(["walking", "cycling", "walking"]) == [("walking", "standing"), ("cycling", "standing"), ("walking", "standing")]
    # from a seated activity one stands up first; nobody sits down on a chair to ride
    steps = [a for a, _ in plan_sequence(["eating_soup", "cycling", "typing"], "sitting")]
    assert steps == ["eating_soup", "sit_to_stand", "cycling", "stand_to_sit", "typing"]
    m = generate_sequence(["walking", "cycling"], 16.0, np.random.default_rng(0), rate_hz=30.0)
    assert [seg.activity for seg in m.labels] == ["walking", "cycling"]
    assert "chair" not in " ".join(m.captions)


def test_elbow_swivel_does_not_flip_between_frames_in_ballistic_sports() -> None:
    """Where the elbow hint and its fallback cancel (throwing seed 1, 8 s, follow-through at 7.4 s) the arm
    IK flipped the elbow round the shoulder->wrist axis: 73 deg in one frame (4,375 deg/s on the forearm,
    23 g at the wrist); throwing seed 4 flipped the other arm at 2,900 deg/s. The swivel now follows its
    hints at a bounded speed, so no segment jumps, and the fast moves themselves stay as fast as before."""
    for a in ("throwing", "playing_badminton", "swinging_bat", "punching"):
        for seed in range(6):
            m = generate_activity(a, 8.0, np.random.default_rng(seed), rate_hz=RATE_HZ)
            t, g, _ = wrist_imu(m)
            rate = segment_rate_degs(m)
            step, seg = np.unravel_index(np.argmax(rate), rate.shape)
            # 40 deg per frame at 60 Hz: above a smash's forearm snap (~1,800 deg/s), below a flip
            assert rate.max() < 2400.0, f"{a} seed {seed}: segment {seg} turns {rate.max():.0f} deg/s at {t[step]:.2f} s"
            assert g.max() < 40.0, f"{a} seed {seed}: {g.max():.1f} g at the wrist"


def test_two_link_ik_rolls_the_elbow_over_at_a_bounded_speed_when_the_hint_flips() -> None:
    from anymo.motion.procedural.arms import two_link_ik

    # the wrist stays put in front of the shoulder; the elbow hint flips from down to up at frame 30
    n, l1, l2, rate_hz = 90, 0.3, 0.28, 60.0
    base, target = np.zeros((n, 3)), np.tile([0.45, 0.0, 0.0], (n, 1))
    pole = np.where(np.arange(n)[:, None] < 30, [0.0, 0.2, -1.0], [0.0, -0.2, 1.0])
    m_old, flex_old = two_link_ik(base, target, pole, l1, l2)
    m_new, flex_new = two_link_ik(base, target, pole, l1, l2, rate_hz=rate_hz, max_swivel_degs=600.0)

    def swivel(m: np.ndarray) -> np.ndarray:
        """Unit direction of the elbow about the shoulder->wrist axis (x here) [T, 2]."""
        e = -m[:, 1:, 2]  # the upper arm runs along its local -z
        return e / np.linalg.norm(e, axis=-1, keepdims=True)

    def step_deg(e: np.ndarray) -> np.ndarray:
        return np.degrees(np.arccos(np.clip(np.sum(e[1:] * e[:-1], axis=-1), -1.0, 1.0)))

    assert step_deg(swivel(m_old)).max() > 170.0  # without the rate the elbow jumps to the other side at once
    steps = step_deg(swivel(m_new))
    assert steps.max() < 10.0 + 1e-6 and steps.sum() > 170.0  # 600 deg/s at 60 Hz: 10 deg per frame, all the way over
    np.testing.assert_allclose(m_new[:30], m_old[:30], atol=1e-12)  # untouched before the flip
    np.testing.assert_allclose(m_new[-20:], m_old[-20:], atol=1e-9)  # and caught up with the hint after it
    np.testing.assert_allclose(flex_new, flex_old)  # the elbow angle, so the wrist's reach, is unchanged
    elbow_to_wrist_m = [np.linalg.norm(-m[:, :, 2] * l1 - target, axis=-1) for m in (m_new, m_old)]
    np.testing.assert_allclose(*elbow_to_wrist_m, atol=1e-9)
