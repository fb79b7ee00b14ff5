"""Captions of simulated windows: from the label segments' own captions, else parameter-free activity phrases.

A window's caption is one caption of its majority activity, drawn at random - from the captions of its
label segment in the window when the segment has its own (procedural sequences: they tell the speed,
hand, ... that step was done with), else its parameter-free phrases; when another activity covers at
least ``TRANSITION_CAPTION_FRAC`` of the window the caption says so ("..., then sitting down").
"""

from __future__ import annotations

import math
import re

import numpy as np

from anymo.data.recording import LabelSegment
from anymo.motion.base import BodyMotion

TRANSITION_CAPTION_FRAC = 0.3


_PHRASE_DEFAULTS = {"arm_obj": "one arm", "shoulders": "the shoulders"}


def phrase_without_params(template: str) -> str:
    """An activity phrase template with its parameter slots dropped: a comma clause holding a slot
    goes ("..., toothbrush {held}"), object slots get a neutral noun ("{arm_obj}" -> "one arm"), other
    slots (speed, tempo, hand, ...) vanish - so the phrase claims nothing the window may not show.
    A phrase whose slot is the object of a preposition ("in {pendulum}") cannot lose it: ""."""
    template = re.sub(r"\bthe \{side\} (leg|arm|hand|foot)\b", r"one \1", template)  # "the {side} leg" -> "one leg"
    if re.search(r"\b(in|with|about|at|of|for|by|to)\s+\{(?!(?:%s)\})" % "|".join(_PHRASE_DEFAULTS), template):
        return ""  # the slot is the object of a preposition: the phrase needs it
    text = re.sub(r",[^,{]*\{(?!(?:%s)\})[^}]*\}[^,]*" % "|".join(_PHRASE_DEFAULTS), "", template)
    for k, v in _PHRASE_DEFAULTS.items():
        text = text.replace("{" + k + "}", v)
    text = re.sub(r"\{[^}]*\}", "", text)
    return re.sub(r"\s+([,;])", r"\1", re.sub(r"\s+", " ", text)).strip(" ,;")


def _activity_id(activity: str) -> str | None:
    """The procedural activity given by id or by its plain-language text; None for one the library does not know."""
    from anymo.motion.procedural import ACTIVITIES, activity_text

    if activity in ACTIVITIES:
        return activity
    return {activity_text(a): a for a in ACTIVITIES}.get(activity)


def activity_captions(activity: str) -> list[str]:
    """Captions of a procedural activity given by id or plain-language text, built from its phrases
    (without parameters) and the shared subjects; [] for activities the library does not know."""
    from anymo.motion.procedural import activity_text
    from anymo.motion.procedural.activities import spec
    from anymo.motion.procedural.captions import SUBJECTS

    act = _activity_id(activity)
    if act is None:
        return []
    phrases = list(dict.fromkeys(p for p in (phrase_without_params(t) for t in spec(act).phrases) if p))
    caps = [f"{SUBJECTS[i % len(SUBJECTS)]} {ph}." for i, ph in enumerate(phrases)]
    caps.append(f"{SUBJECTS[len(phrases) % len(SUBJECTS)]}: {activity_text(act)}.")
    return [c[0].upper() + c[1:] for c in caps]


def _captioned_segments(motion: BodyMotion, activity: str, window_s: tuple[float, float] | None) -> list[LabelSegment]:
    """The ``activity`` label segments that have own captions: those overlapping the window, largest
    overlap first (ties: earliest first); without a window all of them in label order."""
    segs = [s for s in motion.labels if s.activity == activity and s.captions]
    if window_s is None:
        return segs
    t0, t1 = window_s

    def overlap_s(seg: LabelSegment) -> float:
        return min(seg.end_s, t1) - max(seg.start_s, t0)

    return sorted((s for s in segs if overlap_s(s) > 0), key=lambda s: -overlap_s(s))


def segment_captions(motion: BodyMotion, activity: str, window_s: tuple[float, float] | None = None) -> list[str]:
    """Captions of one labelled activity of ``motion`` (in the window ``window_s`` = (t0, t1) when given).

    In order of preference: the own captions of the ``activity`` label segment overlapping the window
    most (they carry the speed, hand, ... that stretch was done with); the motion's captions when it
    holds only that activity; `activity_captions` (the phrases without parameters).
    """
    segs = _captioned_segments(motion, activity, window_s)
    if segs and (window_s is not None or len(segs) == 1):
        return list(segs[0].captions)
    if len({seg.activity for seg in motion.labels}) <= 1 and motion.captions:
        return list(motion.captions)
    return activity_captions(activity) or [f"A person: {activity}."]


def activity_predicate(activity: str) -> str:
    """A short verb phrase for an activity ("walks", "sits down on a chair"), for transition captions."""
    try:
        from anymo.motion.procedural.activities import spec
    except ImportError:
        return f"is {activity}"
    act = _activity_id(activity)
    if act is not None:
        for t in spec(act).phrases:
            if phrase := phrase_without_params(t):
                return phrase
    return f"is {activity}"


def window_caption(rng: np.random.Generator, motion: BodyMotion, cover: list[tuple[str, float]],
                   window_s: tuple[float, float] | None = None) -> str:
    """One caption of the majority activity (see `segment_captions`); when another activity covers at
    least ``TRANSITION_CAPTION_FRAC`` of the window, a caption telling both in the order they happen in
    the window instead, each from its segment's shortest own caption when it has one, else its
    parameter-free phrase ("A person walks briskly, then sits down on a chair.")."""
    main = cover[0][0]
    caps = segment_captions(motion, main, window_s)
    caption = caps[int(rng.integers(len(caps)))]
    if len(cover) > 1 and cover[1][1] >= TRANSITION_CAPTION_FRAC:
        first, second = sorted((main, cover[1][0]), key=lambda a: _start_in(motion.labels, a, window_s))
        # the segments' own captions carry the hand, arms, speed ("walks briskly", not "walks" twice)
        p1, p2 = (_own_predicate(motion, a, window_s) or activity_predicate(a) for a in (first, second))
        caption = f"A person {p1}, then {p2}."
    return caption


def _start_in(labels: list[LabelSegment], activity: str, window_s: tuple[float, float] | None) -> float:
    """When ``activity`` starts within the window (its earliest overlapping segment; the whole motion without a window)."""
    t0, t1 = window_s if window_s is not None else (-math.inf, math.inf)
    starts = [max(s.start_s, t0) for s in labels if s.activity == activity and min(s.end_s, t1) > max(s.start_s, t0)]
    return min(starts, default=min((s.start_s for s in labels if s.activity == activity), default=math.inf))


def _own_predicate(motion: BodyMotion, activity: str, window_s: tuple[float, float] | None) -> str | None:
    """The shortest own caption of the activity's segment in the window, without its subject ("walks briskly"),
    or None when it has no caption that starts with a known subject."""
    from anymo.motion.procedural.captions import GENDERED, SUBJECTS

    subjects = SUBJECTS + tuple(s for s, _ in GENDERED.values())
    segs = _captioned_segments(motion, activity, window_s)
    preds = []
    for cap in segs[0].captions if segs else ():
        low = cap.rstrip(".").strip()
        for subj in subjects:
            if low.lower().startswith(subj + " "):
                preds.append(low[len(subj) + 1 :].strip())
                break
    return min(preds, key=len) if preds else None
