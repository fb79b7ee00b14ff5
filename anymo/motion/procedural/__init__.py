"""Procedural motion library: 40+ activities with natural variation, labels and captions.

    from anymo.motion.procedural import ACTIVITIES, activity_text, generate_activity, generate_sequence
    motion = generate_activity("brushing_teeth", 10.0, np.random.default_rng(0))
    motion.labels    # [LabelSegment("brushing teeth", 0.0, 10.0)]
    motion.captions  # ["A person brushes the teeth with the right hand.", ...]

Every sample draws its own body size, style (posture, asymmetry, timing, jitter), handedness, speed,
tempo and amplitude. `generate_sequence` chains activities with smooth blends and inserts the
posture transitions they need (sitting down, getting up from bed, ...).
"""

from anymo.motion.procedural.activities import ACTIVITIES, REGISTRY, TRANSITIONS, activity_text
from anymo.motion.procedural.generate import generate_activity, generate_with_params
from anymo.motion.procedural.params import ActivityParams, random_body_shape
from anymo.motion.procedural.sequence import generate_sequence

__all__ = [
    "ACTIVITIES",
    "ActivityParams",
    "REGISTRY",
    "TRANSITIONS",
    "activity_text",
    "generate_activity",
    "generate_sequence",
    "generate_with_params",
    "random_body_shape",
]
