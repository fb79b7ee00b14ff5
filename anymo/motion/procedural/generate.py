"""One clip of one activity: sample the parameters, render the motion, write the captions."""

from __future__ import annotations

import numpy as np

from anymo.body.skeleton import BodyShape, make_skeleton
from anymo.data.recording import LabelSegment
from anymo.geometry.rotations import quat_make_continuous
from anymo.motion.base import BodyMotion
from anymo.motion.procedural.activities import spec
from anymo.motion.procedural.captions import make_captions
from anymo.motion.procedural.impacts import add_hand_impacts, add_impacts
from anymo.motion.procedural.params import ActivityParams, Style, random_body_shape, random_style
from anymo.motion.procedural.pose import fast_fk


def _check(duration_s: float, rate_hz: float) -> None:
    if not (rate_hz > 0 and np.isfinite(rate_hz)):
        raise ValueError(f"rate_hz must be a positive number of frames per second, got {rate_hz}")
    if not (np.isfinite(duration_s) and duration_s >= 1.0):
        raise ValueError(f"duration_s must be at least 1 s (a motion needs time to unfold), got {duration_s}")


def render_clip(activity: str, duration_s: float, rng: np.random.Generator, *, shape: BodyShape | None = None,
                rate_hz: float = 120.0, posture: str | None = None, style: Style | None = None,
                hand: str | None = None) -> tuple[np.ndarray, np.ndarray, ActivityParams]:
    """Local joint rotations [T, 23, 4], root [T, 3] and the sampled parameters of one clip."""
    sp = spec(activity)
    _check(duration_s, rate_hz)
    if hand not in (None, "right", "left"):
        raise ValueError(f"hand must be 'right' or 'left', got {hand!r}")
    shape = shape or random_body_shape(rng)
    sk = make_skeleton(shape)
    style = style or random_style(rng)
    p = ActivityParams(activity=activity, duration_s=float(duration_s), rate_hz=float(rate_hz), shape=shape, style=style)
    p.hand = hand or ("right" if rng.random() < 0.85 else "left")
    p.amplitude = float(rng.uniform(0.8, 1.1))
    if sp.speed_mps:
        p.speed_mps = float(rng.uniform(*sp.speed_mps))
    p.in_place = bool(rng.random() < sp.in_place_prob)
    if p.in_place:
        p.speed_mps = 0.0
    if posture is not None:
        if posture not in sp.postures:
            raise ValueError(f"{activity} can be done {' or '.join(sp.postures)}, not {posture!r}")
        p.extra["posture"] = posture
    elif len(sp.postures) == 1 and sp.postures[0] != "lying":
        p.extra["posture"] = sp.postures[0]
    n = int(round(duration_s * rate_hz)) + 1
    t_s = np.arange(n) / rate_hz
    local, root = sp.render(p, rng, sk, t_s)
    if not (np.all(np.isfinite(local)) and np.all(np.isfinite(root))):  # pragma: no cover - a generator bug
        raise RuntimeError(f"generating {activity} produced non-finite values")
    return local, root, p


def generate_with_params(activity: str, duration_s: float, rng: np.random.Generator, *, shape: BodyShape | None = None,
                         rate_hz: float = 120.0, posture: str | None = None, style: Style | None = None,
                         hand: str | None = None) -> tuple[BodyMotion, ActivityParams]:
    """`generate_activity` that also returns the sampled parameters the captions were written from.

    ``posture`` ("standing" or "sitting") picks the posture for activities that allow both;
    ``style`` and ``hand`` ("right"/"left") fix the person's way of moving and handedness.
    """
    local, root, p = render_clip(activity, duration_s, rng, shape=shape, rate_hz=rate_hz, posture=posture, style=style, hand=hand)
    sp = spec(activity)
    t_end = (local.shape[0] - 1) / rate_hz
    sk = make_skeleton(p.shape)
    pos, quat = fast_fk(sk, root, quat_make_continuous(local, axis=0))
    pos = add_hand_impacts(add_impacts(pos, p.impacts, rate_hz), p.hand_impacts, rate_hz)
    captions = make_captions(sp, p, rng)
    motion = BodyMotion(
        skeleton=sk, rate_hz=rate_hz, pos_m=pos, quat_wxyz=quat,
        labels=[LabelSegment(sp.text, 0.0, float(t_end), captions=tuple(captions))],
        captions=captions,
        source=f"procedural:{activity}",
    )  # fmt: skip
    return motion, p


def generate_activity(activity: str, duration_s: float, rng: np.random.Generator, *, shape: BodyShape | None = None,
                      rate_hz: float = 120.0) -> BodyMotion:
    """One clip of ``activity`` (an id from `ACTIVITIES`) lasting ``duration_s`` at ``rate_hz``.

    The clip carries one `LabelSegment` (the plain-language `activity_text`) and several captions.
    ``shape`` fixes the body size; by default a random adult body is drawn.
    """
    return generate_with_params(activity, duration_s, rng, shape=shape, rate_hz=rate_hz)[0]
