"""`anymo datasets`: list the real datasets, where they were found and what they hold."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from anymo.data.datasets import DATASETS, DatasetNotFoundError, dataset_files, default_data_dir, load_dataset
from anymo.data.loaders import DataFormatError


def summarise(name: str, data_dir: Path) -> dict:
    """Counts for one dataset (recordings, subjects, labels, duration) or where it is missing."""
    info = DATASETS[name]
    row: dict = {"name": name, "folder": str(data_dir / info.folder), "source": info.source}
    try:
        recs = load_dataset(name, data_dir)
    except DatasetNotFoundError as exc:
        return {**row, "found": False, "error": str(exc)}
    except DataFormatError as exc:
        return {**row, "found": True, "error": str(exc)}
    labels = sorted({seg.activity for r in recs for seg in r.labels})
    return {
        **row,
        "found": True,
        "files": len(dataset_files(name, data_dir)),
        "recordings": len(recs),
        "subjects": len({r.subject for r in recs}),
        "placements": sorted({r.placement for r in recs}),
        "rates_hz": sorted({float(r.rate_hz) for r in recs if r.rate_hz}),
        "has_gyro": any(r.gyro_rads is not None for r in recs),
        "duration_s": round(sum(r.duration_s for r in recs), 1),
        "labels": labels,
    }


def main(argv: list[str], prog: str) -> int:
    ap = argparse.ArgumentParser(prog=prog, description="List the real IMU datasets and what they hold.")
    ap.add_argument("--data", type=Path, default=None, help="data directory (default: $ANYMO_DATA or ../shared/data)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("names", nargs="*", help="datasets to show (default: all)")
    args = ap.parse_args(argv)
    data_dir = args.data or default_data_dir()
    unknown = [n for n in args.names if n not in DATASETS]
    if unknown:
        print(f"{prog}: unknown dataset(s) {unknown}; known: {', '.join(DATASETS)}", file=sys.stderr)
        return 2
    rows = [summarise(n, data_dir) for n in (args.names or DATASETS)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"data directory: {data_dir}")
    hdr = f"{'dataset':<18} {'recs':>5} {'subj':>4} {'hours':>6} {'Hz':<10} {'gyro':<4} placements / labels"
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        if not r.get("found") or "error" in r:
            print(f"{r['name']:<18} {'MISSING' if not r.get('found') else 'ERROR'}: {r['error']}")
            continue
        rates = ",".join(f"{x:g}" for x in r["rates_hz"])
        labels = ", ".join(r["labels"]) if r["labels"] else "(unlabelled)"
        print(
            f"{r['name']:<18} {r['recordings']:>5} {r['subjects']:>4} {r['duration_s'] / 3600:>6.2f} {rates:<10} "
            f"{'yes' if r['has_gyro'] else 'no':<4} {','.join(r['placements'])} | {labels}"
        )
    return 0
