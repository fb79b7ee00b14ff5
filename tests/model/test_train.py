"""Training: a few steps on a tiny simulated set beat chance on it; resume continues the same run;
torchrun with 2 processes (DDP over gloo) trains and keeps the processes in sync."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from anymo.model.checkpoint import load_checkpoint
from anymo.model.config import ModelConfig
from anymo.model.data import caption_and_prompt_table, load_sim
from anymo.model.network import AnyMoModel
from anymo.model.train import TrainConfig, evaluate_sim, train

SMALL = ModelConfig(conv_channels=(16, 24, 32, 48), d_model=48, n_heads=4, sensor_layers=1, time_layers=1,
                    codebook_size=32, codebook_dim=8, embed_dim=64)


def _cfg(sim: Path, out: Path, **kw) -> TrainConfig:
    base = TrainConfig(data=[str(sim)], out=str(out), steps=40, batch=16, lr=3e-3, warmup_steps=5, eval_every=1000,
                       save_every=1000, max_visible=2, max_view_sensors=2, teacher_sensors=4, threads=2, model=SMALL)
    return replace(base, **kw)


def test_a_few_steps_beat_chance_on_the_training_set(tiny_sim, tmp_path):
    cfg = _cfg(tiny_sim, tmp_path / "run")
    summary = train(cfg, progress=False)
    assert summary["steps"] == 40
    model, _, meta = load_checkpoint(tmp_path / "run" / "checkpoint")
    data = load_sim([tiny_sim])
    labels = sorted(set(data.activity))
    texts = caption_and_prompt_table(data.caption, labels, tmp_path / "run" / "text_cache.npz")
    res = evaluate_sim(model, data, texts, sensors=(2,))
    untrained = evaluate_sim(AnyMoModel(SMALL).eval(), data, texts, sensors=(2,))
    acc = res["by_sensors"]["2"]["accuracy"]
    assert acc > 2 * res["chance_accuracy"], (acc, res["chance_accuracy"], len(labels))
    assert acc > untrained["by_sensors"]["2"]["accuracy"]
    assert meta["trained"] and meta["step"] == 40


def test_resume_continues_the_same_run(tiny_sim, tmp_path):
    cfg = _cfg(tiny_sim, tmp_path / "a", steps=6, batch=8)
    train(cfg, progress=False, until=3)
    train(cfg, resume=True, progress=False)
    straight = replace(cfg, out=str(tmp_path / "b"))
    train(straight, progress=False)
    a, _, _ = load_checkpoint(tmp_path / "a" / "checkpoint")
    b, _, _ = load_checkpoint(tmp_path / "b" / "checkpoint")
    sa, sb = a.state_dict(), b.state_dict()
    worst = max(float((sa[k].float() - sb[k].float()).abs().max()) for k in sa)
    assert worst < 1e-4, worst


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_processes_train_in_sync(tiny_sim, tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), "-m", "anymo.model.train_cli", "--data", str(tiny_sim), "--out", str(out),
           "--steps", "3", "--batch", "4", "--threads", "2", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["ranks_in_sync"] and summary["steps"] == 3
    trained, cfg, _ = load_checkpoint(out / "checkpoint")
    torch.manual_seed(0)
    init = AnyMoModel(cfg)
    moved = [k for k, v in init.state_dict().items() if not torch.equal(v, trained.state_dict()[k])]
    assert len(moved) > 10  # the weights were updated
    assert all(np.isfinite(p.detach().numpy()).all() for p in trained.parameters())


def test_take_keeps_every_field_of_a_window_together(tiny_sim):
    data = load_sim([tiny_sim])
    idx = np.array([len(data) - 1, 0, 3])
    sub = data.take(idx)
    assert sub.activity == [data.activity[i] for i in idx] and sub.caption == [data.caption[i] for i in idx]
    assert sub.source == [data.source[i] for i in idx]
    np.testing.assert_array_equal(sub.signals, data.signals[idx])
    np.testing.assert_array_equal(sub.placement_id, data.placement_id[idx])
    np.testing.assert_array_equal(sub.unit, data.unit[idx])
    np.testing.assert_array_equal(sub.start_s, data.start_s[idx])
    mask = np.array([a == data.activity[0] for a in data.activity])
    assert data.take(mask).activity == [a for a in data.activity if a == data.activity[0]]  # a boolean mask works too
    first = load_sim([tiny_sim], max_windows=5)  # load_sim's cut goes through take
    assert first.caption == data.caption[:5] and np.array_equal(first.start_s, data.start_s[:5])
