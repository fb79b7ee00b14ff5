"""Checkpoints round-trip exactly; corrupt or mismatched ones are refused with a clear CheckpointError."""

from __future__ import annotations

import json

import pytest
import torch

from anymo.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from anymo.model.config import ModelConfig
from anymo.model.network import AnyMoModel

SMALL = ModelConfig(conv_channels=(8, 16, 16, 32), d_model=32, n_heads=2, codebook_size=16, codebook_dim=8, embed_dim=32)


@pytest.fixture()
def saved(tmp_path):
    torch.manual_seed(1)
    m = AnyMoModel(SMALL).eval()
    save_checkpoint(tmp_path / "ck", m, SMALL, {"note": "test"})
    return tmp_path / "ck", m


def test_round_trip_gives_the_same_outputs(saved):
    path, m = saved
    m2, cfg, meta = load_checkpoint(path)
    assert cfg == SMALL and meta == {"note": "test"}
    x = torch.randn(2, 3, 300, 6)
    pid = torch.tensor([[0, 5, -1], [100, 2399, 7]])
    mask = torch.ones(2, 3, dtype=torch.bool)
    with torch.no_grad():
        e1, t1 = m(x, pid, mask, mask)
        e2, t2 = m2(x, pid, mask, mask)
    assert torch.equal(e1, e2) and torch.equal(t1, t2)
    assert torch.equal(m.codebooks(), m2.codebooks()) and float(m.logit_scale) == float(m2.logit_scale)


def test_corrupt_weights_are_refused(saved):
    path, _ = saved
    w = path / "model.safetensors"
    data = bytearray(w.read_bytes())
    data[-5] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint(path)


def test_weights_of_another_architecture_are_refused(saved, tmp_path):
    path, _ = saved
    other = ModelConfig(conv_channels=(8, 16, 16, 32), d_model=32, n_heads=2, codebook_size=32, codebook_dim=8, embed_dim=32)
    doc = json.loads((path / "config.json").read_text())
    doc["config"] = other.to_dict()  # config says 32 codes, the weights hold 16
    (path / "config.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="do not match the configured architecture"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.update(format_version=99), "format version 99 is not supported"),
        (lambda d: d.update(format="something-else"), "not an AnyMo model checkpoint"),
        (lambda d: d["config"].update(hidden_size=3), "unknown ModelConfig fields"),
        (lambda d: d.pop("weights_sha256"), "missing field"),
    ],
)
def test_bad_config_is_refused(saved, edit, message):
    path, _ = saved
    doc = json.loads((path / "config.json").read_text())
    edit(doc)
    (path / "config.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_missing_files_are_named(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint config"):
        load_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not readable JSON"):
        load_checkpoint(tmp_path)
