"""FLOPs per window of the encoder + tokenizer, counted by torch's FLOP counter (matmul/conv terms:
2 per multiply-accumulate; elementwise ops are not counted, so this is a floor)."""

from __future__ import annotations

import torch

from export.onnx_export import torch_inputs
from export.synthetic import random_windows


def flops_per_window(model: torch.nn.Module, sensor_counts: tuple[int, ...] = (1, 2, 4, 8)) -> dict[str, int]:
    from torch.utils.flop_counter import FlopCounterMode

    out = {}
    with torch.no_grad():
        for s in sensor_counts:
            counter = FlopCounterMode(display=False)
            with counter:
                model.eval()(*torch_inputs(random_windows(1, s, seed=s)))
            out[str(s)] = int(counter.get_total_flops())
    return out
