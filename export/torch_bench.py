"""The PyTorch eager reference of `anymo bench` (training side: needs torch and the checkpoint)."""

from __future__ import annotations

from pathlib import Path

import torch

from anymo.model.checkpoint import WEIGHTS_NAME, checkpoint_dir, load_checkpoint
from export.onnx_export import torch_inputs


def torch_runner(checkpoint: str, x, threads: int):
    """(callable running one forward of ``x`` in inference mode, weights file bytes)."""
    torch.set_num_threads(int(threads))
    torch.set_num_interop_threads(1)
    ckpt = checkpoint_dir(checkpoint)
    model, _, _ = load_checkpoint(ckpt)
    args = torch_inputs(x)

    def run():
        with torch.inference_mode():
            return model(*args)

    return run, (Path(ckpt) / WEIGHTS_NAME).stat().st_size
