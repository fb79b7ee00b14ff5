"""`anymo simulate`: write shards of simulated multi-placement IMU windows with labels and captions.

    anymo simulate --out DIR --hours H --seed S [--sensors-per-window K] [--rate-hz 60] [--window-s 5]
                   [--sources procedural,deepmimic --source-shares 0.9,0.1] [--source-dir NAME=DIR]
                   [--workers N | --dask tcp://HOST:PORT | --dask local:N]

The shard format is documented in docs/simulated_dataset.md; the generation in `anymo.sim.dataset`;
the motion sources in `anymo.sim.sources` (the contract) and `anymo.sim.source_registry` (the table ``SOURCES``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
from pathlib import Path

from anymo.sim.config import DatasetConfig
from anymo.sim.dataset import OutputFolderError, generate_dataset, prepare_out_dir
from anymo.sim.source_registry import SOURCES, get_source
from anymo.sim.sources import SourceOptions, SourceUnavailable

DEFAULT_SHARES = {"procedural": 0.9, "deepmimic": 0.1}  # the default mix when the DeepMimic clips are there


def _default_sources(options: SourceOptions) -> tuple[list[str], list[float]]:
    """procedural + deepmimic (0.9 / 0.1) when the DeepMimic clips are found, else procedural alone."""
    try:
        get_source("deepmimic", options)
    except SourceUnavailable:
        return ["procedural"], [1.0]
    return ["procedural", "deepmimic"], [DEFAULT_SHARES["procedural"], DEFAULT_SHARES["deepmimic"]]


def _sources(args: argparse.Namespace) -> tuple[list[str], list[float], list[tuple[str, str]]]:
    """--sources/--source-shares/--source-dir, and the older --mocap/--no-mocap/--mocap-fraction spelling."""
    dirs = []
    for item in args.source_dir:
        name, sep, folder = item.partition("=")
        if not sep or not name or not folder:
            raise ValueError(f"--source-dir takes NAME=DIR (e.g. deepmimic=data/deepmimic_motions), got {item!r}")
        dirs.append((name.strip(), folder))
    if args.mocap is not None:
        dirs.append(("deepmimic", str(args.mocap)))
    if args.sources is not None:
        names = [n.strip() for n in args.sources.split(",") if n.strip()]
    elif args.no_mocap:
        names = ["procedural"]
    elif args.mocap is not None or args.mocap_fraction is not None:
        names = ["procedural", "deepmimic"]
    else:
        names, shares = _default_sources(SourceOptions(str(args.data) if args.data else None, tuple(dirs)))
        return names, shares, dirs
    if args.source_shares is not None:
        try:
            shares = [float(x) for x in args.source_shares.split(",")]
        except ValueError:
            raise ValueError(f"--source-shares takes numbers separated by commas (e.g. 0.9,0.1), got {args.source_shares!r}") from None
    elif names == ["procedural", "deepmimic"] and args.mocap_fraction is not None:
        shares = [1.0 - args.mocap_fraction, args.mocap_fraction]
    else:
        shares = [DEFAULT_SHARES[n] for n in names] if names == list(DEFAULT_SHARES) else [1.0] * len(names)
    return names, shares, dirs


def _parser(prog: str) -> argparse.ArgumentParser:
    d = DatasetConfig.__dataclass_fields__
    ap = argparse.ArgumentParser(
        prog=prog,
        description="Simulate IMU windows (acc_mps2, gyro_rads) at random body-surface placements of random bodies "
        "moving as the motion sources give them (procedural activities, looped motion capture, ...), with activity "
        "labels and captions, and write them as .npz shards plus DIR/manifest.json. Deterministic for a seed, "
        "whatever --workers.",
    )
    ap.add_argument("--out", required=True, type=Path, help="output folder (created; must be empty unless --overwrite)")
    ap.add_argument("--hours", required=True, type=float, help="hours of signal to write (windows = hours x 3600 / window-s)")
    ap.add_argument("--seed", required=True, type=int, help="random seed (same seed, same shards)")
    ap.add_argument("--sensors-per-window", "-k", type=int, default=d["sensors_per_window"].default, metavar="K",
                    help="placements per window, 1..2400 (default %(default)s)")  # fmt: skip
    ap.add_argument("--rate-hz", type=float, default=d["rate_hz"].default, help="output sampling rate (default %(default)s)")
    ap.add_argument("--window-s", type=float, default=d["window_s"].default, help="window length in seconds (default %(default)s)")
    ap.add_argument("--unit-s", type=float, default=d["unit_s"].default,
                    help="seconds of one continuous simulated sequence (one body, motion, device set) (default %(default)s)")  # fmt: skip
    ap.add_argument("--shard-windows", type=int, default=d["shard_windows"].default, help="windows per shard file (default %(default)s)")
    ap.add_argument("--device", default=None, help="hardware preset for every unit, or 'ideal' for error-free sensors (default: random preset per unit)")
    ap.add_argument("--sources", default=None, metavar="A,B,...",
                    help=f"motion sources, comma-separated, from: {', '.join(SOURCES)} (default: procedural, plus "
                         "deepmimic when its clips are in the data folder)")  # fmt: skip
    ap.add_argument("--source-shares", default=None, metavar="X,Y,...",
                    help="share of the units each source gives, in --sources order (normalised; default 0.9,0.1 for "
                         "procedural,deepmimic, else equal)")  # fmt: skip
    ap.add_argument("--source-dir", action="append", default=[], metavar="NAME=DIR",
                    help="folder of one source's data (default: its folder under --data); repeatable")
    ap.add_argument("--data", type=Path, default=None, help="the shared data folder sources read (default: $ANYMO_DATA)")
    ap.add_argument("--mocap", type=Path, default=None, metavar="DIR",
                    help="same as --source-dir deepmimic=DIR with deepmimic among the sources")
    ap.add_argument("--no-mocap", action="store_true", help="same as --sources procedural")
    ap.add_argument("--mocap-fraction", type=float, default=None,
                    help="same as --sources procedural,deepmimic --source-shares 1-F,F")  # fmt: skip
    ap.add_argument("--named-fraction", type=float, default=d["named_fraction"].default,
                    help="fraction of placements drawn inside named regions (wrist, thigh, ...) (default %(default)s)")  # fmt: skip
    ap.add_argument("--soft-tissue-fraction", type=float, default=d["soft_tissue_fraction"].default,
                    help="fraction of units whose devices wobble on soft tissue (default %(default)s)")  # fmt: skip
    ap.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    ap.add_argument("--dask", default=None, metavar="ADDRESS",
                    help="run the units on a Dask cluster instead: its scheduler's address (tcp://HOST:PORT), or local:N "
                         "for N worker processes on this machine; same shards as without (needs the 'cluster' extra)")  # fmt: skip
    ap.add_argument("--overwrite", action="store_true", help="replace a dataset already in --out")
    ap.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary")
    return ap


def _dask_runner(spec: str):
    """Connect to (or start) the Dask cluster of ``--dask``; its module needs the 'cluster' extra (a missing one is
    turned into one line naming the extra by `anymo_cli.main`)."""
    from anymo.sim.dask_pool import DaskUnits

    return DaskUnits(spec)  # a malformed spec: ValueError before any connection attempt


def main(argv: list[str], prog: str = "anymo simulate") -> int:
    args = _parser(prog).parse_args(argv)
    with contextlib.ExitStack() as stack:
        return _main(args, argv, prog, stack)


def _main(args: argparse.Namespace, argv: list[str], prog: str, stack: contextlib.ExitStack) -> int:
    runner = None
    try:
        names, shares, dirs = _sources(args)
        cfg = DatasetConfig(
            hours=args.hours,
            seed=args.seed,
            sensors_per_window=args.sensors_per_window,
            rate_hz=args.rate_hz,
            window_s=args.window_s,
            unit_s=args.unit_s,
            shard_windows=args.shard_windows,
            device=args.device,
            sources=tuple(names),
            source_shares=tuple(shares),
            data_dir=str(args.data) if args.data is not None else None,
            source_dirs=tuple(dirs),
            named_fraction=args.named_fraction,
            soft_tissue_fraction=args.soft_tissue_fraction,
        )
        if args.workers is not None and args.workers < 1:
            raise ValueError(f"--workers must be at least 1, got {args.workers}")
        if args.dask is not None and args.workers is not None:
            raise ValueError("--workers and --dask exclude each other: with --dask the cluster's workers run the units "
                             "(--dask local:N for N local worker processes)")
        for name in cfg.sources:
            get_source(name, SourceOptions(cfg.data_dir, cfg.source_dirs))  # SourceUnavailable: before --out is made
        if args.dask is not None:
            runner = stack.enter_context(_dask_runner(args.dask))  # ClusterError (a ValueError): before --out is made
            runner.check(cfg)
        prepare_out_dir(args.out, args.overwrite)
    except SourceUnavailable as exc:
        print(f"{prog}: error: {exc} (--source-dir NAME=DIR, --data DIR, or drop it from --sources)", file=sys.stderr)
        return 2
    except OutputFolderError as exc:
        hint = " or pass --overwrite to replace the dataset there" if exc.needs_overwrite else ""
        print(f"{prog}: error: --out: {exc}{hint}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    # past this point a ValueError is a bug, not bad input: let it show its traceback
    manifest = generate_dataset(
        cfg,
        args.out,
        workers=args.workers,
        overwrite=True,  # checked above
        progress=not args.quiet and sys.stderr.isatty(),
        command=shlex.join([*prog.split(), *argv]),
        runner=runner,
    )
    if not args.quiet:
        c = manifest["counts"]
        t = manifest["timings_s"]
        print(
            f"wrote {c['windows']} windows x {cfg.sensors_per_window} sensors x {cfg.samples_per_window} samples "
            f"({c['windows'] * cfg.window_s / 3600:.3f} h at {cfg.rate_hz:g} Hz) in {c['shards']} shards to "
            f"{os.fspath(args.out)} in {t['wall']:.1f} s; {len(c['per_activity'])} activities"
        )
    return 0
