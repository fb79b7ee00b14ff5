"""`generate_dataset`: simulated multi-placement IMU windows with labels and captions, written as shards.

The work: `anymo.sim.config` (what to make), `anymo.sim.unit` (one unit: source motion, sensors,
the one preprocessing into windows), `anymo.sim.sources` (the motion source registry),
`anymo.sim.captions`, `anymo.sim.pool` (units in worker processes), `anymo.sim.shards` (the files).
This module checks the output folder, runs the units, writes shards and the manifest.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, fields, is_dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm import tqdm

from anymo.body.named_placements import placement_table_json
from anymo.body.surface import lattice_digest, reference_placements
from anymo.sim import shards
from anymo.sim.config import DatasetConfig
from anymo.sim.pool import run_units
from anymo.sim.simulate import resolve_hardware
from anymo.sim.source_registry import get_source
from anymo.sim.unit import UNIT_TREMOR, UnitResult, device_rate_hz, source_options


class UnitRunner(Protocol):
    """Runs the work units somewhere other than local processes (`anymo.sim.dask_pool.DaskUnits`)."""

    n_workers: int

    def run_units(self, cfg: DatasetConfig) -> Iterator[UnitResult]: ...  # results in unit order

    def manifest(self) -> dict: ...  # what the manifest records under "cluster"


class OutputFolderError(ValueError):
    """The output folder cannot take a dataset; ``needs_overwrite``: it holds a previous dataset that
    ``overwrite=True`` would replace."""

    def __init__(self, message: str, needs_overwrite: bool = False) -> None:
        super().__init__(message)
        self.needs_overwrite = needs_overwrite


def prepare_out_dir(out_dir: str | Path, overwrite: bool) -> Path:
    """Create ``out_dir`` (or check it is empty, or with ``overwrite`` clear our files from it);
    `OutputFolderError` when it cannot be used."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputFolderError(f"{out} exists and is not a folder; choose a folder path")
    if out.is_dir():
        ours = [p for p in out.iterdir() if p.name == shards.MANIFEST_NAME or (p.name.startswith(("shard-", ".shard-", ".manifest")))]
        others = [p for p in out.iterdir() if p not in ours]
        if (ours or others) and not overwrite:
            raise OutputFolderError(f"{out} is not empty; choose a new folder", needs_overwrite=bool(ours) and not others)
        if others:
            raise OutputFolderError(
                f"{out} holds files that are not a simulated dataset ({others[0].name}, ...); overwriting only replaces "
                "shards and manifest.json, so choose an empty folder"
            )
        for p in ours:
            p.unlink()
    else:
        try:
            out.mkdir(parents=True)
        except OSError as exc:
            raise OutputFolderError(f"cannot create {out}: {exc.strerror or exc}; choose a writable folder") from exc
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputFolderError(f"{out} is not writable (permission denied); choose a writable folder")
    return out


def _jsonable(x):
    if is_dataclass(x) and not isinstance(x, type):
        return {f.name: _jsonable(getattr(x, f.name)) for f in fields(x)}
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    return x


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("anymo-edge")
    except PackageNotFoundError:
        return "unknown"


def generate_dataset(
    cfg: DatasetConfig,
    out_dir: str | Path,
    *,
    workers: int | None = None,
    overwrite: bool = False,
    progress: bool = False,
    command: str | None = None,
    runner: UnitRunner | None = None,
) -> dict:
    """Simulate ``cfg`` into shards under ``out_dir`` and write its manifest; return the manifest.

    ``runner``: where the units run instead of ``workers`` local processes (e.g. `anymo.sim.dask_pool.DaskUnits`);
    the shards are the same. The manifest's ``timings_s`` holds the wall time and the summed per-stage times of all units.
    """
    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    sources = {name: get_source(name, source_options(cfg)) for name in cfg.sources}  # SourceUnavailable first
    out = prepare_out_dir(out_dir, overwrite)
    t_start = time.perf_counter()
    writer = shards.ShardWriter(out, cfg.shard_windows, cfg.rate_hz)
    per_activity: Counter[str] = Counter()
    per_device: Counter[str] = Counter()
    per_source: Counter[str] = Counter()
    motion_retries = 0
    stage = Counter({"motion_s": 0.0, "simulate_s": 0.0, "resample_s": 0.0, "write_s": 0.0})
    bar = tqdm(total=cfg.n_windows, unit="win", desc="simulate", file=sys.stderr, disable=not progress, dynamic_ncols=True)
    try:
        for res in (runner.run_units(cfg) if runner is not None else run_units(cfg, workers)):
            a = res.arrays
            per_activity.update(a["activity"].tolist())
            per_device.update(a["device"].tolist())
            per_source.update(a["source"].tolist())
            stage.update(res.timings_s)
            motion_retries += res.motion_retries
            t = time.perf_counter()
            writer.add(a)
            stage["write_s"] += time.perf_counter() - t
            bar.update(int(a["activity"].shape[0]))
        t = time.perf_counter()
        entries = writer.close()
        stage["write_s"] += time.perf_counter() - t
    finally:
        bar.close()
    wall_s = time.perf_counter() - t_start
    manifest = {
        "format": shards.FORMAT_NAME,
        "format_version": shards.FORMAT_VERSION,
        "anymo_edge_version": _package_version(),
        "command": command,
        "seed": cfg.seed,
        "args": _jsonable(asdict(cfg)),
        "rate_hz": cfg.rate_hz,
        "window_s": cfg.window_s,
        "samples_per_window": cfg.samples_per_window,
        "sensors_per_window": cfg.sensors_per_window,
        "counts": {
            "windows": sum(e["windows"] for e in entries),
            "shards": len(entries),
            "units": cfg.n_units,
            "per_activity": dict(sorted(per_activity.items())),
            "per_device": dict(sorted(per_device.items())),
            "per_source": dict(sorted(per_source.items())),
            "motion_retries": motion_retries,
        },
        "shards": entries,
        "devices": {name: {**_jsonable(resolve_hardware(name)), "stream_rate_hz": device_rate_hz(name, cfg.rate_hz)} for name in sorted(per_device)},
        "sources": {name: {"share": round(share / sum(cfg.source_shares), 6), **src.manifest()}
                    for (name, src), share in zip(sources.items(), cfg.source_shares)},
        "tremor": _jsonable(UNIT_TREMOR),
        "workers": runner.n_workers if runner is not None else workers,
        **({"cluster": runner.manifest()} if runner is not None else {}),
        "timings_s": {"wall": round(wall_s, 3), **{k: round(v, 3) for k, v in stage.items()}},
        "lattice_digest": lattice_digest(),
        "placement_table": placement_table_json(reference_placements()),
    }
    shards.write_manifest(out, manifest)
    return manifest

