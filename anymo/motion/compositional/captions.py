"""Captions of compositional motions, written from the `MotionSpec` fields only (so each one is true).

Each arm action gives several verb phrases ("draws a circle clockwise in front of the body with the
right hand") with their gerunds ("drawing a circle ..."); the base adds "while standing", "sits and
...", "walks briskly while ...". Directions of the traces are named as `render` draws them: front
plane as the person sees it, overhead as seen from above, at the side "forward"/"backward".
"""

from __future__ import annotations

import re

import numpy as np

from anymo.motion.compositional.spec import ArmAction, MotionSpec
from anymo.motion.procedural.captions import SUBJECTS

_PLANE = {"front": ("in front of the body", "in the air in front of them", "in front of the chest"),
          "overhead": ("above the head", "overhead", "in the air above the head"),
          "side": ("at the side of the body", "out to the side", "beside the body")}
_SWIPE = {"left": "to the left", "right": "to the right", "up": "upwards", "down": "downwards",
          "forward": "forward, away from the body", "back": "back towards the body"}
_HEIGHT = {"knee": "down to knee height", "waist": "to waist height", "chest": "to chest height",
           "head": "to head height", "overhead": "up above the head"}
_SCRATCH = {"head": "the head", "neck": "the back of the neck", "other forearm": "the other forearm"}


def _hand(a: ArmAction, rng: np.random.Generator) -> str:
    if a.hand == "both":
        return str(rng.choice(["with both hands", "using both hands", "with both hands at once"]))
    return str(rng.choice([f"with the {a.hand} hand", f"using the {a.hand} hand", f"with the {a.hand} arm"]))


def _tempo(a: ArmAction) -> str:
    ref = {"trace": 1.0, "swipe": 0.75, "wave": 2.2, "tap": 3.5, "scratch": 4.0}.get(a.kind)
    if ref is None:
        return ""
    r = a.tempo_hz / ref
    return "slowly" if r < 0.75 else "quickly" if r > 1.3 else ""


def _direction(a: ArmAction) -> str:
    if a.clockwise is None:
        return ""
    if a.plane == "side":
        return "forward" if a.clockwise else "backward"
    if a.plane == "overhead":
        return "clockwise as seen from above" if a.clockwise else "counter-clockwise as seen from above"
    return "clockwise" if a.clockwise else "counter-clockwise"


def _shape_noun(a: ArmAction) -> str:
    size = {"small": "small ", "large": "large ", "medium": ""}[a.size]
    if a.shape.startswith("letter"):
        return f"the {a.shape}"
    art = "an" if (size or a.shape)[0] in "aeiou" else "a"
    return f"{art} {size}{a.shape}"


def action_phrases(a: ArmAction, rng: np.random.Generator) -> list[tuple[str, str]]:
    """(verb phrase, gerund phrase) pairs describing the arm action."""
    hand, tempo = _hand(a, rng), _tempo(a)
    if a.kind == "trace":
        plane = [str(x) for x in rng.permutation(_PLANE[a.plane])]
        shape, d = _shape_noun(a), _direction(a)
        if a.shape.startswith("letter"):
            plane = [x.replace("in the air ", "") for x in plane]
            out = [(f"writes {shape} in the air {plane[0]} {hand}", f"writing {shape} in the air {plane[0]} {hand}"),
                   (f"draws {shape} {tempo} {plane[1]} {hand}", f"drawing {shape} {tempo} {plane[1]} {hand}"),
                   (f"traces {shape} in the air {hand}", f"tracing {shape} in the air {hand}")]
        elif a.shape == "line":
            out = [(f"moves the hand back and forth along a straight line {plane[0]} {hand}", f"moving the hand back and forth in a line {plane[0]} {hand}"),
                   (f"draws {shape} {plane[1]} {hand}, back and forth {tempo}", f"drawing {shape} {plane[1]} {hand}")]
        else:
            out = [(f"draws {shape} {d} {plane[0]} {hand}", f"drawing {shape} {d} {plane[0]} {hand}"),
                   (f"traces {shape} {plane[1]} {tempo} {hand}, {d}" if d else f"traces {shape} {plane[1]} {tempo} {hand}",
                    f"tracing {shape} {plane[1]} {hand}"),
                   (f"moves {hand.replace('with ', '').replace('using ', '')} in {shape} {d} {plane[2]}",
                    f"moving {hand.replace('with ', '').replace('using ', '')} in {shape} {d} {plane[2]}")]
    elif a.kind == "swipe":
        d = _SWIPE[a.direction]
        if a.direction == "forward":
            out = [(f"pushes the hand forward, away from the body {hand}", f"pushing forward {hand}"),
                   (f"makes pushing strokes {tempo} {hand}", f"making pushing strokes {hand}")]
        elif a.direction == "back":
            out = [(f"pulls the hand back towards the body {hand}", f"pulling the hand back towards the body {hand}"),
                   (f"makes pulling strokes towards the chest {hand}", f"making pulling strokes {hand}")]
        else:
            out = [(f"swipes {d} {hand}", f"swiping {d} {hand}"), (f"makes swiping gestures {d} {tempo} {hand}", f"making swiping gestures {d} {hand}"),
                   (f"sweeps the hand {d} in the air {hand}", f"sweeping the hand {d} {hand}")]
    elif a.kind == "reach":
        h = _HEIGHT[a.height]
        d = "forward" if a.direction == "forward" else "out to the side"
        out = [(f"reaches {d} {h} {hand}", f"reaching {d} {h} {hand}"),
               (f"stretches {'both arms' if a.hand == 'both' else 'the ' + a.hand + ' arm'} {d} {h} and back again",
                f"stretching {d} {h} {hand}"),
               (f"repeatedly reaches {h} {hand}", f"reaching {h} {hand}")]
    elif a.kind == "knock":
        out = [(f"knocks on a door {hand}", f"knocking on a door {hand}"), (f"raps the knuckles on a door in front {hand}", f"rapping on a door {hand}"),
               (f"knocks a few times, pauses and knocks again {hand}", f"knocking {hand}")]
    elif a.kind == "tap":
        out = [(f"taps on a table {tempo} {hand}", f"tapping on a table {hand}"), (f"drums on the table top {hand}", f"drumming on the table {hand}"),
               (f"taps the hand rhythmically on a surface {hand}", f"tapping rhythmically {hand}")]
    elif a.kind == "scratch":
        spot = _SCRATCH[a.spot]
        out = [(f"scratches {spot} {hand}", f"scratching {spot} {hand}"), (f"rubs and scratches {spot} {hand}", f"scratching {spot} {hand}")]
    elif a.kind == "throw":
        st = "overarm" if a.style == "overarm" else "underarm"
        out = [(f"throws a ball {st} {hand}", f"throwing a ball {st} {hand}"),
               (f"makes {st} throws {hand}", f"making {st} throws {hand}"),
               (f"winds up and tosses a ball {st} {hand}" if st == "underarm" else f"winds up behind the head and throws {hand}",
                f"tossing a ball {st} {hand}")]
    elif a.kind == "catch":
        where = "above the waist, hands up" if a.style == "overarm" else "low, palms up"
        st = "overhand" if a.style == "overarm" else "underhand"
        out = [(f"catches a ball {st} {hand}", f"catching a ball {st} {hand}"),
               (f"catches balls {where}, {hand}", f"catching balls {where}, {hand}"),
               (f"reaches out and catches a ball {hand}, giving with it", f"catching a ball {hand}")]
    else:  # wave
        out = [(f"waves {tempo} {hand}", f"waving {hand}"), (f"waves hello {hand}", f"waving hello {hand}"),
               (f"raises the hand and waves {hand}", f"waving {hand}")]
    return [(_clean(v), _clean(g)) for v, g in out]


def _clean(text: str) -> str:
    return re.sub(r"\s+([,.])", r"\1", re.sub(r"\s+", " ", text)).strip(" ,")


def _walk_speed(v: float) -> str:
    return "slowly" if v < 1.0 else "briskly" if v > 1.5 else ""


def captions_for(spec: MotionSpec, rng: np.random.Generator) -> list[str]:
    """At least three captions, each with a different subject and phrasing, all true to ``spec``."""
    pairs = action_phrases(spec.action, rng)
    start = int(rng.integers(len(SUBJECTS)))
    out = []
    for k, (vp, gp) in enumerate(pairs + pairs[:max(0, 3 - len(pairs))]):
        subj = SUBJECTS[(start + k) % len(SUBJECTS)]
        if spec.base == "walking":
            speed = _walk_speed(spec.walk_speed_mps)
            body = [f"walks {speed} while {gp}", f"{vp} while walking {speed}", f"is walking {speed} and {vp}"][k % 3]
        elif spec.base == "sitting":
            body = [f"sits and {vp}", f"{vp} while seated", f"is sitting on a chair and {vp}"][k % 3]
        else:
            body = [f"{vp}", f"{vp} while standing", f"stands and {vp}"][k % 3]
        sent = _clean(f"{subj} {body}") + "."
        out.append(sent[0].upper() + sent[1:])
    return out


def label_for(spec: MotionSpec) -> str:
    """A short plain-language label of the motion ("drawing a circle", "walking while waving")."""
    a = spec.action
    core = {
        "trace": f"drawing {'the ' + a.shape if a.shape and a.shape.startswith('letter') else 'a ' + str(a.shape)} in the air",
        "swipe": {"forward": "pushing forward", "back": "pulling back"}.get(a.direction or "", f"swiping {_SWIPE.get(a.direction or '', '')}"),
        "reach": f"reaching {_HEIGHT.get(a.height or '', '')}",
        "knock": "knocking on a door", "tap": "tapping on a table", "scratch": f"scratching {_SCRATCH.get(a.spot or '', '')}",
        "throw": f"throwing {a.style}", "catch": f"catching {'overhand' if a.style == 'overarm' else 'underhand'}", "wave": "waving",
    }[a.kind]
    return f"walking while {core}" if spec.base == "walking" else core
