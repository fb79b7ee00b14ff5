"""Recalibrate the batch-norm statistics of a trained checkpoint on its simulated training data
(what `anymo train` now does after its last step; for runs trained before it did).

    python benchmarks/train_bn_recalibrate.py CKPT_DIR --data SIM_DIR [--batches 64] --out OUT_DIR
"""

from __future__ import annotations

import argparse
from dataclasses import fields

import torch

from anymo.model.augment import AugmentConfig
from anymo.model.checkpoint import load_checkpoint, save_checkpoint
from anymo.model.data import caption_and_prompt_table, load_sim
from anymo.model.train import TrainConfig, recalibrate_batchnorm


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--data", nargs="+", required=True)
    ap.add_argument("--batches", type=int, default=64)
    ap.add_argument("--text-cache", default=None)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, config, meta = load_checkpoint(args.checkpoint)
    tc = meta.get("train_config", {})
    keep = {f.name for f in fields(TrainConfig)} - {"model", "augment", "data", "keep_steps"}
    cfg = TrainConfig(**{k: v for k, v in tc.items() if k in keep}, data=list(args.data), model=config, augment=AugmentConfig())
    data = load_sim(cfg.data)
    labels = list(meta.get("labels") or sorted(set(data.activity)))
    texts = caption_and_prompt_table(data.caption, labels, args.text_cache)
    recalibrate_batchnorm(model, data, texts, labels, cfg, args.batches, cfg.seed)
    save_checkpoint(args.out, model, config, {**meta, "bn_recalibrated_batches": args.batches})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
