"""Per-sample parameters (what the captions describe) and per-person style and body size."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from anymo.body.skeleton import BodyShape
from anymo.motion.procedural.impacts import HandImpacts, Impacts


@dataclass
class Style:
    """How one person moves, drawn once per sample: posture, asymmetry, timing offsets, jitter."""

    trunk_lean_rad: float = 0.0  # habitual forward lean (+ forward)
    head_flex_rad: float = 0.0  # habitual head tilt (chin down +)
    arm_abd_rad: float = 0.1  # arms held away from the body
    asymmetry: float = 0.0  # relative amplitude difference right vs left (+: right larger)
    phase_offset_rad: float = 0.0  # arm swing lag relative to the legs
    jitter_rad: float = 0.02  # amplitude of the slow random joint-angle wander
    toe_out_rad: float = 0.1  # feet turned out


def random_style(rng: np.random.Generator) -> Style:
    return Style(
        trunk_lean_rad=float(np.deg2rad(rng.normal(3.0, 3.0))),
        head_flex_rad=float(np.deg2rad(rng.normal(5.0, 4.0))),
        arm_abd_rad=float(np.deg2rad(rng.uniform(5.0, 12.0))),
        asymmetry=float(rng.normal(0.0, 0.06)),
        phase_offset_rad=float(rng.normal(0.0, 0.2)),
        jitter_rad=float(np.deg2rad(rng.uniform(0.5, 2.5))),
        toe_out_rad=float(np.deg2rad(rng.uniform(0.0, 12.0))),
    )


def random_body_shape(rng: np.random.Generator) -> BodyShape:
    """An adult body: sex, height from sex-specific normal distributions, build 0.8..1.3."""
    sex = str(rng.choice(["female", "male", "neutral"], p=[0.45, 0.45, 0.10]))
    mean, sd = {"female": (1.64, 0.07), "male": (1.77, 0.07), "neutral": (1.70, 0.09)}[sex]
    height = float(np.clip(rng.normal(mean, sd), 1.45, 2.05))
    build = float(np.clip(rng.normal(1.0, 0.12), 0.8, 1.3))
    return BodyShape(height_m=height, sex=sex, build=build)


@dataclass
class ActivityParams:
    """What was sampled for one clip; the captions are written from these values."""

    activity: str
    duration_s: float
    rate_hz: float
    shape: BodyShape
    style: Style
    hand: str = "right"  # the active hand for one-handed activities ("right" / "left")
    both_hands: bool = False
    speed_mps: float = 0.0  # mean horizontal speed of the body
    cadence_spm: float = 0.0  # steps per minute (gait)
    tempo_hz: float = 0.0  # repetitions per second (strokes, reps, pedal turns)
    amplitude: float = 1.0  # relative to a typical execution
    arm_swing_deg: float = 0.0  # peak-to-peak shoulder swing in gait
    in_place: bool = False
    impacts: Impacts = field(default_factory=Impacts.empty)  # foot-ground contacts (gait), added after kinematics
    hand_impacts: HandImpacts = field(default_factory=HandImpacts.empty)  # hand contacts (claps, knocks), likewise
    extra: dict = field(default_factory=dict)
