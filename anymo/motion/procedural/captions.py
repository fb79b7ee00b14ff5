"""Natural-language captions written from the sampled parameters (speed, hand, tempo, ...)."""

from __future__ import annotations

import re

import numpy as np

from anymo.motion.procedural.activities import ActivitySpec
from anymo.motion.procedural.params import ActivityParams

SUBJECTS = ("a person", "someone", "the subject", "the participant", "an individual")
GENDERED = {"female": ("a woman", "she"), "male": ("a man", "he")}


def speed_words(spec: ActivitySpec, p: ActivityParams, rng: np.random.Generator) -> str:
    """Adverb for the actual speed: walking < 1.0 m/s slowly, > 1.5 briskly; running < 2.8 easy, > 4 fast."""
    v = p.speed_mps
    if p.in_place:
        return str(rng.choice(["slowly", "lightly", "steadily"]))
    if spec.render.__name__ == "walking":
        if v < 1.0:
            return str(rng.choice(["slowly", "at a slow pace", "leisurely"]))
        if v <= 1.5:
            return str(rng.choice(["at a normal pace", "at a comfortable pace", "at an ordinary speed"]))
        return str(rng.choice(["briskly", "quickly", "at a brisk pace"]))
    if spec.render.__name__ == "running":
        if v < 2.8:
            return str(rng.choice(["slowly", "at an easy pace", "gently"]))
        if v <= 4.0:
            return str(rng.choice(["at a steady pace", "at a moderate pace"]))
        return str(rng.choice(["fast", "at high speed", "quickly"]))
    if spec.render.__name__ == "cycling":
        return "slowly" if v < 5.0 else str(rng.choice(["briskly", "at a good speed"]))
    return ""


def tempo_words(spec: ActivitySpec, p: ActivityParams, rng: np.random.Generator) -> str:
    if not (spec.tempo_ref_hz and p.tempo_hz):
        return ""
    r = p.tempo_hz / spec.tempo_ref_hz
    if r < 0.85:
        return str(rng.choice(["slowly", "at a slow tempo", "in a relaxed rhythm"]))
    if r > 1.15:
        return str(rng.choice(["quickly", "at a fast tempo", "briskly"]))
    return str(rng.choice(["steadily", "at a steady rhythm", "at a moderate tempo"]))


def arm_words(p: ActivityParams, rng: np.random.Generator) -> str:
    a = p.arm_swing_deg
    if not a:
        return ""
    if a >= 35:
        return str(rng.choice([", swinging both arms", ", with a big arm swing", ", arms swinging widely"]))
    if a < 15:
        return str(rng.choice([", with little arm swing", ", arms nearly still"]))
    return str(rng.choice([", arms swinging gently", ", arms swinging naturally"]))


def hand_words(p: ActivityParams, rng: np.random.Generator) -> str:
    return str(rng.choice([f"with the {p.hand} hand", f"using the {p.hand} hand", f"with the {p.hand} hand"]))


def predicate(spec: ActivitySpec, p: ActivityParams, rng: np.random.Generator, template: str) -> str:
    """Fill one phrasing's slots from the parameters."""
    idle = bool(p.extra.get("idle_hands"))
    slots = {
        "speed": speed_words(spec, p, rng),
        "tempo": tempo_words(spec, p, rng),
        "arms": arm_words(p, rng),
        "hand": hand_words(p, rng),
        "held": f"in the {p.hand} hand",
        "shoulders": "both shoulders" if p.both_hands else f"the {p.hand} shoulder",
        "side": p.hand,
        "hands": "with both hands" if p.both_hands else hand_words(p, rng),
        "arm_obj": "both arms" if p.both_hands else f"the {p.hand} arm",
        "place": "in place" if p.in_place else str(rng.choice(["forward", "along a path", "down the street"])),
        "posture": {"sitting": " while seated", "standing": " while standing"}.get(p.extra.get("posture", ""), ""),
        "cadence": f"{p.cadence_spm:.0f}",
        "stroke": p.extra.get("stroke", "strokes"),
        "pendulum": p.extra.get("pendulum", "circles"),
        # standing with or without idle hand movements (postures.idle_hand_movements)
        "still": "" if idle else " still",
        "quietly": "" if idle else " quietly",
        "arms_hanging": "" if idle else " with the arms hanging at the sides",
        "idle": str(rng.choice([", moving the hands now and then", ", now and then touching the face or clothes",
                                ", making small hand movements from time to time"])) if idle else "",
    }
    text = template.format(**slots)
    return re.sub(r"\s+", " ", text).replace(" ,", ",").strip()


def subject(p: ActivityParams, rng: np.random.Generator, k: int) -> str:
    if p.shape.sex in GENDERED and k % 4 == 3:
        return GENDERED[p.shape.sex][0]
    return SUBJECTS[k % len(SUBJECTS)]


def make_captions(spec: ActivitySpec, p: ActivityParams, rng: np.random.Generator) -> list[str]:
    """One caption per phrasing (>= 3), each with a different subject."""
    start = int(rng.integers(len(SUBJECTS)))
    out = []
    for k, tpl in enumerate(spec.phrases):
        sent = f"{subject(p, rng, start + k)} {predicate(spec, p, rng, tpl)}."
        out.append(sent[0].upper() + sent[1:])
    return out
