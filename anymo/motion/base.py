"""`BodyMotion`: what every motion source produces and the IMU simulator consumes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from anymo.body.kinematics import forward_kinematics
from anymo.body.skeleton import N_SEGMENTS, Skeleton
from anymo.data.recording import LabelSegment


@dataclass
class BodyMotion:
    """Per-segment world poses over time, uniformly sampled at ``rate_hz``.

    ``pos_m`` [T, 23, 3]: segment origins in the world (z up); ``quat_wxyz`` [T, 23, 4]:
    world-from-segment orientations. ``labels`` say which activity covers which time span;
    ``captions`` describe the whole clip in several phrasings.
    """

    skeleton: Skeleton
    rate_hz: float
    pos_m: np.ndarray
    quat_wxyz: np.ndarray
    labels: list[LabelSegment] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    source: str = ""  # e.g. "procedural:walking", "deepmimic:humanoid3d_walk", "bvh:file.bvh"

    def __post_init__(self) -> None:
        if not (self.rate_hz > 0):
            raise ValueError(f"rate_hz must be positive, got {self.rate_hz}")
        t = self.pos_m.shape[0]
        if self.pos_m.shape != (t, N_SEGMENTS, 3) or self.quat_wxyz.shape != (t, N_SEGMENTS, 4):
            raise ValueError(
                f"pos_m must be [T, {N_SEGMENTS}, 3] and quat_wxyz [T, {N_SEGMENTS}, 4], got {self.pos_m.shape} and {self.quat_wxyz.shape}"
            )
        if t < 2:
            raise ValueError("a motion needs at least two frames")

    @classmethod
    def from_local(cls, skeleton: Skeleton, rate_hz: float, root_pos_m: np.ndarray, local_quat: np.ndarray, **kw) -> "BodyMotion":
        """Build from root translation [T, 3] and local joint rotations [T, 23, 4] (forward kinematics)."""
        pos, quat = forward_kinematics(skeleton, root_pos_m, local_quat)
        return cls(skeleton=skeleton, rate_hz=rate_hz, pos_m=pos, quat_wxyz=quat, **kw)

    @property
    def n_frames(self) -> int:
        return int(self.pos_m.shape[0])

    @property
    def duration_s(self) -> float:
        return (self.n_frames - 1) / self.rate_hz

    def times_s(self) -> np.ndarray:
        return np.arange(self.n_frames) / self.rate_hz
