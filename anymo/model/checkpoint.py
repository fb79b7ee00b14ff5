"""Checkpoints: ``model.safetensors`` (weights) + ``config.json`` (format, ModelConfig, sha256 of the weights, meta).

`load_checkpoint` refuses, with a `CheckpointError` naming the file and the fix: a missing file, another
format or version, a config this code cannot build, weights whose sha256 differs from the one recorded
(changed or corrupt), and weights that do not match the configured architecture (missing, unexpected or
wrongly shaped tensors).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from anymo.model.config import ModelConfig
from anymo.model.network import AnyMoModel
from anymo.versioned_json import read_versioned_json

FORMAT_NAME = "anymo-model"
FORMAT_VERSION = 1
WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"


class CheckpointError(ValueError):
    """A checkpoint folder that cannot be loaded; the message names the file and what to do."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_checkpoint(directory: str | Path, model: AnyMoModel, config: ModelConfig, meta: dict | None = None) -> Path:
    """Write ``DIR/model.safetensors`` then ``DIR/config.json`` (each atomically); return ``DIR``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = directory / f".{WEIGHTS_NAME}.{os.getpid()}.tmp"
    save_file(state, str(tmp), metadata={"format": FORMAT_NAME})
    os.replace(tmp, directory / WEIGHTS_NAME)
    doc = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "config": config.to_dict(),
        "weights": WEIGHTS_NAME,
        "weights_sha256": _sha256(directory / WEIGHTS_NAME),
        "meta": meta or {},
    }
    tmp = directory / f".{CONFIG_NAME}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(doc, indent=1, default=str))
    os.replace(tmp, directory / CONFIG_NAME)
    return directory


def read_config(directory: str | Path) -> dict:
    """The checked ``config.json`` of a checkpoint folder."""
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint config; expected a folder written by anymo.model.checkpoint.save_checkpoint (anymo train --out DIR)")
    doc = read_versioned_json(path, FORMAT_NAME, FORMAT_VERSION, CheckpointError, what="an AnyMo model checkpoint",
                              remedy="re-save or re-train the checkpoint, or use the anymo-edge version that wrote it")
    for key in ("config", "weights_sha256"):
        if key not in doc:
            raise CheckpointError(f"{path}: missing field {key!r}; the checkpoint is incomplete, re-save it")
    return doc


def load_checkpoint(directory: str | Path, map_location: str = "cpu") -> tuple[AnyMoModel, ModelConfig, dict]:
    """(model in eval mode, its config, meta) from a checkpoint folder; `CheckpointError` if it is unusable."""
    directory = Path(directory)
    doc = read_config(directory)
    try:
        config = ModelConfig.from_dict(doc["config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{directory / CONFIG_NAME}: config cannot build a model ({exc})") from exc
    wpath = directory / doc.get("weights", WEIGHTS_NAME)
    if not wpath.is_file():
        raise CheckpointError(f"{wpath}: weights file missing; copy the whole checkpoint folder")
    if _sha256(wpath) != doc["weights_sha256"]:
        raise CheckpointError(f"{wpath}: sha256 differs from the one in {CONFIG_NAME} (file changed or corrupt); restore or re-train the checkpoint")
    try:
        state = load_file(str(wpath), device=map_location)
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{wpath}: not a readable safetensors file ({exc})") from exc
    model = AnyMoModel(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(state) & set(expected) if tuple(state[k].shape) != tuple(expected[k].shape))
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"{wpath}: weights do not match the configured architecture (missing {missing[:5]}, unexpected "
            f"{unexpected[:5]}, wrong shape {wrong[:5]}); the config.json and weights come from different models"
        )
    model.load_state_dict(state)
    model.eval()
    return model, config, dict(doc.get("meta", {}))


def checkpoint_dir(path: str | Path) -> Path:
    """Accept a checkpoint folder or a model folder holding ``checkpoint/`` (models/anymo-edge-small)."""
    path = Path(path)
    if (path / CONFIG_NAME).is_file():
        return path
    if (path / "checkpoint" / CONFIG_NAME).is_file():
        return path / "checkpoint"
    raise CheckpointError(f"{path}: neither {CONFIG_NAME} nor checkpoint/{CONFIG_NAME} found; pass a folder written by `anymo train --out`")


def torch_state_equal(a: AnyMoModel, b: AnyMoModel) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
