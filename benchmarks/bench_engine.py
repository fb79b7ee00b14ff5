"""Benchmark: `anymo bench` on the shipped bundle (onnxruntime / ExecuTorch / PyTorch eager x fp32 / int8
x 1, 2 threads x 1, 4, 8 sensors, 500 runs per row after 50 warm-up) plus the bundle's parity report.

Writes results/bench_engine.json (+ .png when matplotlib is installed) and copies the bundle's
parity.json to results/export_parity.json. Targets (this 2-core machine): int8 onnxruntime median
<= 2 ms per 4-sensor window on 1 thread; ExecuTorch int8 within 1.5x of it; both faster than eager.
Run: `.venv/bin/python benchmarks/bench_engine.py [--bundle DIR] [--runs 500]` (run it on a quiet machine:
the rows are medians, but other processes still shift them; the report records the load average).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.bench import main as bench_main  # noqa: E402
from edge.bundle import DEFAULT_BUNDLE  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bundle", default=str(DEFAULT_BUNDLE))
    ap.add_argument("--runs", type=int, default=500)
    ap.add_argument("--out", default=str(ROOT / "results" / "bench_engine.json"))
    a = ap.parse_args()
    out = Path(a.out)
    rc = bench_main(["--bundle", a.bundle, "--runs", str(a.runs), "--json", str(out), "--plot", str(out.with_suffix(".png"))])
    parity = Path(a.bundle) / "parity.json"
    if parity.is_file():
        shutil.copyfile(parity, out.parent / "export_parity.json")
    return rc


if __name__ == "__main__":
    sys.exit(main())
