"""Procedural motion library: physics and behaviour of the generated motion, labels and captions."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from anymo.body.skeleton import SEGMENT_INDEX as I
from anymo.data.loaders import BASICMOTIONS_LABELS, HMP_LABELS, WATCH_LABELS
from anymo.geometry.rotations import quat_conj, quat_rotate
from anymo.motion.base import BodyMotion
from anymo.motion.procedural import (
    ACTIVITIES,
    activity_text,
    generate_activity,
    generate_sequence,
    generate_with_params,
    random_body_shape,
)
from anymo.motion.procedural.pose import foot_contacts_m

RATE_HZ = 60.0
G = 9.80665


def lowest_sole_m(m) -> np.ndarray:
    """Height of the lowest sole point per frame."""
    return foot_contacts_m(m.skeleton, m.pos_m, m.quat_wxyz)[..., 2].min(axis=1)


def accel_mps2(m) -> np.ndarray:
    """Second differences of every segment origin, as accelerations [T-2, 23]."""
    return np.linalg.norm(np.diff(m.pos_m, 2, axis=0), axis=-1) * m.rate_hz**2


def dominant_freq_hz(x: np.ndarray, rate_hz: float, fmin_hz: float = 0.3) -> float:
    x = x - np.polyval(np.polyfit(np.arange(len(x)), x, 1), np.arange(len(x)))
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=8 * len(x)))
    f = np.fft.rfftfreq(8 * len(x), 1.0 / rate_hz)
    spec[f < fmin_hz] = 0
    return float(f[np.argmax(spec)])


# --- registry and labels -------------------------------------------------------------------

def test_at_least_30_activities_with_dataset_label_words() -> None:
    assert len(ACTIVITIES) >= 30 and len(set(ACTIVITIES)) == len(ACTIVITIES)
    texts = {activity_text(a) for a in ACTIVITIES}
    # every real label we model is spelled exactly as the evaluation datasets spell it
    modelled = set(WATCH_LABELS.values()) | {"standing", "walking", "running", "playing badminton"}
    modelled |= set(HMP_LABELS.values())
    assert modelled <= texts, sorted(modelled - texts)
    assert set(BASICMOTIONS_LABELS.values()) <= texts
    assert activity_text("brushing_teeth") == "brushing teeth"


def test_unknown_activity_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="brushing_teeth.*walking|walking.*brushing_teeth"):
        generate_activity("moonwalking", 5.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="valid activities"):
        activity_text("moonwalking")
    with pytest.raises(ValueError, match="duration_s"):
        generate_activity("walking", 0.2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="valid activities"):
        generate_sequence(["walking", "flying"], 20.0, np.random.default_rng(0))


@pytest.mark.parametrize("activity", ACTIVITIES)
def test_every_activity_is_valid_smooth_labelled_and_captioned(activity: str) -> None:
    m, p = generate_with_params(activity, 6.0, np.random.default_rng(7), rate_hz=RATE_HZ)
    assert m.n_frames == int(6.0 * RATE_HZ) + 1 and m.rate_hz == RATE_HZ
    assert np.all(np.isfinite(m.pos_m)) and np.all(np.isfinite(m.quat_wxyz))
    assert np.allclose(np.linalg.norm(m.quat_wxyz, axis=-1), 1.0, atol=1e-6)
    assert [(s.activity, s.start_s, s.end_s) for s in m.labels] == [(activity_text(activity), 0.0, m.duration_s)]
    assert len(set(m.captions)) >= 3 and all(c.endswith(".") and c[0].isupper() for c in m.captions)
    assert m.source == f"procedural:{activity}"
    # C2 motion: no jumps between frames, accelerations of a human body (< 30 g anywhere)
    step_m = np.linalg.norm(np.diff(m.pos_m, axis=0), axis=-1)
    assert step_m.max() < 15.0 / RATE_HZ, f"{activity}: a segment moves faster than 15 m/s"
    assert accel_mps2(m).max() < 300.0, f"{activity}: acceleration spike {accel_mps2(m).max():.0f} m/s^2"
    # orientation rates stay human too (no flipped quaternions / swivel flips)
    dots = np.abs(np.sum(m.quat_wxyz[1:] * m.quat_wxyz[:-1], axis=-1))
    omega = 2 * np.arccos(np.clip(dots, 0, 1)) * RATE_HZ
    assert omega.max() < 40.0, f"{activity}: a segment turns at {omega.max():.0f} rad/s"


def test_fast_forward_kinematics_matches_the_reference() -> None:
    from anymo.body.kinematics import forward_kinematics
    from anymo.body.skeleton import BodyShape, make_skeleton
    from anymo.geometry.rotations import random_quat
    from anymo.motion.procedural.pose import fast_fk

    rng = np.random.default_rng(0)
    sk = make_skeleton(BodyShape(1.62, "female", 1.1))
    local, root = random_quat(rng, (50, 23)), rng.normal(size=(50, 3))
    for a, b in zip(fast_fk(sk, root, local), forward_kinematics(sk, root, local)):
        assert np.allclose(a, b, atol=1e-12)


def test_same_seed_same_motion_other_seed_other_motion() -> None:
    a = generate_activity("combing_hair", 4.0, np.random.default_rng(3), rate_hz=RATE_HZ)
    b = generate_activity("combing_hair", 4.0, np.random.default_rng(3), rate_hz=RATE_HZ)
    c = generate_activity("combing_hair", 4.0, np.random.default_rng(4), rate_hz=RATE_HZ)
    assert np.array_equal(a.pos_m, b.pos_m) and a.captions == b.captions
    assert np.abs(a.pos_m - c.pos_m).max() > 0.02


def test_bodies_vary_in_size() -> None:
    shapes = [random_body_shape(np.random.default_rng(s)) for s in range(40)]
    heights = np.array([s.height_m for s in shapes])
    assert heights.std() > 0.05 and 1.45 <= heights.min() and heights.max() <= 2.05
    assert {s.sex for s in shapes} >= {"female", "male"}


# --- gait ------------------------------------------------------------------------------------

@pytest.mark.parametrize("activity", ["walking_slow", "walking", "walking_brisk"])
def test_walking_cadence_speed_bob_and_planted_feet(activity: str) -> None:
    m, p = generate_with_params(activity, 12.0, np.random.default_rng(11), rate_hz=RATE_HZ)
    assert 80 <= p.cadence_spm <= 135
    pelvis = m.pos_m[:, I["Pelvis"]]
    assert cadence_from_feet_spm(m) == pytest.approx(p.cadence_spm, rel=0.04)
    # the root advances at the sampled speed
    path_m = np.sum(np.linalg.norm(np.diff(pelvis[:, :2], axis=0), axis=1))
    assert path_m / m.duration_s == pytest.approx(p.speed_mps, rel=0.03)
    disp_m = np.linalg.norm(pelvis[-1, :2] - pelvis[0, :2])
    assert disp_m > 0.8 * path_m  # forward progress, not wobbling on the spot
    bob_m = np.ptp(pelvis[RATE_HZ.__int__() :, 2])
    assert 0.015 < bob_m < 0.09
    sole = lowest_sole_m(m)
    assert sole.min() > -0.02 and np.median(sole) < 0.015
    # the foot on the ground does not slide: the lowest sole point is nearly still
    c = foot_contacts_m(m.skeleton, m.pos_m, m.quat_wxyz)
    low = np.argmin(c[..., 2], axis=1)
    v_low = np.linalg.norm(np.gradient(c[..., :2], 1 / RATE_HZ, axis=0), axis=-1)[np.arange(m.n_frames), low]
    assert np.median(v_low) < 0.25 * p.speed_mps


def cadence_from_feet_spm(m) -> float:
    """Steps per minute from the spectrum of each heel's height (one swing per stride, two steps)."""
    heels = foot_contacts_m(m.skeleton, m.pos_m, m.quat_wxyz)[:, [0, 3], 2]
    return float(np.mean([120.0 * dominant_freq_hz(heels[:, k], m.rate_hz) for k in range(2)]))


@pytest.mark.parametrize("activity", ["walking_slow", "walking", "walking_brisk"])
def test_walking_steps_at_the_sampled_cadence_for_every_walker(activity: str) -> None:
    errors = []
    for seed in range(20):
        m, p = generate_with_params(activity, 12.0, np.random.default_rng(100 + seed), rate_hz=RATE_HZ)
        errors.append(cadence_from_feet_spm(m) / p.cadence_spm - 1.0)
        # the contacts step at that cadence too: one per foot per stride, in turn
        assert len(p.impacts) == pytest.approx(p.cadence_spm / 60 * m.duration_s, abs=2.5)
    assert np.max(np.abs(errors)) < 0.04, errors
    # the estimate follows the motion, not the sampled number: the same walk played 15 % faster reads 15 % faster
    fast = BodyMotion(m.skeleton, RATE_HZ * 1.15, m.pos_m, m.quat_wxyz)
    assert cadence_from_feet_spm(fast) == pytest.approx(1.15 * p.cadence_spm, rel=0.04)
    assert cadence_from_feet_spm(fast) != pytest.approx(p.cadence_spm, rel=0.04)


def test_arms_swing_against_the_legs_when_walking() -> None:
    m, _ = generate_with_params("walking", 10.0, np.random.default_rng(5), rate_hz=RATE_HZ)
    heading = m.pos_m[-1, 0, :2] - m.pos_m[0, 0, :2]
    fwd = np.array([*heading / np.linalg.norm(heading), 0.0])
    rel = lambda seg: (m.pos_m[:, I[seg]] - m.pos_m[:, I["Pelvis"]]) @ fwd  # noqa: E731
    r_hand, r_ankle = rel("RightHand"), rel("RightFoot")
    assert np.corrcoef(r_hand, r_ankle)[0, 1] < -0.5


def test_running_has_flight_and_runner_cadence() -> None:
    m, p = generate_with_params("running", 8.0, np.random.default_rng(2), rate_hz=120.0)
    assert 140 <= p.cadence_spm <= 195
    airborne = lowest_sole_m(m) > 0.01
    assert 0.05 < airborne.mean() < 0.6
    z = m.pos_m[:, I["Pelvis"], 2]
    acc_z = np.diff(z, 2) * 120.0**2
    assert acc_z.min() < -0.7 * G  # close to free fall during flight
    assert dominant_freq_hz(z, 120.0) * 60 == pytest.approx(p.cadence_spm, rel=0.04)
    path_m = np.sum(np.linalg.norm(np.diff(m.pos_m[:, 0, :2], axis=0), axis=1))
    assert path_m / m.duration_s == pytest.approx(p.speed_mps, rel=0.05)


def test_jogging_in_place_stays_put() -> None:
    for seed in range(20):
        m, p = generate_with_params("jogging", 6.0, np.random.default_rng(seed), rate_hz=RATE_HZ)
        if p.in_place:
            break
    assert p.in_place and p.speed_mps == 0.0
    assert np.ptp(m.pos_m[:, I["Pelvis"], :2], axis=0).max() < 0.1
    assert any("in place" in c for c in m.captions)


@pytest.mark.parametrize("up", [True, False])
def test_stairs_raise_or_lower_the_body_by_the_risers(up: bool) -> None:
    m, p = generate_with_params("climbing_stairs" if up else "descending_stairs", 8.0, np.random.default_rng(4), rate_hz=RATE_HZ)
    dz = m.pos_m[-1, I["Pelvis"], 2] - m.pos_m[0, I["Pelvis"], 2]
    steps = p.cadence_spm / 60 * m.duration_s
    assert dz == pytest.approx((1 if up else -1) * p.extra["riser_m"] * steps, rel=0.1)
    assert 0.14 <= p.extra["riser_m"] <= 0.2


# --- postures --------------------------------------------------------------------------------

@pytest.mark.parametrize("activity", ["standing", "squats", "lunges", "brushing_teeth", "phone_call", "arm_curls", "sit_to_stand"])
def test_feet_stay_on_the_floor(activity: str) -> None:
    m = generate_activity(activity, 6.0, np.random.default_rng(8), rate_hz=RATE_HZ)
    sole = lowest_sole_m(m)
    assert sole.min() > -0.02 and sole.max() < 0.03


def test_pelvis_height_of_standing_sitting_lying() -> None:
    rng = np.random.default_rng(9)
    for activity, lo, hi in (("standing", 0.49, 0.54), ("sitting", 0.24, 0.36), ("squats", 0.25, 0.54)):
        m = generate_activity(activity, 6.0, rng, rate_hz=RATE_HZ)
        z = m.pos_m[:, I["Pelvis"], 2] / m.skeleton.shape.height_m
        assert lo <= z.min() and z.max() <= hi, (activity, z.min(), z.max())
    lying = generate_activity("lying", 6.0, rng, rate_hz=RATE_HZ)
    h = lying.skeleton.shape.height_m
    trunk_up = quat_rotate(lying.quat_wxyz[:, I["T8"]], np.array([0.0, 0.0, 1.0]))
    front = quat_rotate(lying.quat_wxyz[:, I["Pelvis"]], np.array([1.0, 0.0, 0.0]))
    assert np.abs(trunk_up[:, 2]).max() < 0.35  # the trunk is horizontal
    assert front[:, 2].min() > 0.8  # on the back, facing up
    assert lying.pos_m[:, I["Pelvis"], 2].max() < 0.45 * h  # down at bed height, not standing


# --- arm activities --------------------------------------------------------------------------

def _path_rel_trunk(m, seg: str) -> float:
    rel = m.pos_m[:, I[seg]] - m.pos_m[:, I["T8"]]
    return float(np.sum(np.linalg.norm(np.diff(rel, axis=0), axis=1)))


@pytest.mark.parametrize("hand", ["right", "left"])
def test_brushing_teeth_hand_at_the_mouth_and_handedness(hand: str) -> None:
    m, p = generate_with_params("brushing_teeth", 8.0, np.random.default_rng(12), rate_hz=RATE_HZ, hand=hand)
    other = "left" if hand == "right" else "right"
    mid = slice(int(2 * RATE_HZ), int(6 * RATE_HZ))
    head = m.pos_m[mid, I["Head"]]
    d_active = np.linalg.norm(m.pos_m[mid, I[hand.capitalize() + "Hand"]] - head, axis=1)
    d_other = np.linalg.norm(m.pos_m[mid, I[other.capitalize() + "Hand"]] - head, axis=1)
    assert d_active.max() < 0.25 and d_other.min() > 0.4
    assert _path_rel_trunk(m, hand.capitalize() + "Hand") > 4 * _path_rel_trunk(m, other.capitalize() + "Hand")
    # strokes of 2-5 Hz, seen in the head's frame (side to side)
    x = quat_rotate(quat_conj(m.quat_wxyz[mid, I["Head"]]), m.pos_m[mid, I[hand.capitalize() + "Hand"]] - head)
    assert 1.9 < dominant_freq_hz(x[:, 1], RATE_HZ, fmin_hz=1.0) < 5.2
    assert any(hand in c for c in m.captions) and not any(other in c for c in m.captions)


@pytest.mark.parametrize("activity,landmark", [("combing_hair", "Head"), ("phone_call", "Head"), ("drinking", "Head")])
def test_hand_reaches_the_head(activity: str, landmark: str) -> None:
    m, p = generate_with_params(activity, 10.0, np.random.default_rng(1), rate_hz=RATE_HZ)
    d = np.linalg.norm(m.pos_m[:, I[p.hand.capitalize() + "Hand"]] - m.pos_m[:, I[landmark]], axis=1)
    assert d.min() < 0.25 and d[: int(0.1 * RATE_HZ)].min() > 0.4  # starts away, comes up


@pytest.mark.parametrize("activity", ["waving", "throwing", "drinking", "shoulder_pendulum", "pouring_water"])
def test_one_handed_activities_move_the_named_hand(activity: str) -> None:
    for hand in ("right", "left"):
        m, p = generate_with_params(activity, 6.0, np.random.default_rng(21), rate_hz=RATE_HZ, hand=hand)
        other = "left" if hand == "right" else "right"
        assert _path_rel_trunk(m, hand.capitalize() + "Hand") > 2 * _path_rel_trunk(m, other.capitalize() + "Hand")
        assert any(hand in c for c in m.captions) and not any(other in c for c in m.captions)


def test_captions_follow_the_sampled_speed() -> None:
    slow = ("slow", "leisurely")
    fast = ("brisk", "quickly")
    for seed in range(6):
        m, p = generate_with_params("walking_slow" if seed % 2 else "walking_brisk", 3.0, np.random.default_rng(seed), rate_hz=RATE_HZ)
        text = " ".join(m.captions).lower()
        words, wrong = (slow, fast) if p.speed_mps < 1.0 else (fast, slow)
        assert any(w in text for w in words) and not any(w in text for w in wrong), (p.speed_mps, m.captions)


# --- sequences -------------------------------------------------------------------------------

def test_sequence_inserts_transitions_and_stays_continuous() -> None:
    m = generate_sequence(["walking", "lying", "eating_soup", "standing"], 60.0, np.random.default_rng(5), rate_hz=RATE_HZ)
    names = [s.activity for s in m.labels]
    assert names == ["walking", "lying down on bed", "lying", "getting up from bed", "sitting down on a chair", "eating soup",
                     "standing up from a chair", "standing"]
    assert m.duration_s == pytest.approx(60.0, abs=0.1)
    starts = [s.start_s for s in m.labels]
    assert starts[0] == 0.0 and all(a.end_s == pytest.approx(b.start_s) for a, b in zip(m.labels, m.labels[1:]))
    assert m.labels[-1].end_s == pytest.approx(m.duration_s)
    # positions continuous in value and velocity: accelerations stay those of calm movement
    acc = accel_mps2(m)
    assert acc.max() < 60.0, acc.max()
    v_root = np.diff(m.pos_m[:, I["Pelvis"]], axis=0) * RATE_HZ
    assert np.abs(np.diff(v_root, axis=0)).max() * RATE_HZ < 30.0
    assert len(set(m.captions)) >= 3 and "then" in m.captions[0]


def test_random_sequence_fills_the_duration() -> None:
    m = generate_sequence(None, 45.0, np.random.default_rng(6), rate_hz=RATE_HZ, segment_s=(5.0, 10.0))
    assert m.duration_s == pytest.approx(45.0, abs=0.1) and len(m.labels) >= 3
    assert all(b.start_s > a.start_s for a, b in zip(m.labels, m.labels[1:]))
    assert np.all(np.isfinite(m.pos_m))
    assert np.abs(np.diff(m.pos_m[:, I["Pelvis"]], axis=0)).max() * RATE_HZ < 12.0


@pytest.mark.parametrize("duration_s", [3.0, 7.0, 16.0])
def test_random_sequences_of_any_length_are_exact(duration_s: float) -> None:
    for seed in range(6):
        m = generate_sequence(None, duration_s, np.random.default_rng(seed), rate_hz=30.0)
        assert m.n_frames == int(duration_s * 30) + 1
        assert m.labels[0].start_s == 0.0 and m.labels[-1].end_s == pytest.approx(m.duration_s)
        # the steps tile the recording: each label ends where the next begins (mid-blend), none empty
        assert all(a.end_s == pytest.approx(b.start_s) for a, b in zip(m.labels, m.labels[1:]))
        assert all(s.end_s > s.start_s for s in m.labels)
        assert np.all(np.isfinite(m.pos_m))


def test_explicit_sequence_too_short_says_how_long_it_must_be() -> None:
    with pytest.raises(ValueError, match="at least .* s"):
        generate_sequence(["walking", "lying", "walking"], 10.0, np.random.default_rng(0))


# --- speed (run with -m benchmark) -----------------------------------------------------------

@pytest.mark.benchmark
def test_benchmark_one_hour_at_120_hz() -> None:
    t0, c0 = time.perf_counter(), time.process_time()
    m = generate_sequence(None, 3600.0, np.random.default_rng(0), rate_hz=120.0, segment_s=(10.0, 40.0))
    wall_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    out = Path(__file__).resolve().parents[2] / "results" / "motion_library_speed.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"what": "generate_sequence(None, 3600 s, 120 Hz)", "frames": m.n_frames, "wall_s": round(wall_s, 2), "cpu_s": round(cpu_s, 2),
                               "load_avg_1min": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
                               "segments": len(m.labels)}, indent=1))
    assert m.n_frames == 3600 * 120 + 1 and np.all(np.isfinite(m.pos_m))


def test_sequence_label_segments_carry_the_captions_of_their_own_clip() -> None:
    slow, fast = ("slow", "leisurely"), ("brisk", "quickly")
    for seed in range(4):
        m = generate_sequence(["walking_slow", "brushing_teeth", "walking_brisk"], 36.0, np.random.default_rng(seed), rate_hz=30.0)
        segs = {s.activity: s for s in m.labels}
        assert {"walking slowly", "brushing teeth", "walking briskly"} <= set(segs)
        assert all(len(s.captions) >= 3 and all(c.endswith(".") and c[0].isupper() for c in s.captions) for s in m.labels)

        def core(s) -> slice:  # the segment without the blends at its ends
            return slice(int((s.start_s + 1.5) * m.rate_hz), int((s.end_s - 1.5) * m.rate_hz))

        def speed_mps(s) -> float:
            xy = m.pos_m[core(s), I["Pelvis"], :2]
            return float(np.linalg.norm(xy[-1] - xy[0]) / ((len(xy) - 1) / m.rate_hz))

        # each walking stretch is described by its own speed, which the motion shows
        assert speed_mps(segs["walking slowly"]) < 1.05 < 1.5 < speed_mps(segs["walking briskly"])
        for name, words, wrong in (("walking slowly", slow, fast), ("walking briskly", fast, slow)):
            text = " ".join(segs[name].captions).lower()
            assert any(w in text for w in words) and not any(w in text for w in wrong), segs[name].captions
            assert "teeth" not in text
        # the brushing captions name the hand that is at the mouth
        brush = core(segs["brushing teeth"])
        head = m.pos_m[brush, I["Head"]]
        near = {h: np.linalg.norm(m.pos_m[brush, I[h.capitalize() + "Hand"]] - head, axis=1).min() for h in ("right", "left")}
        hand = min(near, key=near.get)
        other = "left" if hand == "right" else "right"
        text = " ".join(segs["brushing teeth"].captions)
        assert hand in text and other not in text and "walk" not in text.lower()
        assert "then" in m.captions[0]  # the motion's own captions still tell the whole story


def test_single_clip_label_carries_the_clip_captions() -> None:
    m = generate_activity("waving", 5.0, np.random.default_rng(3), rate_hz=RATE_HZ)
    assert list(m.labels[0].captions) == m.captions
