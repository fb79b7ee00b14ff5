"""What a compositional motion is: an arm action (primitive + parameters) on a base posture or gait.

Every field is something a caption can state, and every caption is written from these fields only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from anymo.motion.compositional.shapes import DIRECTED, SHAPES

KINDS = ("trace", "swipe", "reach", "knock", "tap", "scratch", "throw", "catch", "wave")
PLANES = ("front", "overhead", "side")  # in front of the body, above the head, beside the body on the hand's side
SWIPE_DIRECTIONS = ("left", "right", "up", "down", "forward", "back")
HEIGHTS = ("knee", "waist", "chest", "head", "overhead")
REACH_DIRECTIONS = ("forward", "side")
STYLES = ("overarm", "underarm")
SIZES = ("small", "medium", "large")
HALF_SIZE_M = {"small": 0.06, "medium": 0.11, "large": 0.18}
BASES = ("standing", "sitting", "walking")
HANDS = ("right", "left", "both")

# which hands and bases each primitive allows (sitting: no throwing, catching or knocking on a door;
# walking: no tapping on a table or writing letters)
_ALLOWED = {
    "trace": (HANDS, BASES),
    "swipe": (HANDS, BASES),
    "reach": (HANDS, ("standing", "sitting")),
    "knock": (("right", "left"), ("standing",)),
    "tap": (HANDS, ("sitting", "standing")),
    "scratch": (("right", "left"), BASES),
    "throw": (("right", "left"), ("standing",)),
    "catch": (("both", "right", "left"), ("standing",)),
    "wave": (("right", "left", "both"), BASES),
}
_SCRATCH_SPOTS = ("head", "neck", "other forearm")


@dataclass(frozen=True)
class ArmAction:
    """One arm primitive and its parameters (fields that do not apply to a kind are None)."""

    kind: str
    hand: str  # "right" | "left" | "both"
    tempo_hz: float  # cycles (shapes, strokes, reaches, bursts) per second
    shape: str | None = None  # trace
    plane: str | None = None  # trace
    clockwise: bool | None = None  # trace of a directed shape (DIRECTED)
    size: str | None = None  # trace: small / medium / large
    direction: str | None = None  # swipe: SWIPE_DIRECTIONS; reach: REACH_DIRECTIONS
    height: str | None = None  # reach: HEIGHTS
    style: str | None = None  # throw / catch: overarm / underarm
    spot: str | None = None  # scratch: where


@dataclass(frozen=True)
class MotionSpec:
    """An arm action done while standing, sitting or walking (``walk_speed_mps`` > 0 only when walking)."""

    action: ArmAction
    base: str = "standing"
    walk_speed_mps: float = 0.0

    def key(self) -> tuple:
        """What tells two motions apart in words (tempo and speed excluded)."""
        a = asdict(self.action)
        a.pop("tempo_hz")
        return (self.base, tuple(sorted(a.items())))

    def __post_init__(self) -> None:
        check_spec(self)


def check_spec(s: MotionSpec) -> None:
    """ValueError naming the first field that does not fit the primitive."""
    a = s.action
    if a.kind not in KINDS:
        raise ValueError(f"unknown arm action {a.kind!r}; actions are: {', '.join(KINDS)}")
    hands, bases = _ALLOWED[a.kind]
    if a.hand not in hands:
        raise ValueError(f"{a.kind} is done with {' or '.join(hands)} hand(s), not {a.hand!r}")
    if s.base not in bases:
        raise ValueError(f"{a.kind} can be combined with {', '.join(bases)}, not {s.base!r}")
    if not (0.1 <= a.tempo_hz <= 6.0):
        raise ValueError(f"tempo_hz must be 0.1..6 cycles per second, got {a.tempo_hz}")
    if s.base == "walking" and not (0.5 <= s.walk_speed_mps <= 2.0):
        raise ValueError(f"walking needs walk_speed_mps in 0.5..2.0, got {s.walk_speed_mps}")
    if a.kind == "trace":
        if a.shape not in SHAPES or a.plane not in PLANES or a.size not in SIZES:
            raise ValueError(f"trace needs shape in {SHAPES}, plane in {PLANES}, size in {SIZES}; got {a.shape!r}, {a.plane!r}, {a.size!r}")
        if (a.clockwise is not None) != (a.shape in DIRECTED):
            raise ValueError(f"clockwise must be True/False for {DIRECTED} and None for other shapes (got {a.clockwise!r} for {a.shape!r})")
        if a.shape.startswith("letter") and a.plane != "front":
            raise ValueError("letters are written in the front plane (plane='front')")
    if a.kind == "swipe" and a.direction not in SWIPE_DIRECTIONS:
        raise ValueError(f"swipe direction must be one of {SWIPE_DIRECTIONS}, got {a.direction!r}")
    if a.kind == "reach" and (a.height not in HEIGHTS or a.direction not in REACH_DIRECTIONS):
        raise ValueError(f"reach needs height in {HEIGHTS} and direction in {REACH_DIRECTIONS}, got {a.height!r}, {a.direction!r}")
    if a.kind in ("throw", "catch") and a.style not in STYLES:
        raise ValueError(f"{a.kind} style must be one of {STYLES}, got {a.style!r}")
    if a.kind == "scratch" and a.spot not in _SCRATCH_SPOTS:
        raise ValueError(f"scratch spot must be one of {_SCRATCH_SPOTS}, got {a.spot!r}")


_TEMPO_HZ = {"trace": (0.5, 1.5), "swipe": (0.5, 1.0), "reach": (0.25, 0.45), "knock": (0.3, 0.6), "tap": (2.0, 5.0),
             "scratch": (3.0, 5.0), "throw": (0.25, 0.4), "catch": (0.25, 0.4), "wave": (1.5, 3.0)}


def random_spec(rng: np.random.Generator, kind: str | None = None, base: str | None = None) -> MotionSpec:
    """A random valid motion (uniform over primitives, then over their parameters)."""
    kind = kind or str(rng.choice(KINDS))
    hands, bases = _ALLOWED[kind]
    hand = str(rng.choice(hands))
    base = base or str(rng.choice(bases))
    kw: dict = {}
    if kind == "trace":
        plane = str(rng.choice(PLANES))
        shapes = SHAPES if plane == "front" else tuple(s for s in SHAPES if not s.startswith("letter"))
        kw["shape"] = str(rng.choice(shapes))
        kw["plane"], kw["size"] = plane, str(rng.choice(SIZES))
        kw["clockwise"] = bool(rng.random() < 0.5) if kw["shape"] in DIRECTED else None
    elif kind == "swipe":
        kw["direction"] = str(rng.choice(SWIPE_DIRECTIONS))
    elif kind == "reach":
        kw["height"], kw["direction"] = str(rng.choice(HEIGHTS)), str(rng.choice(REACH_DIRECTIONS))
    elif kind in ("throw", "catch"):
        kw["style"] = str(rng.choice(STYLES))
    elif kind == "scratch":
        kw["spot"] = str(rng.choice(_SCRATCH_SPOTS))
    tempo = float(rng.uniform(*_TEMPO_HZ[kind]))
    speed = float(rng.uniform(0.8, 1.6)) if base == "walking" else 0.0
    return MotionSpec(ArmAction(kind, hand, tempo, **kw), base, speed)


def all_keys() -> set[tuple]:
    """Every distinct motion (as `MotionSpec.key`) the generator can make."""
    keys: set[tuple] = set()
    for kind in KINDS:
        hands, bases = _ALLOWED[kind]
        options: list[dict] = [{}]
        if kind == "trace":
            options = [dict(shape=s, plane=p, size=z, clockwise=c) for p in PLANES for s in SHAPES
                       if p == "front" or not s.startswith("letter") for z in SIZES
                       for c in ((True, False) if s in DIRECTED else (None,))]
        elif kind == "swipe":
            options = [dict(direction=d) for d in SWIPE_DIRECTIONS]
        elif kind == "reach":
            options = [dict(height=h, direction=d) for h in HEIGHTS for d in REACH_DIRECTIONS]
        elif kind in ("throw", "catch"):
            options = [dict(style=s) for s in STYLES]
        elif kind == "scratch":
            options = [dict(spot=s) for s in _SCRATCH_SPOTS]
        for hand in hands:
            for base in bases:
                for kw in options:
                    keys.add(MotionSpec(ArmAction(kind, hand, 1.0, **kw), base, 1.0 if base == "walking" else 0.0).key())
    return keys


def count_distinct_motions() -> int:
    return len(all_keys())
