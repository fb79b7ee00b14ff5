"""Tempo probe: held-out simulated windows replayed slower and faster (synthetic data only).

People do the same movement at many speeds. This replays the tempo-free held-out windows (no speed word in
their texts, no locomotion; `anymo.model.augment.tempo_free`) that have a following window in their unit at
0.7x, 1.0x and 1.4x their simulated speed (`anymo.model.augment.time_warp`: angular rates x scale, the
kinematic specific force x scale^2, gravity turned faster) and scores each model zero-shot over those
windows' activity labels with 1 and 5 random sensors.

    python benchmarks/tempo_probe.py --val /work/sim_val_all3 --model shipped=models/anymo-edge-small/checkpoint \
        --model other=/path/to/checkpoint --out results/tempo_probe.json
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from anymo.eval.models import load_model
from anymo.model.augment import tempo_free, time_warp
from anymo.model.data import SimWindows, caption_and_prompt_table, load_sim
from anymo.model.train import evaluate_sim

SCALES = (0.7, 1.0, 1.4)


def replayed(val: SimWindows, rows: np.ndarray, scale: float) -> SimWindows:
    """The windows ``rows`` of ``val`` replayed ``scale`` times as fast from their start."""
    nxt = val.next_index[rows]
    n, s, t, _ = val.signals[rows].shape
    buf = np.concatenate([val.signals[rows], val.signals[nxt]], axis=2).astype(np.float32).reshape(n * s, 2 * t, 6)
    up = np.concatenate([val.gravity_up_at(rows), val.gravity_up_at(nxt)], axis=2).reshape(n * s, 2 * t, 3)
    sig = time_warp(buf, t, scale, 0.0, up=up).reshape(n, s, t, 6).astype(np.float16)
    return replace(val.take(rows), signals=sig, start_s=None)  # replayed windows no longer follow each other in time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--val", required=True, help="held-out simulated folder (anymo simulate)")
    ap.add_argument("--val-windows", type=int, default=720)
    ap.add_argument("--model", action="append", required=True, metavar="NAME=PATH")
    ap.add_argument("--out", default="results/tempo_probe.json")
    args = ap.parse_args()
    t0 = time.time()
    val = load_sim([args.val], max_windows=args.val_windows)
    rows = np.array([i for i in range(len(val)) if val.next_index[i] >= 0 and tempo_free(val.activity[i], val.caption[i])])
    sets = {scale: replayed(val, rows, scale) for scale in SCALES}
    labels = sorted({val.activity[i] for i in rows})
    texts = caption_and_prompt_table(val.caption, labels, Path(args.out).with_suffix(".text_cache.npz"))
    report = {"command": "python benchmarks/tempo_probe.py " + " ".join(f"--model {m}" for m in args.model) + f" --val {args.val}",
              "val": str(args.val), "windows": int(len(rows)), "labels": len(labels), "scales": list(SCALES), "models": {}}
    for spec in args.model:
        name, path = spec.split("=", 1)
        model = load_model(path)
        res = {}
        for scale, data in sets.items():
            ev = evaluate_sim(model.model, data, texts, sensors=(1, 5), seed=0)
            res[str(scale)] = {k: {"accuracy": v["accuracy"], "macro_f1": v["macro_f1"]} for k, v in ev["by_sensors"].items()}
        report["models"][name] = res
        print(name, " ".join(f"{sc}x: 1 sensor {r['1']['accuracy']:.3f} / 5 sensors {r['5']['accuracy']:.3f}" for sc, r in res.items()), flush=True)
    report["seconds"] = round(time.time() - t0, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
