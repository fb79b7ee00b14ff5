"""`DatasetConfig`: what `anymo simulate` makes, checked; and the per-unit random generator.

The requested hours are split into work units of ``unit_s`` seconds (the last one shorter). Unit ``u``
draws everything from its own generator ``default_rng(SeedSequence(seed, spawn_key=(u,)))`` (the u-th
child of ``SeedSequence(seed).spawn``), so the output depends on the seed only, not on the number of
worker processes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from anymo.body.surface import N_PLACEMENTS
from anymo.constants import MAX_RATE_HZ, MIN_RATE_HZ
from anymo.sim.simulate import resolve_hardware
from anymo.sim.source_registry import SOURCES

MIN_WINDOW_SAMPLES = 8


@dataclass(frozen=True)
class DatasetConfig:
    """What `generate_dataset` makes. Every field goes into the manifest's ``args``."""

    hours: float
    seed: int = 0
    sensors_per_window: int = 8
    rate_hz: float = 60.0
    window_s: float = 5.0
    unit_s: float = 60.0  # length of one work unit (one continuous simulated sequence)
    shard_windows: int = 1024
    device: str | None = None  # a DEVICE_PRESETS name, or None: random per unit
    # motion sources (names in anymo.sim.sources.SOURCES) and the share of units each gives
    sources: tuple[str, ...] = ("procedural",)
    source_shares: tuple[float, ...] = (1.0,)
    data_dir: str | None = None  # the shared data folder sources find their files in (None: $ANYMO_DATA)
    source_dirs: tuple[tuple[str, str], ...] = ()  # (source, folder) overrides, e.g. (("deepmimic", "clips/"),)
    named_fraction: float = 0.5  # fraction of placements drawn inside named regions
    soft_tissue_fraction: float = 0.5  # fraction of units whose devices wobble on soft tissue
    motion_rate_hz: float | None = None  # rate of the generated motion; None: max(120, 2 x rate_hz)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", tuple(self.sources))
        object.__setattr__(self, "source_shares", tuple(float(x) for x in self.source_shares))
        object.__setattr__(self, "source_dirs", tuple(tuple(p) for p in self.source_dirs))
        check_config(self)

    @property
    def samples_per_window(self) -> int:
        return int(round(self.window_s * self.rate_hz))

    @property
    def n_windows(self) -> int:
        return max(1, int(round(self.hours * 3600.0 / self.window_s)))

    @property
    def windows_per_unit(self) -> int:
        return max(1, int(self.unit_s // self.window_s))

    @property
    def n_units(self) -> int:
        return math.ceil(self.n_windows / self.windows_per_unit)

    def unit_windows(self, unit_id: int) -> int:
        """Windows cut from unit ``unit_id`` (all full except the last)."""
        return min(self.windows_per_unit, self.n_windows - unit_id * self.windows_per_unit)

    def motion_rate(self) -> float:
        return float(self.motion_rate_hz or max(120.0, 2.0 * self.rate_hz))


def _finite(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def check_config(cfg: DatasetConfig) -> None:
    """ValueError naming the first impossible setting (by its field name) and how to fix it."""
    if not _finite(cfg.hours) or cfg.hours <= 0:
        raise ValueError(f"hours must be a positive number of hours of signal, got {cfg.hours}")
    if not _finite(cfg.rate_hz) or not (MIN_RATE_HZ <= cfg.rate_hz <= MAX_RATE_HZ):
        raise ValueError(f"rate_hz must be a sampling rate in {MIN_RATE_HZ:g}..{MAX_RATE_HZ:g} Hz, got {cfg.rate_hz} (e.g. 60)")
    if not _finite(cfg.window_s) or cfg.window_s <= 0:
        raise ValueError(f"window_s must be a positive window length in seconds, got {cfg.window_s} (e.g. 5)")
    if cfg.window_s * cfg.rate_hz < MIN_WINDOW_SAMPLES:
        raise ValueError(
            f"a window of {cfg.window_s} s at {cfg.rate_hz} Hz holds fewer than {MIN_WINDOW_SAMPLES} samples; "
            "raise the rate or the window length"
        )
    if abs(cfg.window_s * cfg.rate_hz - round(cfg.window_s * cfg.rate_hz)) > 1e-6:
        raise ValueError(
            f"window_s x rate_hz must be a whole number of samples, got {cfg.window_s} s x {cfg.rate_hz} Hz = "
            f"{cfg.window_s * cfg.rate_hz:g}; pick a window length that is a multiple of 1/rate"
        )
    if not _finite(cfg.unit_s) or cfg.unit_s < cfg.window_s:
        raise ValueError(f"unit_s ({cfg.unit_s}) must be at least one window ({cfg.window_s} s)")
    if not isinstance(cfg.sensors_per_window, (int, np.integer)) or not (1 <= cfg.sensors_per_window <= N_PLACEMENTS):
        raise ValueError(
            f"sensors_per_window must be between 1 and the number of placements ({N_PLACEMENTS}), got {cfg.sensors_per_window}"
        )
    if not isinstance(cfg.seed, (int, np.integer)) or cfg.seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {cfg.seed!r}")
    if not isinstance(cfg.shard_windows, (int, np.integer)) or cfg.shard_windows < 1:
        raise ValueError(f"shard_windows must be a positive integer, got {cfg.shard_windows!r}")
    for name in ("named_fraction", "soft_tissue_fraction"):
        v = getattr(cfg, name)
        if not _finite(v) or not (0.0 <= v <= 1.0):
            raise ValueError(f"{name} must be a fraction in [0, 1], got {v}")
    if cfg.motion_rate_hz is not None and (not _finite(cfg.motion_rate_hz) or cfg.motion_rate_hz < cfg.rate_hz):
        raise ValueError(f"motion_rate_hz ({cfg.motion_rate_hz}) must be at least the output rate ({cfg.rate_hz} Hz)")
    _check_sources(cfg)
    if cfg.device is not None:
        resolve_hardware(cfg.device)  # ValueError listing the valid names


def _check_sources(cfg: DatasetConfig) -> None:
    if not cfg.sources:
        raise ValueError(f"sources must name at least one motion source; known: {', '.join(SOURCES)}")
    unknown = [s for s in cfg.sources if s not in SOURCES]
    if unknown:
        raise ValueError(f"unknown motion source(s) {unknown}; known: {', '.join(SOURCES)}")
    if len(set(cfg.sources)) != len(cfg.sources):
        raise ValueError(f"sources must not repeat a name, got {list(cfg.sources)}")
    if len(cfg.source_shares) != len(cfg.sources):
        raise ValueError(f"source_shares needs one share per source: {len(cfg.sources)} sources "
                         f"{list(cfg.sources)}, {len(cfg.source_shares)} shares {list(cfg.source_shares)}")
    if not all(_finite(x) and x >= 0 for x in cfg.source_shares) or sum(cfg.source_shares) <= 0:
        raise ValueError(f"source_shares must be non-negative numbers with a positive sum, got {list(cfg.source_shares)}")
    bad = [name for name, _ in cfg.source_dirs if name not in cfg.sources]
    if bad:
        raise ValueError(f"source_dirs names source(s) {bad} that are not among sources {list(cfg.sources)}")


def unit_rng(seed: int, unit_id: int) -> np.random.Generator:
    """The generator of work unit ``unit_id``: the ``unit_id``-th child of ``SeedSequence(seed)``."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(unit_id),)))
