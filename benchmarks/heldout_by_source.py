"""Held-out synthetic zero-shot accuracy per motion source (procedural, compositional, DeepMimic clips, held-out
motion capture), for one or more checkpoints. Synthetic only: no recorded data is read.

    python benchmarks/heldout_by_source.py --val /work/sim_val_all3 --model NAME=CKPT [--model ...] --out OUT.json

Asks whether a gain on held-out simulated windows comes from the simulator's own motions or also holds on real
human motion (the held-out motion-capture subjects) seen through the simulated sensors.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anymo.eval.models import load_model  # noqa: E402
from anymo.model.data import SimWindows, build_text_table, load_sim  # noqa: E402
from anymo.model.text import label_prompts  # noqa: E402
from anymo.model.train import evaluate_sim  # noqa: E402


def _subset(w: SimWindows, idx: np.ndarray) -> SimWindows:
    return replace(w, signals=w.signals[idx], placement_id=w.placement_id[idx], activity=[w.activity[i] for i in idx],
                   caption=[w.caption[i] for i in idx], unit=w.unit[idx], source=[w.source[i] for i in idx],
                   start_s=None if w.start_s is None else w.start_s[idx])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--val", required=True, help="held-out simulated folder (anymo simulate)")
    ap.add_argument("--val-windows", type=int, default=720, help="first N windows, as benchmarks/eval_model.py")
    ap.add_argument("--model", action="append", required=True, metavar="NAME=PATH")
    ap.add_argument("--sensors", default="1,5", help="comma list of random sensor counts")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    val = load_sim([args.val], max_windows=args.val_windows)
    labels = sorted(set(val.activity))
    out_path = Path(args.out)
    texts = build_text_table(sorted(set(val.caption) | {p for lab in labels for p in label_prompts(lab)}),
                             out_path.with_suffix(".text_cache.npz"))
    # DeepMimic's few clips are one source per clip name; pooled here
    kind = ["deepmimic" if s.startswith("deepmimic") else s for s in val.source]
    parts = {k: _subset(val, np.array([i for i, x in enumerate(kind) if x == k])) for k in sorted(set(kind))}
    sensors = tuple(int(x) for x in args.sensors.split(","))
    res: dict = {"command": "python benchmarks/heldout_by_source.py " + " ".join(sys.argv[1:]),
                 "windows": {k: len(p) for k, p in parts.items()},
                 "labels": {k: len(set(p.activity)) for k, p in parts.items()}, "accuracy_pct": {}}
    for spec in args.model:
        name, path = spec.split("=", 1)
        model = load_model(path).model
        res["accuracy_pct"][name] = {k: {s: round(100 * v["accuracy"], 1) for s, v in
                                         evaluate_sim(model, p, texts, sensors=sensors, seed=0)["by_sensors"].items()}
                                     for k, p in parts.items()}
        print(name, res["accuracy_pct"][name], flush=True)
    out_path.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
