"""`TorchMotionTextModel`: a trained checkpoint as the evaluator's `MotionTextModel` (zero-shot).

``embed_imu`` takes the one model input (`ModelInput`) — or, until every caller passes it, the
single-sensor `Windows` of `make_windows`, converted with `ModelInput.from_arrays` — and returns the
L2-normalised joint-space embeddings. ``embed_text`` ensembles the prompt templates of
`anymo.model.text.label_prompts` (mean of the projected prompts, re-normalised), so any label text works.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from anymo.model.checkpoint import checkpoint_dir, load_checkpoint
from anymo.model.text import embed_sentences, label_prompts
from anymo.preprocess.model_input import ModelInput, WindowMeta, placement_id_of


def as_model_input(x) -> ModelInput:
    """A `ModelInput` as is; a `Windows` batch (one sensor per window) converted with the one normalisation."""
    if isinstance(x, ModelInput):
        return x
    n = len(x)
    pid = np.array([[placement_id_of(p)] for p in x.placement], np.int32).reshape(n, 1)
    meta = WindowMeta(list(x.label), [()] * n, list(x.subject), list(x.dataset), np.asarray(x.recording),
                      np.asarray(x.start_s), np.asarray(x.padded))
    return ModelInput.from_arrays(
        np.asarray(x.acc_mps2)[:, None], np.asarray(x.gyro_rads)[:, None], pid,
        has_gyro=np.asarray(x.has_gyro, bool)[:, None], gravity_removed=np.asarray(x.gravity_removed, bool)[:, None],
        meta=meta, rate_hz=x.rate_hz,
    )


def embed_model_input(model, x: ModelInput, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings float32 [B, D], token ids int64 [B, C, N]) of a `ModelInput`, in batches, no grad."""
    embs, toks = [], []
    model.eval()
    with torch.no_grad():
        for i in range(0, len(x), batch):
            e, t = model(
                torch.from_numpy(x.signals[i : i + batch]), torch.from_numpy(x.placement_id[i : i + batch].astype(np.int64)),
                torch.from_numpy(x.sensor_mask[i : i + batch]), torch.from_numpy(x.has_gyro[i : i + batch]),
            )
            embs.append(e.numpy())
            toks.append(t.numpy())
    if not embs:
        return np.zeros((0, model.config.embed_dim), np.float32), np.zeros((0, model.config.n_codebooks, model.config.token_steps), np.int64)
    return np.concatenate(embs), np.concatenate(toks)


def text_embeddings(model, texts: list[str], ensemble: bool = True) -> np.ndarray:
    """[M, D] joint-space embeddings of ``texts`` (each the normalised mean over its prompt templates)."""
    prompts = [label_prompts(t) if ensemble else [str(t)] for t in texts]
    flat = [p for ps in prompts for p in ps]
    with torch.no_grad():
        proj = model.project_text(torch.from_numpy(embed_sentences(flat))).numpy()
    out, i = [], 0
    for ps in prompts:
        v = proj[i : i + len(ps)].mean(axis=0)
        out.append(v / (np.linalg.norm(v) + 1e-12))
        i += len(ps)
    return np.stack(out).astype(np.float32) if out else np.zeros((0, proj.shape[1]), np.float32)


class TorchMotionTextModel:
    """A checkpoint folder (or a model folder holding ``checkpoint/``) as a `MotionTextModel`."""

    def __init__(self, ckpt_dir: str | Path, ensemble: bool = True, threads: int | None = None) -> None:
        self.directory = checkpoint_dir(ckpt_dir)
        self.model, self.config, self.meta = load_checkpoint(self.directory)
        self.name = str(self.meta.get("name") or Path(ckpt_dir).name)
        self.ensemble = ensemble
        if threads:
            torch.set_num_threads(threads)

    def embed_imu(self, windows) -> np.ndarray:
        return embed_model_input(self.model, as_model_input(windows))[0]

    def tokens(self, windows) -> np.ndarray:
        """Motion token ids [N, C, token_steps] of the windows."""
        return embed_model_input(self.model, as_model_input(windows))[1]

    def embed_text(self, texts: list[str]) -> np.ndarray:
        return text_embeddings(self.model, list(texts), self.ensemble)
