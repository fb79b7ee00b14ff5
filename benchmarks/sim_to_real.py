"""Sim-to-real check for walking: simulated vs real IMU at the same placements and rates.

Real walking (evaluation data only, never used to set any simulator parameter):
  * xsens_walking: Xsens MTw on the right thigh and right shank, 120 Hz, acc + gyro, ~29 s;
  * daphnet: ankle, thigh and trunk (lower back) accelerometers, 64 Hz, 110 s (a Parkinson's patient,
    no freezing in this excerpt);
  * lowerback_walking: GENEActiv on the lower back, 50 Hz, 168 s of walking bouts with pauses.
Walking stretches are found with a fixed rule (2 s blocks whose |acc| std is >= 0.5 m/s² and below
4x the recording's median active std, runs of >= 10 s, one block trimmed at each end).

Simulated walking: procedural walking activities (every `ACTIVITIES` id that is level walking or
jogging-free walking) on several random bodies, plus the DeepMimic walk clip (motion capture) as a
second motion source, at the same named placement (its canonical spot and random spots in its
region) and the same rate, through the full chain (`simulate_imu`, a fixed hardware preset).

Per 10 s window of |acc| (orientation-free): cadence from the stride period (autocorrelation peak in
0.8-1.6 s, steps/min = 120 / period), dominant frequency in 0.5-4 Hz, band power fractions of the
mean-removed |acc| in 0-1, 1-3, 3-8, 8-20 Hz; pooled: |acc| mean, std, percentiles, Wasserstein-1
and Kolmogorov-Smirnov distance sim vs real; spectral correlation = Pearson r of the mean log-PSD
(0.5-20 Hz). Writes results/sim_to_real.json and results/sim_to_real.md.

    .venv/bin/python benchmarks/sim_to_real.py [--bodies 6] [--seconds 60] [--out results]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal, stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anymo.data.datasets import DatasetNotFoundError, default_data_dir, load_dataset  # noqa: E402
from anymo.data.recording import Recording  # noqa: E402

WINDOW_S = 10.0
BANDS_HZ = ((0.0, 1.0), (1.0, 3.0), (3.0, 8.0), (8.0, 20.0))
STRIDE_S = (0.8, 1.6)
HARDWARE = "movesense"  # one fixed mid-grade preset for every simulated sensor (not chosen from real data)


@dataclass
class Target:
    """One real recording to compare against: dataset, named placement, rate, walking stretches."""

    dataset: str
    placement: str
    rate_hz: float
    acc_mps2: list[np.ndarray]  # walking stretches [T, 3]
    gyro_rads: list[np.ndarray] | None


# ---- real side -------------------------------------------------------------------------------------


def walking_stretches(rec: Recording, block_s: float = 2.0, min_run_s: float = 10.0) -> list[slice]:
    """Sample slices of active walking in ``rec`` (fixed rule, see the module docstring)."""
    a = np.linalg.norm(rec.acc_mps2, axis=1)
    w = int(round(block_s * rec.rate_hz))
    k = len(a) // w
    sd = a[: k * w].reshape(k, w).std(axis=1)
    active = sd >= 0.5
    if not active.any():
        return []
    active &= sd < 4.0 * np.median(sd[active])
    out, start = [], None
    for i, on in enumerate([*active, False]):
        if on and start is None:
            start = i
        elif not on and start is not None:
            if (i - start) * block_s >= min_run_s:
                out.append(slice((start + 1) * w, (i - 1) * w))
            start = None
    return out


def real_targets(data_dir: Path) -> list[Target]:
    targets = []
    for name in ("xsens_walking", "daphnet", "lowerback_walking"):
        try:
            recs = load_dataset(name, data_dir)
        except DatasetNotFoundError as exc:
            print(f"skip {name}: {exc}", file=sys.stderr)
            continue
        for r in recs:
            if r.t_s is not None:  # resample irregular stamps onto the nominal grid
                t = np.arange(r.t_s[0], r.t_s[-1], 1.0 / r.rate_hz)
                acc = np.stack([np.interp(t, r.t_s, r.acc_mps2[:, i]) for i in range(3)], axis=1)
                gyro = None if r.gyro_rads is None else np.stack([np.interp(t, r.t_s, r.gyro_rads[:, i]) for i in range(3)], axis=1)
                r = Recording(acc_mps2=acc, gyro_rads=gyro, rate_hz=r.rate_hz, placement=r.placement, dataset=r.dataset)
            sl = walking_stretches(r)
            if not sl:
                continue
            targets.append(
                Target(
                    name,
                    r.placement,
                    float(r.rate_hz),
                    [r.acc_mps2[s] for s in sl],
                    None if r.gyro_rads is None else [r.gyro_rads[s] for s in sl],
                )
            )
    return targets


# ---- metrics ---------------------------------------------------------------------------------------


def windows_of(x: np.ndarray, rate_hz: float) -> list[np.ndarray]:
    n = int(round(WINDOW_S * rate_hz))
    return [x[i : i + n] for i in range(0, len(x) - n + 1, n // 2)]  # 50 % overlap


def stride_period_s(mag: np.ndarray, rate_hz: float) -> float:
    """Lag of the highest autocorrelation peak of |acc| within the stride-period range (parabolic refine)."""
    x = mag - mag.mean()
    ac = np.correlate(x, x, mode="full")[len(x) - 1 :]
    ac = ac / (ac[0] * (len(x) - np.arange(len(x))) / len(x) + 1e-12)
    lo, hi = int(STRIDE_S[0] * rate_hz), int(STRIDE_S[1] * rate_hz)
    k = lo + int(np.argmax(ac[lo : hi + 1]))
    if lo < k < hi:
        y0, y1, y2 = ac[k - 1], ac[k], ac[k + 1]
        den = y0 - 2 * y1 + y2
        k = k + (0.5 * (y0 - y2) / den if den != 0 else 0.0)
    return float(k / rate_hz)


def psd(mag: np.ndarray, rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    return signal.welch(mag - mag.mean(), fs=rate_hz, nperseg=int(4 * rate_hz), detrend="constant")


def window_metrics(acc: np.ndarray, rate_hz: float) -> dict:
    mag = np.linalg.norm(acc, axis=1)
    f, p = psd(mag, rate_hz)
    band = (f >= 0.5) & (f <= 4.0)
    total = p[f < BANDS_HZ[-1][1]].sum()
    return {
        "cadence_spm": 120.0 / stride_period_s(mag, rate_hz),
        "dominant_hz": float(f[band][np.argmax(p[band])]),
        "band_frac": [float(p[(f >= lo) & (f < hi)].sum() / total) for lo, hi in BANDS_HZ],
        "f": f,
        "psd": p,
    }


def summarise(stretches: list[np.ndarray], rate_hz: float, gyro: list[np.ndarray] | None = None) -> dict:
    """Per-window metrics averaged, pooled |acc| (and |gyro|) samples, mean log-PSD."""
    wins = [w for s in stretches for w in windows_of(s, rate_hz)]
    if not wins:
        raise ValueError(f"no {WINDOW_S:g} s window in the stretches")
    ms = [window_metrics(w, rate_hz) for w in wins]
    mag = np.concatenate([np.linalg.norm(w, axis=1) for w in wins])
    out = {
        "windows": len(wins),
        "cadence_spm": [float(np.mean([m["cadence_spm"] for m in ms])), float(np.std([m["cadence_spm"] for m in ms]))],
        "dominant_hz": [float(np.mean([m["dominant_hz"] for m in ms])), float(np.std([m["dominant_hz"] for m in ms]))],
        "band_frac": np.mean([m["band_frac"] for m in ms], axis=0).round(4).tolist(),
        "acc_mag": _dist(mag),
        "_mag": mag,
        "_f": ms[0]["f"],
        "_logpsd": np.mean([np.log10(m["psd"] + 1e-12) for m in ms], axis=0),
    }
    if gyro is not None:
        g = np.concatenate([np.linalg.norm(w, axis=1) for s in gyro for w in windows_of(s, rate_hz)])
        out["gyro_mag"] = _dist(g)
        out["_gyro"] = g
    return out


def _dist(x: np.ndarray) -> dict:
    p = np.percentile(x, [5, 25, 50, 75, 95])
    return {"mean": float(x.mean()), "std": float(x.std()), **{f"p{q}": float(v) for q, v in zip((5, 25, 50, 75, 95), p)}}


def compare(sim: dict, real: dict) -> dict:
    f = sim["_f"]
    band = (f >= 0.5) & (f <= 20.0)
    out = {
        "acc_w1_mps2": float(stats.wasserstein_distance(sim["_mag"], real["_mag"])),
        "acc_ks": float(stats.ks_2samp(sim["_mag"], real["_mag"]).statistic),
        "spectral_r": float(np.corrcoef(sim["_logpsd"][band], real["_logpsd"][band])[0, 1]),
        "cadence_diff_spm": sim["cadence_spm"][0] - real["cadence_spm"][0],
    }
    if "_gyro" in sim and "_gyro" in real:
        out["gyro_w1_rads"] = float(stats.wasserstein_distance(sim["_gyro"], real["_gyro"]))
        out["gyro_ks"] = float(stats.ks_2samp(sim["_gyro"], real["_gyro"]).statistic)
    return out


def public(d: dict) -> dict:
    return {k: v for k, v in d.items() if not k.startswith("_")}


# ---- sim side --------------------------------------------------------------------------------------


def walking_activities() -> list[str]:
    from anymo.motion.procedural import ACTIVITIES

    bad = ("stair", "run", "jog", "upstairs", "downstairs", "treadmill_run", "nordic", "backward", "uphill", "downhill", "carry")
    return [a for a in ACTIVITIES if "walk" in a and not any(b in a for b in bad)]


def simulate_bodies(target: Target, n_bodies: int, seconds: float, motion_for) -> tuple[list, list]:
    """Simulated acc and gyro stretches [T, 3] at ``target``'s placement region and rate: body ``b`` (seeded
    [7, b]) moves as ``motion_for(b, rng, shape, duration_s, rate_hz)`` (a `Motion`), seen by the canonical
    placement + 2 random ones in the region through the `HARDWARE` preset; the first second is dropped."""
    from dataclasses import replace

    from anymo.body.named_placements import canonical_placement, placement_ids_for
    from anymo.motion.procedural import random_body_shape
    from anymo.sim.devices import device_preset
    from anymo.sim.mounting import MountingConfig
    from anymo.sim.simulate import SimConfig, simulate_imu

    region = placement_ids_for(target.placement)
    # the preset's error model at exactly the real rate (its own rate ladder lacks 120/64/50/32 Hz)
    hw = replace(device_preset(HARDWARE), supported_rates_hz=())
    cfg = SimConfig(rate_hz=target.rate_hz, hardware=hw, mounting=MountingConfig())
    accs, gyros = [], []
    for b in range(n_bodies):
        rng = np.random.default_rng([7, b])
        shape = random_body_shape(rng)
        motion = motion_for(b, rng, shape, seconds + 2.0, max(240.0, 2.0 * target.rate_hz))
        ids = np.array([canonical_placement(target.placement), *rng.choice(region, size=2, replace=False)])
        sig = simulate_imu(motion, np.unique(ids), cfg, rng)
        cut = int(1.0 * target.rate_hz)  # drop the first second (start-up)
        for s in range(sig.acc_mps2.shape[0]):
            accs.append(np.asarray(sig.acc_mps2[s, cut:], dtype=np.float64))
            gyros.append(np.asarray(sig.gyro_rads[s, cut:], dtype=np.float64))
    return accs, gyros


def procedural_walking(b: int, rng: np.random.Generator, shape, duration_s: float, rate_hz: float):
    """Body ``b`` walks one of the procedural walking activities (cycling through them)."""
    from anymo.motion.procedural import generate_activity

    acts = walking_activities()
    return generate_activity(acts[b % len(acts)], duration_s, rng, shape=shape, rate_hz=rate_hz)


def simulate_walking(target: Target, n_bodies: int, seconds: float, source: str, data_dir: Path) -> tuple[list, list]:
    """Simulated acc (and gyro) stretches [T, 3] of ``source`` ("procedural" or "deepmimic") walking."""
    if source == "procedural":
        return simulate_bodies(target, n_bodies, seconds, procedural_walking)
    from anymo.motion.deepmimic import load_deepmimic

    clip = data_dir / "deepmimic_motions" / "humanoid3d_walk.txt"
    return simulate_bodies(target, n_bodies, seconds, lambda b, rng, shape, duration_s, rate_hz: load_deepmimic(
        clip, shape=shape, rate_hz=rate_hz, duration_s=duration_s))


def comparison_row(tg: Target, source: str, sim: dict, real: dict) -> dict:
    """One result row (simulated ``source`` vs the real target), printed as one line as it comes."""
    row = {"dataset": tg.dataset, "placement": tg.placement, "rate_hz": tg.rate_hz, "source": source,
           "sim": public(sim), "real": public(real), "compare": compare(sim, real)}
    c = row["compare"]
    print(
        f"{tg.dataset:<18} {tg.placement:<12} {source:<10} cadence {sim['cadence_spm'][0]:5.1f} / {real['cadence_spm'][0]:5.1f} spm  "
        f"|acc| {sim['acc_mag']['mean']:5.2f}±{sim['acc_mag']['std']:4.2f} / {real['acc_mag']['mean']:5.2f}±{real['acc_mag']['std']:4.2f}  "
        f"W1 {c['acc_w1_mps2']:4.2f} KS {c['acc_ks']:4.2f} spec r {c['spectral_r']:4.2f}",
        flush=True,
    )
    return row


# ---- report ----------------------------------------------------------------------------------------


def markdown(rows: list[dict], meta: dict) -> str:
    lines = [
        "# Sim-to-real: walking",
        "",
        f"Command: `{meta['command']}`. Simulated: {meta['bodies']} bodies x {meta['seconds']:g} s per source, hardware "
        f"preset `{HARDWARE}`, 3 placements per body (canonical + 2 random in the region). Real: walking stretches "
        "(fixed activity rule). Windows of 10 s; |acc| only (orientation-free).",
        "",
        "| real set | placement | Hz | source | win | cadence spm (sim / real) | dom. Hz | |acc| mean±std sim / real | p5-p95 sim / real | W1 m/s² | KS | bands 0-1/1-3/3-8/8-20 Hz sim ; real | spec r |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *(table_row(r, dominant_hz=True) for r in rows),
        *gyro_lines(rows),
    ]
    lines += ["", "## What this shows", "", *interpretation(rows)]
    return "\n".join(lines) + "\n"


def table_row(r: dict, dominant_hz: bool) -> str:
    """One markdown table row of a result row (the dominant-frequency column only with ``dominant_hz``)."""
    s, q, c = r["sim"], r["real"], r["compare"]
    dom = f"{s['dominant_hz'][0]:.2f} / {q['dominant_hz'][0]:.2f} | " if dominant_hz else ""
    return (
        f"| {r['dataset']} | {r['placement']} | {r['rate_hz']:g} | {r['source']} | {s['windows']}/{q['windows']} | "
        f"{s['cadence_spm'][0]:.0f}±{s['cadence_spm'][1]:.0f} / {q['cadence_spm'][0]:.0f}±{q['cadence_spm'][1]:.0f} | "
        f"{dom}"
        f"{s['acc_mag']['mean']:.2f}±{s['acc_mag']['std']:.2f} / {q['acc_mag']['mean']:.2f}±{q['acc_mag']['std']:.2f} | "
        f"{s['acc_mag']['p5']:.1f}-{s['acc_mag']['p95']:.1f} / {q['acc_mag']['p5']:.1f}-{q['acc_mag']['p95']:.1f} | "
        f"{c['acc_w1_mps2']:.2f} | {c['acc_ks']:.2f} | "
        f"{'/'.join(f'{x:.2f}' for x in s['band_frac'])} ; {'/'.join(f'{x:.2f}' for x in q['band_frac'])} | {c['spectral_r']:.2f} |"
    )


def gyro_lines(rows: list[dict]) -> list[str]:
    """The gyroscope section (rows with real gyro only: Xsens), or nothing."""
    gy = [r for r in rows if "gyro_w1_rads" in r["compare"]]
    if not gy:
        return []
    lines = ["", "Gyroscope (Xsens only): |gyro| mean±std sim / real, W1, KS", ""]
    for r in gy:
        s, q, c = r["sim"]["gyro_mag"], r["real"]["gyro_mag"], r["compare"]
        lines.append(
            f"- {r['placement']} ({r['source']}): {s['mean']:.2f}±{s['std']:.2f} / {q['mean']:.2f}±{q['std']:.2f} rad/s, "
            f"W1 {c['gyro_w1_rads']:.2f} rad/s, KS {c['gyro_ks']:.2f}"
        )
    return lines


def interpretation(rows: list[dict]) -> list[str]:
    """Plain statements computed from the numbers (no thresholds tuned to make them look good)."""
    out = []
    for src in sorted({r["source"] for r in rows}):
        rs = [r for r in rows if r["source"] == src]
        cad = np.array([r["compare"]["cadence_diff_spm"] for r in rs])
        ratio = np.array([r["sim"]["acc_mag"]["std"] / r["real"]["acc_mag"]["std"] for r in rs])
        hi = np.array([r["sim"]["band_frac"][3] - r["real"]["band_frac"][3] for r in rs])
        mid = np.array([r["sim"]["band_frac"][2] - r["real"]["band_frac"][2] for r in rs])
        spec_r = np.array([r["compare"]["spectral_r"] for r in rs])
        ks = np.array([r["compare"]["acc_ks"] for r in rs])
        worst = rs[int(np.argmax(ratio))]
        out.append(
            f"- **{src}**: cadence sim - real {cad.min():+.0f} to {cad.max():+.0f} steps/min; |acc| std sim/real "
            f"{ratio.min():.2f}-{ratio.max():.2f} (largest at {worst['dataset']} {worst['placement']}); KS {ks.min():.2f}-{ks.max():.2f}; "
            f"8-20 Hz power fraction sim - real {hi.min():+.2f} to {hi.max():+.2f}, 3-8 Hz {mid.min():+.2f} to {mid.max():+.2f}; "
            f"log-spectrum correlation {spec_r.min():.2f}-{spec_r.max():.2f}."
        )
    out += [
        "- Caveats: the real walking is one subject per set (Daphnet: a Parkinson's patient, faster and shorter steps; "
        "gaitpy: a free-living session with turns and pauses), 3-16 windows each, so the real side is a handful of "
        "gaits, not a population. Cadence of the DeepMimic clip is fixed by the clip (one speed). Nothing here was "
        "used to set a simulator parameter: the simulator's numbers come from datasheets and the literature only.",
    ]
    return out


def parse_args(argv: list[str] | None, description: str) -> argparse.Namespace:
    """The options every walking sim-vs-real benchmark takes (this one and mocap_to_real)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--bodies", type=int, default=6, help="simulated bodies per source and placement")
    ap.add_argument("--seconds", type=float, default=60.0, help="simulated seconds per body")
    ap.add_argument("--data", type=Path, default=None, help="data directory (default $ANYMO_DATA or ../shared/data)")
    ap.add_argument("--out", type=Path, default=ROOT / "results")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, __doc__.split("\n")[0])
    data_dir = args.data or default_data_dir()
    t0 = time.perf_counter()
    targets = real_targets(data_dir)
    if not targets:
        print(f"no real walking data under {data_dir}; set ANYMO_DATA", file=sys.stderr)
        return 1
    sources = ["procedural"] + (["deepmimic"] if (data_dir / "deepmimic_motions" / "humanoid3d_walk.txt").is_file() else [])
    rows = []
    for tg in targets:
        real = summarise(tg.acc_mps2, tg.rate_hz, tg.gyro_rads)
        for src in sources:
            accs, gyros = simulate_walking(tg, args.bodies, args.seconds, src, data_dir)
            sim = summarise(accs, tg.rate_hz, gyros if tg.gyro_rads is not None else None)
            rows.append(comparison_row(tg, src, sim, real))
    meta = {
        "command": "python benchmarks/sim_to_real.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "bodies": args.bodies,
        "seconds": args.seconds,
        "hardware": HARDWARE,
        "walking_activities": walking_activities(),
        "window_s": WINDOW_S,
        "bands_hz": BANDS_HZ,
        "elapsed_s": round(time.perf_counter() - t0, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sim_to_real.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    (args.out / "sim_to_real.md").write_text(markdown(rows, meta))
    print(f"wrote {args.out / 'sim_to_real.json'} and {args.out / 'sim_to_real.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
