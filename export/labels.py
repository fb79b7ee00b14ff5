"""The default label vocabulary of a bundle and its joint-space embedding table (computed with torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def default_vocabulary() -> list[str]:
    """Every activity the simulator generates (its plain-language text) and every label of the real
    datasets of the harness, sorted: what the device scores without running the text tower."""
    from anymo.data.datasets import DATASETS
    from anymo.motion.procedural import ACTIVITIES, activity_text

    return sorted({activity_text(a) for a in ACTIVITIES} | {lab for d in DATASETS.values() for lab in d.labels})


def write_label_table(model, vocabulary: list[str], path: Path, templates: list[str], encoder=None) -> np.ndarray:
    """``labels.npz``: ``labels`` (unicode [M]) and ``embeddings`` (f32 [M, D], prompt-ensembled as
    `anymo.model.zero_shot.text_embeddings`); loadable with ``allow_pickle=False``."""
    from export.text_export import ensembled_label_embeddings

    emb = ensembled_label_embeddings(model, list(vocabulary), templates, encoder)
    np.savez(path, labels=np.array(vocabulary, dtype=str), embeddings=emb)
    return emb
