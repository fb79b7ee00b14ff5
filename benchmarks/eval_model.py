"""Zero-shot evaluation of AnyMo checkpoints against the references, on every labelled real dataset, plus
open vocabulary (reworded labels), setup-agnosticism and caption retrieval on held-out synthetic data.

    python benchmarks/eval_model.py --model anymo=models/anymo-edge-small [--model nogeo=RUN/checkpoint ...] \
        [--refs random simfeatures supervised] [--val /work/sim_val] --out results/model_eval.json

Real recordings are only evaluated here, never trained or tuned on. Writes JSON and a Markdown table
(same name, .md).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from anymo.data.datasets import DATASETS, load_dataset
from anymo.eval.harness import evaluate_windows
from anymo.eval.models import load_model
from anymo.preprocess.windows import WindowConfig, make_windows

# Label rewordings for the open-vocabulary check: synonyms and longer descriptions, none a training label.
REWORDING: dict[str, str] = {
    "standing": "staying upright in one place",
    "walking": "strolling along at an easy pace",
    "running": "moving fast on foot, sprinting",
    "playing badminton": "swinging a racket",
    "shoulder pendulum swing": "letting the arm hang and swing in small circles",
    "shoulder abduction": "raising the arm sideways away from the body",
    "shoulder forward elevation": "lifting the straight arm forward and up",
    "shoulder internal rotation": "turning the forearm inward toward the belly, elbow bent",
    "shoulder external rotation": "turning the forearm outward away from the belly, elbow bent",
    "trapezius row": "pulling the arms back and squeezing the shoulder blades",
    "upright row": "pulling a weight straight up along the body to the chin",
    "brushing teeth": "cleaning the teeth with a toothbrush",
    "climbing stairs": "going up a staircase",
    "combing hair": "running a comb through the hair",
    "descending stairs": "going down a staircase",
    "drinking from a glass": "taking a sip from a cup",
    "eating meat": "cutting food with a knife and eating it with a fork",
    "eating soup": "having soup with a spoon",
    "getting up from bed": "rising out of bed",
    "lying down on bed": "going to lie in bed",
    "pouring water": "filling a glass from a bottle",
    "sitting down on a chair": "taking a seat",
    "standing up from a chair": "rising from a seat",
    "using the telephone": "talking on the phone",
}


class Reworded:
    """A model whose label texts are replaced by their rewording before embedding."""

    def __init__(self, model) -> None:
        self.model, self.name = model, f"{model.name} (reworded labels)"

    def embed_imu(self, x):
        return self.model.embed_imu(x)

    def embed_text(self, texts):
        return self.model.embed_text([REWORDING.get(t, t) for t in texts])


KEYS = ("n_windows", "n_classes", "chance_accuracy", "accuracy", "macro_f1", "r_at_2", "mrr_imu_to_text", "mrr_text_to_imu")


def _summary(res: dict) -> dict:
    return {k: res.get(k) for k in KEYS}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", default=[], metavar="NAME=PATH", help="checkpoint to evaluate (repeat)")
    ap.add_argument("--refs", nargs="*", default=["random", "simfeatures", "supervised"])
    ap.add_argument("--datasets", nargs="*", default=[n for n, d in DATASETS.items() if d.labelled])
    ap.add_argument("--val", default=None, help="held-out simulated folder: accuracy by sensor count, caption MRR")
    ap.add_argument("--val-windows", type=int, default=720)
    ap.add_argument("--no-reworded", action="store_true")
    ap.add_argument("--merge", nargs="*", default=None, metavar="JSON", help="only combine earlier reports into --out (.json + .md)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.merge:
        parts = [json.loads(Path(p).read_text()) for p in args.merge]
        report = {"commands": [p["command"] for p in parts], "command": "; ".join(p["command"] for p in parts),
                  "datasets": parts[0]["datasets"], "rewording": REWORDING}
        for key in ("models", "reworded", "held_out_synthetic"):
            report[key] = {k: v for p in parts for k, v in p[key].items()}
        Path(args.out).write_text(json.dumps(report, indent=1, default=float))
        Path(args.out).with_suffix(".md").write_text(markdown(report))
        return 0

    windows = {name: make_windows(load_dataset(name), WindowConfig()) for name in args.datasets}
    report: dict = {"command": "python benchmarks/eval_model.py " + " ".join(
        [f"--model {m}" for m in args.model] + (["--refs", *args.refs] if args.refs else []) +
        (["--val", args.val] if args.val else []) + ["--out", args.out]),
        "datasets": args.datasets, "models": {}, "reworded": {}, "held_out_synthetic": {}, "rewording": REWORDING}
    specs = [(r, r) for r in args.refs] + [tuple(m.split("=", 1)) for m in args.model]
    for name, spec in specs:
        t0 = time.time()
        model = load_model(spec)
        report["models"][name] = {ds: _summary(evaluate_windows(model, w, 0, with_bertscore=False)) for ds, w in windows.items()}
        if spec not in ("random", "simfeatures", "supervised") and not args.no_reworded:
            rw = Reworded(model)
            report["reworded"][name] = {ds: _summary(evaluate_windows(rw, w, 0, with_bertscore=False)) for ds, w in windows.items()}
        if args.val and spec not in ("random", "simfeatures", "supervised"):
            from anymo.model.data import caption_and_prompt_table, load_sim
            from anymo.model.train import evaluate_sim

            val = load_sim([args.val], max_windows=args.val_windows)
            texts = caption_and_prompt_table(val.caption, sorted(set(val.activity)), Path(args.out).with_suffix(".val_text_cache.npz"))
            report["held_out_synthetic"][name] = evaluate_sim(model.model, val, texts, sensors=(1, 2, 3, 5), seed=0)
        report["models"][name]["seconds"] = round(time.time() - t0, 1)
        print(f"{name}: " + ", ".join(f"{ds} F1 {report['models'][name][ds]['macro_f1']}" for ds in args.datasets), flush=True)
        Path(args.out).write_text(json.dumps(report, indent=1, default=float))
    Path(args.out).with_suffix(".md").write_text(markdown(report))
    return 0


def _f(x) -> str:
    return "—" if x is None else f"{100 * x:.1f}"


def markdown(report: dict) -> str:
    ds = [d for d in report["datasets"] if any(report["models"][m].get(d, {}).get("n_classes") for m in report["models"])]
    lines = ["Zero-shot macro-F1 / accuracy (%) on the real datasets (never trained or tuned on them).", "",
             "| model | " + " | ".join(f"{d} F1 | {d} acc" for d in ds) + " |", "|---" * (1 + 2 * len(ds)) + "|"]
    first = next(iter(report["models"].values()))
    lines.append("| chance (1/K) | " + " | ".join(f"{_f(first[d]['chance_accuracy'])} | {_f(first[d]['chance_accuracy'])}" for d in ds) + " |")
    for m, r in report["models"].items():
        lines.append(f"| {m} | " + " | ".join(f"{_f(r[d]['macro_f1'])} | {_f(r[d]['accuracy'])}" for d in ds) + " |")
    for m, r in report["reworded"].items():
        lines.append(f"| {m}, reworded labels | " + " | ".join(f"{_f(r[d]['macro_f1'])} | {_f(r[d]['accuracy'])}" for d in ds) + " |")
    if report["held_out_synthetic"]:
        lines += ["", "Held-out synthetic windows (new bodies, units, mountings, devices): zero-shot accuracy / macro-F1 over "
                  "all simulated activity labels, and caption retrieval MRR (pool of 100), by number of random sensors.", "",
                  "| model | sensors | accuracy | macro-F1 | MRR IMU->text | MRR text->IMU | token perplexity (per codebook) |",
                  "|---|---|---|---|---|---|---|"]
        for m, h in report["held_out_synthetic"].items():
            for k, v in h["by_sensors"].items():
                lines.append(f"| {m} | {k} | {_f(v['accuracy'])} | {_f(v['macro_f1'])} | {v['caption_mrr_imu_to_text']:.3f} | "
                             f"{v['caption_mrr_text_to_imu']:.3f} | {', '.join(f'{p:.0f}' for p in v['token_perplexity'])} |")
            lines.append(f"| {m} chance | | {_f(h['chance_accuracy'])} | | | | |")
    lines += [""] + [f"Command: `{c}`" for c in report.get("commands", [report["command"]])]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
