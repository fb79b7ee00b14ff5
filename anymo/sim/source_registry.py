"""THE registry of the simulator's motion sources: name -> "module:Class" (`anymo simulate --sources`).

The contract a source class implements is in `anymo.sim.sources` (its module docstring). Add a source
with one line in `SOURCES`; `get_source` imports it by name (once per process).
"""

from __future__ import annotations

import importlib

import numpy as np

from anymo.sim.sources import MotionSource, SourceOptions

# name -> "module:Class" implementing `MotionSource`. One line per source; keep this table the only registry.
SOURCES: dict[str, str] = {
    "procedural": "anymo.sim.sources:ProceduralSource",
    "deepmimic": "anymo.sim.sources:DeepMimicSource",
    "mocap": "anymo.motion.mocap:MocapSimSource",  # CMU + HDM05 clips with text, training subjects
    "mocap_heldout": "anymo.motion.mocap:MocapHeldoutSimSource",  # held-out subjects: synthetic checks only
    "compositional": "anymo.motion.compositional.source:CompositionalSource",
}


_CACHE: dict[tuple[str, SourceOptions], MotionSource] = {}


def get_source(name: str, options: SourceOptions = SourceOptions()) -> MotionSource:
    """The source ``name`` set up with ``options`` (once per process); ValueError for an unknown name,
    `SourceUnavailable` when its data is missing."""
    key = (name, options)
    if key not in _CACHE:
        if name not in SOURCES:
            raise ValueError(f"unknown motion source {name!r}; known: {', '.join(SOURCES)}")
        module, _, cls = SOURCES[name].partition(":")
        _CACHE[key] = getattr(importlib.import_module(module), cls)(options)
    return _CACHE[key]


def pick_source(rng: np.random.Generator, names: tuple[str, ...], shares: tuple[float, ...]) -> str:
    """One source name drawn with probability proportional to its share (one uniform draw from ``rng``)."""
    p = np.asarray(shares, dtype=np.float64)
    cum = np.cumsum(p / p.sum())
    return names[min(int(np.searchsorted(cum, rng.random(), side="right")), len(names) - 1)]
