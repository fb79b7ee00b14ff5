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
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anymo.eval.models import load_model  # noqa: E402
from anymo.model.data import caption_and_prompt_table, load_sim  # noqa: E402
from anymo.model.train import evaluate_sim  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--val", required=True, help="held-out simulated folder (anymo simulate)")
    ap.add_argument("--val-windows", type=int, default=720, help="first N windows, as benchmarks/eval_model.py")
    ap.add_argument("--model", action="append", required=True, metavar="NAME=PATH")
    ap.add_argument("--sensors", default="1,5", help="comma list of random sensor counts")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    val = load_sim([args.val], max_windows=args.val_windows)
    out_path = Path(args.out)
    texts = caption_and_prompt_table(val.caption, sorted(set(val.activity)), out_path.with_suffix(".text_cache.npz"))
    # DeepMimic's few clips are one source per clip name; pooled here
    kind = np.array(["deepmimic" if s.startswith("deepmimic") else s for s in val.source])
    parts = {k: val.take(kind == k) for k in sorted(set(kind.tolist()))}
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
