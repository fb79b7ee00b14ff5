"""Throughput of `anymo simulate`: one hour of 60 Hz signals at 23 placements on 2 worker processes.

Target: under 60 s wall time on 2 cores. Runs the real command (``anymo.sim.cli.main``, default
options otherwise: procedural motion with DeepMimic clips mixed in when the data is there, random
device presets, soft tissue for half the units) into a temporary folder, then times the stages of
the chain separately on a few units in this process (motion generation, placements + mounting +
clock, ideal physics, hardware errors, resampling to the output rate, shard writing).
Writes results/sim_throughput.json and prints a table.

    .venv/bin/python benchmarks/sim_throughput.py [--hours 1] [--workers 2] [--sensors 23] [--out results]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor() or "unknown"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu_model": model, "cpu_count": os.cpu_count(), "usable_cores": usable, "python": platform.python_version(), "platform": platform.platform()}


def _cpu_s() -> float:
    """User + system CPU seconds of this process and of its waited-for children (the worker pool)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def stage_breakdown(cfg, n_units: int) -> dict:
    """Seconds per stage for ``n_units`` units of ``cfg``, the chain of `simulate_imu` step by step."""
    from anymo.body.surface import surface_placements
    from anymo.motion.procedural import random_body_shape
    from anymo.sim.config import unit_rng
    from anymo.sim.hardware import apply_sensor_errors, sample_clock
    from anymo.sim.imu import ideal_imu
    from anymo.sim.mounting import MountingConfig, SoftTissue, random_mounting
    from anymo.sim.placement_draw import draw_placements
    from anymo.sim.simulate import resolve_hardware
    from anymo.sim.source_registry import get_source, pick_source
    from anymo.sim.unit import MARGIN_S, device_choices, device_rate_hz, source_options, stream_windows

    t = {"motion": 0.0, "placements_mounting_clock": 0.0, "physics": 0.0, "hardware": 0.0, "resample": 0.0, "write": 0.0}
    seconds = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for u in range(n_units):
            rng = unit_rng(cfg.seed, u)
            dur = cfg.unit_windows(u) * cfg.window_s
            t0 = time.perf_counter()
            shape = random_body_shape(rng)
            name = pick_source(rng, cfg.sources, cfg.source_shares) if len(cfg.sources) > 1 else cfg.sources[0]
            motion = get_source(name, source_options(cfg)).motion(rng, dur + MARGIN_S, cfg.motion_rate(), shape).motion
            t1 = time.perf_counter()
            ids = draw_placements(rng, cfg.sensors_per_window, cfg.named_fraction)
            choices = device_choices(cfg)
            device = choices[int(rng.integers(len(choices)))]
            rate = device_rate_hz(device, cfg.rate_hz)
            hw = resolve_hardware(device).at_rate(rate)
            table = surface_placements(motion.skeleton).subset(ids)
            wobble = SoftTissue(spread_frac=0.3) if u % 2 == 0 else None
            rot = random_mounting(ids.size, MountingConfig(wobble=wobble), rng)
            clock = sample_clock(motion.duration_s, hw, rng)
            keep = (clock.t_true_s >= 0) & (clock.t_true_s <= motion.duration_s)
            t2 = time.perf_counter()
            acc, gyro = ideal_imu(motion, table, clock.t_true_s[keep], device_rot=rot, bandwidth_hz=hw.bandwidth_hz, wobble=wobble, rng=rng)
            t3 = time.perf_counter()
            acc, gyro = apply_sensor_errors(acc, gyro, hw, rng, rate_hz=rate)
            t4 = time.perf_counter()
            acc_o, gyro_o = stream_windows(acc, gyro, rate, cfg.rate_hz, cfg.samples_per_window, cfg.unit_windows(u))
            t5 = time.perf_counter()
            np.savez(Path(tmp) / f"u{u}.npz", acc=acc_o.astype(np.float32), gyro=gyro_o.astype(np.float32))
            t6 = time.perf_counter()
            for k, a, b in (("motion", t0, t1), ("placements_mounting_clock", t1, t2), ("physics", t2, t3), ("hardware", t3, t4), ("resample", t4, t5), ("write", t5, t6)):
                t[k] += b - a
            seconds += dur
    per_hour = {k: round(v * 3600.0 / seconds, 2) for k, v in t.items()}
    return {"units": n_units, "simulated_s": seconds, "seconds": {k: round(v, 3) for k, v in t.items()}, "cpu_s_per_signal_hour": per_hour}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sensors", type=int, default=23)
    ap.add_argument("--rate-hz", type=float, default=60.0)
    ap.add_argument("--breakdown-units", type=int, default=4, help="units timed stage by stage (0: skip)")
    ap.add_argument("--out", type=Path, default=ROOT / "results")
    args = ap.parse_args(argv)

    from anymo.sim.cli import main as simulate
    from anymo.sim.shards import load_shards

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ds"
        cmd = ["--out", str(out), "--hours", f"{args.hours:g}", "--seed", "0", "--sensors-per-window", str(args.sensors),
               "--rate-hz", f"{args.rate_hz:g}", "--workers", str(args.workers), "--quiet"]  # fmt: skip
        load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
        cpu0 = _cpu_s()
        t0 = time.perf_counter()
        code = simulate(cmd, "anymo simulate")
        wall_s = time.perf_counter() - t0
        cpu_s = _cpu_s() - cpu0
        load_after = os.getloadavg() if hasattr(os, "getloadavg") else None
        if code != 0:
            print(f"anymo simulate failed with exit code {code}", file=sys.stderr)
            return code
        ds = load_shards(out)
        m = ds.manifest
        n_bytes = sum(p.stat().st_size for p in ds.shard_paths)
    cfg_args = {k: v for k, v in m["args"].items()}
    try:
        from anymo.sim.config import DatasetConfig
    except ImportError:  # a tree from before the split of anymo.sim.dataset (baseline runs)
        from anymo.sim.dataset import DatasetConfig

    cfg = DatasetConfig(**cfg_args)
    breakdown = stage_breakdown(cfg, args.breakdown_units) if args.breakdown_units > 0 else None
    signal_h = m["counts"]["windows"] * m["window_s"] / 3600.0
    result = {
        "command": "anymo simulate " + shlex.join(cmd).replace(str(out), "DIR"),
        "benchmark": "python benchmarks/sim_throughput.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "load_average_1_5_15_before_after": [load_before, load_after],  # other jobs on the box slow it down
        "target": "1 h of 60 Hz signals at 23 placements in < 60 s on 2 cores",
        "wall_s": round(wall_s, 2),
        # CPU seconds of this process and its (finished) workers: less sensitive than wall time to other
        # jobs on a shared machine, so compare runs on CPU time when the load average is high
        "cpu_s": round(cpu_s, 2),
        "meets_target": bool(wall_s < 60.0 * args.hours) if args.sensors >= 23 and args.workers <= 2 else None,
        "signal_hours": signal_h,
        "windows": m["counts"]["windows"],
        "sensors_per_window": m["sensors_per_window"],
        "sensor_hours_per_wall_s": round(signal_h * m["sensors_per_window"] / wall_s, 4),
        "shard_bytes": n_bytes,
        "generate_timings_s": m["timings_s"],
        "per_device": m["counts"]["per_device"],
        "per_source": m["counts"]["per_source"],
        "stage_breakdown": breakdown,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "sim_throughput.json"
    path.write_text(json.dumps(result, indent=1))
    mc = result["machine"]
    print(f"machine: {mc['cpu_model']} ({mc['usable_cores']} usable cores)")
    print(f"{'signal':<32} {signal_h:.3f} h x {m['sensors_per_window']} sensors at {m['rate_hz']:g} Hz, {m['counts']['windows']} windows")
    print(f"{'wall time (' + str(args.workers) + ' workers)':<32} {wall_s:.1f} s   target < {60 * args.hours:.0f} s: {'met' if wall_s < 60 * args.hours else 'NOT met'}")
    print(f"{'CPU time (all processes)':<32} {cpu_s:.1f} s; load average before/after {load_before} / {load_after}")
    t = m["timings_s"]
    print(f"{'summed worker stage time':<32} motion {t['motion_s']:.1f} s, simulate {t['simulate_s']:.1f} s, resample {t.get('resample_s', 0):.1f} s; parent writing {t['write_s']:.1f} s")
    if breakdown:
        print(f"stage breakdown ({breakdown['units']} units in-process, CPU s per signal hour):")
        for k, v in breakdown["cpu_s_per_signal_hour"].items():
            print(f"  {k:<28} {v:8.2f}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
