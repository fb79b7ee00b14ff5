"""Recordings -> `ModelInput` windows: gap handling, resampling to 60 Hz, 5 s windows, labels.

Numpy only (the same code runs on the device). Rules, all configurable in `WindowConfig`:

* gaps: see `anymo.preprocess.gaps` (short gaps <= 0.2 s interpolated, longer ones split the stream);
* resampling: anti-aliased windowed-sinc to ``rate_hz`` (60 Hz) from any rate in 10..1000 Hz;
* windows: ``window_s`` (5 s = 300 samples) every ``hop_s`` within each segment; a trailing part shorter
  than a window is not used; a whole segment shorter than a window but at least ``min_pad_s`` long
  becomes one window, edge-padded on both sides (``padded``); shorter segments are dropped (counted);
* labels: rule "inside" (default) gives a window the activity of the label segment that covers the
  window's whole data extent, else no label (None); rule "majority" gives the activity covering more
  than half of it, else None (`anymo.preprocess.labels`);
* sensors recorded together stay together: recordings of one dataset with the same non-empty
  ``Recording.session`` (one clock, e.g. Daphnet's ankle/thigh/trunk) become the sensor slots of one
  window (slots in recording order); a slot whose recording has no window at that start is masked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anymo.data.recording import Recording
from anymo.preprocess.gaps import regularise
from anymo.preprocess.labels import LABEL_RULES, window_label
from anymo.preprocess.model_input import MODEL_RATE_HZ, WINDOW_S, ModelInput, WindowMeta, placement_id_of
from anymo.preprocess.resample import check_rate, estimate_rate_hz, resample


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
        if self.label_rule not in LABEL_RULES:
            raise ValueError(f"label_rule must be one of {LABEL_RULES}, got {self.label_rule!r}")
        if not (self.hop_s > 0 and self.window_s > 0):
            raise ValueError(f"window_s and hop_s must be positive seconds, got window_s={self.window_s}, hop_s={self.hop_s}")
        if not (0 <= self.min_pad_s <= self.window_s):
            raise ValueError(f"min_pad_s must be between 0 and window_s ({self.window_s} s), got {self.min_pad_s}")

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
    n_segments_dropped_short: int = 0  # segments shorter than min_pad_s: no window
    n_recordings_without_window: int = 0  # recordings that gave no window at all (all segments too short)
    n_padded: int = 0
    n_unlabelled: int = 0

    def add(self, other: WindowStats) -> None:
        for k in self.__dataclass_fields__:
            setattr(self, k, getattr(self, k) + getattr(other, k))


def frame_starts(n_samples: int, window_len: int, hop_len: int) -> np.ndarray:
    """First sample of every whole window of ``window_len`` every ``hop_len`` in ``n_samples``; a
    trailing part shorter than a window is not used."""
    return np.arange(0, max(0, n_samples - window_len + 1), hop_len, dtype=np.int64)


def frame(y: np.ndarray, window_len: int, hop_len: int) -> np.ndarray:
    """[T, ...] -> [N, window_len, ...]: the windows at `frame_starts` (a copy)."""
    return np.stack([y[a : a + window_len] for a in frame_starts(len(y), window_len, hop_len)]) if len(y) >= window_len \
        else np.zeros((0, window_len, *y.shape[1:]), y.dtype)


@dataclass
class _Cut:
    """Windows of one recording before they become `ModelInput` slots."""

    data: np.ndarray  # [n, T, 6] float64 acc m/s² + gyro rad/s
    start_s: np.ndarray  # [n]
    label: list[str | None]
    padded: np.ndarray  # [n] bool
    stats: WindowStats


def _cut_recording(rec: Recording, config: WindowConfig) -> _Cut:
    rate = rec.rate_hz if rec.rate_hz else estimate_rate_hz(rec.times_s(), min_samples=2)
    rate_in = check_rate(rate if rate is not None else float("nan"), "recording")
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
            chunks.append(np.pad(y, ((before, wl - len(y) - before), (0, 0)), mode="edge")[None])
            starts.append([seg.start_s - before / config.rate_hz])
            spans.append((seg.start_s, seg.start_s + seg_dur))
            padded.append([True])
            continue
        a = frame_starts(len(y), wl, hl)
        chunks.append(frame(y, wl, hl))
        t0 = seg.start_s + a / config.rate_hz
        starts.append(t0)
        spans += [(t, t + config.window_s) for t in t0]
        padded.append(np.zeros(len(a), bool))
    arr = np.concatenate(chunks) if chunks else np.zeros((0, wl, 6))
    labels = [window_label(rec.labels, a, b, config.label_rule) for a, b in spans]
    stats.n_windows = len(arr)
    stats.n_recordings_without_window = int(len(arr) == 0)
    return _Cut(arr, np.concatenate(starts) if starts else np.zeros(0), labels,
                np.concatenate(padded).astype(bool) if padded else np.zeros(0, bool), stats)


def sessions(recordings: list[Recording]) -> list[list[int]]:
    """Indices of ``recordings`` grouped by recording session: recordings of one dataset with the same
    non-empty ``session`` together (in order), every other recording alone; groups in order of first member."""
    groups: dict[object, list[int]] = {}
    for i, r in enumerate(recordings):
        groups.setdefault((r.dataset, r.session) if r.session else i, []).append(i)
    return list(groups.values())


def _session_windows(recs: list[Recording], indices: list[int], cuts: list[_Cut], config: WindowConfig) -> ModelInput:
    """One session's recordings as the slots of shared windows (joined on the window start, 1 ms)."""
    keys = sorted({int(round(t * 1000)) for c in cuts for t in c.start_s})
    row = {k: i for i, k in enumerate(keys)}
    n, s, wl = len(keys), len(recs), config.window_len
    data = np.zeros((n, s, wl, 6))
    mask = np.zeros((n, s), bool)
    start = np.zeros(n)
    label: list[str | None] = [None] * n
    padded = np.zeros(n, bool)
    labelled = np.zeros(n, bool)
    for j, c in enumerate(cuts):
        rows = np.array([row[int(round(t * 1000))] for t in c.start_s], dtype=np.int64)
        if not len(rows):
            continue
        data[rows, j], mask[rows, j], start[rows] = c.data, True, c.start_s
        padded[rows] |= c.padded
        for r, lab in zip(rows, c.label):
            if not labelled[r]:  # the first slot's label (the sensors of one session share their labels)
                label[r], labelled[r] = lab, True
    has_gyro = np.array([r.gyro_rads is not None for r in recs])[None, :] & mask
    pid = np.broadcast_to(np.array([placement_id_of(r.placement) for r in recs], np.int32), (n, s))
    first = recs[0]
    meta = WindowMeta(label, [()] * n, [first.subject] * n, [first.dataset] * n, np.full(n, indices[0], np.int64),
                      start, padded)
    grav = np.broadcast_to(np.array([r.gravity_removed for r in recs]), (n, s))
    return ModelInput.from_arrays(data[..., :3], data[..., 3:], pid, mask, has_gyro, grav, meta, config.rate_hz)


def recording_windows(rec: Recording, index: int = 0, config: WindowConfig = WindowConfig()) -> ModelInput:
    """Cut one recording into single-sensor model windows (see the module docstring for the rules)."""
    cut = _cut_recording(rec, config)
    out = _session_windows([rec], [index], [cut], config)
    out.stats = _final_stats([cut.stats], out)
    return out


def _final_stats(parts: list[WindowStats], x: ModelInput) -> WindowStats:
    stats = WindowStats()
    for p in parts:
        stats.add(p)
    stats.n_windows = len(x)
    stats.n_padded = int(x.meta.padded.sum())
    stats.n_unlabelled = sum(lab is None for lab in x.meta.label)
    return stats


def make_windows(recordings: list[Recording], config: WindowConfig = WindowConfig()) -> ModelInput:
    """Windows of every recording as one `ModelInput` (sessions multi-sensor, see the module docstring);
    ``meta.recording`` indexes into ``recordings`` (a session's first recording); ``stats`` holds the
    `WindowStats`. A recording that cannot be windowed raises ValueError naming it (its ``source``)."""
    cuts = []
    for i, r in enumerate(recordings):
        try:
            cuts.append(_cut_recording(r, config))
        except ValueError as exc:
            raise ValueError(f"{r.source or f'recording {i}'}: {exc}") from None
    parts = [_session_windows([recordings[i] for i in g], g, [cuts[i] for i in g], config) for g in sessions(recordings)]
    if parts:
        out = ModelInput.concat(parts)
    else:
        out = ModelInput(np.zeros((0, 1, config.window_len, 6), np.float32), np.zeros((0, 1)), np.zeros((0, 1)),
                         np.zeros((0, 1)), np.zeros((0, 1)), WindowMeta.empty(0), config.rate_hz)
    out.stats = _final_stats([c.stats for c in cuts], out)
    return out
