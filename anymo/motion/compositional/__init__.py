"""Compositional arm and body motions with captions composed from their parameters.

    from anymo.motion.compositional import random_spec, generate_compositional
    motion = generate_compositional(random_spec(rng), 10.0, rng)
    motion.captions  # ["Someone walks briskly while drawing a circle clockwise in front of the body ...", ...]

Primitives (`spec.KINDS`): the hand traces a path (line, circle, triangle, square, figure eight, the
letters X, Z, M) in a plane (front, overhead, side), clockwise or not, with either or both hands;
swipes and pushes/pulls in a direction; reaches to a height; knocks, taps, scratches; throws and
catches over- or under-arm; waves. Each is combined with standing, sitting or walking (the
procedural library's postures and gait), hand contacts get shocks like heel strikes.
"""

from anymo.motion.compositional.captions import captions_for, label_for
from anymo.motion.compositional.generate import (
    generate_compositional,
    generate_compositional_sequence,
)
from anymo.motion.compositional.shapes import DIRECTED, SHAPES, shape_xy, signed_area
from anymo.motion.compositional.spec import (
    KINDS,
    ArmAction,
    MotionSpec,
    all_keys,
    count_distinct_motions,
    random_spec,
)

__all__ = [
    "DIRECTED", "KINDS", "SHAPES", "ArmAction", "MotionSpec", "all_keys", "captions_for", "count_distinct_motions",
    "generate_compositional", "generate_compositional_sequence", "label_for", "random_spec", "shape_xy", "signed_area",
]
