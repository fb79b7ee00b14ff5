"""Which body-surface placements a simulated unit wears: named regions and uniform spots."""

from __future__ import annotations

import numpy as np

from anymo.body.named_placements import placement_ids_for
from anymo.body.placement_names import NAMED_PLACEMENTS
from anymo.body.surface import N_PLACEMENTS

_REGION_IDS: dict[str, np.ndarray] = {}


def region_ids(name: str) -> np.ndarray:
    """Candidate placement ids of a named region (cached per process)."""
    if name not in _REGION_IDS:
        _REGION_IDS[name] = placement_ids_for(name)
    return _REGION_IDS[name]


def draw_placements(rng: np.random.Generator, k: int, named_fraction: float) -> np.ndarray:
    """``k`` distinct placement ids (int32, random order): about ``named_fraction`` of them each a random
    spot in a different random named region, the rest uniform over all candidates."""
    n_named = min(int(rng.binomial(k, named_fraction)), len(NAMED_PLACEMENTS))
    chosen: list[int] = []
    for name in rng.permutation(np.array(NAMED_PLACEMENTS))[:n_named]:
        ids = np.setdiff1d(region_ids(str(name)), chosen)
        if ids.size:
            chosen.append(int(rng.choice(ids)))
    rest = np.setdiff1d(np.arange(N_PLACEMENTS), chosen)
    chosen += rng.choice(rest, size=k - len(chosen), replace=False).tolist()
    return rng.permutation(np.array(chosen, dtype=np.int32))
