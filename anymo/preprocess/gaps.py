"""Gap handling: put a (possibly irregular) stream onto a uniform grid, interpolating short gaps and
splitting at long ones (numpy only).

A gap is a step between consecutive timestamps longer than ``gap_factor`` nominal periods. Gaps up to
``max_interp_gap_s`` are filled by linear interpolation on the nominal grid; longer gaps split the
stream into separate segments. Both kinds are counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class GapReport:
    """What gap handling did to one stream."""

    n_gaps_interpolated: int = 0
    n_gaps_split: int = 0
    interpolated_s: float = 0.0  # total time filled by interpolation


@dataclass
class Segment:
    """A uniformly sampled stretch: ``data`` [T, C] at ``rate_hz``, first sample at ``start_s``."""

    data: np.ndarray
    rate_hz: float
    start_s: float


def regularise(
    t_s: np.ndarray | None,
    data: np.ndarray,
    rate_hz: float,
    max_interp_gap_s: float = 0.2,
    gap_factor: float = 1.5,
) -> tuple[list[Segment], GapReport]:
    """Split/fill ``data`` [T, C] with times ``t_s`` (None = already uniform at ``rate_hz``) into segments.

    Segments are uniform at ``rate_hz``; within a segment, samples are linearly interpolated at
    ``start + k / rate_hz`` (which also removes timestamp jitter).
    """
    data = np.asarray(data, dtype=np.float64)
    if data.ndim == 1:
        data = data[:, None]
    if max_interp_gap_s < 0 or gap_factor <= 1.0:
        raise ValueError("max_interp_gap_s must be >= 0 and gap_factor > 1")
    report = GapReport()
    if t_s is None:
        return [Segment(data, float(rate_hz), 0.0)], report
    t = np.asarray(t_s, dtype=np.float64)
    if t.shape[0] != data.shape[0]:
        raise ValueError(f"{t.shape[0]} timestamps for {data.shape[0]} samples")
    period = 1.0 / float(rate_hz)
    dt = np.diff(t)
    if np.any(dt <= 0):
        raise ValueError("timestamps must increase strictly (sort the samples, drop duplicates)")
    gap_idx = np.flatnonzero(dt > gap_factor * period)
    split_at = [int(i) + 1 for i in gap_idx if dt[i] > max_interp_gap_s]
    for i in gap_idx:
        if dt[i] <= max_interp_gap_s:
            report.n_gaps_interpolated += 1
            report.interpolated_s += float(dt[i] - period)
    report.n_gaps_split = len(split_at)
    segments = []
    for a, b in zip([0, *split_at], [*split_at, len(t)]):
        ts, xs = t[a:b], data[a:b]
        n = int(np.floor((ts[-1] - ts[0]) / period + 1e-6)) + 1
        grid = ts[0] + np.arange(n) * period
        filled = np.stack([np.interp(grid, ts, xs[:, c]) for c in range(xs.shape[1])], axis=1)
        segments.append(Segment(filled, float(rate_hz), float(ts[0])))
    return segments, report
