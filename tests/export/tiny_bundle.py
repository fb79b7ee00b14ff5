"""A tiny AnyMoModel (the real architecture, ~13 k parameters) and a tiny BERT text encoder, exported
into a bundle by the real exporter: fast enough for the test suite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from anymo.model.config import ModelConfig
from anymo.model.network import AnyMoModel
from export.exporter import ExportOptions, export_bundle
from export.synthetic import random_windows

TINY = ModelConfig(conv_channels=(8, 16), conv_strides=(6, 5), d_model=16, n_heads=2, sensor_layers=1, time_layers=1,
                   codebook_size=16, codebook_dim=8, n_codebooks=2, embed_dim=16, text_dim=32)


def tiny_model(seed: int = 0) -> AnyMoModel:
    torch.manual_seed(seed)
    return AnyMoModel(TINY).eval()


def tiny_text_encoder():
    """A 1-layer BERT (hidden 32, random weights) with the real MiniLM tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from anymo.model.text import minilm_dir
    from export.text_export import SentenceEncoder

    torch.manual_seed(1)
    bert = BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                                max_position_embeddings=512), add_pooling_layer=False)
    tok = AutoTokenizer.from_pretrained(minilm_dir(), local_files_only=True)
    return SentenceEncoder(tok, bert, Path(minilm_dir()) / "tokenizer.json")


def windows(seed: int) -> list:
    return [random_windows(8, s, seed + s) for s in (1, 2, 4, 8)]


def build(out: Path, formats=("onnx",), precisions=("fp32", "int8"), text: bool = True, model=None, encoder=None):
    """(model, encoder, manifest) after exporting the tiny model into ``out``."""
    model = model or tiny_model()
    encoder = encoder or tiny_text_encoder()  # also embeds the label table (text_dim 32)
    opts = ExportOptions(formats=tuple(formats), precisions=tuple(precisions), text=text, real_parity=False, threads=1)
    manifest = export_bundle(model, out, opts, {"name": "tiny"}, calib=windows(100), held_out=windows(200), text_encoder=encoder)
    return model, encoder, manifest


def torch_outputs(model, x) -> tuple[np.ndarray, np.ndarray]:
    from export.onnx_export import torch_inputs

    with torch.no_grad():
        e, t = model(*torch_inputs(x))
    return e.numpy(), t.numpy()
