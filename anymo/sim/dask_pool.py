"""Run the work units of a simulated dataset on a Dask cluster (dask.distributed) instead of local processes.

``anymo simulate --dask tcp://HOST:PORT`` sends the units to the workers of a running scheduler
(``dask scheduler`` on one machine, ``dask worker tcp://HOST:PORT`` on each machine); ``--dask local:N``
starts a `LocalCluster` of N worker processes (one thread each) on this machine for the run.
`DaskUnits.run_units` yields the same `UnitResult` s in the same order as `anymo.sim.pool.run_units`:
every unit is deterministic for ``(cfg, unit_id)``, so the shards are byte-identical to a one-process run
when the workers run the same code and numeric libraries (checked before the first unit, see
`code_fingerprint`) on the same kind of CPU.

Needs the ``cluster`` extra (``pip install 'anymo-edge[cluster]'``); this is the only module importing dask.
"""

from __future__ import annotations

import hashlib
import platform
import sys
import uuid
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from dask.distributed import Client, LocalCluster

from anymo.sim.config import DatasetConfig
from anymo.sim.source_registry import get_source
from anymo.sim.sources import SourceUnavailable
from anymo.sim.unit import UnitResult, simulate_unit, source_options

LOCAL_PREFIX = "local:"
UNITS_AHEAD_PER_THREAD = 2  # units in flight per worker thread: keeps workers busy, bounds memory held


class ClusterError(ValueError):
    """The Dask cluster cannot run the simulation (unreachable, no workers, other code); the message says
    what and how to fix it."""


def parse_spec(spec: str) -> tuple[str | None, int | None]:
    """``"local:N"`` -> (None, N); a scheduler address (``tcp://HOST:PORT``, ``tls://...``, ``HOST:PORT``)
    -> (address, None). ValueError naming the accepted forms otherwise."""
    spec = spec.strip()
    if spec.startswith(LOCAL_PREFIX):
        n = spec[len(LOCAL_PREFIX):]
        if not n.isdigit() or int(n) < 1:
            raise ValueError(f"--dask local:N takes a number of worker processes >= 1 (e.g. local:2), got {spec!r}")
        return None, int(n)
    if not spec or spec.startswith("-") or ":" not in spec:
        raise ValueError(f"--dask takes a scheduler address (tcp://HOST:PORT) or local:N (N local worker processes), got {spec!r}")
    return spec, None


def code_fingerprint() -> str:
    """sha256 over the anymo package's Python sources and the Python, numpy and scipy versions and CPU
    architecture: two processes with equal fingerprints simulate equal units."""
    import numpy
    import scipy

    import anymo

    root = Path(anymo.__file__).resolve().parent
    h = hashlib.sha256(f"{sys.version}|{numpy.__version__}|{scipy.__version__}|{platform.machine()}|".encode())
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def _source_manifests(cfg: DatasetConfig) -> dict | str:
    """On a worker: what each of ``cfg``'s motion sources reports there (`MotionSource.manifest`: e.g. the clips
    it draws from), or why one cannot run there."""
    try:
        return {name: get_source(name, source_options(cfg)).manifest() for name in cfg.sources}
    except SourceUnavailable as exc:
        return str(exc)


class DaskUnits:
    """A Dask cluster running simulation units; a context manager (closes the client and a local cluster).

    ``spec``: a scheduler address or ``local:N`` (`parse_spec`)."""

    def __init__(self, spec: str, *, connect_timeout_s: float = 30.0) -> None:
        self.spec = spec
        address, n_local = parse_spec(spec)
        self._cluster: LocalCluster | None = None
        try:
            if n_local is not None:
                self._cluster = LocalCluster(n_workers=n_local, threads_per_worker=1, processes=True, dashboard_address=None)
                address = self._cluster.scheduler_address
            self.client = Client(address, timeout=f"{connect_timeout_s}s", set_as_default=False)
        except (OSError, TimeoutError) as exc:  # refused, unresolvable, timed out (distributed raises OSError subclasses)
            self.close()
            raise ClusterError(
                f"cannot reach the Dask scheduler at {address} ({type(exc).__name__}: {exc}); start one with `dask scheduler` "
                "and workers with `dask worker ADDRESS`, or use --dask local:N"
            ) from None
        self.address = address
        try:
            self.client.wait_for_workers(n_local or 1, timeout=connect_timeout_s)
        except TimeoutError:
            self.close()
            raise ClusterError(f"the Dask scheduler at {address} has no workers after {connect_timeout_s:g} s; "
                               f"start some with `dask worker {address}`") from None
        self._check_code()

    def __enter__(self) -> DaskUnits:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    @property
    def n_workers(self) -> int:
        return len(self.client.nthreads())

    @property
    def n_threads(self) -> int:
        return sum(self.client.nthreads().values())

    def manifest(self) -> dict:
        """What the dataset manifest records about the cluster."""
        return {"backend": "dask", "scheduler": "local" if self._cluster is not None else self.address,
                "workers": self.n_workers, "threads": self.n_threads}

    def _check_code(self) -> None:
        """ClusterError when a worker runs other anymo code or numeric libraries than this process."""
        mine = code_fingerprint()
        try:
            theirs = self.client.run(code_fingerprint)
        except ImportError as exc:
            raise ClusterError(f"the Dask workers cannot import anymo ({exc}); install the same anymo-edge on them") from None
        other = sorted(w for w, fp in theirs.items() if fp != mine)
        if other:
            raise ClusterError(
                f"Dask worker {other[0]} (and {len(other) - 1} more) runs other anymo code, Python, numpy or scipy than "
                "this process, so its units would differ; install the same anymo-edge and libraries on every worker"
            )

    def run_units(self, cfg: DatasetConfig) -> Iterator[UnitResult]:
        """Unit results of ``cfg`` in unit order, computed on the cluster's workers."""
        mine = _source_manifests(cfg)
        for worker, theirs in sorted(self.client.run(_source_manifests, cfg).items()):
            if isinstance(theirs, str):
                raise ClusterError(f"Dask worker {worker} cannot run the motion sources: {theirs} "
                                   "(the workers read the data folders at the same paths as this process)")
            if theirs != mine:
                raise ClusterError(f"Dask worker {worker} sees other motion source data than this process ({theirs} vs "
                                   f"{mine}); give every worker the same data folders at the same paths")
        run_id = uuid.uuid4().hex[:12]
        ahead = max(2, UNITS_AHEAD_PER_THREAD * self.n_threads)
        pending: deque = deque()
        next_unit = 0

        def fill() -> None:
            nonlocal next_unit
            while next_unit < cfg.n_units and len(pending) < ahead:
                pending.append(self.client.submit(simulate_unit, cfg, next_unit, key=f"anymo-sim-unit-{run_id}-{next_unit}", pure=False))
                next_unit += 1

        try:
            fill()
            while pending:
                future = pending.popleft()
                result = future.result()
                future.release()  # the worker may drop it: we hold the arrays now
                fill()
                yield result
        finally:
            if pending:  # stopped early (an error, the consumer closed us): do not leave units running
                self.client.cancel(list(pending))
