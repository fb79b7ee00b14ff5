"""Compositional motions: each primitive's shape shows in the simulated wrist signal; captions are true."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from anymo.body.named_placements import canonical_placement
from anymo.body.skeleton import SEGMENT_INDEX, BodyShape, make_skeleton
from anymo.body.surface import surface_placements
from anymo.geometry.rotations import quat_make_continuous, quat_rotate
from anymo.motion.base import BodyMotion
from anymo.motion.compositional import (
    DIRECTED,
    SHAPES,
    ArmAction,
    MotionSpec,
    captions_for,
    generate_compositional,
    generate_compositional_sequence,
    random_spec,
    shape_xy,
    signed_area,
)
from anymo.motion.compositional.generate import render_spec
from anymo.motion.compositional.render import PLANE_AXES, SWIPE_AXES
from anymo.motion.procedural.impacts import add_hand_impacts
from anymo.motion.procedural.pose import fast_fk
from anymo.sim.simulate import SimConfig, simulate_imu

RATE = 100.0  # IMU output rate
SHAPE = BodyShape(height_m=1.75)
G = np.array([0.0, 0.0, -9.80665])


def _spec(kind: str, hand: str = "right", tempo: float = 1.0, **kw) -> MotionSpec:
    return MotionSpec(ArmAction(kind, hand, tempo, **kw), "standing")


@functools.cache
def _motion(spec: MotionSpec, seconds: float = 8.0, seed: int = 0):
    return generate_compositional(spec, seconds, np.random.default_rng(seed), shape=SHAPE, rate_hz=120.0)


def _interp_quat(motion, seg: int, t_s: np.ndarray) -> np.ndarray:
    q = quat_make_continuous(motion.quat_wxyz[:, seg], axis=0)
    f = t_s * motion.rate_hz
    i = np.minimum(np.floor(f).astype(int), motion.n_frames - 2)
    w = (f - i)[:, None]
    out = (1 - w) * q[i] + w * q[i + 1]
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def wrist_world(motion, side: str = "right"):
    """Ideal wrist IMU turned into the world with the motion's own orientation, and the sensor's true path.

    Returns t [T], world acceleration (gravity removed) [T, 3] and true sensor positions [T, 3].
    """
    pid = canonical_placement(f"{side}_wrist")
    sig = simulate_imu(motion, np.array([pid]), SimConfig(rate_hz=RATE), np.random.default_rng(0))
    table = surface_placements(motion.skeleton).subset(np.array([pid]))
    seg = int(table.segment_id[0])
    t = sig.t_true_s
    q = _interp_quat(motion, seg, t)
    r_dev = table.frame[0]  # segment-from-sensor (no mounting rotation)
    acc_world = quat_rotate(q, sig.acc_mps2[0].astype(np.float64) @ r_dev.T) + G
    f = t * motion.rate_hz
    i = np.minimum(np.floor(f).astype(int), motion.n_frames - 2)
    w = (f - i)[:, None]
    p_seg = (1 - w) * motion.pos_m[i, seg] + w * motion.pos_m[i + 1, seg]
    pos = p_seg + quat_rotate(q, table.position_m[0])
    return t, acc_world, pos


def band_position(acc: np.ndarray, rate_hz: float, lo_hz: float = 0.4, hi_hz: float = 8.0) -> np.ndarray:
    """Double integration in the frequency domain within [lo, hi] Hz (drift outside the band removed)."""
    n = len(acc)
    spec = np.fft.rfft(acc - acc.mean(0), axis=0)
    f = np.fft.rfftfreq(n, 1.0 / rate_hz)
    keep = (f >= lo_hz) & (f <= hi_hz)
    spec[~keep] = 0.0
    spec[keep] /= -((2 * np.pi * f[keep]) ** 2)[:, None]
    return np.fft.irfft(spec, n=n, axis=0)


def band(x: np.ndarray, rate_hz: float, lo_hz: float = 0.4, hi_hz: float = 8.0) -> np.ndarray:
    spec = np.fft.rfft(x - x.mean(0), axis=0)
    f = np.fft.rfftfreq(len(x), 1.0 / rate_hz)
    spec[(f < lo_hz) | (f > hi_hz)] = 0.0
    return np.fft.irfft(spec, n=len(x), axis=0)


def _steady(t: np.ndarray) -> slice:
    """The middle of the clip, past the reach in and before the reach out (whole seconds)."""
    return slice(int(np.searchsorted(t, 2.0)), int(np.searchsorted(t, 6.0)))


def _plane_xy(pts: np.ndarray, plane: str) -> np.ndarray:
    right, up = PLANE_AXES[plane]  # standing still facing +x: trunk frame ~ world
    return np.stack([pts @ right, pts @ up], axis=1)


@pytest.mark.parametrize("clockwise", [False, True])
def test_circle_at_1hz_recovered_from_ideal_imu(clockwise: bool) -> None:
    spec = _spec("trace", shape="circle", plane="front", size="medium", clockwise=clockwise)
    t, acc, pos = wrist_world(_motion(spec))
    sl = _steady(t)
    rec = band_position(acc[sl], RATE)
    true = band(pos[sl], RATE)
    err = np.sqrt(np.mean(np.sum((rec - true) ** 2, axis=1)))
    size = np.sqrt(np.mean(np.sum(true**2, axis=1)))
    assert err < 0.1 * size, (err, size)
    xy = _plane_xy(rec, "front")
    radius = np.linalg.norm(xy - xy.mean(0), axis=1)
    assert 0.07 < radius.mean() < 0.15 and radius.std() < 0.3 * radius.mean()  # a circle of ~0.11 m radius
    assert (signed_area(xy) < 0) == clockwise
    # the direction also shows in the acceleration alone: it turns the same way as the path
    assert (signed_area(_plane_xy(band(acc[sl], RATE), "front")) < 0) == clockwise


def _best_shift_error(path: np.ndarray, template: np.ndarray) -> float:
    """Relative RMS error of ``path`` [N, 2] against ``template`` [N, 2] after removing means, scaling and
    the best cyclic shift (both span one cycle)."""
    p = path - path.mean(0)
    best = np.inf
    for k in range(len(template)):
        tpl = np.roll(template, k, axis=0) - template.mean(0)
        s = np.sum(p * tpl) / np.sum(tpl * tpl)
        best = min(best, float(np.sqrt(np.mean(np.sum((p - s * tpl) ** 2, 1)) / np.mean(np.sum(p**2, 1)))))
    return best


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_shows_in_the_wrist_signal(shape: str) -> None:
    cw = False if shape in DIRECTED else None
    spec = _spec("trace", shape=shape, plane="front", size="large", clockwise=cw)
    motion = _motion(spec)
    t, acc, pos = wrist_world(motion)
    sl = _steady(t)  # four cycles at 1 Hz
    rec, true = band_position(acc[sl], RATE, 0.4, 15.0), band(pos[sl], RATE, 0.4, 15.0)
    assert np.sqrt(np.mean(np.sum((rec - true) ** 2, 1))) < 0.15 * np.sqrt(np.mean(np.sum(true**2, 1)))
    # the hand (wrist joint) draws the shape: one cycle against the template at the best phase
    hand = motion.pos_m[:, SEGMENT_INDEX["RightHand"]]
    i0 = int(4.0 * motion.rate_hz)
    cyc = _plane_xy(hand[i0 : i0 + int(motion.rate_hz) : 2], "front")
    tpl = shape_xy(shape, np.linspace(0, 2 * np.pi, len(cyc), endpoint=False))
    assert _best_shift_error(cyc, tpl) < 0.35
    others = [s for s in SHAPES if s != shape and s not in ("line",)]
    if shape != "line":  # and it is not another shape
        assert all(_best_shift_error(cyc, shape_xy(o, np.linspace(0, 2 * np.pi, len(cyc), endpoint=False))) > _best_shift_error(cyc, tpl)
                   for o in others)


@pytest.mark.parametrize("direction", ["left", "right", "up", "down", "forward", "back"])
def test_swipe_goes_the_stated_way(direction: str) -> None:
    t, acc, _ = wrist_world(_motion(_spec("swipe", direction=direction, tempo=0.5), 10.0))
    sl = slice(int(np.searchsorted(t, 2.0)), int(np.searchsorted(t, 8.0)))
    vel = np.gradient(band_position(acc[sl], RATE, 0.2, 10.0), 1.0 / RATE, axis=0)
    fast = vel[np.argmax(np.linalg.norm(vel, axis=1))]
    u = SWIPE_AXES[direction]
    assert fast @ u / np.linalg.norm(fast) > 0.8  # the fast stroke (from the IMU) points the stated way


def test_reach_heights_are_ordered() -> None:
    tops = []
    for h in ("knee", "waist", "chest", "head", "overhead"):
        m = _motion(_spec("reach", height=h, direction="forward", tempo=0.3), 8.0)
        tops.append(m.pos_m[:, SEGMENT_INDEX["RightHand"], 2].max() if h != "knee" else m.pos_m[:, SEGMENT_INDEX["RightHand"], 2].min())
    assert tops[0] < 0.4 * SHAPE.height_m < tops[1] < tops[2] < tops[3] < tops[4]  # knee height ~0.28 h
    assert tops[4] > SHAPE.height_m  # overhead: the hand above the head


@pytest.mark.parametrize("kind", ["knock", "tap"])
def test_knocks_and_taps_give_contact_spikes(kind: str) -> None:
    spec = _spec(kind, tempo=0.5 if kind == "knock" else 3.0)
    local, root, _, hands = render_spec(spec, 8.0, np.random.default_rng(0), SHAPE, 120.0)
    sk = make_skeleton(SHAPE)
    pos, quat = fast_fk(sk, root, quat_make_continuous(local, axis=0))
    assert len(hands) >= (4 if kind == "knock" else 12)  # bursts of 2-4 knocks; taps at 3 Hz
    hf_max = []
    for p in (pos, add_hand_impacts(pos, hands, 120.0)):
        t, acc, _ = wrist_world(BodyMotion(sk, 120.0, p, quat))
        hf = np.linalg.norm(acc - band(acc, RATE, 0.0, 15.0) - acc.mean(0), axis=1)  # content above 15 Hz
        hf_max.append(hf.max())
        peaks = hf
    assert hf_max[1] > 4.0 * hf_max[0]  # each contact is a sharp shock the smooth motion lacks
    near = np.zeros(len(t), bool)
    for tc in hands.t_s:
        near |= np.abs(t - tc) < 0.06
    assert np.percentile(peaks[~near], 99) < 0.3 * peaks[near].max()  # and it sits at the contacts


@pytest.mark.parametrize("style", ["overarm", "underarm"])
def test_throw_release_height(style: str) -> None:
    m = _motion(_spec("throw", style=style, tempo=0.33), 9.0)
    hand = m.pos_m[:, SEGMENT_INDEX["RightHand"]]
    speed = np.linalg.norm(np.gradient(hand, 1 / m.rate_hz, axis=0), axis=1)
    i = int(np.argmax(speed))
    shoulder = m.pos_m[i, SEGMENT_INDEX["RightUpperArm"], 2]
    assert (hand[i, 2] > shoulder) == (style == "overarm")
    assert speed[i] > 3.0  # a throw, not a wave


def test_captions_state_the_parameters_and_nothing_else() -> None:
    rng = np.random.default_rng(3)
    for _ in range(300):
        spec = random_spec(rng)
        a = spec.action
        for cap in captions_for(spec, rng):
            low = cap.lower()
            if a.hand == "both":
                assert "both" in low
            else:
                assert a.hand in low and {"left": "right", "right": "left"}[a.hand] not in low.replace("to the " + ("right" if a.hand == "left" else "left"), "")
            if a.kind == "trace":
                assert a.shape.split()[-1].lower() in low
                if a.clockwise is not None:
                    word = {"side": ("forward", "backward")}.get(a.plane, ("clockwise", "counter-clockwise"))[0 if a.clockwise else 1]
                    assert word in low and (a.plane == "side" or ("counter" in low) != a.clockwise)
            assert ("walk" in low) == (spec.base == "walking")


def test_sequence_labels_tile_the_clip() -> None:
    m = generate_compositional_sequence(40.0, np.random.default_rng(5), shape=SHAPE, rate_hz=60.0)
    assert m.labels[0].start_s == 0.0 and abs(m.labels[-1].end_s - m.duration_s) < 1e-6
    assert all(abs(a.end_s - b.start_s) < 1e-9 for a, b in zip(m.labels, m.labels[1:]))
    assert all(seg.captions for seg in m.labels)
    assert np.isfinite(m.pos_m).all()


@pytest.mark.parametrize("duration_s", [7.0, 12.0, 19.0, 60.0])
def test_sequence_segments_sum_to_the_clip_whatever_the_draws(duration_s: float) -> None:
    """A last segment too short for an action is merged into the one before it: the segments still tile
    the clip exactly (the merge once wrote into the wrong segment, or failed with two segments)."""
    for seed in range(12):
        m = generate_compositional_sequence(duration_s, np.random.default_rng(seed), shape=SHAPE, rate_hz=30.0)
        assert m.labels[0].start_s == 0.0 and abs(m.labels[-1].end_s - duration_s) < 1e-6
        assert all(abs(a.end_s - b.start_s) < 1e-9 for a, b in zip(m.labels, m.labels[1:]))
        assert all(seg.end_s - seg.start_s >= 3.0 - 1e-9 for seg in m.labels) or len(m.labels) == 1


def test_bad_spec_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="letters are written in the front plane"):
        _spec("trace", shape="letter Z", plane="overhead", size="small", clockwise=None)
    with pytest.raises(ValueError, match="clockwise must be"):
        _spec("trace", shape="circle", plane="front", size="small", clockwise=None)
    with pytest.raises(ValueError, match="knock can be combined with standing"):
        MotionSpec(ArmAction("knock", "right", 0.5), "walking", 1.0)
