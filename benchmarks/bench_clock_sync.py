"""Benchmark: ClockSync accuracy under BLE-like arrival delays, and its cost per notification.

Model of one link: the device timestamps a packet when its last sample is taken; the packet waits for the
next connection event (connection interval 7.5-50 ms, phase unrelated to the device clock), sometimes an
event is missed (5 %: one more interval), then the host stack adds an exponential 0.5 ms. Device clocks
run 20..200 ppm off with an arbitrary offset; packets leave on the device clock's grid, so their phase to the
connection events slides by drift x time. A delay that never varies (phase that never slides) is not
observable from one-way arrival times: it stays in the offset, so small drifts over short runs with long
intervals show the largest errors. Reports drift error, the final-fit alignment error of every
sample (what recordings get) and the live alignment error once the rate is estimated (what consumers
get), plus microseconds per ClockSync.add. Writes results/bench_clock_sync.json.
Run: `.venv/bin/python benchmarks/bench_clock_sync.py [--seconds 600]`.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from firmware_bridge.clock import ClockSync

ROOT = Path(__file__).resolve().parents[1]


def link(seconds: float, interval_s: float, drift_ppm: float, packets_per_s: float, rng) -> tuple:
    # packets leave on the device clock's grid; connection events tick on the host side
    t_dev = 4321.0 + np.arange(0.0, seconds, 1.0 / packets_per_s)
    t_true = 1.7e9 + (t_dev - t_dev[0]) / (1 + drift_ppm * 1e-6)
    phase = rng.uniform(0, interval_s)
    wait = (phase - (t_true - t_true[0])) % interval_s  # until the next connection event
    wait += interval_s * (rng.random(len(t_true)) < 0.05)
    return t_true, t_dev, t_true + wait + rng.exponential(0.0005, len(t_true))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--packets-per-s", type=float, default=100.0 / 19,
                    help="notifications per second (default: AnyMo IMU at 100 Hz, 19 samples each)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = []
    for interval_ms in (7.5, 15.0, 30.0, 50.0):
        for drift_ppm in (-200.0, 20.0, 50.0, 200.0):
            t_true, t_dev, t_arr = link(args.seconds, interval_ms / 1e3, drift_ppm, args.packets_per_s, rng)
            sync = ClockSync()
            live = np.empty_like(t_true)
            t0 = time.perf_counter()
            for i in range(len(t_true)):
                sync.add(t_dev[i], t_arr[i])
                live[i] = sync.to_host(t_dev[i])
            us_per_add = (time.perf_counter() - t0) / len(t_true) * 1e6
            final = np.abs(sync.to_host(t_dev) - t_true) * 1e3
            warm = t_true - t_true[0] > 15.0
            lv = np.abs(live[warm] - t_true[warm]) * 1e3
            est = sync.estimate()
            rows.append({"interval_ms": interval_ms, "drift_ppm": drift_ppm,
                         "drift_error_ppm": round(est.drift_ppm - drift_ppm, 3),
                         "final_align_ms_max": round(float(final.max()), 3),
                         "final_align_ms_p99": round(float(np.percentile(final, 99)), 3),
                         "live_align_ms_max_after_15s": round(float(lv.max()), 3),
                         "live_align_ms_p99_after_15s": round(float(np.percentile(lv, 99)), 3),
                         "mean_delay_ms": round(float(np.mean(t_arr - t_true)) * 1e3, 2),
                         "us_per_add": round(us_per_add, 1),
                         "cpu_percent_per_device": round(us_per_add * args.packets_per_s / 1e4, 3)})
            print(json.dumps(rows[-1]))
    out = {"benchmark": "clock_sync", "seconds": args.seconds, "packets_per_s": args.packets_per_s,
           "python": platform.python_version(), "machine": platform.machine(), "rows": rows}
    path = ROOT / "results" / "bench_clock_sync.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
