"""The ``compositional`` motion source of `anymo simulate` (see `anymo.sim.sources` for the contract)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anymo.body.skeleton import BodyShape


@dataclass
class CompositionalSource:
    """Random arm actions (traces, swipes, reaches, knocks, taps, scratches, throws, catches, waves) one
    after the other on one base (standing, sitting or walking) per unit; needs no data."""

    options: object
    name: str = "compositional"
    default_subdir: str | None = None

    def motion(self, rng: np.random.Generator, duration_s: float, rate_hz: float, shape: BodyShape):
        from anymo.motion.compositional.generate import generate_compositional_sequence
        from anymo.sim.sources import SourceMotion

        return SourceMotion(generate_compositional_sequence(duration_s, rng, shape=shape, rate_hz=rate_hz), self.name)

    def manifest(self) -> dict:
        from anymo.motion.compositional.spec import count_distinct_motions

        return {"distinct_motions": count_distinct_motions()}
