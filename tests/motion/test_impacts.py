"""Heel-strike impacts of procedural gait: seen through the IMU simulator at the shank and up the body."""

from __future__ import annotations

import numpy as np
import pytest

from anymo.body.named_placements import canonical_placement
from anymo.body.skeleton import SEGMENT_INDEX, make_skeleton
from anymo.body.surface import reference_placements
from anymo.geometry.rotations import quat_make_continuous
from anymo.motion.base import BodyMotion
from anymo.motion.procedural import ACTIVITIES, generate_activity, generate_with_params
from anymo.motion.procedural.generate import render_clip
from anymo.motion.procedural.impacts import Impacts, add_impacts, gait_impacts, landing_times_s, unit_transient
from anymo.motion.procedural.pose import fast_fk, foot_contacts_m
from anymo.motion.procedural.sequence import _blended_impacts
from anymo.sim.imu import ideal_imu

G = 9.80665
PLACES = ("right_shank", "right_thigh", "lower_back", "head")


def _with_and_without(activity: str, seconds: float, seed: int, rate_hz: float):
    """Ideal acc [4, T, 3] at PLACES with and without the impacts, the sample times and the clip's impacts."""
    local, root, p = render_clip(activity, seconds, np.random.default_rng(seed), rate_hz=rate_hz)
    sk = make_skeleton(p.shape)
    pos, quat = fast_fk(sk, root, quat_make_continuous(local, axis=0))
    table = reference_placements().subset(np.array([canonical_placement(n) for n in PLACES]))
    t_s = np.arange(int((seconds - 0.2) * rate_hz)) / rate_hz
    plain = ideal_imu(BodyMotion(sk, rate_hz, pos, quat), table, t_s)[0]
    shaken = ideal_imu(BodyMotion(sk, rate_hz, add_impacts(pos, p.impacts, rate_hz), quat), table, t_s)[0]
    return plain, shaken, t_s, p


def _peaks_after_contacts(x: np.ndarray, t_s: np.ndarray, contacts_s: np.ndarray, window_s: float = 0.15) -> np.ndarray:
    rate_hz = 1.0 / (t_s[1] - t_s[0])
    return np.array([x[int(c * rate_hz): int((c + window_s) * rate_hz)].max() for c in contacts_s])


def _band_share(acc: np.ndarray, rate_hz: float, lo_hz: float = 8.0, hi_hz: float = 20.0) -> float:
    """Fraction of the power of the mean-removed |acc| in [lo, hi) Hz."""
    x = np.linalg.norm(acc, axis=-1)
    x = x - x.mean()
    f = np.fft.rfftfreq(len(x), 1.0 / rate_hz)
    p = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    return float(p[(f >= lo_hz) & (f < hi_hz)].sum() / p[f > 0].sum())


@pytest.mark.parametrize("activity,lo_g,hi_g", [("walking", 1.0, 6.5), ("running", 3.0, 16.0)])
def test_shank_shows_the_drawn_shock_at_every_contact(activity: str, lo_g: float, hi_g: float) -> None:
    plain, shaken, t_s, p = _with_and_without(activity, 8.0, 3, 240.0)
    imp = p.impacts
    right = (imp.side == 0) & (imp.t_s < t_s[-1] - 0.2)
    assert right.sum() >= 4
    shock = np.linalg.norm(shaken[0] - plain[0], axis=-1)  # the transient alone, as the shank sensor reads it
    seen = _peaks_after_contacts(shock, t_s, imp.t_s[right])
    # the simulator reads the drawn peak at each contact (spline sampling at 240 Hz: within 10 %)
    assert seen == pytest.approx(imp.peak_mps2[right], rel=0.1)
    # ... which lies in the literature's range: walking 2.7-3.7 g (Lafortune 1991) to ~5 g with hard
    # heels (Light 1980); running 6.9 +- 2.9 g (Mizrahi 2000) up to 10.6 g (Lafortune 1991)
    assert lo_g * G < imp.peak_mps2.min() and imp.peak_mps2.max() < hi_g * G
    # and nothing happens long after a contact (the ringing has died out 0.35 s later) or before the
    # first one (less the interpolating spline's pre-ringing in the last 50 ms before it)
    t_contact = np.sort(imp.t_s)
    last = np.searchsorted(t_contact, t_s, side="right") - 1
    since_s = np.where(last >= 0, t_s - t_contact[np.maximum(last, 0)], np.where(t_s < t_contact[0] - 0.05, np.inf, -np.inf))
    # the spline's pre-ringing may also lead a contact that falls after the last sample
    nxt = np.minimum(last + 1, len(t_contact) - 1)
    since_s = np.where((last + 1 < len(t_contact)) & (t_contact[nxt] - t_s < 0.05), -np.inf, since_s)
    assert np.any(since_s > 0.35) and shock[since_s > 0.35].max() < 0.03 * imp.peak_mps2.min()


def test_the_shock_is_attenuated_up_the_body() -> None:
    plain, shaken, t_s, p = _with_and_without("walking", 8.0, 5, 240.0)
    imp = p.impacts
    right = (imp.side == 0) & (imp.t_s < t_s[-1] - 0.2)
    peaks = [np.median(_peaks_after_contacts(np.linalg.norm(shaken[k] - plain[k], axis=-1), t_s, imp.t_s[right])) for k in range(4)]
    shank, thigh, lower_back, head = peaks
    assert shank > thigh > lower_back > head > 0
    assert head / shank == pytest.approx(0.1, abs=0.05)  # tibia 5 g -> skull 0.5 g (Light 1980)


def test_high_frequency_share_of_shank_acceleration_rises_from_nearly_zero() -> None:
    plain, shaken, t_s, p = _with_and_without("walking", 12.0, 7, 120.0)
    cut = int(1.0 * 120)
    before, after = _band_share(plain[0, cut:], 120.0), _band_share(shaken[0, cut:], 120.0)
    assert before < 0.07 and after > 0.15 and after > 3 * before, (before, after)
    # at the lower back too (smaller shock, still above the smooth gait's nearly empty band)
    assert _band_share(shaken[2, cut:], 120.0) > 2 * _band_share(plain[2, cut:], 120.0)


def _arrives(gap_m: np.ndarray, frame: int, frames: int) -> bool:
    """Whether ``gap_m`` comes down through 0 within ``frames`` frames of ``frame``."""
    w = gap_m[frame - frames - 1: frame + frames + 1]
    return bool(np.any((w[:-1] > 0) & (w[1:] <= 0)))


@pytest.mark.parametrize("activity", ["walking_slow", "walking", "walking_brisk", "jogging", "running"])
def test_shock_starts_when_the_foot_reaches_the_floor(activity: str) -> None:
    rate_hz, walking = 120.0, activity.startswith("walking")
    arrived, late_arrived = [], []
    for seed in range(4):
        local, root, p = render_clip(activity, 8.0, np.random.default_rng(seed), rate_hz=rate_hz)
        sk = make_skeleton(p.shape)
        pos, quat = fast_fk(sk, root, quat_make_continuous(local, axis=0))
        soles = foot_contacts_m(sk, pos, quat)[..., 2]  # [T, 6]: heel, ball, tip of the right then the left foot
        lowest = np.stack([soles[:, :3].min(axis=1), soles[:, 3:].min(axis=1)], axis=1)
        imp = p.impacts
        assert len(imp) >= 8 * p.cadence_spm / 60 - 3 and np.all(np.diff(imp.side) != 0)  # (nearly) every step lands, feet alternate
        for k in np.nonzero((imp.t_s > 0.5) & (imp.t_s < 7.5))[0]:
            s = int(imp.side[k])
            foot = SEGMENT_INDEX[("Right", "Left")[s] + "Foot"]
            one = Impacts(*(x[k: k + 1] for x in (imp.t_s, imp.side, imp.peak_mps2, imp.freq_hz, imp.zeta)))
            onset = int(np.argmax(np.abs(add_impacts(pos, one, rate_hz)[:, foot] - pos[:, foot]).max(axis=1) > 0))
            # the foot's lowest sole point comes down to within 8 mm of the floor: the level the body stands
            # on in walking (the other foot's lowest point; double support floats by up to ~1 cm), z = 0 in running
            gap = lowest[:, s] - (np.minimum(lowest[:, 1 - s], 0.01) if walking else 0.0) - 0.008
            arrived.append(_arrives(gap, onset, 1))
            late_arrived.append(_arrives(gap, onset + 4, 1))  # a shock 4 frames (33 ms) late would not pass
            assert lowest[onset, s] < 0.02  # at the floor (walking's double support floats by up to ~1 cm)
    assert len(arrived) >= 20 and all(arrived), f"{len(arrived) - sum(arrived)} of {len(arrived)} shocks start away from a landing"
    assert np.mean(late_arrived) < 0.2


def test_landing_times_are_the_first_downward_floor_crossings_in_their_windows() -> None:
    t_s = np.arange(0, 4.0, 0.01)
    # right foot: 5 cm above the floor, coming down at 0.1 m/s from 1.0 s, lands at 1.5 s; lifts again at 2.5 s
    # left foot: on the floor at first (no crossing), then lands at 3.2 s
    gap = np.stack([np.clip(0.05 - 0.1 * (t_s - 1.0), 0.0, 0.05) - 0.002 + np.clip(t_s - 2.5, 0, None),
                    np.where(t_s < 3.0, -0.01, 0.02 - 0.1 * (t_s - 3.0))], axis=1)
    got = landing_times_s(t_s, gap, np.array([1.45, 0.5, 3.1, 1.45]), np.array([0, 1, 1, 0]), before_s=0.2, after_s=0.3)
    assert got[0] == pytest.approx(1.5 - 0.02, abs=1e-9)  # 2 mm above the floor minus 2 mm: 20 ms early
    assert np.isnan(got[1])  # already down: no landing in its window
    assert got[2] == pytest.approx(3.2, abs=1e-9)
    late = landing_times_s(t_s, gap, np.array([1.0]), np.array([0]), before_s=0.2, after_s=0.3)
    assert np.isnan(late[0])  # the crossing at 1.48 s lies after its window (0.8-1.3 s)


def test_faster_gait_hits_harder_and_running_much_harder_than_walking() -> None:
    t_s = np.arange(0, 60.0, 1 / 120)
    phase = 2 * np.pi * 0.9 * t_s

    def mean_peak_g(running: bool, speed: float) -> float:
        return float(np.mean([gait_impacts(t_s, phase, running=running, speed_mps=speed, rng=np.random.default_rng(s)).peak_mps2.mean()
                              for s in range(40)]) / G)

    slow, normal, brisk = mean_peak_g(False, 0.8), mean_peak_g(False, 1.35), mean_peak_g(False, 1.8)
    jog, run, fast = mean_peak_g(True, 2.5), mean_peak_g(True, 3.5), mean_peak_g(True, 5.0)
    assert brisk > 1.8 * slow and fast > 1.8 * jog
    # walking ~3-4 g (Lafortune 1991: 2.7-3.7 g), running ~7 g (Mizrahi 2000: 6.9 +- 2.9 g)
    assert 2.7 < normal < 4.0 and 5.5 < run < 8.5 and run > 1.7 * normal
    imp = gait_impacts(t_s, phase, running=True, speed_mps=5.0, rng=np.random.default_rng(0))
    assert np.all((imp.freq_hz >= 12.0) & (imp.freq_hz <= 21.0))  # impact content 12-20 Hz (Shorten & Winslow 1992)
    assert np.all(np.diff(imp.t_s) > 0) and set(np.unique(imp.side)) == {0, 1}


GAITS = ("walking_slow", "walking", "walking_brisk", "jogging", "running", "climbing_stairs", "descending_stairs")


@pytest.mark.parametrize("activity", [a for a in ACTIVITIES if a not in GAITS])
def test_no_impacts_without_gait(activity: str) -> None:
    _, p = generate_with_params(activity, 3.0, np.random.default_rng(1), rate_hz=30.0)
    assert len(p.impacts) == 0


def test_stairs_have_one_contact_per_step_and_descending_lands_harder() -> None:
    """Each step on a stair is a foot contact; stepping down onto the forefoot loads harder than
    placing the foot on the step above (McFadyen & Winter 1988; Riener et al. 2002)."""
    peaks = {}
    for name in ("climbing_stairs", "descending_stairs"):
        got = []
        for seed in range(6):
            _, p = generate_with_params(name, 12.0, np.random.default_rng(seed), rate_hz=60.0)
            steps = p.cadence_spm / 60.0 * 12.0
            assert abs(len(p.impacts) - steps) <= 2, (name, len(p.impacts), steps)
            assert set(np.unique(p.impacts.side)) == {0, 1}
            got.append(p.impacts.peak_mps2.mean() / G)
        peaks[name] = float(np.mean(got))
    assert peaks["descending_stairs"] > 1.8 * peaks["climbing_stairs"], peaks


def test_transient_is_c2_from_rest_and_returns_to_rest() -> None:
    h = 2 * np.pi / 100  # 100 samples per period, e.g. 15 Hz ringing in a 1500 Hz motion
    ph = np.arange(-20, 3000) * h
    for zeta in (0.2, 0.35):
        x = unit_transient(ph, np.full(ph.shape, zeta))
        v, a = np.diff(x) / h, np.diff(x, 2) / h**2
        assert np.all(x[ph <= 0] == 0)
        assert np.abs(a).max() == pytest.approx(1.0, rel=0.01)
        # acceleration starts from 0 and changes by small steps everywhere (no jump: C2)
        assert np.abs(a[:21]).max() < 0.02 and np.abs(np.diff(a)).max() < 0.3
        # the first peak points up the leg (the shank is decelerated), and the motion comes back to rest
        assert a[np.argmax(np.abs(a) > 0.1)] > 0
        assert np.all(x[-50:] == 0) and np.all(v[-50:] == 0)


def test_impacts_move_the_feet_by_mm_and_same_seed_same_motion() -> None:
    a = generate_activity("running", 6.0, np.random.default_rng(4), rate_hz=120.0)
    b = generate_activity("running", 6.0, np.random.default_rng(4), rate_hz=120.0)
    assert np.array_equal(a.pos_m, b.pos_m)
    local, root, p = render_clip("running", 6.0, np.random.default_rng(4), rate_hz=120.0)
    pos, quat = fast_fk(a.skeleton, root, quat_make_continuous(local, axis=0))
    assert np.allclose(a.pos_m, add_impacts(pos, p.impacts, 120.0))  # the clip is its kinematics plus the shocks
    moved_m = np.abs(a.pos_m - pos).max(axis=(0, 2))
    assert 0.001 < moved_m.max() < 0.012  # millimetres: 7 g at 15 Hz is ~8 mm
    soles = foot_contacts_m(a.skeleton, a.pos_m, a.quat_wxyz)[..., 2]
    soles_before = foot_contacts_m(a.skeleton, pos, quat)[..., 2]
    assert np.abs(soles - soles_before).max() < 0.012


def test_sequence_blends_weight_contacts_like_the_pose() -> None:
    imp = Impacts(np.array([0.05, 0.5, 2.0, 3.95]), np.array([0, 1, 0, 1]), np.full(4, 30.0), np.full(4, 15.0), np.full(4, 0.3))
    out = _blended_impacts(imp, start_frame=120, n_frames=481, n_head=121, n_tail=61, rate_hz=120.0)
    assert out.t_s == pytest.approx(imp.t_s + 1.0)
    w = out.peak_mps2 / 30.0
    assert w[0] < 0.01 and 0.4 < w[1] < 0.6 and w[2] == 1.0 and w[3] < 0.01
    still = np.random.default_rng(0).normal(size=(50, 23, 3))
    assert np.array_equal(add_impacts(still, Impacts.empty(), 120.0), still)  # no contacts: the motion as it was
    assert np.array_equal(add_impacts(still, imp.moved(0.0, 0.0), 120.0), still)  # blended out entirely: nothing added
