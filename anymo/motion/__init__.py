"""Motion sources: procedural activities, BVH and DeepMimic motion capture -> `BodyMotion`."""

from anymo.motion.base import BodyMotion

__all__ = ["BodyMotion"]
