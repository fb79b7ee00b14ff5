"""Breadth of motion: how many motions and words the simulator knows, and a sim-to-real figure.

1. Breadth: distinct motions and caption words per motion source (procedural activities, the
   compositional generator, DeepMimic clips, motion capture with text), and the hours of source
   material (generated sources: unlimited; clip sources: the sum of their clip lengths).
2. Sim-to-real: `--model simfeatures` (anymo.eval.simfeatures: orientation-free features + logistic
   regression trained ONLY on simulated windows of each development set's label vocabulary at its
   placement), scored on the real development sets with the same windows as `anymo eval`
   (macro-F1, chance = 1 / K). Nothing recorded is fitted: the real windows are only scored.

Results are kept per ``--tag`` (e.g. "before" and "after" a change of the simulator) in
results/motion_breadth.json; results/motion_breadth.md shows every tag side by side.

    nice -n 10 .venv/bin/python benchmarks/motion_breadth.py --tag after [--clips-per-label 24]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEV_SETS = ("basicmotions", "watch_exercises", "hmp_adl")
WORD = re.compile(r"[a-z]+")


def _words(captions: list[str]) -> set[str]:
    return {w for c in captions for w in WORD.findall(c.lower())}


def procedural_breadth(rng: np.random.Generator, clips_per_activity: int) -> dict:
    from anymo.motion.procedural import ACTIVITIES
    from anymo.motion.procedural.activities import spec
    from anymo.motion.procedural.captions import make_captions
    from anymo.motion.procedural.generate import render_clip

    caps: list[str] = []
    for a in ACTIVITIES:
        for _ in range(clips_per_activity):
            _, _, p = render_clip(a, 3.0 if a not in ("lying_down", "getting_up") else 9.0, rng, rate_hz=30.0)
            caps += make_captions(spec(a), p, rng)
    return {"motions": len(ACTIVITIES), "caption_words": len(_words(caps)), "captions_sampled": len(caps),
            "hours": "unlimited (generated)"}


def compositional_breadth(rng: np.random.Generator, n: int) -> dict | None:
    try:
        from anymo.motion import compositional
    except ImportError:
        return None
    specs = [compositional.random_spec(rng) for _ in range(n)]
    caps = [c for s in specs for c in compositional.captions_for(s, rng)]
    return {"motions": compositional.count_distinct_motions(), "motions_sampled_distinct": len({s.key() for s in specs}),
            "caption_words": len(_words(caps)), "captions_sampled": len(caps), "hours": "unlimited (generated)"}


def deepmimic_breadth(data_dir: Path) -> dict | None:
    folder = data_dir / "deepmimic_motions"
    if not folder.is_dir():
        return None
    from anymo.motion.deepmimic import find_deepmimic_clips, read_deepmimic_frames

    clips = find_deepmimic_clips(folder)
    secs = 0.0
    for c in clips:
        frames = read_deepmimic_frames(c)[1]
        secs += float(np.sum(np.asarray(frames)[:, 0]))
    names = [re.sub(r"^humanoid3d_|\d+$", "", c.stem).replace("_", " ") for c in clips]
    return {"motions": len(clips), "caption_words": len(_words(names)), "hours": round(secs / 3600, 4)}


def mocap_breadth(data_dir: Path) -> dict | None:
    index = data_dir / "mocap" / "index.csv"
    if not index.is_file():
        return None
    rows = list(csv.DictReader(index.open()))
    secs = 0.0
    for r in rows:
        f = data_dir / "mocap" / r["file"]
        try:
            text = f.read_text(errors="replace")
        except OSError:
            continue
        if r["format"] == "bvh":
            m = re.search(r"Frames:\s*(\d+)", text)
            n = int(m.group(1)) if m else 0
        else:  # AMC: one line holding only the frame number per frame
            n = len(re.findall(r"^\d+\s*$", text, flags=re.MULTILINE))
        secs += n / float(r["rate_hz"] or 120)
    texts = [r["text"] for r in rows]
    return {"motions": len(rows), "distinct_descriptions": len(set(texts)), "caption_words": len(_words(texts)),
            "hours": round(secs / 3600, 3)}


def sim_only_figure(datasets: list[str], clips_per_label: int, data_dir: Path, seeds: list[int]) -> dict:
    """macro-F1 of the sim-only classifier per set: the mean over classifiers trained on simulations with
    each of ``seeds`` (one simulation seed alone moves hmp_adl / watch_exercises by a few points)."""
    from anymo.eval.harness import evaluate
    from anymo.eval.simfeatures import SimFeaturesModel, SimTrainConfig

    per_seed: dict[str, list[dict]] = {ds: [] for ds in datasets}
    for seed in seeds:
        model = SimFeaturesModel(SimTrainConfig(clips_per_label=clips_per_label, seed=seed))
        for ds in datasets:
            t = time.perf_counter()
            r = evaluate(model, [ds], data_dir, with_bertscore=False)["datasets"][ds]
            per_seed[ds].append({"macro_f1": r["macro_f1"], "accuracy": r["accuracy"], "chance": r["chance_accuracy"],
                                 "n_windows": r["n_windows"], "n_classes": r["n_classes"], "seconds": round(time.perf_counter() - t, 1)})
            print(f"{ds:<16} seed {seed}  macro-F1 {r['macro_f1']:.3f}  acc {r['accuracy']:.3f}  chance {r['chance_accuracy']:.3f}  "
                  f"({r['n_windows']} windows, {per_seed[ds][-1]['seconds']} s)", flush=True)
    out = {}
    for ds, rows in per_seed.items():
        f1 = np.array([r["macro_f1"] for r in rows])
        out[ds] = {**rows[0], "macro_f1": float(f1.mean()), "macro_f1_sd": float(f1.std()), "seeds": seeds,
                   "macro_f1_per_seed": [float(x) for x in f1], "accuracy": float(np.mean([r["accuracy"] for r in rows])),
                   "seconds": round(sum(r["seconds"] for r in rows), 1)}
    return out


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


def markdown(doc: dict) -> str:
    lines = ["# Breadth of motion", "", "Sim-only classifier (`--model simfeatures`, trained only on simulated windows), macro-F1 "
             "on the development sets (same windows as `anymo eval`; chance in brackets):", ""]
    tags = list(doc["runs"])
    lines += ["| set | chance | " + " | ".join(tags) + " |", "| --- | --- |" + " --- |" * len(tags)]
    sets = sorted({d for t in tags for d in doc["runs"][t]["sim_only"]})
    for ds in sets:
        cells = []
        chance = None
        for t in tags:
            r = doc["runs"][t]["sim_only"].get(ds)
            cells.append("-" if r is None else f"{r['macro_f1']:.3f}" + (f" ± {r['macro_f1_sd']:.3f}" if len(r.get("seeds", [])) > 1 else ""))
            chance = chance or (r and r["chance"])
        lines.append(f"| {ds} | {chance:.3f} | " + " | ".join(cells) + " |")
    lines += ["", "Runs:", ""]
    for t in tags:
        r = doc["runs"][t]
        seeds = next(iter(r["sim_only"].values()), {}).get("seeds", [0])
        lines.append(f"- `{t}`: commit {r['commit']}, {r['clips_per_label']} clips per label, simulation seeds {seeds} (mean ± sd over them), "
                     f"command `{r['command']}`, {r['elapsed_s']} s")
    # --skip-breadth runs carry no breadth: show the newest run that measured it
    shown = next((t for t in reversed(tags) if doc["runs"][t]["breadth"]), tags[-1])
    last = doc["runs"][shown]["breadth"]
    lines += ["", f"Breadth (run `{shown}`):", "", "| source | distinct motions | caption words | hours of source material |",
              "| --- | --- | --- | --- |"]
    for src, b in last.items():
        if b is None:
            lines.append(f"| {src} | (absent) | | |")
        else:
            lines.append(f"| {src} | {b['motions']} | {b['caption_words']} | {b['hours']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from anymo.data.datasets import default_data_dir

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tag", default="current", help="name of this run in the results (e.g. before / after)")
    ap.add_argument("--datasets", default=",".join(DEV_SETS))
    ap.add_argument("--clips-per-label", type=int, default=24)
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "results")
    ap.add_argument("--skip-breadth", action="store_true")
    ap.add_argument("--sim-seeds", default="0", help="comma-separated simulation seeds of the sim-only classifier (mean reported)")
    args = ap.parse_args(argv)
    data_dir = args.data or default_data_dir()
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    breadth = {} if args.skip_breadth else {
        "procedural": procedural_breadth(rng, 2),
        "compositional": compositional_breadth(rng, 400),
        "deepmimic": deepmimic_breadth(data_dir),
        "mocap": mocap_breadth(data_dir),
    }
    for k, v in breadth.items():
        print(k, v, flush=True)
    sim = sim_only_figure([d.strip() for d in args.datasets.split(",") if d.strip()], args.clips_per_label, data_dir,
                          [int(x) for x in args.sim_seeds.split(",")])
    path = args.out / "motion_breadth.json"
    doc = json.loads(path.read_text()) if path.is_file() else {"runs": {}}
    doc["runs"][args.tag] = {
        "commit": _commit(),
        "command": "python benchmarks/motion_breadth.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "clips_per_label": args.clips_per_label,
        "elapsed_s": round(time.perf_counter() - t0, 1),
        "breadth": breadth or doc["runs"].get(args.tag, {}).get("breadth", {}),
        "sim_only": sim,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1))
    (args.out / "motion_breadth.md").write_text(markdown(doc))
    print(f"wrote {path} and {args.out / 'motion_breadth.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
