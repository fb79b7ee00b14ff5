"""One compositional clip: the base from the procedural library, the arm action, contacts, captions."""

from __future__ import annotations

import numpy as np

from anymo.body.skeleton import BodyShape, make_skeleton
from anymo.data.recording import LabelSegment
from anymo.geometry.rotations import quat_make_continuous
from anymo.motion.base import BodyMotion
from anymo.motion.compositional.captions import captions_for, label_for
from anymo.motion.compositional.render import render_arms
from anymo.motion.compositional.spec import BASES, MotionSpec, random_spec
from anymo.motion.procedural.activities import REGISTRY
from anymo.motion.procedural.generate import _check
from anymo.motion.procedural.impacts import (
    HandImpacts,
    add_hand_impacts,
    add_impacts,
)
from anymo.motion.procedural.params import (
    ActivityParams,
    random_body_shape,
    random_style,
)
from anymo.motion.procedural.pose import fast_fk


def render_spec(spec: MotionSpec, duration_s: float, rng: np.random.Generator, shape: BodyShape, rate_hz: float,
                style=None) -> tuple[np.ndarray, np.ndarray, ActivityParams, HandImpacts]:
    """Local rotations [T, 23, 4], root [T, 3], the base's parameters (foot contacts) and the hand contacts."""
    sk = make_skeleton(shape)
    base = spec.base
    p = ActivityParams(activity=base, duration_s=float(duration_s), rate_hz=float(rate_hz), shape=shape, style=style or random_style(rng))
    p.hand = spec.action.hand if spec.action.hand != "both" else "right"
    p.both_hands = spec.action.hand == "both"
    p.speed_mps = spec.walk_speed_mps
    if base != "walking":
        p.extra["posture"] = base
    p.extra["idle_hands"] = False  # the arm action owns the arms (procedural standing would add idle movements)
    n = int(round(duration_s * rate_hz)) + 1
    t_s = np.arange(n) / rate_hz
    local, root = REGISTRY[base].render(p, rng, sk, t_s)
    local, hand_impacts = render_arms(spec, p, rng, sk, t_s, local)
    if base != "walking":  # the action may bend the legs (reaching low): keep the feet on the floor
        from anymo.motion.procedural.pose import fk_rel, plant_root

        root = plant_root(sk, *fk_rel(sk, local), rate_hz, softness_m=0.02)
    if not (np.all(np.isfinite(local)) and np.all(np.isfinite(root))):  # pragma: no cover - a generator bug
        raise RuntimeError(f"generating {spec} produced non-finite values")
    return local, root, p, hand_impacts


def generate_compositional(spec: MotionSpec | None, duration_s: float, rng: np.random.Generator, *,
                           shape: BodyShape | None = None, rate_hz: float = 120.0) -> BodyMotion:
    """A clip of ``spec`` (None: a random one, `random_spec`) lasting ``duration_s`` at ``rate_hz``.

    One `LabelSegment` (`label_for`) carrying the captions (`captions_for`); ``source`` is
    "compositional:<label>".
    """
    _check(duration_s, rate_hz)
    spec = spec or random_spec(rng)
    shape = shape or random_body_shape(rng)
    local, root, p, hand_impacts = render_spec(spec, duration_s, rng, shape, rate_hz)
    sk = make_skeleton(shape)
    pos, quat = fast_fk(sk, root, quat_make_continuous(local, axis=0))
    pos = add_hand_impacts(add_impacts(pos, p.impacts, rate_hz), hand_impacts, rate_hz)
    captions = captions_for(spec, rng)
    label = label_for(spec)
    return BodyMotion(skeleton=sk, rate_hz=rate_hz, pos_m=pos, quat_wxyz=quat,
                      labels=[LabelSegment(label, 0.0, float((len(local) - 1) / rate_hz), captions=tuple(captions))],
                      captions=captions, source=f"compositional:{label}")


def generate_compositional_sequence(duration_s: float, rng: np.random.Generator, *, shape: BodyShape | None = None,
                                    rate_hz: float = 120.0, segment_s: tuple[float, float] = (6.0, 15.0),
                                    base: str | None = None) -> BodyMotion:
    """One person doing random arm actions one after the other on one base (standing, sitting or walking),
    blended like the procedural sequences (`anymo.motion.procedural.sequence`), each with its own
    label segment and captions; the motion's captions tell the actions in order."""
    from anymo.motion.compositional.captions import action_phrases
    from anymo.motion.procedural.sequence import ClipChain, _story

    _check(duration_s, rate_hz)
    shape = shape or random_body_shape(rng)
    style = random_style(rng)
    base = base or str(rng.choice(BASES))
    speed = float(rng.uniform(0.8, 1.6))
    durs: list[float] = []
    while sum(durs) < duration_s:
        durs.append(float(rng.uniform(*segment_s)))
    durs[-1] = duration_s - sum(durs[:-1])
    if len(durs) > 1 and durs[-1] < 3.0:  # too short to show an action: the one before takes it
        # (pop first: `durs[-2] += durs.pop()` reads durs[-2] before the pop and writes it after, i.e. into the
        # element before that - durations no longer summing to duration_s, or an IndexError with two segments)
        rest = durs.pop()
        durs[-1] += rest
    chain = ClipChain(int(round(duration_s * rate_hz)) + 1, rate_hz)
    prev_ov, t0 = 0.0, 0.0
    labels, preds = [], []
    for k, d in enumerate(durs):
        last = k == len(durs) - 1
        ov = 0.0 if last else min(float(rng.uniform(0.6, 1.2)), 0.3 * d, 0.3 * durs[k + 1])
        n_prev_ov = int(round(prev_ov * rate_hz)) + 1 if k else 0
        clip_s = d + ov
        if last:
            clip_s = chain.last_clip_s(n_prev_ov)
        while True:
            spec = random_spec(rng, base=None)
            if base in _bases_of(spec.action.kind):
                break
        spec = MotionSpec(random_spec(rng, kind=spec.action.kind, base=base).action, base, speed if base == "walking" else 0.0)
        local, root, p, hand_imp = render_spec(spec, clip_s, rng, shape, rate_hz, style)
        chain.add(local, root, p.impacts, hand_imp, n_prev_ov, 0 if last else int(round(ov * rate_hz)) + 1)
        start = t0 if k == 0 else t0 + 0.5 * prev_ov
        t0 += d
        end = t0 + 0.5 * ov if not last else chain.end_s
        caps = captions_for(spec, rng)
        labels.append(LabelSegment(label_for(spec), float(start), float(end), captions=tuple(caps)))
        vp, _ = action_phrases(spec.action, rng)[0]
        preds.append(vp if base != "walking" else f"{vp} while walking")
        prev_ov = ov
    sk, pos, quat = chain.body_positions(shape)
    return BodyMotion(skeleton=sk, rate_hz=rate_hz, pos_m=pos, quat_wxyz=quat, labels=labels, captions=_story(preds, rng),
                      source="compositional:sequence")


def _bases_of(kind: str) -> tuple[str, ...]:
    from anymo.motion.compositional.spec import _ALLOWED

    return _ALLOWED[kind][1]
