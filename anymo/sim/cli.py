"""`anymo simulate`: write shards of simulated multi-placement IMU windows with labels and captions.

    anymo simulate --out DIR --hours H --seed S [--sensors-per-window K] [--rate-hz 60] [--window-s 5]

The shard format is documented in docs/simulated_dataset.md; the generation in `anymo.sim.dataset`.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from anymo.sim.dataset import DatasetConfig, generate_dataset, prepare_out_dir


def _default_mocap_dir() -> Path | None:
    from anymo.data.datasets import default_data_dir

    d = default_data_dir() / "deepmimic_motions"
    return d if d.is_dir() else None


def _parser(prog: str) -> argparse.ArgumentParser:
    d = DatasetConfig.__dataclass_fields__
    ap = argparse.ArgumentParser(
        prog=prog,
        description="Simulate IMU windows (acc_mps2, gyro_rads) at random body-surface placements of random bodies "
        "doing procedural activities (and looped motion capture), with activity labels and captions, and write "
        "them as .npz shards plus DIR/manifest.json. Deterministic for a seed, whatever --workers.",
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
    ap.add_argument("--mocap", type=Path, default=None, metavar="DIR",
                    help="folder of DeepMimic clips mixed in (default: $ANYMO_DATA/deepmimic_motions when present)")  # fmt: skip
    ap.add_argument("--no-mocap", action="store_true", help="procedural motion only")
    ap.add_argument("--mocap-fraction", type=float, default=d["mocap_fraction"].default,
                    help="fraction of units from motion capture clips (default %(default)s)")  # fmt: skip
    ap.add_argument("--named-fraction", type=float, default=d["named_fraction"].default,
                    help="fraction of placements drawn inside named regions (wrist, thigh, ...) (default %(default)s)")  # fmt: skip
    ap.add_argument("--soft-tissue-fraction", type=float, default=d["soft_tissue_fraction"].default,
                    help="fraction of units whose devices wobble on soft tissue (default %(default)s)")  # fmt: skip
    ap.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    ap.add_argument("--overwrite", action="store_true", help="replace a dataset already in --out")
    ap.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary")
    return ap


def main(argv: list[str], prog: str = "anymo simulate") -> int:
    args = _parser(prog).parse_args(argv)
    mocap = None if args.no_mocap else (args.mocap if args.mocap is not None else _default_mocap_dir())
    try:
        cfg = DatasetConfig(
            hours=args.hours,
            seed=args.seed,
            sensors_per_window=args.sensors_per_window,
            rate_hz=args.rate_hz,
            window_s=args.window_s,
            unit_s=args.unit_s,
            shard_windows=args.shard_windows,
            device=args.device,
            mocap_dir=str(mocap) if mocap is not None else None,
            mocap_fraction=args.mocap_fraction,
            named_fraction=args.named_fraction,
            soft_tissue_fraction=args.soft_tissue_fraction,
        )
        if args.workers is not None and args.workers < 1:
            raise ValueError(f"--workers must be at least 1, got {args.workers}")
        prepare_out_dir(args.out, args.overwrite)
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
