"""Benchmark: device clock + sensor errors for one hour at 60 Hz x 23 sensors, single thread.

Every error term of a real preset is on (scale/cross-axis, g-sensitivity, bias, Gauss-Markov drift,
white noise, 16-bit ADC, drift and jitter on the clock); the preset's rate list is lifted so the rate
is exactly 60 Hz. Target: well under 2 s. Writes results/bench_hardware.json.
Run: `.venv/bin/python benchmarks/bench_hardware.py [--minutes 60] [--repeats 5]`.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from anymo.constants import STANDARD_GRAVITY_MPS2  # noqa: E402
from anymo.sim.devices import device_preset  # noqa: E402
from anymo.sim.hardware import apply_sensor_errors, sample_clock  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--rate", type=float, default=60.0)
    ap.add_argument("--sensors", type=int, default=23)
    ap.add_argument("--preset", default="metamotion-r", help="a preset with every error term (BMI160 has g-sensitivity too)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default="results/bench_hardware.json")
    args = ap.parse_args()
    hw = dataclasses.replace(device_preset(args.preset), supported_rates_hz=(), rate_hz=args.rate)
    rng = np.random.default_rng(0)
    duration_s = args.minutes * 60.0
    clock = sample_clock(duration_s, hw, rng)
    n_t = clock.t_true_s.size
    # a stand-in for the physics output: gravity plus a swinging limb
    t = clock.t_true_s[None, :, None]
    phase = rng.uniform(0, 2 * np.pi, (args.sensors, 1, 3))
    acc_true = STANDARD_GRAVITY_MPS2 * np.array([0.0, 0.0, 1.0]) + 8.0 * np.sin(2 * np.pi * 1.8 * t + phase)
    gyro_true = 3.0 * np.sin(2 * np.pi * 0.9 * t + phase)

    rows: dict[str, dict[str, float]] = {}
    for label, dtype in (("float64", np.float64), ("float32", np.float32)):
        wall, cpu = [], []
        for r in range(args.repeats):
            rng = np.random.default_rng(r)
            w0, c0 = time.perf_counter(), time.process_time()
            clock = sample_clock(duration_s, hw, rng)
            apply_sensor_errors(acc_true, gyro_true, hw, rng, rate_hz=hw.rate_hz, dtype=dtype)
            wall.append(time.perf_counter() - w0)
            cpu.append(time.process_time() - c0)
        rows[label] = {"wall_s_median": float(np.median(wall)), "wall_s_min": float(np.min(wall)),
                       "cpu_s_median": float(np.median(cpu)), "wall_s_all": [round(x, 4) for x in wall]}
        print(f"{label}: clock + errors for {args.sensors} x {n_t} samples: median {np.median(wall):.3f} s wall "
              f"(min {np.min(wall):.3f}, cpu median {np.median(cpu):.3f})")
    result = {
        "what": "sample_clock + apply_sensor_errors, every error term on",
        "preset": args.preset,
        "sensors": args.sensors,
        "samples_per_sensor": int(n_t),
        "rate_hz": args.rate,
        "minutes": args.minutes,
        "target_s": 2.0,
        "results": rows,
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                    "loadavg_at_end": list(os.getloadavg())},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
