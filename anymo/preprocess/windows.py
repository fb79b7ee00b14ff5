"""Recordings -> fixed-length model windows: gap handling, resampling to 60 Hz, 5 s windows, labels.

Numpy only (the same code runs on the device). Rules, all configurable in `WindowConfig`:

* gaps: see `anymo.preprocess.gaps` (short gaps <= 0.2 s interpolated, longer ones split the stream);
* resampling: anti-aliased windowed-sinc to ``rate_hz`` (60 Hz) from any rate in 10..1000 Hz;
* windows: ``window_s`` (5 s = 300 samples) every ``hop_s`` within each segment; a trailing part shorter
  than a window is not used; a whole segment shorter than a window but at least ``min_pad_s`` long
  becomes one window, edge-padded on both sides (``padded``); shorter segments are dropped (counted);
* labels: rule "inside" (default) gives a window the activity of the label segment that covers the
  window's whole data extent, else no label (None); rule "majority" gives the activity covering more
  than half of it, else None.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from anymo.data.recording import Recording
from anymo.preprocess.gaps import regularise
from anymo.preprocess.resample import check_rate, resample

MODEL_RATE_HZ = 60.0
WINDOW_S = 5.0


@dataclass(frozen=True)
class WindowConfig:
    """How recordings become windows (see the module docstring for each rule)."""

    rate_hz: float = MODEL_RATE_HZ
    window_s: float = WINDOW_S
    hop_s: float = 2.5
    label_rule: str = "inside"  # "inside" | "majority"
    max_interp_gap_s: float = 0.2
    gap_factor: float = 1.5
    min_pad_s: float = 3.0

    def __post_init__(self) -> None:
        if self.label_rule not in ("inside", "majority"):
            raise ValueError(f"label_rule must be 'inside' or 'majority', got {self.label_rule!r}")
        if self.hop_s <= 0 or self.window_s <= 0:
            raise ValueError("window_s and hop_s must be positive seconds")
        if self.min_pad_s > self.window_s:
            raise ValueError("min_pad_s cannot exceed window_s")

    @property
    def window_len(self) -> int:
        return int(round(self.window_s * self.rate_hz))

    @property
    def hop_len(self) -> int:
        return max(1, int(round(self.hop_s * self.rate_hz)))


@dataclass
class WindowStats:
    """Counts from windowing (exact; the tests check them)."""

    n_recordings: int = 0
    n_segments: int = 0
    n_windows: int = 0
    n_gaps_interpolated: int = 0
    n_gaps_split: int = 0
    n_segments_dropped_short: int = 0
    n_padded: int = 0
    n_unlabelled: int = 0

    def add(self, other: WindowStats) -> None:
        for k in self.__dataclass_fields__:
            setattr(self, k, getattr(self, k) + getattr(other, k))


@dataclass
class Windows:
    """A batch of model windows at ``rate_hz`` with their metadata (one entry per window)."""

    acc_mps2: np.ndarray  # [N, T, 3] float32, gravity kept (unless the source removed it)
    gyro_rads: np.ndarray  # [N, T, 3] float32, zeros where has_gyro is False
    has_gyro: np.ndarray  # [N] bool
    placement: list[str]
    subject: list[str]
    label: list[str | None]
    dataset: list[str]
    recording: np.ndarray  # [N] int: index into the recordings list given to make_windows
    start_s: np.ndarray  # [N] window start in recording time
    gravity_removed: np.ndarray  # [N] bool
    padded: np.ndarray  # [N] bool
    rate_hz: float = MODEL_RATE_HZ
    stats: WindowStats = field(default_factory=WindowStats)

    def __len__(self) -> int:
        return int(self.acc_mps2.shape[0])

    def subset(self, idx: np.ndarray | list[int]) -> Windows:
        """The windows at ``idx`` (indices or a boolean mask); stats are not carried over."""
        idx = np.asarray(idx)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        pick = lambda seq: [seq[i] for i in idx]  # noqa: E731
        return Windows(
            self.acc_mps2[idx], self.gyro_rads[idx], self.has_gyro[idx], pick(self.placement), pick(self.subject),
            pick(self.label), pick(self.dataset), self.recording[idx], self.start_s[idx],
            self.gravity_removed[idx], self.padded[idx], self.rate_hz,
        )


def _label_for(rec: Recording, t0: float, t1: float, rule: str) -> str | None:
    span = t1 - t0
    eps = 1e-6
    best, best_cover = None, 0.0
    for seg in rec.labels:
        cover = min(seg.end_s, t1) - max(seg.start_s, t0)
        if rule == "inside" and seg.start_s <= t0 + eps and seg.end_s >= t1 - eps:
            return seg.activity
        if rule == "majority" and cover > best_cover:
            best, best_cover = seg.activity, cover
    return best if rule == "majority" and best_cover > 0.5 * span else None


def recording_windows(rec: Recording, index: int = 0, config: WindowConfig = WindowConfig()) -> Windows:
    """Cut one recording into model windows (see the module docstring for the rules)."""
    rate_in = check_rate(rec.rate_hz if rec.rate_hz else 1.0 / np.median(np.diff(rec.times_s())), "recording")
    has_gyro = rec.gyro_rads is not None
    data = np.concatenate([rec.acc_mps2, rec.gyro_rads if has_gyro else np.zeros_like(rec.acc_mps2)], axis=1)
    segments, gaps = regularise(rec.t_s, data, rate_in, config.max_interp_gap_s, config.gap_factor)
    stats = WindowStats(n_recordings=1, n_segments=len(segments), n_gaps_interpolated=gaps.n_gaps_interpolated,
                        n_gaps_split=gaps.n_gaps_split)
    wl, hl = config.window_len, config.hop_len
    chunks, starts, spans, padded = [], [], [], []
    for seg in segments:
        seg_dur = (len(seg.data) - 1) / seg.rate_hz + 1.0 / seg.rate_hz
        if seg_dur < config.min_pad_s - 1e-9:
            stats.n_segments_dropped_short += 1
            continue
        y = resample(seg.data, seg.rate_hz, config.rate_hz) if len(seg.data) > 1 else seg.data
        if len(y) < wl:
            before = (wl - len(y)) // 2
            chunks.append(np.pad(y, ((before, wl - len(y) - before), (0, 0)), mode="edge"))
            starts.append(seg.start_s - before / config.rate_hz)
            spans.append((seg.start_s, seg.start_s + seg_dur))
            padded.append(True)
            continue
        for a in range(0, len(y) - wl + 1, hl):
            chunks.append(y[a : a + wl])
            t0 = seg.start_s + a / config.rate_hz
            starts.append(t0)
            spans.append((t0, t0 + config.window_s))
            padded.append(False)
    n = len(chunks)
    arr = np.stack(chunks).astype(np.float32) if n else np.zeros((0, wl, 6), np.float32)
    labels = [_label_for(rec, a, b, config.label_rule) for a, b in spans]
    stats.n_windows, stats.n_padded = n, int(sum(padded))
    stats.n_unlabelled = sum(lab is None for lab in labels)
    return Windows(
        acc_mps2=arr[:, :, :3],
        gyro_rads=arr[:, :, 3:] if has_gyro else np.zeros_like(arr[:, :, 3:]),
        has_gyro=np.full(n, has_gyro),
        placement=[rec.placement] * n,
        subject=[rec.subject] * n,
        label=labels,
        dataset=[rec.dataset] * n,
        recording=np.full(n, index, dtype=np.int64),
        start_s=np.asarray(starts, dtype=np.float64),
        gravity_removed=np.full(n, rec.gravity_removed),
        padded=np.asarray(padded, dtype=bool),
        rate_hz=config.rate_hz,
        stats=stats,
    )


def make_windows(recordings: list[Recording], config: WindowConfig = WindowConfig()) -> Windows:
    """Windows of every recording, concatenated; ``recording`` indexes into ``recordings``.
    A recording that cannot be windowed raises ValueError naming it (its ``source``)."""
    parts = []
    for i, r in enumerate(recordings):
        try:
            parts.append(recording_windows(r, i, config))
        except ValueError as exc:
            raise ValueError(f"{r.source or f'recording {i}'}: {exc}") from None
    stats = WindowStats()
    for p in parts:
        stats.add(p.stats)
    wl = config.window_len
    cat = lambda name: (  # noqa: E731
        np.concatenate([getattr(p, name) for p in parts]) if parts else np.zeros((0, wl, 3), np.float32)
    )
    out = Windows(
        acc_mps2=cat("acc_mps2"),
        gyro_rads=cat("gyro_rads"),
        has_gyro=np.concatenate([p.has_gyro for p in parts]) if parts else np.zeros(0, bool),
        placement=[x for p in parts for x in p.placement],
        subject=[x for p in parts for x in p.subject],
        label=[x for p in parts for x in p.label],
        dataset=[x for p in parts for x in p.dataset],
        recording=np.concatenate([p.recording for p in parts]) if parts else np.zeros(0, np.int64),
        start_s=np.concatenate([p.start_s for p in parts]) if parts else np.zeros(0),
        gravity_removed=np.concatenate([p.gravity_removed for p in parts]) if parts else np.zeros(0, bool),
        padded=np.concatenate([p.padded for p in parts]) if parts else np.zeros(0, bool),
        rate_hz=config.rate_hz,
        stats=stats,
    )
    return out
