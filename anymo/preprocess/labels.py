"""Window labels from labelled time segments: one rule set for the simulator and the datasets (numpy-free).

* `label_cover`: every activity overlapping a window with the fraction of it that activity covers
  (summed over its segments), largest first - the simulator's majority label and its purity;
* `window_label`: the evaluation rules - "inside" (one segment covers the whole window, else None),
  "majority" (the segment covering more than half of it, else None).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

LABEL_RULES = ("inside", "majority")
_EPS_S = 1e-6


class Labelled(Protocol):
    activity: str
    start_s: float
    end_s: float


def label_cover(labels: Sequence[Labelled], t0_s: float, t1_s: float) -> list[tuple[str, float]]:
    """Activities overlapping [t0, t1) with the fraction of the window each covers, largest first
    (ties: earliest first)."""
    cover: dict[str, float] = {}
    for seg in labels:
        ov = min(seg.end_s, t1_s) - max(seg.start_s, t0_s)
        if ov > 0:
            cover[seg.activity] = cover.get(seg.activity, 0.0) + ov / (t1_s - t0_s)
    return sorted(cover.items(), key=lambda kv: -kv[1])


def window_label(labels: Sequence[Labelled], t0_s: float, t1_s: float, rule: str = "inside") -> str | None:
    """The label of the window [t0, t1) under ``rule`` ("inside" or "majority", see the module docstring)."""
    if rule not in LABEL_RULES:
        raise ValueError(f"label rule must be one of {LABEL_RULES}, got {rule!r}")
    best, best_cover = None, 0.0
    for seg in labels:
        if rule == "inside":
            if seg.start_s <= t0_s + _EPS_S and seg.end_s >= t1_s - _EPS_S:
                return seg.activity
            continue
        cover = min(seg.end_s, t1_s) - max(seg.start_s, t0_s)
        if cover > best_cover:
            best, best_cover = seg.activity, cover
    return best if best_cover > 0.5 * (t1_s - t0_s) else None
