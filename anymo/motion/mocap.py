"""Real motion capture with text as a motion source: the clips of ``<data>/mocap/index.csv``.

466 clips (179 CMU as BVH from two rigs and as ASF/AMC, 287 HDM05 as ASF/AMC), each with the
database's own description. This module turns them into training motion:

* `read_mocap_index` reads the index; `MocapClip.subject` is the CMU subject number / HDM05 actor;
  `mocap_split` puts every clip of the subjects in `HELDOUT_SUBJECTS` in "heldout" (for the
  model's synthetic retrieval/captioning checks), the rest in "train".
* `mocap_activity` gives a short plain-language label per clip ("walking", "dancing", ...);
  `mocap_captions` rewrites the clip's description into full sentences in the simulator's caption
  style, several phrasings ("A person walks and veers left.", "Someone walks, then curves to the
  left."). A clip that does several things ("jumping jacks, jog, squats, side twists, stretches")
  is captioned as a whole, in the order given - nothing is invented per segment.
* `mirror_motion` / `mirror_text`: the left-right mirror image of a motion, with its words mirrored
  ("left" <-> "right", "clockwise" <-> "counterclockwise").
* `MocapSource` loads clips (cleaned by the BVH/ASF readers: rest-pose lead-in dropped, flips
  removed, 8 Hz low-pass; kept per process and on disk, `disk_cache_dir`), retargets them to any
  body shape, mirrors them at random and strings
  clips into a motion of any length (each clip one labelled segment with its own captions, heading
  and position carried over, a short crossfade between clips), with heel-strike shocks at the foot
  strikes found in the kinematics (the 8 Hz low-pass removes what the markers saw of them).
  `MocapSource.summary()` counts what loads and why anything is skipped.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import re
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from anymo.body.skeleton import PARENTS, SEGMENT_INDEX, SEGMENTS, BodyShape, make_skeleton
from anymo.data.recording import STANDARD_GRAVITY_MPS2, LabelSegment
from anymo.geometry.rotations import (
    quat_conj,
    quat_from_axis_angle,
    quat_make_continuous,
    quat_mul,
    quat_normalize,
    quat_slerp,
)
from anymo.motion._resample import spline_positions, spline_quats, uniform_times_s
from anymo.motion.base import BodyMotion
from anymo.motion.procedural.captions import GENDERED
from anymo.motion.procedural.impacts import Impacts, add_impacts

MOCAP_FOLDER = "mocap"
SPLITS = ("train", "heldout", "all")
# Held out by subject: every activity of these people also appears, done by others, in "train"
# (walk: CMU 2, 5, 8, 16; run: 2, 16, 49; jumps: 16, 49; dance: 5, 49; the 11 HDM05 classes: 4 other
# actors), so the held-out clips test new people and takes, not new words. ~20 % of the clips.
HELDOUT_SUBJECTS: frozenset[str] = frozenset({"cmu:07", "cmu:09", "cmu:13", "cmu:55", "hdm05:tr"})
MIN_CLIP_S = 0.5  # shorter (after the lead-in) is skipped: too short to be a motion with a caption
STANDING_HEIGHT_RANGE_M = (1.4, 2.1)  # the source rig's standing height must be human
BLEND_S = 0.4  # crossfade between consecutive clips of a sequence
# Foot strikes found in the kinematics (heel-strike shocks are added there, see `foot_strike_impacts`):
# a foot's ankle is in swing above SWING_MPS (swing-phase foot speed peaks at ~2-3x walking speed) and
# lands when it drops below STANCE_MPS after at least MIN_SWING_S of swing; only during locomotion
# (pelvis over MIN_GAIT_SPEED_MPS), running above WALK_RUN_MPS (the preferred walk-run transition,
# ~2.0 m/s: Hreljac 1993, J Biomech 26:63). Two feet landing within BOTH_FEET_S: a two-footed landing.
SWING_MPS, STANCE_MPS, MIN_SWING_S = 1.0, 0.4, 0.1
MIN_GAIT_SPEED_MPS, WALK_RUN_MPS, BOTH_FEET_S = 0.5, 2.0, 0.06
_CACHE_CLIPS = 512  # cleaned clips kept per process (all 466 of the shared set: ~75 MB as float32)

_SUBJECTS = ("a person", "someone", "the subject", "the participant", "an individual")


# ---- the index -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MocapClip:
    """One row of ``mocap/index.csv`` (paths relative to the mocap folder)."""

    id: str
    dataset: str  # "CMU" or "HDM05"
    file: str
    skeleton: str  # the .asf of an AMC clip ("" for BVH)
    format: str  # "bvh" or "amc"
    rate_hz: float
    text: str
    label: str = ""  # HDM05 class (e.g. "squat1Reps"); "" for CMU

    @property
    def subject(self) -> str:
        """``cmu:NN`` (the CMU subject number) or ``hdm05:xx`` (the HDM05 actor)."""
        parts = self.id.split("_")
        return f"{parts[0].lower()}:{parts[1]}" if len(parts) > 2 else f"{self.dataset.lower()}:?"

    @property
    def activity(self) -> str:
        return mocap_activity(self.text)


def mocap_split(clip: MocapClip) -> str:
    """"heldout" for clips of `HELDOUT_SUBJECTS`, else "train"."""
    return "heldout" if clip.subject in HELDOUT_SUBJECTS else "train"


def mocap_dir(data_dir: str | Path) -> Path:
    """The mocap folder of a data directory (``<data>/mocap``), or the folder itself if it holds index.csv."""
    d = Path(data_dir)
    return d if (d / "index.csv").is_file() else d / MOCAP_FOLDER


def read_mocap_index(data_dir: str | Path) -> list[MocapClip]:
    """Every clip of ``<data>/mocap/index.csv`` in file order."""
    folder = mocap_dir(data_dir)
    index = folder / "index.csv"
    if not index.is_file():
        raise ValueError(f"no motion capture index at {index}; set the data directory (ANYMO_DATA) to the folder holding mocap/")
    out = []
    with index.open(newline="", encoding="utf-8") as f:
        for lineno, row in enumerate(csv.DictReader(f), 2):
            try:
                out.append(
                    MocapClip(
                        id=row["id"], dataset=row["dataset"], file=row["file"], skeleton=row.get("skeleton") or "",
                        format=row["format"].lower(), rate_hz=float(row.get("rate_hz") or 120.0), text=row["text"].strip(),
                        label=row.get("label") or "",
                    )
                )
            except (KeyError, ValueError, AttributeError) as e:
                raise ValueError(f"{index}:{lineno}: bad row ({e}); columns are id,dataset,license,source,file,skeleton,format,rate_hz,text,label") from e
    return out


# ---- words -----------------------------------------------------------------------------------------

# First matching rule gives the clip's activity label (lower-case description searched).
_ACTIVITY_RULES: tuple[tuple[str, str], ...] = (
    (r"static dance pose|dance|lindyhop|lambada", "dancing"),
    (r"basketball.*(shoot)", "dribbling and shooting a basketball"),
    (r"basketball.*dribble", "dribbling a basketball"),
    (r"throw a basketball", "throwing a basketball"),
    (r"soccer|kick ball", "kicking a ball"),
    (r"swordplay", "sword fighting"),
    (r"jumping jacks", "exercise routine"),
    (r"playground", "playing on a playground"),
    (r"punch", "punching"),
    (r"front kick", "kicking"),
    (r"squat", "squatting"),
    (r"elbow-to-knee", "elbow-to-knee crunches"),
    (r"arm circles|rotate both arms", "arm circles"),
    (r"lie down", "lying down"),
    (r"reach up high and grab|jump up to grab", "reaching up"),
    (r"put an object down", "putting something down"),
    (r"scoop up", "picking something up"),
    (r"wash self", "washing"),
    (r"sneak", "sneaking"),
    (r"balance on one leg", "balancing on one leg"),
    (r"\bhop", "hopping"),
    (r"jump|leap", "jumping"),
    (r"navigate", "walking"),
    (r"\bjog\b(?!.*\brun)", "jogging"),
    (r"\brun", "running"),
    (r"\bjog", "jogging"),
    (r"walk|stride", "walking"),
)

# Description part -> predicates (third person), one per phrasing; a caption cycles through them.
_PREDICATES: dict[str, tuple[str, ...]] = {
    "walk": ("walks", "walks forward", "is walking"),
    "walk forward": ("walks forward", "steps forward"),
    "slow walk": ("walks slowly", "walks at a slow pace", "strolls slowly"),
    "brisk walk": ("walks briskly", "walks at a brisk pace", "walks quickly"),
    "walk/stride": ("walks with long strides", "strides along", "walks, striding"),
    "slow walk/stride": ("walks slowly with long strides", "strides slowly", "walks slowly, striding"),
    "exaggerated stride": ("takes exaggerated strides", "strides exaggeratedly", "makes exaggerated strides"),
    "walk on uneven terrain": ("walks on uneven terrain", "walks over uneven ground", "walks across bumpy ground"),
    "veer left": ("veers left", "curves to the left", "bears left"),
    "veer right": ("veers right", "curves to the right", "bears right"),
    "90-degree left turn": ("turns 90 degrees to the left", "makes a sharp 90-degree turn to the left", "turns left by 90 degrees"),
    "90-degree right turn": ("turns 90 degrees to the right", "makes a sharp 90-degree turn to the right", "turns right by 90 degrees"),
    "90-degree left turns": ("makes 90-degree turns to the left", "makes quarter turns to the left"),
    "90-degree right turns": ("makes 90-degree turns to the right", "makes quarter turns to the right"),
    "stop": ("stops", "comes to a stop", "halts"),
    "sudden stop": ("stops suddenly", "comes to a sudden stop", "stops abruptly"),
    "run": ("runs", "runs forward", "is running"),
    "run/jog": ("runs", "jogs", "runs at a jog"),
    "jog": ("jogs", "does some jogging", "jogs"),
    "leap": ("leaps", "makes a leap", "leaps forward"),
    "jog four steps along a left-turning circle": (
        "jogs four steps along a circle to the left", "jogs a few steps, curving to the left", "jogs in a left-turning circle",
    ),
    "sneak two steps": ("sneaks two steps", "takes two sneaking steps", "creeps forward two steps"),
    "backward": ("walks backward", "steps backward"),
    "sideways": ("walks sideways", "side-steps", "steps sideways"),
    "jump": ("jumps", "does a jump", "jumps up"),
    "forward jump": ("jumps forward", "does a forward jump", "does a standing long jump"),
    "forward jumps": ("jumps forward several times", "does forward jumps", "makes a series of forward jumps"),
    "high jump": ("does a high jump", "jumps high", "leaps high"),
    "jump up and down": ("jumps up and down", "jumps on the spot", "bounces up and down"),
    "hop on one foot": ("hops on one foot", "hops on a single leg"),
    "hop once on both legs": ("hops once on both legs", "does a single two-footed hop", "jumps once with both feet"),
    "jump up to grab": ("jumps up to grab something", "jumps to reach something overhead"),
    "reach for": ("reaches for something", "stretches out to reach"),
    "reach up": ("reaches up", "stretches up", "reaches overhead"),
    "tiptoe": ("stands on tiptoe", "rises onto the toes", "goes up on tiptoe"),
    "turn around": ("turns around", "turns back"),
    "balance": ("balances", "holds the balance", "keeps the balance"),
    "jumping jacks": ("does jumping jacks", "does star jumps"),
    "side twists": ("does side twists", "twists the torso from side to side"),
    "squats": ("does squats", "squats"),
    "stretches": ("stretches", "does some stretches"),
    "bend over": ("bends over", "bends forward"),
    "scoop up": ("scoops something up", "scoops up an object"),
    "rise": ("rises", "stands back up", "straightens up"),
    "lift arm": ("lifts an arm", "raises an arm"),
    "climb": ("climbs", "climbs up"),
    "pull up": ("pulls up", "does a pull-up"),
    "dangle": ("dangles", "hangs"),
    "sit": ("sits", "sits down"),
    "lower self to ground": ("lowers down to the ground", "climbs down to the ground"),
    "punch/strike": ("punches and strikes", "throws punches and strikes", "punches"),
    "swordplay": ("fences with a sword", "does swordplay", "swings a sword at an opponent"),
    "wash self": ("mimes washing themself", "washes", "pretends to wash"),
    "kick ball": ("kicks a soccer ball", "kicks a ball", "kicks a football"),
    "one squat": ("does one squat", "squats down once and stands back up", "does a single squat"),
    "one front kick with the left leg": ("does one front kick with the left leg", "kicks forward once with the left leg", "kicks to the front with the left leg"),
    "lie down on the floor": ("lies down on the floor", "gets down and lies on the floor", "lies down on the ground"),
    "throw a basketball": ("throws a basketball", "makes a basketball throw", "tosses a basketball"),
    "rotate both arms backward once (arm circles)": ("circles both arms backward once", "does one backward arm circle with both arms", "rotates both arms backward once"),
    "bend down and put an object down on the floor with the right hand": (
        "bends down and puts an object on the floor with the right hand", "puts something down on the floor with the right hand",
        "bends down to place an object on the floor using the right hand",
    ),
    "reach up high and grab an object with the right hand": (
        "reaches up high and grabs an object with the right hand", "grabs something from up high with the right hand",
        "stretches up to take an object with the right hand",
    ),
    # basketball
    "forward dribble": ("dribbles a basketball forward", "dribbles a ball while moving forward", "moves forward dribbling a basketball"),
    "backward dribble": ("dribbles a basketball while moving backward", "dribbles a ball, moving backward", "backs up dribbling a basketball"),
    "sideways dribble": ("dribbles a basketball while moving sideways", "dribbles a ball, moving sideways", "side-steps dribbling a basketball"),
    "crossover dribble": ("does a crossover dribble", "dribbles the ball from hand to hand", "crosses the ball over while dribbling"),
    "dribble": ("dribbles a basketball", "bounces a basketball", "dribbles the ball"),
    "dribble through legs": ("dribbles the ball through the legs", "bounces the ball between the legs"),
    "shoot": ("shoots the ball", "takes a shot at the hoop", "shoots a basket"),
}

# Whole descriptions whose comma parts do not stand alone.
_WHOLE: dict[str, tuple[str, ...]] = {
    "one elbow-to-knee crunch, left elbow first": (
        "does one elbow-to-knee crunch, left elbow first", "brings each elbow to the opposite knee once, starting with the left elbow",
        "does a standing crunch, elbow to knee, left elbow first",
    ),
    "basketball - low, fast free style dribble, dribble through legs": (
        "dribbles a basketball low and fast, freestyle, and through the legs", "does a low, fast freestyle basketball dribble, also through the legs",
    ),
    "balance on one leg, outstretched arms": ("balances on one leg with arms outstretched", "stands on one leg, arms stretched out"),
    "static dance pose - folded in, head lowered, leg bent": (
        "holds a still dance pose, folded in, head lowered, one leg bent", "stays in a dance pose, curled in with the head down and a leg bent",
    ),
    "lambada dance": ("dances the lambada", "does a lambada dance"),
    "lindyhop2": ("dances the lindy hop", "does a lindy hop dance", "swing dances (lindy hop)"),
    "dance, whirl": ("dances and whirls around", "dances, spinning around", "dances and twirls"),
}

# Dance steps as noun phrases ("dances with a pirouette and small jetes").
_DANCE_NOUNS: dict[str, str] = {
    "attitude/arabesque": "an attitude and an arabesque", "lean forward": "leaning forward", "bring back leg forward": "bringing the back leg forward",
    "curl inwards": "curling inwards", "fold in from side arabesque": "folding in from a side arabesque", "lean back on bent leg": "leaning back on a bent leg",
    "balance": "balancing", "bend elbow by ear": "bending an elbow by the ear", "raised leg above hip-height": "a leg raised above hip height",
    "quasi-cou-de-pied": "a cou-de-pied", "arms held high": "arms held high", "expressive arms": "expressive arms", "folding arms": "folding arms",
    "bending back": "bending back", "arching arms": "arching arms", "sideways steps": "sideways steps", "small jetes": "small jetes",
    "pirouettes": "pirouettes", "upper body rotation": "an upper body rotation",
}
_CONTEXT_SUFFIX = {"playground": (" on a playground", " at a playground", " on playground equipment")}


def mocap_activity(text: str) -> str:
    """Short plain-language activity of a clip from its description ("walk, veer left" -> "walking")."""
    low = text.lower()
    for pattern, label in _ACTIVITY_RULES:
        if re.search(pattern, low):
            return label
    return _split_context(text)[1][0] if text.strip() else "moving"


def _split_context(text: str) -> tuple[str, list[str]]:
    """("dance", ["sideways arabesque", ...]) from "dance - sideways arabesque, ..."; context "" if none."""
    context, _, rest = text.partition(" - ") if " - " in text else ("", "", text)
    return context.strip().lower(), [p.strip() for p in rest.split(",") if p.strip()]


def _predicates(part: str) -> tuple[str, ...]:
    key = part.lower()
    if key in _PREDICATES:
        return _PREDICATES[key]
    words = key.split()
    verb = words[0]
    third = verb + ("es" if verb.endswith(("s", "sh", "ch", "x", "o")) else "s")
    return (" ".join([third, *words[1:]]),)


def _dance_noun(part: str) -> str:
    key = part.lower()
    if key in _DANCE_NOUNS:
        return _DANCE_NOUNS[key]
    return ("an " if key[0] in "aeiou" else "a ") + key


def _join(items: list[str], k: int) -> str:
    if len(items) == 1:
        return items[0]
    if k % 2 == 0:
        return ", ".join(items[:-1]) + " and " + items[-1]
    return ", then ".join(items)


def mocap_predicates(text: str) -> list[str]:
    """Predicates (without subject) describing the whole clip, one per phrasing (>= 2)."""
    norm = text.strip()
    key = norm.lower()
    if key in _WHOLE:
        return list(_WHOLE[key])
    context, parts = _split_context(norm)
    if not parts:
        return ["moves", "is moving"]
    if context == "dance" or (not context and key.startswith("dance")):
        nouns = [_dance_noun(p) for p in parts if p.lower() != "dance"]
        if not nouns:
            return ["dances", "is dancing", "does a dance"]
        return [
            f"dances with {_join(nouns, 0)}",
            f"performs a ballet sequence: {_join(nouns, 1)}",
            f"does a dance with {_join(nouns, 0)}",
        ]
    options = [_predicates(p) for p in parts]
    n = max(3, max(len(o) for o in options))
    suffix = _CONTEXT_SUFFIX.get(context, ("",))
    out = []
    for k in range(n):
        preds = [o[k % len(o)] for o in options]
        out.append(_join(preds, k) + suffix[k % len(suffix)])
    return list(dict.fromkeys(out))


def mocap_captions(text: str, sex: str = "neutral") -> list[str]:
    """Full-sentence captions of a clip's description, each phrasing with a different subject
    ("A person walks and veers left.", "Someone walks forward, then curves to the left.", ...); for a
    body of ``sex`` "female" / "male" the last phrasing says "A woman" / "A man", as the procedural
    captions do (the simulated body, retargeted, is that person)."""
    preds = mocap_predicates(text)
    out = []
    for k, pred in enumerate(preds):
        subject = _SUBJECTS[k % len(_SUBJECTS)]
        if sex in GENDERED and k == len(preds) - 1 and k > 0:
            subject = GENDERED[sex][0]
        sent = f"{subject} {pred}."
        out.append(sent[0].upper() + sent[1:])
    return out


_MIRROR_WORDS = {
    "left": "right", "right": "left", "clockwise": "counterclockwise", "counterclockwise": "clockwise",
    "anticlockwise": "clockwise", "counter-clockwise": "clockwise",
}
# "right" of "right angle" / "right-angled" is not a side
_MIRROR_RE = re.compile(r"\b(counter-clockwise|counterclockwise|anticlockwise|clockwise|left|right(?![- ]angle))\b", re.IGNORECASE)


def mirror_text(text: str) -> str:
    """The words of the mirror image: left <-> right, clockwise <-> counterclockwise (case kept)."""

    def swap(m: re.Match) -> str:
        w = m.group(0)
        out = _MIRROR_WORDS[w.lower()]
        return out.capitalize() if w[0].isupper() else out

    return _MIRROR_RE.sub(swap, text)


# ---- motion manipulation (local rotations + root path) ---------------------------------------------

_SWAP = np.array([SEGMENT_INDEX[s.replace("Left", "#").replace("Right", "Left").replace("#", "Right")] for s in SEGMENTS])


def locals_of(motion: BodyMotion) -> np.ndarray:
    """Local rotations [T, 23, 4] (relative to the parent; the pelvis: to the world) of a motion."""
    q = motion.quat_wxyz
    local = np.empty_like(q)
    for i, p in enumerate(PARENTS):
        local[:, i] = q[:, i] if p < 0 else quat_mul(quat_conj(q[:, p]), q[:, i])
    return local


def mirror_locals(local: np.ndarray, root_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left-right mirror image across the body's sagittal plane (world y -> -y): left and right
    segments swap, every rotation R becomes M R M with M = diag(1, -1, 1) (quaternion w, -x, y, -z)."""
    q = local[:, _SWAP].copy()
    q[..., 1] *= -1.0
    q[..., 3] *= -1.0
    r = root_m.copy()
    r[:, 1] *= -1.0
    return q, r


def mirror_motion(motion: BodyMotion) -> BodyMotion:
    """The mirror image of ``motion`` (see `mirror_locals`), its labels and captions mirrored in words."""
    local, root = mirror_locals(locals_of(motion), motion.pos_m[:, 0])
    labels = [LabelSegment(mirror_text(s.activity), s.start_s, s.end_s, tuple(mirror_text(c) for c in s.captions)) for s in motion.labels]
    return BodyMotion.from_local(
        motion.skeleton, motion.rate_hz, root, local, labels=labels, captions=[mirror_text(c) for c in motion.captions],
        source=motion.source + (":mirrored" if not motion.source.endswith(":mirrored") else ""),
    )


def _yaw(q: np.ndarray) -> np.ndarray:
    """Heading about world z of the pelvis' forward axis (x)."""
    fwd = np.stack(
        [1 - 2 * (q[..., 2] ** 2 + q[..., 3] ** 2), 2 * (q[..., 1] * q[..., 2] + q[..., 0] * q[..., 3])], axis=-1
    )  # first column of R: x, y components
    return np.arctan2(fwd[..., 1], fwd[..., 0])


def foot_strikes(motion: BodyMotion) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Foot strikes during locomotion: (times s, side 0 right / 1 left / 2 both, pelvis speed m/s).

    A foot strikes when its ankle, after at least `MIN_SWING_S` faster than `SWING_MPS`, slows below
    `STANCE_MPS`; strikes with the pelvis slower than `MIN_GAIT_SPEED_MPS` (stepping in place, a kick's
    return, ...) are left out; the two feet within `BOTH_FEET_S` are one two-footed landing.
    """
    r = motion.rate_hz
    p = motion.pos_m
    pelvis_speed = np.linalg.norm(np.gradient(p[:, 0, :2], axis=0), axis=1) * r
    times, sides = [], []
    for side, name in ((0, "Right"), (1, "Left")):
        speed = np.linalg.norm(np.gradient(p[:, SEGMENT_INDEX[name + "Foot"]], axis=0), axis=1) * r
        swing_from = None
        for k in range(len(speed)):
            if speed[k] > SWING_MPS:
                swing_from = k if swing_from is None else swing_from
            elif swing_from is not None and speed[k] < STANCE_MPS:
                if (k - swing_from) / r >= MIN_SWING_S:
                    times.append(k / r)
                    sides.append(side)
                swing_from = None
    order = np.argsort(times, kind="stable")
    t, sd = np.asarray(times, dtype=np.float64)[order], np.asarray(sides, dtype=np.int64)[order]
    keep = np.ones(t.size, dtype=bool)
    for i in range(1, t.size):  # two-footed landings
        if keep[i - 1] and sd[i] != sd[i - 1] and sd[i - 1] != 2 and t[i] - t[i - 1] < BOTH_FEET_S:
            sd[i - 1], keep[i] = 2, False
    t, sd = t[keep], sd[keep]
    v = pelvis_speed[np.clip(np.round(t * r).astype(np.int64), 0, len(p) - 1)]
    go = v >= MIN_GAIT_SPEED_MPS
    return t[go], sd[go], v[go]


def foot_strike_impacts(motion: BodyMotion, rng: np.random.Generator) -> Impacts:
    """Heel-strike shocks at the `foot_strikes` of ``motion``, with the published magnitudes and
    frequencies the procedural gait uses (`anymo.motion.procedural.impacts.gait_impacts`: shank peak
    4.5 g at 1.35 m/s walking, 9 g at 3.5 m/s running, in proportion to speed; shoe/surface x0.5-1.0,
    wearer lognormal 20 % per motion, 12 % per step; 10-16 Hz walking, 12-20 Hz running)."""
    t, side, v = foot_strikes(motion)
    n = t.size
    wearer = np.exp(rng.normal(0.0, 0.2))
    shoe_surface = rng.uniform(0.5, 1.0)
    per_step = np.exp(rng.normal(0.0, 0.12, n))
    running = (v > WALK_RUN_MPS) | (side == 2)
    nominal_g = np.where(running, 9.0 * np.maximum(v, 1.5) / 3.5, 4.5 * v / 1.35)
    freq = np.where(running, np.clip(12.0 + 2.5 * (v - 2.0), 12.0, 20.0), np.clip(10.0 + 3.0 * (v - 0.6), 10.0, 16.0))
    freq = freq + rng.uniform(-1.0, 1.0, n)
    return Impacts(t, side, nominal_g * STANDARD_GRAVITY_MPS2 * wearer * shoe_surface * per_step, freq, rng.uniform(0.2, 0.35, n))


# ---- the source ------------------------------------------------------------------------------------


@dataclass
class _Clean:
    """A cleaned clip at its own rate: local rotations and the root path for a body 1 m tall."""

    local: np.ndarray  # [F, 23, 4]
    root_per_m: np.ndarray  # [F, 3]
    rate_hz: float
    report: dict


def disk_cache_dir() -> Path | None:
    """Where cleaned clips are kept between runs: ``$ANYMO_CACHE/mocap`` (default ``~/.cache/anymo/mocap``);
    None when ``ANYMO_CACHE`` is set to an empty string (no disk cache)."""
    base = os.environ.get("ANYMO_CACHE")
    if base == "":
        return None
    return (Path(base) if base else Path.home() / ".cache" / "anymo") / "mocap"


_CODE_DIGEST: list[str] = []


def _disk_key(clip: MocapClip, path: Path, skeleton: Path | None) -> str:
    """Digest of the reading/cleaning code, the clip's file and skeleton (size, mtime) and its index row."""
    if not _CODE_DIGEST:
        h = hashlib.sha1()
        for mod in ("bvh.py", "asf_amc.py", "mocap.py", "_resample.py", "base.py"):
            h.update((Path(__file__).parent / mod).read_bytes())
        h.update((Path(__file__).parents[1] / "body" / "skeleton.py").read_bytes())
        _CODE_DIGEST.append(h.hexdigest())
    h = hashlib.sha1(_CODE_DIGEST[0].encode())
    for p in (path, skeleton):
        if p is not None:
            st = p.stat()
            h.update(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    h.update(repr(clip).encode())
    return f"{clip.id}-{h.hexdigest()[:20]}"


def _disk_load(key: str) -> _Clean | None:
    d = disk_cache_dir()
    f = d / f"{key}.npz" if d is not None else None
    if f is None or not f.is_file():
        return None
    try:
        with np.load(f, allow_pickle=False) as z:
            return _Clean(z["local"], z["root_per_m"], float(z["rate_hz"]), json.loads(str(z["report"])))
    except (OSError, ValueError, KeyError):
        return None  # a damaged or partial file: recompute


def _disk_save(key: str, c: _Clean) -> None:
    d = disk_cache_dir()
    if d is None:
        return
    try:
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / f".{key}.{os.getpid()}.tmp.npz"
        np.savez(tmp, local=c.local, root_per_m=c.root_per_m, rate_hz=np.float64(c.rate_hz), report=np.str_(json.dumps(c.report)))
        os.replace(tmp, d / f"{key}.npz")  # atomic: parallel workers never see half a file
    except OSError:
        pass  # a read-only home: run without the disk cache


@dataclass
class MocapSource:
    """Clips of one split (``"train"``, ``"heldout"`` or ``"all"``) of ``<data_dir>/mocap``.

    `motion(rng, duration_s, shape, rate_hz)` strings random clips (each mirrored with probability
    ``mirror_prob``) into one motion; `clip_motion` gives a single clip. Clips that cannot be used
    are skipped with a reason (`skipped`, `summary`), checked when first loaded.
    """

    data_dir: str | Path
    split: str = "train"
    mirror_prob: float = 0.5
    clips: list[MocapClip] = field(init=False)
    skipped: dict[str, str] = field(init=False, default_factory=dict)
    _cache: OrderedDict = field(init=False, default_factory=OrderedDict, repr=False)

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {self.split!r}")
        if not (0.0 <= self.mirror_prob <= 1.0):
            raise ValueError(f"mirror_prob must be in [0, 1], got {self.mirror_prob}")
        self.folder = mocap_dir(self.data_dir)
        all_clips = read_mocap_index(self.data_dir)
        self.clips = [c for c in all_clips if self.split == "all" or mocap_split(c) == self.split]
        if not self.clips:
            raise ValueError(f"no motion capture clips in split {self.split!r} under {self.folder}")

    def _clean(self, clip: MocapClip) -> _Clean:
        """The cleaned clip (cached per process and on disk, `disk_cache_dir`); ValueError with the
        reason if it cannot be used."""
        if clip.id in self._cache:
            self._cache.move_to_end(clip.id)
            return self._cache[clip.id]
        path = self.folder / clip.file
        if not path.is_file():
            raise ValueError(f"file missing: {clip.file}")
        key = _disk_key(clip, path, self.folder / clip.skeleton if clip.skeleton else None)
        c = _disk_load(key)
        if c is None:
            c = self._clean_from_file(clip, path)
            _disk_save(key, c)
        self._cache[clip.id] = c
        while len(self._cache) > _CACHE_CLIPS:
            self._cache.popitem(last=False)
        return c

    def _clean_from_file(self, clip: MocapClip, path: Path) -> _Clean:
        report: dict = {}
        h_ref = 1.75
        kw = {"shape": BodyShape(height_m=h_ref), "rate_hz": clip.rate_hz, "report": report}
        if clip.format == "amc":
            from anymo.motion.asf_amc import load_asf_amc

            asf = self.folder / clip.skeleton if clip.skeleton else None
            m = load_asf_amc(path, asf_path=asf, frame_rate_hz=clip.rate_hz, **kw)
        elif clip.format == "bvh":
            from anymo.motion.bvh import bvh_to_motion, read_bvh

            m = bvh_to_motion(read_bvh(path), **kw)
        else:
            raise ValueError(f"unknown format {clip.format!r} (bvh or amc)")
        lo, hi = STANDING_HEIGHT_RANGE_M
        if not (lo <= report["standing_height_m"] <= hi):
            raise ValueError(f"rig standing height {report['standing_height_m']:.2f} m outside {lo}-{hi} m (wrong unit or skeleton)")
        if m.duration_s < MIN_CLIP_S:
            raise ValueError(f"too short: {m.duration_s:.2f} s after the lead-in (< {MIN_CLIP_S} s)")
        if not (np.all(np.isfinite(m.pos_m)) and np.all(np.isfinite(m.quat_wxyz))):
            raise ValueError("NaN in the retargeted motion")
        return _Clean(locals_of(m).astype(np.float32), (m.pos_m[:, 0] / h_ref).astype(np.float32), float(m.rate_hz), report)

    def usable(self, clip: MocapClip) -> bool:
        """Whether ``clip`` loads (remembering the reason in `skipped` if not)."""
        if clip.id in self.skipped:
            return False
        try:
            self._clean(clip)
        except ValueError as e:
            self.skipped[clip.id] = str(e)
            return False
        return True

    def clip_motion(
        self, clip: MocapClip, shape: BodyShape | None = None, rate_hz: float = 120.0, mirror: bool = False,
        rng: np.random.Generator | None = None,
    ) -> BodyMotion:
        """One clip on a body of ``shape`` at ``rate_hz``, labelled and captioned (mirrored if asked);
        with ``rng``, heel-strike shocks at its foot strikes (`foot_strike_impacts`)."""
        return self._assemble([(clip, mirror)], shape, rate_hz, rng)

    def motion(self, rng: np.random.Generator, duration_s: float, shape: BodyShape | None = None, rate_hz: float = 120.0) -> BodyMotion:
        """Random usable clips, strung together until they cover ``duration_s``, on a body of ``shape``."""
        if not (duration_s > 0):
            raise ValueError(f"duration_s must be positive, got {duration_s}")
        picks: list[tuple[MocapClip, bool]] = []
        total = 0.0
        tries = 0
        while total < duration_s + BLEND_S:
            tries += 1
            if tries > 50 * len(self.clips) + 100:
                raise ValueError(f"no usable motion capture clip in split {self.split!r}: {dict(list(self.skipped.items())[:3])}")
            clip = self.clips[int(rng.integers(len(self.clips)))]
            if not self.usable(clip):
                continue
            c = self._clean(clip)
            picks.append((clip, bool(rng.random() < self.mirror_prob)))
            total += (c.local.shape[0] - 1) / c.rate_hz - (BLEND_S if len(picks) > 1 else 0.0)
        m = self._assemble(picks, shape, rate_hz, rng)
        n = math.floor(duration_s * rate_hz + 1e-6) + 1
        if m.n_frames > n:
            labels = [LabelSegment(s.activity, s.start_s, min(s.end_s, (n - 1) / rate_hz), s.captions) for s in m.labels if s.start_s < (n - 1) / rate_hz]
            m = BodyMotion(m.skeleton, rate_hz, m.pos_m[:n], m.quat_wxyz[:n], labels=labels, captions=m.captions, source=m.source)
        return m

    def _assemble(
        self, picks: list[tuple[MocapClip, bool]], shape: BodyShape | None, rate_hz: float, rng: np.random.Generator | None = None
    ) -> BodyMotion:
        """Clips (clip, mirrored) one after the other on a body of ``shape`` at ``rate_hz``: each starts
        where the previous one's last `BLEND_S` starts (heading and ground position carried over) and
        is crossfaded in over it; the label boundary is the crossfade's middle."""
        skeleton = make_skeleton(shape)
        h = skeleton.shape.height_m
        out_l = out_r = None
        bounds: list[float] = [0.0]
        texts: list[tuple[str, tuple[str, ...]]] = []
        for clip, mirror in picks:
            c = self._clean(clip)
            local, root = c.local.astype(np.float64), c.root_per_m.astype(np.float64) * h
            if mirror:
                local, root = mirror_locals(local, root)
            key_t = np.arange(local.shape[0]) / c.rate_hz
            t = uniform_times_s(float(key_t[-1]), rate_hz)
            local = spline_quats(key_t, local, t)
            root = spline_positions(key_t, root, t)
            caps = tuple(mocap_captions(clip.text, skeleton.shape.sex))
            texts.append((mirror_text(clip.text) if mirror else clip.text, tuple(mirror_text(x) for x in caps) if mirror else caps))
            if out_l is None:
                out_l, out_r = local, root
                continue
            n_blend = min(round(BLEND_S * rate_hz), local.shape[0] // 2, out_l.shape[0] // 2)
            anchor = out_l.shape[0] - n_blend
            d_yaw = float(_yaw(out_l[anchor, 0]) - _yaw(local[0, 0]))
            local = local.copy()
            local[:, 0] = quat_mul(quat_from_axis_angle(np.array([0.0, 0.0, 1.0]), d_yaw), local[:, 0])
            cz, sz = math.cos(d_yaw), math.sin(d_yaw)
            root = root.copy()
            root[:, :2] = (root[:, :2] - root[0, :2]) @ np.array([[cz, -sz], [sz, cz]]).T + out_r[anchor, :2]
            w = np.linspace(0.0, 1.0, n_blend + 2)[1:-1]
            w = w * w * (3.0 - 2.0 * w)  # smoothstep: no velocity jump at either end
            mixed_l = quat_slerp(out_l[anchor:], local[:n_blend], np.broadcast_to(w[:, None], local[:n_blend].shape[:-1]))
            mixed_r = (1.0 - w[:, None]) * out_r[anchor:] + w[:, None] * root[:n_blend]
            out_l = np.concatenate([out_l[:anchor], mixed_l, local[n_blend:]])
            out_r = np.concatenate([out_r[:anchor], mixed_r, root[n_blend:]])
            bounds.append((anchor + 0.5 * n_blend) / rate_hz)
        assert out_l is not None and out_r is not None
        total_s = (out_l.shape[0] - 1) / rate_hz
        bounds.append(total_s)
        labels = [LabelSegment(mocap_activity(text), bounds[k], bounds[k + 1], caps) for k, (text, caps) in enumerate(texts)]
        ids = "+".join(c.id + ("~mirrored" if mir else "") for c, mir in picks)
        m = BodyMotion.from_local(
            skeleton, rate_hz, out_r, quat_normalize(quat_make_continuous(out_l, axis=0)), labels=labels,
            captions=list(texts[0][1]) if len(texts) == 1 else [], source=f"mocap:{ids}",
        )
        if rng is not None:
            m.pos_m = add_impacts(m.pos_m, foot_strike_impacts(m, rng), rate_hz)
        return m

    def summary(self) -> dict:
        """Load every clip of the split: counts loaded / skipped (with reasons), per dataset, format, activity."""
        loaded: Counter[str] = Counter()
        per_activity: Counter[str] = Counter()
        seconds = 0.0
        for clip in self.clips:
            if self.usable(clip):
                c = self._clean(clip)
                loaded[f"{clip.dataset} {clip.format}"] += 1
                per_activity[clip.activity] += 1
                seconds += (c.local.shape[0] - 1) / c.rate_hz
        reasons = Counter(re.sub(r"[\d.]+ (m|s)\b", "N \\1", r) for r in self.skipped.values())
        return {
            "split": self.split,
            "clips": len(self.clips),
            "loaded": sum(loaded.values()),
            "skipped": len(self.skipped),
            "loaded_by_kind": dict(sorted(loaded.items())),
            "skipped_by_reason": dict(reasons.most_common()),
            "skipped_clips": dict(sorted(self.skipped.items())),
            "per_activity": dict(per_activity.most_common()),
            "hours": seconds / 3600.0,
        }


# ---- `anymo simulate --sources ...,mocap` -------------------------------------------------------------


class MocapSimSource:
    """The `anymo.sim.sources` adapter (contract in that module's docstring): random sequences of the
    training clips (``split = "train"``; the registry's ``mocap_heldout`` gives the held-out subjects)
    on the unit's random body, each clip mirrored with probability 0.5."""

    name = "mocap"
    default_subdir: str | None = MOCAP_FOLDER
    split = "train"

    def __init__(self, options) -> None:
        from anymo.sim.sources import SourceUnavailable

        folder = options.folder(self.name, self.default_subdir)
        if folder is None or not (folder / "index.csv").is_file():
            raise SourceUnavailable(
                f"{self.name}: no motion capture index at {folder}/index.csv; give the folder with --source-dir "
                f"{self.name}=DIR (or set --data / ANYMO_DATA), or leave {self.name} out of --sources"
            )
        self.source = MocapSource(folder, split=self.split)

    def motion(self, rng: np.random.Generator, duration_s: float, rate_hz: float, shape: BodyShape):
        from anymo.sim.sources import SourceMotion

        m = self.source.motion(rng, duration_s, shape, rate_hz)
        return SourceMotion(m, self.name)  # the clips of the sequence are in m.source ("mocap:id+id~mirrored+...")

    def manifest(self) -> dict:
        # which clips the units skipped is known in the worker processes only; MocapSource.summary() lists them
        return {"split": self.split, "heldout_subjects": sorted(HELDOUT_SUBJECTS), "clips": len(self.source.clips)}


class MocapHeldoutSimSource(MocapSimSource):
    """The held-out subjects' clips (`HELDOUT_SUBJECTS`), for the model's synthetic retrieval/captioning checks only."""

    name = "mocap_heldout"
    split = "heldout"


__all__ = [
    "HELDOUT_SUBJECTS",
    "MocapClip",
    "MocapHeldoutSimSource",
    "MocapSimSource",
    "MocapSource",
    "foot_strike_impacts",
    "foot_strikes",
    "locals_of",
    "mirror_locals",
    "mirror_motion",
    "mirror_text",
    "mocap_activity",
    "mocap_captions",
    "mocap_dir",
    "mocap_predicates",
    "mocap_split",
    "read_mocap_index",
]
