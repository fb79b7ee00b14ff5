"""Benchmark: ideal_imu on one hour of 120 Hz motion for 23 placements, single thread.

Writes results/bench_ideal_imu.json. Run: `.venv/bin/python benchmarks/bench_ideal_imu.py [--minutes 60]`
(pin to one core with `taskset -c 0` for the one-core number).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from anymo.body.skeleton import N_SEGMENTS, make_skeleton  # noqa: E402
from anymo.body.surface import surface_placements  # noqa: E402
from anymo.geometry.rotations import quat_from_rotvec  # noqa: E402
from anymo.motion.base import BodyMotion  # noqa: E402
from anymo.sim.imu import ideal_imu  # noqa: E402
from anymo.sim.mounting import MountingConfig, SoftTissue, random_mounting  # noqa: E402


def synthetic_motion(duration_s: float, rate_hz: float, rng: np.random.Generator) -> BodyMotion:
    """Every joint swinging as a sum of sinusoids (0.3-3 Hz), the root walking a wavy path."""
    t = np.arange(int(duration_s * rate_hz) + 1) / rate_hz
    freq = rng.uniform(0.3, 3.0, (3, N_SEGMENTS, 3))
    amp = rng.uniform(0.05, 0.4, (3, N_SEGMENTS, 3))
    phase = rng.uniform(0, 2 * np.pi, (3, N_SEGMENTS, 3))
    rotvec = np.zeros((t.size, N_SEGMENTS, 3))
    for f, a, p in zip(freq, amp, phase):
        rotvec += a * np.sin(2 * np.pi * f * t[:, None, None] + p)
    root = np.stack([1.2 * t, 0.3 * np.sin(0.2 * t), 0.92 + 0.03 * np.sin(2 * np.pi * 1.8 * t)], axis=1)
    return BodyMotion.from_local(make_skeleton(), rate_hz, root, quat_from_rotvec(rotvec))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--motion-rate", type=float, default=120.0)
    ap.add_argument("--output-rate", type=float, default=60.0)
    ap.add_argument("--out", default="results/bench_ideal_imu.json")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    motion = synthetic_motion(args.minutes * 60.0, args.motion_rate, rng)
    t_motion = time.perf_counter() - t
    table = surface_placements(motion.skeleton)
    # one placement on each of the 23 segments (the first id of each)
    ids = np.array([np.flatnonzero(table.segment_id == s)[0] for s in range(N_SEGMENTS)])
    sub = table.subset(ids)
    t_out = np.arange(int(motion.duration_s * args.output_rate) + 1) / args.output_rate
    rows, cpu = {}, {}
    mount = MountingConfig(wobble=SoftTissue(spread_frac=0.2))
    for name, kw in (
        ("aligned", {}),
        ("mounted", {"device_rot": random_mounting(len(ids), mount, rng)}),
        ("mounted+wobble", {"device_rot": random_mounting(len(ids), mount, rng), "wobble": mount.wobble, "rng": rng}),
    ):
        t, c = time.perf_counter(), time.process_time()
        acc, gyro = ideal_imu(motion, sub, t_out, **kw)
        rows[name] = round(time.perf_counter() - t, 3)
        cpu[name] = round(time.process_time() - c, 3)
        assert np.all(np.isfinite(acc)) and np.all(np.isfinite(gyro))
    result = {
        "benchmark": "ideal_imu",
        "motion_minutes": args.minutes,
        "motion_rate_hz": args.motion_rate,
        "output_rate_hz": args.output_rate,
        "placements": int(len(ids)),
        "threads": os.environ.get("OMP_NUM_THREADS"),
        "cpu_affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "machine": platform.processor() or platform.machine(),
        "load_avg_1min_at_end": round(os.getloadavg()[0], 2),  # other work on the box slows this down
        "synthetic_motion_s": round(t_motion, 3),
        "ideal_imu_s": rows,  # wall clock
        "ideal_imu_cpu_s": cpu,  # CPU time of this process (less sensitive to other work on the box)
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
