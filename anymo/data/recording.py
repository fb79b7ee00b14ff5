"""`Recording`: one continuous stretch of real (or replayed) IMU from one device at one placement.

Units are fixed on load and never change afterwards: accelerometer in m/s² (specific force, gravity
included where the device measured it), gyroscope in rad/s, magnetometer in µT, time in seconds.
Axes are the device's own sensor frame (right-handed), whatever the file called them.
Numpy only: the device runtime and the BLE bridge use this type too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from anymo.constants import STANDARD_GRAVITY_MPS2

__all__ = ["STANDARD_GRAVITY_MPS2", "LabelSegment", "Recording"]


@dataclass(frozen=True)
class LabelSegment:
    """A labelled stretch of a recording: plain-language activity text over [start_s, end_s).

    ``captions``: optional sentences describing this stretch as it was done (speed, hand, ...);
    empty when only the activity is known (real recordings).
    """

    activity: str
    start_s: float
    end_s: float
    captions: tuple[str, ...] = ()


@dataclass
class Recording:
    """IMU samples from one device worn at one placement.

    Either ``t_s`` (sample times, seconds, strictly increasing) or ``rate_hz`` (uniform sampling)
    must be given; with both, ``t_s`` wins and ``rate_hz`` is the nominal rate.
    ``placement`` is a named placement (see ``anymo.body.named_placements``) or "unknown".
    """

    acc_mps2: np.ndarray  # [T, 3] float
    rate_hz: float | None = None
    t_s: np.ndarray | None = None  # [T] float64
    gyro_rads: np.ndarray | None = None  # [T, 3]
    mag_uT: np.ndarray | None = None  # [T, 3]
    placement: str = "unknown"
    device: str = "unknown"
    subject: str = "unknown"
    dataset: str = ""
    labels: list[LabelSegment] = field(default_factory=list)
    # True when the source removed gravity or normalised the signal (units/gravity unknown).
    gravity_removed: bool = False
    source: str = ""  # file the samples came from
    # Recordings of one dataset with the same non-empty session were recorded together on one clock
    # (several sensors of one person at once): their windows hold one sensor slot per recording.
    session: str = ""

    def __post_init__(self) -> None:
        self.acc_mps2 = np.asarray(self.acc_mps2, dtype=np.float64)
        if self.acc_mps2.ndim != 2 or self.acc_mps2.shape[1] != 3:
            raise ValueError(f"acc_mps2 must be [T, 3], got shape {self.acc_mps2.shape}")
        n = self.acc_mps2.shape[0]
        for name in ("gyro_rads", "mag_uT"):
            arr = getattr(self, name)
            if arr is not None:
                arr = np.asarray(arr, dtype=np.float64)
                if arr.shape != (n, 3):
                    raise ValueError(f"{name} must be [T, 3] matching acc_mps2 ({n} samples), got {arr.shape}")
                setattr(self, name, arr)
        if self.t_s is None and self.rate_hz is None:
            raise ValueError("a Recording needs sample times t_s or a sampling rate rate_hz")
        if self.rate_hz is not None and not (0.0 < float(self.rate_hz) < 100_000.0):
            raise ValueError(f"rate_hz must be a positive sampling rate in Hz, got {self.rate_hz}")
        if self.t_s is not None:
            self.t_s = np.asarray(self.t_s, dtype=np.float64)
            if self.t_s.shape != (n,):
                raise ValueError(f"t_s must have one time per sample ({n}), got {self.t_s.shape}")
            if n > 1 and not np.all(np.diff(self.t_s) > 0):
                raise ValueError("t_s must be strictly increasing (sort the samples or drop duplicates)")

    @property
    def n_samples(self) -> int:
        return int(self.acc_mps2.shape[0])

    def times_s(self) -> np.ndarray:
        """Sample times in seconds (from ``t_s``, or ``arange / rate_hz``)."""
        if self.t_s is not None:
            return self.t_s
        return np.arange(self.n_samples, dtype=np.float64) / float(self.rate_hz)

    @property
    def duration_s(self) -> float:
        t = self.times_s()
        return float(t[-1] - t[0]) if len(t) > 1 else 0.0

    def label_at(self, t_s: float) -> str | None:
        """The activity label covering time ``t_s`` (first match), or None."""
        for seg in self.labels:
            if seg.start_s <= t_s < seg.end_s:
                return seg.activity
        return None
