"""`anymo train`: train the AnyMo model on simulated shards (see `anymo.model.train` for the recipe).

    anymo train --data SIM_DIR [SIM_DIR ...] --out CKPT_DIR [--val SIM_DIR] [--steps N] [--resume]

Runs under ``torchrun --nproc_per_node N -m anymo.model.train_cli ...`` too (DDP over gloo).
"""

from __future__ import annotations

import argparse
import json
import sys

from anymo.model.augment import AugmentConfig
from anymo.model.config import ModelConfig
from anymo.model.train import TrainConfig, train


def _parser(prog: str) -> argparse.ArgumentParser:
    d = TrainConfig()
    ap = argparse.ArgumentParser(prog=prog, description="Train the AnyMo encoder, tokenizer and text alignment on simulated IMU "
                                 "shards (anymo simulate). Writes OUT/checkpoint (model.safetensors + config.json), "
                                 "OUT/train_state (for --resume), OUT/log.jsonl and OUT/summary.json.")
    ap.add_argument("--data", nargs="+", required=True, help="simulated shard folders to train on")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--val", default=None, help="held-out simulated folder for the periodic evaluation")
    ap.add_argument("--steps", type=int, default=d.steps, help="optimiser steps (default %(default)s)")
    ap.add_argument("--batch", type=int, default=d.batch, help="windows per step and process (default %(default)s)")
    ap.add_argument("--lr", type=float, default=d.lr, help="peak learning rate (default %(default)s)")
    ap.add_argument("--seed", type=int, default=d.seed, help="seed of weights, batches and augmentations (default %(default)s)")
    ap.add_argument("--eval-every", type=int, default=d.eval_every, help="held-out evaluation period in steps (default %(default)s)")
    ap.add_argument("--save-every", type=int, default=d.save_every, help="checkpoint period in steps (default %(default)s)")
    ap.add_argument("--threads", type=int, default=d.threads, help="CPU threads in all (split over torchrun processes) (default %(default)s)")
    ap.add_argument("--max-windows", type=int, default=None, help="use at most this many training windows")
    ap.add_argument("--val-windows", type=int, default=d.val_windows, help="held-out windows evaluated (default %(default)s)")
    ap.add_argument("--conv-norm", default=ModelConfig().conv_norm, choices=["batch", "group", "none"], help="normalisation in the per-sensor encoder (default %(default)s)")
    ap.add_argument("--warmup-steps", type=int, default=d.warmup_steps, help="linear warm-up steps (default %(default)s)")
    ap.add_argument("--no-geometry", action="store_true", help="ablation: the encoder ignores placements (no geometry embedding, no kinematic bias)")
    ap.add_argument("--no-pretraining", action="store_true", help="ablation: drop the placement-view and masked-observation losses")
    ap.add_argument("--pretraining-weight", type=float, default=None, metavar="W",
                    help=f"weight of the placement-view and masked-observation losses (default {d.w_view:g})")
    ap.add_argument("--keep-steps", type=int, nargs="*", default=[], help="also keep OUT/checkpoint-stepN at these steps")
    ap.add_argument("--teacher-sensors", type=int, default=d.teacher_sensors, help="sensors the full-body teacher sees (default %(default)s)")
    ap.add_argument("--text-cache", default=None, help="MiniLM text-embedding cache .npz shared between runs (default OUT/text_cache.npz)")
    ap.add_argument("--balance", type=float, default=d.balance_power, metavar="POWER",
                    help="draw windows with probability count(activity)^-POWER: 0 as simulated, 1 every activity alike (default %(default)s)")
    ap.add_argument("--label-weight", type=float, default=d.w_label, help="weight of the label-prompt classification loss (default %(default)s)")
    ap.add_argument("--time-warp", type=float, default=0.0, metavar="P",
                    help="share of tempo-free windows replayed 2/3-1.5x as fast (default %(default)s: off)")
    a = AugmentConfig()
    ap.add_argument("--acc-only", type=float, default=a.p_acc_only, metavar="P",
                    help="share of sensors per view whose gyro is dropped (accelerometer-only devices) (default %(default)s)")
    ap.add_argument("--adc", type=float, default=a.p_adc, metavar="P",
                    help="share of sensors per view seen through a small full scale and coarse converter "
                         f"(acc +-{a.adc_acc_range_g[0]:g}..{a.adc_acc_range_g[1]:g} g at {a.adc_acc_bits[0]}..{a.adc_acc_bits[1]} bits, "
                         f"gyro {a.adc_gyro_range_dps[0]:g}..{a.adc_gyro_range_dps[1]:g} dps) (default %(default)s: off)")
    ap.add_argument("--resume", action="store_true", help="continue from OUT/train_state when it exists")
    ap.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    return ap


def main(argv: list[str] | None = None, prog: str = "anymo train") -> int:
    ap = _parser(prog)
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    if not 0.0 <= args.time_warp <= 1.0:
        ap.error(f"--time-warp is the share of windows replayed at another speed, between 0 and 1; got {args.time_warp:g}")
    if args.pretraining_weight is not None and not args.pretraining_weight >= 0.0:
        ap.error(f"--pretraining-weight must be 0 or more (0 = no pre-training losses, like --no-pretraining); got {args.pretraining_weight:g}")
    if args.no_pretraining and args.pretraining_weight:
        ap.error(f"--no-pretraining and --pretraining-weight {args.pretraining_weight:g} contradict each other: "
                 "drop one (--no-pretraining is --pretraining-weight 0)")
    for flag, v in (("--acc-only", args.acc_only), ("--adc", args.adc)):
        if not 0.0 <= v <= 1.0:
            ap.error(f"{flag} is a share of sensors, between 0 and 1; got {v:g}")
    w_pre = 0.0 if args.no_pretraining else (TrainConfig.w_view if args.pretraining_weight is None else args.pretraining_weight)
    cfg = TrainConfig(data=list(args.data), out=args.out, val=args.val, steps=args.steps, batch=args.batch, lr=args.lr,
                      seed=args.seed, eval_every=args.eval_every, save_every=args.save_every, threads=args.threads,
                      max_windows=args.max_windows, val_windows=args.val_windows, keep_steps=tuple(args.keep_steps),
                      teacher_sensors=args.teacher_sensors, text_cache=args.text_cache,
                      balance_power=args.balance, w_label=args.label_weight, w_view=w_pre, w_mask=w_pre,
                      model=ModelConfig(use_geometry=not args.no_geometry, conv_norm=args.conv_norm), warmup_steps=args.warmup_steps,
                      augment=AugmentConfig(p_time_warp=args.time_warp, p_acc_only=args.acc_only, p_adc=args.adc))
    try:
        summary = train(cfg, resume=args.resume, progress=not args.quiet)
    except (ValueError, FileNotFoundError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
