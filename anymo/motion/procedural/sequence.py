"""Longer recordings: activities chained with smooth blends and the posture transitions they need.

At each boundary the two clips overlap for 0.5-1.5 s: local joint rotations are slerped with a
quintic smooth-step weight along a path continuous in time (`slerp_over_time`), the next clip is
turned and moved to continue the previous heading and position, and the root velocity (not the
position) is blended, so the root stays continuous in position and velocity. A lying activity is
preceded by lying down, a seated one by sitting down, ...
"""

from __future__ import annotations

import numpy as np

from anymo.body.skeleton import BodyShape, make_skeleton
from anymo.data.recording import LabelSegment
from anymo.geometry.rotations import quat_conj, quat_from_axis_angle, quat_from_rotvec, quat_make_continuous, quat_mul, quat_rotate
from anymo.motion.base import BodyMotion
from anymo.motion.procedural.activities import ACTIVITIES, STAND, TRANSITIONS, spec
from anymo.motion.procedural.captions import SUBJECTS, make_captions, predicate
from anymo.motion.procedural.generate import _check, render_clip
from anymo.motion.procedural.impacts import HandImpacts, Impacts, add_hand_impacts, add_impacts
from anymo.motion.procedural.params import random_body_shape, random_style
from anymo.motion.procedural.pose import fast_fk
from anymo.motion.procedural.signals import smoothstep

TRANSITION_S = {"stand_to_sit": (3.0, 4.5), "sit_to_stand": (3.0, 4.5), "lying_down": (8.0, 11.0), "getting_up": (8.0, 11.0)}


def plan_sequence(activities: list[str], start_posture: str = STAND) -> list[tuple[str, str]]:
    """(activity, posture) steps with the needed transitions inserted between incompatible postures."""
    plan: list[tuple[str, str]] = []
    cur = start_posture
    for a in activities:
        sp = spec(a)
        need = sp.start_posture(cur if cur in sp.postures else None)
        if need != cur:
            for tr in TRANSITIONS[(cur, need)]:
                plan.append((tr, spec(tr).end))
        posture = need if sp.start is None else sp.end
        plan.append((a, posture))
        cur = sp.end_posture(need)
    return plan


def _twist_z(q: np.ndarray) -> float:
    """Angle (rad) of the rotation's twist about the world z axis."""
    return float(2.0 * np.arctan2(q[3], q[0]))


def slerp_over_time(q0: np.ndarray, q1: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Slerp [T, J, 4] from ``q0`` to ``q1`` with weights ``w`` [T], continuous in time.

    A per-frame "short way round" (`quat_slerp`) jumps to the other way when the two rotations drift
    past 180 deg apart during the overlap: one frame turns the blended joint the other way round
    (a 55 deg step of the upper arm between sitting down and throwing). Here the relative rotation
    keeps one hemisphere over the whole overlap (the one it mostly lies in), so the path stays
    continuous and is the short one wherever the two are less than 180 deg apart.
    """
    rel = quat_make_continuous(quat_mul(quat_conj(q0), q1), axis=0)  # [T, J, 4]
    rel = rel * np.where(rel[..., 0].sum(axis=0) < 0, -1.0, 1.0)[None, :, None]
    s = np.linalg.norm(rel[..., 1:], axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, rel[..., :1])  # 0..2 pi, continuous along the hemisphere we keep
    rotvec = np.where(s > 1e-12, angle / np.maximum(s, 1e-12), 2.0) * rel[..., 1:]
    return quat_mul(q0, quat_from_rotvec(np.asarray(w, dtype=np.float64)[:, None, None] * rotvec))


def _blend(out_local, out_root, local, root, n_overlap: int):
    """Blend a new clip into the last one over ``n_overlap`` frames.

    Returns the finished frames of the last clip (before the overlap) and the new clip, turned,
    moved and blended, which becomes the last clip.
    """
    a = out_local.shape[0] - n_overlap
    # turn the new clip about z so its first pelvis heading continues the old one
    rel = quat_mul(out_local[a, 0], quat_conj(local[0, 0]))
    yaw = _twist_z(rel / np.linalg.norm(rel))
    qz = quat_from_axis_angle(np.array([0.0, 0.0, 1.0]), yaw)
    local = local.copy()
    local[:, 0] = quat_mul(qz, local[:, 0])
    xy = quat_rotate(qz, np.concatenate([root[:, :2], np.zeros((len(root), 1))], axis=1))[:, :2]
    w = smoothstep(np.linspace(0.0, 1.0, n_overlap))
    q_blend = slerp_over_time(out_local[a:], local[:n_overlap], w)
    z_blend = (1 - w) * out_root[a:, 2] + w * root[:n_overlap, 2]
    v_prev = np.gradient(out_root[:, :2], axis=0)[a:]
    v_next = np.gradient(xy, axis=0)[:n_overlap]
    v = (1 - w)[:, None] * v_prev + w[:, None] * v_next
    xy_blend = out_root[a, :2] + np.concatenate([[[0.0, 0.0]], np.cumsum(0.5 * (v[1:] + v[:-1]), axis=0)])
    xy_rest = xy[n_overlap:] - xy[n_overlap - 1] + xy_blend[-1]
    new_local = np.concatenate([q_blend, local[n_overlap:]], axis=0)
    new_root = np.concatenate([
        np.concatenate([xy_blend, z_blend[:, None]], axis=1),
        np.concatenate([xy_rest, root[n_overlap:, 2:]], axis=1),
    ])  # fmt: skip
    return (out_local[:a], out_root[:a]), (new_local, new_root)


class ClipChain:
    """Clips joined one after another into one motion of ``n_total`` frames, each blended into the one
    before over an overlap (`_blend`), with each clip's foot and hand impacts weighted like its pose."""

    def __init__(self, n_total: int, rate_hz: float) -> None:
        self.n_total, self.rate_hz = n_total, rate_hz
        self.done: list[tuple[np.ndarray, np.ndarray]] = []
        self.cur: tuple[np.ndarray, np.ndarray] | None = None
        self.n_done = 0
        self.feet: list[Impacts] = []
        self.hands: list[HandImpacts] = []

    def last_clip_s(self, n_head: int) -> float:
        """Length of a last clip that blends in over ``n_head`` frames and ends exactly at ``n_total`` frames."""
        return (self.n_total - self.n_done - (len(self.cur[0]) if self.cur else 0) + n_head - 1) / self.rate_hz

    def add(self, local: np.ndarray, root: np.ndarray, feet: Impacts, hands: HandImpacts, n_head: int, n_tail: int) -> None:
        """Append a clip blended in over its first ``n_head`` frames (its last ``n_tail`` blend into the next)."""
        start_frame = self.n_done + len(self.cur[0]) - n_head if self.cur is not None else 0
        self.feet.append(_blended_impacts(feet, start_frame, len(local), n_head, n_tail, self.rate_hz))
        self.hands.append(_blended_hand_impacts(hands, start_frame, len(local), n_head, n_tail, self.rate_hz))
        if self.cur is None:
            self.cur = (local, root)
        else:
            head, self.cur = _blend(self.cur[0], self.cur[1], local, root, n_head)
            self.done.append(head)
            self.n_done += len(head[0])

    @property
    def end_s(self) -> float:
        """Time of the last frame so far."""
        return (self.n_done + len(self.cur[0]) - 1) / self.rate_hz

    def body_positions(self, shape: BodyShape):
        """The skeleton, and segment positions (impacts added) and orientations of the joined motion."""
        done = self.done + [self.cur]
        local = quat_make_continuous(np.concatenate([d[0] for d in done]), axis=0)
        root = np.concatenate([d[1] for d in done])
        sk = make_skeleton(shape)
        pos, quat = fast_fk(sk, root, local)
        pos = add_impacts(pos, Impacts.concat(self.feet), self.rate_hz)
        hands = [h for h in self.hands if len(h)]
        if hands:
            pos = add_hand_impacts(pos, HandImpacts(*(np.concatenate([getattr(h, f) for h in hands]) for f in
                                                      ("t_s", "side", "peak_mps2", "freq_hz", "zeta", "direction"))), self.rate_hz)
        return sk, pos, quat


MIN_STEP_S = {"stand_to_sit": 2.5, "sit_to_stand": 2.5, "lying_down": 6.0, "getting_up": 6.0}


def _fit_to_duration(plan: list, durs: list[float], duration_s: float) -> tuple[list, list[float]]:
    """Keep the steps that fit into ``duration_s``; the last one takes exactly the time left.

    A last step too short to show its activity (a transition needs its movement time) is dropped
    and the step before it lasts longer instead.
    """
    plan, durs = list(plan), list(durs)
    cum = np.cumsum(durs)
    keep = min(int(np.searchsorted(cum, duration_s)) + 1, len(plan))
    plan, durs = plan[:keep], durs[:keep]
    while True:
        before = float(sum(durs[:-1]))
        durs[-1] = duration_s - before
        if len(plan) == 1 or durs[-1] >= MIN_STEP_S.get(plan[-1][0], 1.5):
            return plan, durs
        plan, durs = plan[:-1], durs[:-1]


def generate_sequence(activities: list[str] | None, duration_s: float, rng: np.random.Generator, *,
                      shape: BodyShape | None = None, rate_hz: float = 120.0,
                      segment_s: tuple[float, float] = (5.0, 20.0)) -> BodyMotion:
    """One person doing ``activities`` in order (None: random ones) for ``duration_s`` in total.

    Transitions are inserted where postures differ (e.g. "lying" after "walking" gets "lying_down"
    first), each step gets its own `LabelSegment` carrying that step's captions (its sampled speed,
    hand, ...), and the motion's captions tell the whole story in order.
    """
    _check(duration_s, rate_hz)
    if not (0 < segment_s[0] <= segment_s[1]):
        raise ValueError(f"segment_s must be (shortest, longest) seconds with 0 < shortest <= longest, got {segment_s}")
    shape = shape or random_body_shape(rng)
    style = random_style(rng)
    hand = "right" if rng.random() < 0.85 else "left"
    if activities is None:
        pool = [a for a in ACTIVITIES if spec(a).kind != "transition"]
        chosen: list[str] = []
        while len(chosen) * segment_s[0] < duration_s:
            chosen.append(str(rng.choice(pool)))
        plan = plan_sequence(chosen, STAND)
        durs = [rng.uniform(*TRANSITION_S[a]) if a in TRANSITION_S else rng.uniform(*segment_s) for a, _ in plan]
        plan, durs = _fit_to_duration(plan, durs, duration_s)
    else:
        if len(activities) == 0:
            raise ValueError("activities must name at least one activity (or be None for a random sequence)")
        for a in activities:
            spec(a)
        plan = plan_sequence(list(activities), spec(activities[0]).start_posture())
        fixed = [rng.uniform(*TRANSITION_S[a]) if a in TRANSITION_S else None for a, _ in plan]
        n_free = sum(d is None for d in fixed)
        share = (duration_s - sum(d for d in fixed if d is not None)) / max(n_free, 1)
        if share < 2.0:
            need = sum(d for d in fixed if d is not None) + 2.0 * n_free
            raise ValueError(f"{duration_s} s is too short for {[a for a, _ in plan]} (with the transitions they need); "
                             f"give at least {need:.0f} s or fewer activities")
        durs = [d if d is not None else share for d in fixed]
        durs[-1] = duration_s - sum(durs[:-1])
    # each overlap fits in both clips it joins (at most 40 % of either)
    overlaps = [min(float(rng.uniform(0.5, 1.5)), 0.4 * d, 0.4 * d_next) for d, d_next in zip(durs, durs[1:] + [np.inf])]
    chain = ClipChain(int(round(duration_s * rate_hz)) + 1, rate_hz)
    labels, preds = [], []
    t0, prev_ov = 0.0, 0.0
    for k, ((act, posture), d) in enumerate(zip(plan, durs)):
        last = k == len(plan) - 1
        ov = 0.0 if last else overlaps[k]
        n_prev_ov = int(round(prev_ov * rate_hz)) + 1 if k else 0
        clip_s = d + ov
        if last:  # exactly the frames still missing
            clip_s = chain.last_clip_s(n_prev_ov)
        posture_arg = posture if posture in spec(act).postures and len(spec(act).postures) > 1 else None
        local, root, p = render_clip(act, clip_s, rng, shape=shape, rate_hz=rate_hz, posture=posture_arg,
                                     style=style, hand=hand)
        chain.add(local, root, p.impacts, p.hand_impacts, n_prev_ov, 0 if last else int(round(ov * rate_hz)) + 1)
        start = t0 if k == 0 else t0 + 0.5 * prev_ov
        t0 += d
        end = t0 + 0.5 * ov if not last else chain.end_s
        preds.append(predicate(spec(act), p, rng, spec(act).phrases[int(rng.integers(len(spec(act).phrases)))]))
        # this step's own captions, written from the parameters it was rendered with (speed, hand, ...)
        labels.append(LabelSegment(spec(act).text, float(start), float(end), captions=tuple(make_captions(spec(act), p, rng))))
        prev_ov = ov
    sk, pos, quat = chain.body_positions(shape)
    return BodyMotion(skeleton=sk, rate_hz=rate_hz, pos_m=pos, quat_wxyz=quat, labels=labels,
                      captions=_story(preds, rng), source="procedural:sequence")


def _blended_impacts(imp: Impacts, start_frame: int, n_frames: int, n_head: int, n_tail: int, rate_hz: float) -> Impacts:
    """A clip's foot contacts on the sequence's clock, each weighted like the clip's pose in the blends
    at its ends (``n_head`` / ``n_tail`` overlap frames, the smooth step of `_blend`)."""
    frame = imp.t_s * rate_hz
    w = np.ones_like(frame)
    if n_head > 1:
        w *= smoothstep(frame / (n_head - 1))
    if n_tail > 1:
        w *= 1.0 - smoothstep((frame - (n_frames - n_tail)) / (n_tail - 1))
    return imp.moved(start_frame / rate_hz, w)


def _blended_hand_impacts(imp: HandImpacts, start_frame: int, n_frames: int, n_head: int, n_tail: int, rate_hz: float) -> HandImpacts:
    """`_blended_impacts` for hand contacts."""
    if not len(imp):
        return imp
    feet = _blended_impacts(Impacts(imp.t_s, imp.side, imp.peak_mps2, imp.freq_hz, imp.zeta), start_frame, n_frames, n_head, n_tail, rate_hz)
    return HandImpacts(feet.t_s, imp.side, feet.peak_mps2, imp.freq_hz, imp.zeta, imp.direction)


def _story(preds: list[str], rng: np.random.Generator) -> list[str]:
    """Three captions telling the steps in order with different subjects and connectives."""
    subs = rng.permutation(len(SUBJECTS))[:3]
    out = []
    for k, (joiner, last_joiner) in enumerate(((", then ", " and then "), (", after that ", ", and finally "), ("; next ", "; at the end ")), ):
        if len(preds) == 1:
            body = preds[0]
        else:
            body = joiner.join(preds[:-1]) + last_joiner + preds[-1]
        sent = f"{SUBJECTS[subs[k]]} {body}."
        out.append(sent[0].upper() + sent[1:])
    return out

