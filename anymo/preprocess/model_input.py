"""`ModelInput`: the one input every motion model takes, from every source (numpy only).

The simulator (training), the datasets (evaluation) and paired wearables (live) all produce this
type, and nothing model-specific is computed outside it. A batch holds B windows of S sensor slots:

* ``signals`` [B, S, T, 6] float32 at ``rate_hz`` (60 Hz, T = 300 for 5 s): channels 0-2 the
  accelerometer in g (specific force / standard gravity, gravity kept), 3-5 the gyroscope in rad/s,
  both clipped as `anymo.preprocess.normalise.to_model_input` does (±16 g, ±35 rad/s); zeros in
  empty slots and on the gyroscope channels of acc-only sensors;
* ``placement_id`` [B, S] int32: the sensor's row in the reference placement table
  (`anymo.body.surface.reference_placements`, ids 0..2399), `UNKNOWN_PLACEMENT_ID` (-1) when where
  it is worn is not known; the model looks the geometry up itself;
* ``sensor_mask`` [B, S] bool: the slot holds a sensor that covered this window;
* ``has_gyro`` [B, S] bool, ``gravity_removed`` [B, S] bool (the source removed gravity or
  normalised the signal: it cannot be restored, reports flag it);
* ``meta``: one entry per window (label or None, captions, subject, dataset, recording index,
  start time in the source's clock, padded).

Slots are unordered: a model must give the same output for any permutation of a window's sensors.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from anymo.body.named_placements import canonical_placement
from anymo.body.placement_names import NAMED_PLACEMENTS, UNKNOWN_PLACEMENT, check_placement_name
from anymo.preprocess.normalise import to_model_input

MODEL_RATE_HZ = 60.0
WINDOW_S = 5.0
N_CHANNELS = 6
UNKNOWN_PLACEMENT_ID = -1
LAYOUT = "signals[B,S,T,6] float32 (acc g, gyro rad/s) at 60 Hz; placement_id[B,S] int32; sensor_mask[B,S] bool; has_gyro[B,S] bool"


@dataclass
class WindowMeta:
    """Per-window metadata of a `ModelInput` batch (lists/arrays of length B)."""

    label: list[str | None]
    captions: list[tuple[str, ...]]
    subject: list[str]
    dataset: list[str]
    recording: np.ndarray  # [B] int: index into the recordings (or shards) the batch came from
    start_s: np.ndarray  # [B] float64, window start in the source's clock (recording time, host time)
    padded: np.ndarray  # [B] bool: the window was edge-padded from a shorter stretch

    @classmethod
    def empty(cls, n: int, dataset: str = "", subject: str = "unknown") -> WindowMeta:
        return cls([None] * n, [()] * n, [subject] * n, [dataset] * n, np.zeros(n, np.int64), np.zeros(n), np.zeros(n, bool))

    def __len__(self) -> int:
        return len(self.label)

    def subset(self, idx: np.ndarray) -> WindowMeta:
        pick = lambda seq: [seq[i] for i in idx]  # noqa: E731
        return WindowMeta(pick(self.label), pick(self.captions), pick(self.subject), pick(self.dataset),
                          self.recording[idx], self.start_s[idx], self.padded[idx])

    @staticmethod
    def concat(parts: Sequence[WindowMeta]) -> WindowMeta:
        if not parts:
            return WindowMeta.empty(0)
        return WindowMeta(
            [x for p in parts for x in p.label], [x for p in parts for x in p.captions],
            [x for p in parts for x in p.subject], [x for p in parts for x in p.dataset],
            np.concatenate([p.recording for p in parts]), np.concatenate([p.start_s for p in parts]),
            np.concatenate([p.padded for p in parts]),
        )


@dataclass
class ModelInput:
    """A batch of multi-sensor model windows (see the module docstring for every field)."""

    signals: np.ndarray
    placement_id: np.ndarray
    sensor_mask: np.ndarray
    has_gyro: np.ndarray
    gravity_removed: np.ndarray
    meta: WindowMeta
    rate_hz: float = MODEL_RATE_HZ
    stats: object | None = field(default=None, compare=False)  # producer's counts (e.g. WindowStats)

    def __post_init__(self) -> None:
        self.signals = np.asarray(self.signals, dtype=np.float32)
        if self.signals.ndim != 4 or self.signals.shape[-1] != N_CHANNELS:
            raise ValueError(f"signals must be [B, S, T, 6], got shape {self.signals.shape}; expected {LAYOUT}")
        b, s = self.signals.shape[:2]
        self.placement_id = np.asarray(self.placement_id, dtype=np.int32)
        self.sensor_mask = np.asarray(self.sensor_mask, dtype=bool)
        self.has_gyro = np.asarray(self.has_gyro, dtype=bool)
        self.gravity_removed = np.asarray(self.gravity_removed, dtype=bool)
        for name in ("placement_id", "sensor_mask", "has_gyro", "gravity_removed"):
            if getattr(self, name).shape != (b, s):
                raise ValueError(f"{name} must be [B, S] = {(b, s)}, got {getattr(self, name).shape}; expected {LAYOUT}")
        if len(self.meta) != b:
            raise ValueError(f"meta has {len(self.meta)} windows for {b} signal windows")
        if np.any(self.placement_id < UNKNOWN_PLACEMENT_ID):
            raise ValueError(f"placement_id must be a placement table row (0..2399) or {UNKNOWN_PLACEMENT_ID} (unknown)")

    def __len__(self) -> int:
        return int(self.signals.shape[0])

    @property
    def n_sensors(self) -> int:
        return int(self.signals.shape[1])

    @property
    def n_samples(self) -> int:
        return int(self.signals.shape[2])

    def subset(self, idx: np.ndarray | list[int]) -> ModelInput:
        """The windows at ``idx`` (indices or a boolean mask); stats are not carried over."""
        idx = np.asarray(idx)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return ModelInput(self.signals[idx], self.placement_id[idx], self.sensor_mask[idx], self.has_gyro[idx],
                          self.gravity_removed[idx], self.meta.subset(idx), self.rate_hz)

    @staticmethod
    def concat(parts: Sequence[ModelInput]) -> ModelInput:
        """Windows of several batches; sensor slots are padded (masked) to the widest batch."""
        if not parts:
            raise ValueError("concat needs at least one ModelInput")
        rates = {p.rate_hz for p in parts}
        lens = {p.n_samples for p in parts}
        if len(rates) > 1 or len(lens) > 1:
            raise ValueError(f"cannot concatenate batches with different rates {rates} or window lengths {lens}")
        s = max(p.n_sensors for p in parts)
        pad = lambda a, v: np.pad(a, [(0, 0), (0, s - a.shape[1])] + [(0, 0)] * (a.ndim - 2), constant_values=v)  # noqa: E731
        return ModelInput(
            np.concatenate([pad(p.signals, 0.0) for p in parts]),
            np.concatenate([pad(p.placement_id, UNKNOWN_PLACEMENT_ID) for p in parts]),
            np.concatenate([pad(p.sensor_mask, False) for p in parts]),
            np.concatenate([pad(p.has_gyro, False) for p in parts]),
            np.concatenate([pad(p.gravity_removed, False) for p in parts]),
            WindowMeta.concat([p.meta for p in parts]),
            parts[0].rate_hz,
        )

    @classmethod
    def from_arrays(
        cls,
        acc_mps2: np.ndarray,
        gyro_rads: np.ndarray | None,
        placement_id: np.ndarray,
        sensor_mask: np.ndarray | None = None,
        has_gyro: np.ndarray | None = None,
        gravity_removed: np.ndarray | None = None,
        meta: WindowMeta | None = None,
        rate_hz: float = MODEL_RATE_HZ,
    ) -> ModelInput:
        """Physical units in: ``acc_mps2``/``gyro_rads`` [B, S, T, 3] already at ``rate_hz``; applies the
        one normalisation (`to_model_input`) and zeroes the gyroscope of acc-only and the signals of empty slots."""
        acc = np.asarray(acc_mps2, dtype=np.float64)
        if acc.ndim != 4 or acc.shape[-1] != 3:
            raise ValueError(f"acc_mps2 must be [B, S, T, 3], got shape {acc.shape}")
        b, s, t, _ = acc.shape
        mask = np.ones((b, s), bool) if sensor_mask is None else np.asarray(sensor_mask, bool)
        gyro_ok = (np.zeros((b, s), bool) if gyro_rads is None else np.ones((b, s), bool)) if has_gyro is None else np.asarray(has_gyro, bool)
        gyro_ok = gyro_ok & mask
        x = to_model_input(acc.reshape(b * s, t, 3), None if gyro_rads is None else np.asarray(gyro_rads).reshape(b * s, t, 3),
                           gyro_ok.reshape(-1)).reshape(b, s, t, N_CHANNELS)
        x[~mask] = 0.0
        grav = np.zeros((b, s), bool) if gravity_removed is None else np.broadcast_to(np.asarray(gravity_removed, bool), (b, s))
        return cls(x, np.asarray(placement_id, np.int32), mask, gyro_ok, grav, meta or WindowMeta.empty(b), rate_hz)


def placement_name_of(placement_id: int) -> str:
    """Inverse of `placement_id_of` for display: the named placement whose canonical spot ``placement_id``
    is, "unknown" for -1, else ``"placement <id>"`` (a spot that no name stands for)."""
    pid = int(placement_id)
    if pid == UNKNOWN_PLACEMENT_ID:
        return UNKNOWN_PLACEMENT
    return _canonical_names().get(pid, f"placement {pid}")


@functools.cache
def _canonical_names() -> dict[int, str]:
    return {int(canonical_placement(n)): n for n in NAMED_PLACEMENTS}


def placement_id_of(name: str) -> int:
    """The placement id used for a named placement (its canonical spot), or -1 for "unknown"."""
    key = check_placement_name(name, allow_unknown=True)
    return UNKNOWN_PLACEMENT_ID if key == UNKNOWN_PLACEMENT else int(canonical_placement(key))
