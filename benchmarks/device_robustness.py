"""Device robustness on held-out SIMULATED windows: zero-shot activity accuracy of checkpoints when the same
windows (one random sensor each) reach the model through other devices — with the gyro, accelerometer-only,
at 32 Hz, and through a small full scale with a coarse converter (the `anymo.model.augment.adc` model) —
and split by the device preset the simulator drew for each window (`anymo.sim.devices`). With
``--preset-sets``: the same motions, bodies and placements simulated through each preset in turn (`anymo
simulate --device P` with one seed: only mountings and sensor errors differ), seen through 1 and 5 sensors.
No recorded data is read.

    python benchmarks/device_robustness.py --model NAME=CKPT [--model ...] --val SIM_DIR [--windows 720]
        [--preset-sets SIM_DIR ...] --out results/x.json
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from anymo.eval.metrics import classification_metrics
from anymo.model.augment import adc
from anymo.model.checkpoint import load_checkpoint
from anymo.model.data import caption_and_prompt_table, load_sim
from anymo.model.train import embed_subsets, label_matrix
from anymo.sim.shards import load_shards

RATE_HZ = 60.0


def resample_hold(signals: np.ndarray, device_hz: float) -> np.ndarray:
    """[N, T, 6] at 60 Hz as a ``device_hz`` device samples them (nearest earlier sample), linearly back to 60 Hz."""
    n, t, _ = signals.shape
    idx = np.floor(np.arange(round(t * device_hz / RATE_HZ)) * RATE_HZ / device_hz).astype(int)
    x = torch.from_numpy(signals[:, idx]).permute(0, 2, 1)
    return F.interpolate(x, size=t, mode="linear", align_corners=False).permute(0, 2, 1).numpy()


def through_adc(signals: np.ndarray, acc_range_g: float, acc_bits: int, gyro_range_dps: float = 2000.0) -> np.ndarray:
    n = len(signals)
    acc, gyro = adc(torch.from_numpy(signals[..., :3]), torch.from_numpy(signals[..., 3:]), torch.full((n,), acc_range_g),
                    torch.full((n,), float(acc_bits)), torch.full((n,), gyro_range_dps * math.pi / 180))
    return torch.cat([acc, gyro], dim=-1).numpy()


def window_devices(val_dir: str, n: int, min_purity: float = 0.5) -> list[str]:
    """The device preset of each of the first ``n`` windows `load_sim` returns (same purity filter, same order)."""
    out: list[str] = []
    for a in load_shards(val_dir).iter_shards():
        out += [str(d) for d in a["device"][a["label_purity"] >= min_purity]]
        if len(out) >= n:
            break
    return out[:n]


def conditions(sig: np.ndarray) -> dict[str, tuple[np.ndarray, bool]]:
    """name -> (signals [N, T, 6], has_gyro) of the same windows through each device."""
    acc_only = sig.copy()
    acc_only[..., 3:] = 0.0
    slow = resample_hold(acc_only, 32.0)
    return {
        "acc_gyro": (sig, True),
        "acc_gyro_250dps_2g_10bit": (through_adc(sig, 2.0, 10, 250.0), True),
        "acc_only": (acc_only, False),
        "acc_only_32hz": (slow, False),
        "acc_only_32hz_2g_10bit": (through_adc(slow, 2.0, 10), False),
        "acc_only_32hz_1.5g_6bit": (through_adc(slow, 1.5, 6), False),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True, metavar="NAME=CKPT")
    ap.add_argument("--val", required=True, help="held-out simulated folder (anymo simulate)")
    ap.add_argument("--windows", type=int, default=720)
    ap.add_argument("--preset-sets", nargs="*", default=[], metavar="SIM_DIR",
                    help="the same held-out simulation through one device preset each (anymo simulate --device P, same seed)")
    ap.add_argument("--seed", type=int, default=0, help="which sensor of each window is seen")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    val = load_sim([args.val], max_windows=args.windows)
    labels = sorted(set(val.activity))
    texts = caption_and_prompt_table(val.caption, labels, Path(args.out).with_suffix(".text_cache.npz"))
    y = np.array([labels.index(a) for a in val.activity])
    rows = np.arange(len(val))
    slot = np.random.default_rng(args.seed).integers(val.n_sensors, size=len(val))
    sig = val.signals[rows, slot].astype(np.float32)
    pid = torch.from_numpy(val.placement_id[rows, slot][:, None].astype(np.int64))
    conds = conditions(sig)
    devices = np.array(window_devices(args.val, len(val)))
    presets = {}
    for d in args.preset_sets:
        w = load_sim([d], max_windows=args.windows)
        if w.activity != val.activity:
            raise SystemExit(f"{d}: its windows are not the motions of {args.val}; simulate it with the same --seed, --hours, "
                             "--sources and --source-shares, changing only --device")
        presets[window_devices(d, 1)[0]] = w
    report: dict = {"command": "python benchmarks/device_robustness.py " + " ".join(f"--model {m}" for m in args.model)
                    + f" --val {args.val} --windows {args.windows} --seed {args.seed}"
                    + (" --preset-sets " + " ".join(args.preset_sets) if args.preset_sets else "") + f" --out {args.out}",
                    "n_windows": len(val), "n_labels": len(labels), "chance_accuracy": 1 / len(labels), "models": {}}
    for spec in args.model:
        name, path = spec.split("=", 1)
        model, _, _ = load_checkpoint(path)
        model.eval()
        lab = label_matrix(model, texts, labels)
        res: dict = {}
        for cond, (x, has_gyro) in conds.items():
            with torch.no_grad():
                e, _ = model(torch.from_numpy(x[:, None].astype(np.float32)), pid, torch.ones(len(x), 1, dtype=torch.bool),
                             torch.full((len(x), 1), has_gyro))
            scores = e.numpy() @ lab.T
            m = classification_metrics(scores, y)
            res[cond] = {"accuracy": float(m["accuracy"]), "macro_f1": float(m["macro_f1"])}
            if cond in ("acc_gyro", "acc_only"):
                hit = scores.argmax(1) == y
                res[cond]["by_device_preset"] = {d: {"n": int((devices == d).sum()), "accuracy": float(hit[devices == d].mean())}
                                                 for d in sorted(set(devices))}
        if presets:
            res["same_motions_by_preset"] = {}
            for dev, w in presets.items():
                res["same_motions_by_preset"][dev] = {
                    str(k): float(((embed_subsets(model, w, k, args.seed)[0] @ lab.T).argmax(1) == y).mean()) for k in (1, 5)}
            print("  same motions by preset (1 / 5 sensors): " + ", ".join(
                f"{d} {100 * r['1']:.1f} / {100 * r['5']:.1f}" for d, r in res["same_motions_by_preset"].items()), flush=True)
        report["models"][name] = res
        print(name + ": " + ", ".join(f"{c} {100 * r['accuracy']:.1f}" for c, r in res.items() if c in conds), flush=True)
        print("  by device preset (acc_gyro): " + ", ".join(f"{d} {100 * r['accuracy']:.1f} (n {r['n']})"
                                                         for d, r in res["acc_gyro"]["by_device_preset"].items()), flush=True)
    report["wall_s"] = round(time.time() - t0, 1)
    Path(args.out).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
