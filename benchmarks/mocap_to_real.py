"""Mocap-to-real check for walking: CMU motion capture walking through the simulator vs real walking
recordings at the same placements and rates, beside the procedural walking (`sim_to_real.py`'s machinery).

Real walking (evaluation data only; compared with, never fitted): the targets of `benchmarks/sim_to_real.py`
(Xsens thigh and shank, Daphnet ankle/thigh/lower back, GENEActiv lower back) plus the wrist: the HMP
"Walk" recordings (right wrist, 32 Hz accelerometer, 6-bit codes), whole recordings of >= 12 s with their
first and last second dropped.

Simulated walking, per body (random shape, seed [7, b], the same bodies for every source):
  * mocap: the CMU walking clips of `mocap/index.csv` (activity "walking", without the "navigate" clip of
    backward/sideways steps; all subjects - this is a realism check, not training) strung into one walk by
    `MocapSource` (each clip mirrored with p = 0.5, 0.4 s crossfades), cleaned as the readers clean them;
  * procedural: the level-walking activities, as in sim_to_real.py;
and, once, the clip cmu_02_01 read raw (no lead-in drop, no flip removal, no low-pass) vs cleaned, at the
canonical wrist and thigh (ideal IMU, 60 Hz), to show what the cleaning does.

Same metrics as sim_to_real.py: per 10 s window cadence (stride autocorrelation), dominant frequency,
band power fractions; pooled |acc| mean/std/percentiles, Wasserstein-1 and KS vs real, log-spectrum r.
Writes results/mocap_to_real.json and results/mocap_to_real.md.

    nice .venv/bin/python benchmarks/mocap_to_real.py [--bodies 6] [--seconds 60] [--out results]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from sim_to_real import (  # noqa: E402
    HARDWARE,
    Target,
    comparison_row,
    gyro_lines,
    parse_args,
    procedural_walking,
    real_targets,
    simulate_bodies,
    summarise,
    table_row,
)

from anymo.data.datasets import DatasetNotFoundError, default_data_dir, load_dataset  # noqa: E402

MIN_WRIST_S = 12.0


def wrist_target(data_dir: Path) -> Target | None:
    """HMP walking recordings (right wrist), each >= MIN_WRIST_S, first and last second dropped."""
    try:
        recs = load_dataset("hmp_adl", data_dir)
    except DatasetNotFoundError as exc:
        print(f"skip hmp_adl: {exc}", file=sys.stderr)
        return None
    walks = [r for r in recs if r.labels and r.labels[0].activity == "walking" and len(r.acc_mps2) / r.rate_hz >= MIN_WRIST_S]
    if not walks:
        return None
    rate = float(walks[0].rate_hz)
    cut = int(rate)
    return Target("hmp_adl", walks[0].placement, rate, [np.asarray(r.acc_mps2[cut:-cut], dtype=np.float64) for r in walks], None)


def walking_source(data_dir: Path):
    """A `MocapSource` over the CMU walking clips (all subjects), or None without the mocap folder."""
    from anymo.motion.mocap import MocapSource, mocap_dir

    if not (mocap_dir(data_dir) / "index.csv").is_file():
        return None
    src = MocapSource(data_dir, split="all")
    src.clips = [c for c in src.clips if c.activity == "walking" and not c.text.startswith("navigate")]
    return src


def simulate_source_walking(target: Target, n_bodies: int, seconds: float, source: str, src) -> tuple[list, list]:
    """Simulated acc/gyro stretches [T, 3] of ``source`` ("mocap": the clips of ``src``, or "procedural")
    walking, as sim_to_real.simulate_walking does (same bodies, placements, hardware)."""
    if source != "mocap":
        return simulate_bodies(target, n_bodies, seconds, procedural_walking)
    return simulate_bodies(target, n_bodies, seconds,
                           lambda b, rng, shape, duration_s, rate_hz: src.motion(rng, duration_s, shape, rate_hz))


def raw_vs_clean(data_dir: Path) -> dict | None:
    """cmu_02_01 at the canonical wrists and thighs (ideal IMU, 60 Hz): |acc| read raw vs cleaned."""
    from anymo.body.named_placements import canonical_placement
    from anymo.body.skeleton import BodyShape
    from anymo.motion.bvh import bvh_to_motion, read_bvh
    from anymo.sim.simulate import SimConfig, simulate_imu

    path = data_dir / "mocap" / "cmu" / "bvh" / "cmu_02_01.bvh"
    if not path.is_file():
        return None
    names = ["left_wrist", "right_wrist", "left_thigh", "right_thigh"]
    ids = np.array([canonical_placement(n) for n in names])
    out = {}
    for kind, kw in (("raw", {"smooth_hz": None, "trim_lead_in": False, "fix_flips": False}), ("cleaned", {})):
        m = bvh_to_motion(read_bvh(path), shape=BodyShape(height_m=1.75), rate_hz=120.0, **kw)
        sig = simulate_imu(m, ids, SimConfig(rate_hz=60.0), np.random.default_rng(0))
        a = np.linalg.norm(sig.acc_mps2, axis=2)
        out[kind] = {n: {"mean": float(a[k].mean()), "std": float(a[k].std()), "max": float(a[k].max())} for k, n in enumerate(names)}
    return out


def markdown(rows: list[dict], meta: dict, raw: dict | None) -> str:
    lines = [
        "# Mocap-to-real: walking",
        "",
        (
            f"Command: `{meta['command']}` ({meta['elapsed_s']} s on this machine). Simulated: {meta['bodies']} bodies x "
            f"{meta['seconds']:g} s per source, hardware preset `{HARDWARE}`, 3 placements per body (canonical + 2 random in "
            f"the region). mocap = {meta['mocap_clips']} CMU walking clips strung together (cleaned: rest-pose lead-in dropped, "
            "flips removed, 8 Hz low-pass; heel-strike shocks at the foot strikes). Real: walking stretches (fixed activity rule; HMP wrist: labelled walks). "
            "Windows of 10 s; |acc| only (orientation-free)."
        ),
        "",
        "| real set | placement | Hz | source | win | cadence spm (sim / real) | |acc| mean±std sim / real | p5-p95 sim / real | W1 m/s² | KS | bands 0-1/1-3/3-8/8-20 Hz sim ; real | spec r |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *(table_row(r, dominant_hz=False) for r in rows),
        *gyro_lines(rows),
    ]
    if raw:
        lines += ["", "cmu_02_01 read raw vs cleaned (canonical placements, ideal IMU at 60 Hz): |acc| mean ± std (max), m/s²", "",
                  "| placement | raw | cleaned |", "| --- | --- | --- |"]  # fmt: skip
        for n in raw["raw"]:
            a, b = raw["raw"][n], raw["cleaned"][n]
            lines.append(f"| {n} | {a['mean']:.1f} ± {a['std']:.1f} ({a['max']:.0f}) | {b['mean']:.1f} ± {b['std']:.1f} ({b['max']:.0f}) |")
    lines += ["", "## What this shows", "", *interpretation(rows)]
    return "\n".join(lines) + "\n"


def interpretation(rows: list[dict]) -> list[str]:
    """Plain statements computed from the numbers: is each source's walking inside the real range?"""
    out = []
    for src in sorted({r["source"] for r in rows}):
        rs = [r for r in rows if r["source"] == src]
        inside = [
            r for r in rs
            if r["real"]["acc_mag"]["p5"] - 1.0 <= r["sim"]["acc_mag"]["mean"] <= r["real"]["acc_mag"]["p95"] + 1.0
        ]  # fmt: skip
        cad = np.array([r["compare"]["cadence_diff_spm"] for r in rs])
        ratio = np.array([r["sim"]["acc_mag"]["std"] / r["real"]["acc_mag"]["std"] for r in rs])
        ks = np.array([r["compare"]["acc_ks"] for r in rs])
        spec_r = np.array([r["compare"]["spectral_r"] for r in rs])
        out.append(
            f"- **{src}**: simulated |acc| mean inside the real p5-p95 range at {len(inside)}/{len(rs)} placements; cadence sim - real "
            f"{cad.min():+.0f} to {cad.max():+.0f} steps/min; |acc| std sim/real {ratio.min():.2f}-{ratio.max():.2f}; "
            f"KS {ks.min():.2f}-{ks.max():.2f}; log-spectrum correlation {spec_r.min():.2f}-{spec_r.max():.2f}."
        )
    out.append(
        "- Caveats: each real set is one or a few subjects (Daphnet: a Parkinson's patient; HMP: 6-bit codes, "
        "±1.5 g range); the mocap walks are ~60 CMU clips of ~10 subjects, 2-5 s each, joined by 0.4 s crossfades "
        "(more 0-1 Hz power than one steady walk). The 8 Hz low-pass removes what the markers saw of the foot-ground "
        "impacts; heel-strike shocks are added at the foot strikes found in the kinematics, with the procedural gait's "
        "published magnitudes. The procedural rows are the procedural library of the working tree when this ran. "
        "No number here set any parameter of the readers or the simulator."
    )
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, __doc__.split("\n")[0])
    data_dir = args.data or default_data_dir()
    t0 = time.perf_counter()
    src = walking_source(data_dir)
    if src is None:
        print(f"no motion capture under {data_dir}/mocap; set ANYMO_DATA", file=sys.stderr)
        return 1
    targets = real_targets(data_dir)
    wrist = wrist_target(data_dir)
    if wrist is not None:
        targets = [wrist, *targets]
    rows = []
    for tg in targets:
        real = summarise(tg.acc_mps2, tg.rate_hz, tg.gyro_rads)
        for name in ("mocap", "procedural"):
            accs, gyros = simulate_source_walking(tg, args.bodies, args.seconds, name, src)
            sim = summarise(accs, tg.rate_hz, gyros if tg.gyro_rads is not None else None)
            rows.append(comparison_row(tg, name, sim, real))
    raw = raw_vs_clean(data_dir)
    meta = {
        "command": "python benchmarks/mocap_to_real.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "bodies": args.bodies,
        "seconds": args.seconds,
        "hardware": HARDWARE,
        "mocap_clips": len(src.clips),
        "mocap_clip_ids": [c.id for c in src.clips],
        "mocap_skipped": src.skipped,
        "elapsed_s": round(time.perf_counter() - t0, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "mocap_to_real.json").write_text(json.dumps({"meta": meta, "rows": rows, "cmu_02_01_raw_vs_cleaned": raw}, indent=1))
    (args.out / "mocap_to_real.md").write_text(markdown(rows, meta, raw))
    print(f"wrote {args.out / 'mocap_to_real.json'} and {args.out / 'mocap_to_real.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
