"""Run the work units of a simulated dataset in order, in one process or a pool of spawned workers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat

from anymo.sim.config import DatasetConfig
from anymo.sim.unit import UnitResult, simulate_unit


def run_units(cfg: DatasetConfig, workers: int) -> Iterator[UnitResult]:
    """Unit results in unit order, computed in ``workers`` processes (1: in this process)."""
    if workers <= 1 or cfg.n_units == 1:
        for u in range(cfg.n_units):
            yield simulate_unit(cfg, u)
        return
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")  # no fork: safe with threads (tqdm, BLAS) on every OS
    # one BLAS/OpenMP thread per worker process (the processes are the parallelism), unless set by the user
    single = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS") if k not in os.environ}
    os.environ.update(single)
    try:
        with ProcessPoolExecutor(max_workers=min(workers, cfg.n_units), mp_context=ctx) as ex:
            results = ex.map(simulate_unit, repeat(cfg), range(cfg.n_units))
            for k in single:  # the workers have started with it; restore this process's environment
                os.environ.pop(k, None)
            single = {}
            yield from results
    finally:
        for k in single:
            os.environ.pop(k, None)
