"""Run the work units of a simulated dataset on a Dask cluster (dask.distributed) instead of local processes.

``anymo simulate --dask tcp://HOST:PORT`` sends the units to the workers of a running scheduler
(``dask scheduler`` on one machine, ``dask worker tcp://HOST:PORT`` on each machine); ``--dask local:N``
starts a `LocalCluster` of N worker processes (one thread each) on this machine for the run.
`DaskUnits.run_units` yields the same `UnitResult` s in the same order as `anymo.sim.pool.run_units`:
every unit is deterministic for ``(cfg, unit_id)``, so the shards are byte-identical to a one-process run
when the workers run the same anymo code, Python, numpy and scipy with the same motion source data on the
same CPU architecture (`DaskUnits.check`, before the first unit).

Needs the ``cluster`` extra (``pip install 'anymo-edge[cluster]'``); this is the only module importing dask.
"""

from __future__ import annotations

import hashlib
import logging
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


def runtime_versions() -> str:
    """Python, numpy and scipy versions and the CPU architecture: what else (besides anymo's code) decides the bytes
    a unit gives."""
    import numpy
    import scipy

    return f"Python {sys.version.split()[0]}, numpy {numpy.__version__}, scipy {scipy.__version__}, {platform.machine()}"


def _anymo_root() -> Path:
    import anymo

    return Path(anymo.__file__).resolve().parent


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def loaded_code_digests() -> dict[str, str]:
    """sha256 of the source file of every anymo module this process has imported, by path in the package."""
    root, out = _anymo_root(), {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if (name == "anymo" or name.startswith("anymo.")) and path:
            path = Path(path).resolve()
            if path.is_relative_to(root):
                out[path.relative_to(root).as_posix()] = _file_digest(path)
    return out


def _worker_state(cfg: DatasetConfig) -> dict:
    """On a worker, once ``cfg``'s motion sources are set up there: its `runtime_versions`, the anymo code it has
    loaded (`loaded_code_digests`) and what each source reports (`MotionSource.manifest`: e.g. the clips it draws
    from), or why a source cannot run there."""
    try:
        sources: dict | str = {name: get_source(name, source_options(cfg)).manifest() for name in cfg.sources}
    except SourceUnavailable as exc:
        sources = str(exc)
    return {"runtime": runtime_versions(), "code": loaded_code_digests(), "sources": sources}


def differing_code(code: dict[str, str]) -> list[str]:
    """Files of ``code`` (path in the package -> sha256) that differ from, or are missing in, this process's anymo."""
    root = _anymo_root()
    return sorted(rel for rel, digest in code.items() if not (root / rel).is_file() or _file_digest(root / rel) != digest)


class DaskUnits:
    """A Dask cluster running simulation units; a context manager (closes the client and a local cluster).

    ``spec``: a scheduler address or ``local:N`` (`parse_spec`)."""

    def __init__(self, spec: str, *, connect_timeout_s: float = 30.0) -> None:
        self.spec = spec
        address, n_local = parse_spec(spec)
        self._cluster: LocalCluster | None = None
        # dask's config sets its loggers to INFO: dozens of lines per run; only its warnings belong on our stderr
        self._dask_log = logging.getLogger("distributed")
        self._dask_log_level = self._dask_log.level
        self._dask_log.setLevel(logging.WARNING)
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
        self._checked: DatasetConfig | None = None

    def __enter__(self) -> DaskUnits:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        # a local cluster's shutdown warns when a busy machine is slow to end its worker processes (they are killed then)
        self._dask_log.setLevel(logging.ERROR)
        try:
            client = getattr(self, "client", None)
            if client is not None:
                client.close()
            if self._cluster is not None:
                self._cluster.close()
                self._cluster = None
        finally:
            self._dask_log.setLevel(self._dask_log_level)

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

    def check(self, cfg: DatasetConfig) -> None:
        """ClusterError when a worker would simulate ``cfg`` differently from this process: other anymo code,
        Python/numpy/scipy or CPU architecture, other motion source data, or a source it cannot run."""
        mine = {"runtime": runtime_versions(), "sources": {n: get_source(n, source_options(cfg)).manifest() for n in cfg.sources}}
        try:
            states = self.client.run(_worker_state, cfg)
        except ImportError as exc:  # the worker cannot unpickle a function of anymo.sim.dask_pool
            raise ClusterError(f"the Dask workers cannot import anymo ({exc}); install the same anymo-edge on them") from None
        for worker, theirs in sorted(states.items()):
            if theirs["runtime"] != mine["runtime"]:
                raise ClusterError(f"Dask worker {worker} runs {theirs['runtime']}, this process {mine['runtime']}: its units "
                                   "would differ; install the same versions on every worker")
            if isinstance(theirs["sources"], str):
                raise ClusterError(f"Dask worker {worker} cannot run the motion sources: {theirs['sources']} "
                                   "(the workers read the data folders at the same paths as this process)")
            if theirs["sources"] != mine["sources"]:
                raise ClusterError(f"Dask worker {worker} sees other motion source data than this process ({theirs['sources']} "
                                   f"vs {mine['sources']}); give every worker the same data folders at the same paths")
            other = differing_code(theirs["code"])
            if other:
                raise ClusterError(f"Dask worker {worker} runs other anymo code than this process ({', '.join(other[:3])}"
                                   f"{', ...' if len(other) > 3 else ''} differ); install the same anymo-edge on every worker")
        self._checked = cfg

    def run_units(self, cfg: DatasetConfig) -> Iterator[UnitResult]:
        """Unit results of ``cfg`` in unit order, computed on the cluster's workers."""
        if self._checked != cfg:
            self.check(cfg)
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
