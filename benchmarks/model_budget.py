"""Edge budget of the AnyMo model: parameters and FLOPs per 5 s window (counted, not estimated).

    python benchmarks/model_budget.py [--checkpoint models/anymo-edge-small] [--out results/model_budget.json]

FLOPs are torch.utils.flop_counter.FlopCounterMode totals (2 per multiply-add; convolutions and matrix
products, which dominate) of one forward pass of the encoder + tokenizer + joint-space head for one window
with 1, 2, 4 and 8 sensors. Parameters: all, and the text projection (run once per label, not per window).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from anymo.model.checkpoint import checkpoint_dir, load_checkpoint
from anymo.model.config import ModelConfig
from anymo.model.network import AnyMoModel


def budget(model: AnyMoModel) -> dict:
    text = sum(p.numel() for n, p in model.named_parameters() if n.startswith(("text_proj", "text_mlp")))
    total = sum(p.numel() for p in model.parameters())
    out = {"params_total": total, "params_text_projection": text, "params_encoder_tokenizer": total - text,
           "buffers": {n: list(b.shape) for n, b in model.named_buffers()}, "mflops_per_window": {}}
    model.eval()
    for s in (1, 2, 4, 8):
        x = torch.randn(1, s, model.config.window_len, 6)
        pid = torch.arange(s).reshape(1, s) * 100
        mask = torch.ones(1, s, dtype=torch.bool)
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            model(x, pid, mask, mask)
        out["mflops_per_window"][str(s)] = round(fc.get_total_flops() / 1e6, 2)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--out", default="results/model_budget.json")
    args = ap.parse_args()
    model = load_checkpoint(checkpoint_dir(args.checkpoint))[0] if args.checkpoint else AnyMoModel(ModelConfig())
    res = {"command": "python benchmarks/model_budget.py" + (f" --checkpoint {args.checkpoint}" if args.checkpoint else ""),
           "config": model.config.to_dict(), **budget(model), "limits": {"params": 3_000_000, "mflops_4_sensors": 200}}
    res["within_budget"] = res["params_encoder_tokenizer"] <= 3_000_000 and res["mflops_per_window"]["4"] <= 200
    Path(args.out).write_text(json.dumps(res, indent=1))
    print(json.dumps({k: res[k] for k in ("params_total", "params_encoder_tokenizer", "mflops_per_window", "within_budget")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
