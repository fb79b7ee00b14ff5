"""Synthetic probe for model selection: zero-shot macro-F1 of checkpoints on SIMULATED windows of each
development set's label vocabulary, at its placement(s), through its documented device (rate, range,
gyro or not, gravity removed or not) — the same simulation `--model simfeatures` trains on, with another
seed. Nothing recorded is read except the metadata any model input carries (placement names, has_gyro,
gravity_removed), so recipe choices made on this probe are not tuned on the real recordings.

    python benchmarks/synthetic_probe.py --model NAME=CKPT [--model ...] [--clips 12] [--seeds 777,778] --out results/synthetic_probe.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from anymo.data.datasets import DATASETS, load_dataset
from anymo.eval.metrics import classification_metrics
from anymo.eval.models import load_model
from anymo.eval.simfeatures import DEVICE_SPECS, DeviceSpec, SimTrainConfig, activity_for_label, simulate_label_windows
from anymo.preprocess.model_input import ModelInput
from anymo.preprocess.windows import WindowConfig

DEFAULT_DATASETS = ("basicmotions", "watch_exercises", "hmp_adl")


def probe_windows(dataset: str, clips: int, seed: int) -> tuple[ModelInput, list[str], np.ndarray]:
    """Simulated windows of ``dataset``'s labels at its placements, their vocabulary and label indices."""
    recs = load_dataset(dataset)
    placements = sorted({r.placement for r in recs})
    has_gyro = all(r.gyro_rads is not None for r in recs)
    gravity_removed = any(r.gravity_removed for r in recs)
    vocab = sorted(lab for lab in DATASETS[dataset].labels if activity_for_label(lab) is not None)
    cfg = SimTrainConfig(clips_per_label=clips, seed=seed)
    parts, ys = [], []
    for k, lab in enumerate(vocab):
        w = simulate_label_windows(lab, placements, DEVICE_SPECS.get(dataset, DeviceSpec()), has_gyro=has_gyro,
                                   gravity_removed=gravity_removed, cfg=cfg, window=WindowConfig())
        parts.append(w)
        ys.append(np.full(len(w), k))
    return ModelInput.concat(parts), vocab, np.concatenate(ys)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True, metavar="NAME=PATH")
    ap.add_argument("--datasets", nargs="*", default=list(DEFAULT_DATASETS))
    ap.add_argument("--clips", type=int, default=12, help="simulated clips per label (10-25 s each)")
    ap.add_argument("--seeds", default="777", help="comma-separated simulation seeds, scores averaged over them "
                    "(one seed moves watch_exercises / hmp_adl by a few points; simfeatures trains on seed 0)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    t0 = time.time()
    seeds = [int(s) for s in args.seeds.split(",")]
    probes = {(ds, seed): probe_windows(ds, args.clips, seed) for seed in seeds for ds in args.datasets}
    report: dict = {"command": "python benchmarks/synthetic_probe.py " + " ".join(f"--model {m}" for m in args.model)
                    + f" --clips {args.clips} --seeds {args.seeds} --out {args.out}", "seeds": seeds,
                    "n_windows": {ds: int(sum(len(probes[ds, s][0]) for s in seeds)) for ds in args.datasets}, "models": {}}
    for spec in args.model:
        name, path = spec.split("=", 1)
        model = load_model(path)
        row = {}
        for ds in args.datasets:
            per_seed = []
            for seed in seeds:
                x, vocab, y = probes[ds, seed]
                per_seed.append(classification_metrics(model.embed_imu(x) @ model.embed_text(vocab).T, y))
            f1 = [m["macro_f1"] for m in per_seed]
            row[ds] = {"accuracy": float(np.mean([m["accuracy"] for m in per_seed])), "macro_f1": float(np.mean(f1)),
                       "macro_f1_per_seed": f1, "chance": 1 / len(probes[ds, seeds[0]][1])}
        report["models"][name] = row
        print(name, "  ".join(f"{ds} F1 {100 * r['macro_f1']:.1f}" for ds, r in row.items()), flush=True)
    report["wall_s"] = round(time.time() - t0, 1)
    Path(args.out).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
