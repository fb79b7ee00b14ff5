"""Training augmentations: the small-full-scale / coarse-converter device (`adc`) reads like the simulator's
ADC model, clips what it cannot represent, and the per-sensor shares do what they say."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from anymo.model.augment import AugmentConfig, adc, augment
from anymo.model.train_cli import main as train_main
from anymo.sim.hardware import _digitise

G = 9.80665
NO_OTHER = AugmentConfig(p_low_rate=0.0, p_gravity_removed=0.0, p_acc_only=0.0, p_rotate=0.0, p_unknown_placement=0.0,
                         noise_acc_g=0.0, noise_gyro_rads=0.0, gain=0.0)


def _walkish(b: int, s: int, t: int = 300, seed: int = 0) -> torch.Tensor:
    """Signals [B, S, T, 6]: gravity on z plus swings of up to ~3 g and ~10 rad/s (a fast arm)."""
    g = torch.Generator().manual_seed(seed)
    ph = torch.linspace(0, 20 * math.pi, t)
    amp = 3.0 * torch.rand(b, s, 1, 3, generator=g)
    acc = amp * torch.sin(ph[None, None, :, None] + torch.rand(b, s, 1, 3, generator=g) * 6) + torch.tensor([0.0, 0.0, 1.0])
    gyro = 10.0 * torch.rand(b, s, 1, 3, generator=g) * torch.cos(ph[None, None, :, None])
    return torch.cat([acc, gyro], dim=-1)


def test_adc_reads_like_the_simulators_converter():
    x = _walkish(1, 4)[0]  # [4, T, 6]
    for fs_g, bits in ((1.5, 6), (2.0, 10), (8.0, 14)):
        acc, _ = adc(x[..., :3], x[..., 3:], torch.full((4,), fs_g), torch.full((4,), float(bits)), torch.full((4,), 35.0))
        ref = _digitise((x[..., :3].double().numpy() * G).copy(), fs_g * G, fs_g * G / 2 ** (bits - 1), bits) / G
        np.testing.assert_allclose(acc.double().numpy(), ref, atol=1e-6)


def test_adc_clips_at_the_full_scale_and_keeps_small_signals_on_its_grid():
    x = _walkish(1, 2)[0]
    acc, gyro = adc(x[..., :3], x[..., 3:], torch.tensor([1.5, 2.0]), torch.tensor([6.0, 8.0]),
                    torch.tensor([250.0, 2000.0]) * math.pi / 180)
    assert acc[0].max() <= 1.5 and acc[0].min() >= -1.5 and (x[0, :, :3].abs() > 1.6).any()  # the 3 g swing is cut
    codes = acc[1] / (2.0 / 128)
    assert torch.allclose(codes, codes.round(), atol=1e-4)  # every reading is a whole number of LSBs
    assert (acc[1] - x[1, :, :3]).abs()[x[1, :, :3].abs() < 1.9].max() <= 2.0 / 256 + 1e-6  # within half an LSB
    assert gyro[0].abs().max() <= 250 * math.pi / 180 + 1e-6 and gyro[1].abs().max() > 250 * math.pi / 180


def test_augment_adc_share_and_ranges():
    b, s = 64, 4
    x = _walkish(b, s, seed=1)
    mask = torch.ones(b, s, dtype=torch.bool)
    cfg = replace(NO_OTHER, p_adc=0.5, adc_acc_range_g=(2.0, 2.0), adc_acc_bits=(8, 8), adc_gyro_range_dps=(250.0, 250.0))
    out, _, _ = augment(x, torch.zeros(b, s, dtype=torch.long), mask, cfg, torch.Generator().manual_seed(0))
    changed = (out != x).flatten(2).any(-1)
    clipped = out[..., :3].abs().flatten(2).amax(-1) <= 2.0
    # every sensor the converter touched is inside its +-2 g; the others keep their 3 g peaks
    assert 0.35 < changed.float().mean() < 0.65
    assert bool(clipped[changed].all())
    big = x[..., :3].abs().flatten(2).amax(-1) > 2.05
    assert not bool(clipped[~changed & big].any())
    off, _, _ = augment(x, torch.zeros(b, s, dtype=torch.long), mask, NO_OTHER, torch.Generator().manual_seed(0))
    assert torch.equal(off, x)  # p_adc 0 (the default): nothing converted


def test_acc_only_share_drops_that_share_of_gyros():
    b, s = 256, 4
    x = _walkish(b, s, seed=2)
    _, _, has_gyro = augment(x, torch.zeros(b, s, dtype=torch.long), torch.ones(b, s, dtype=torch.bool),
                             replace(NO_OTHER, p_acc_only=0.5), torch.Generator().manual_seed(0))
    assert abs(float((~has_gyro).float().mean()) - 0.5) < 0.05


@pytest.mark.parametrize("flag", ["--adc", "--acc-only"])
def test_train_refuses_a_share_outside_0_1(flag, capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        train_main(["--data", str(tmp_path), "--out", str(tmp_path / "o"), flag, "1.5"])
    assert e.value.code == 2
    assert f"{flag} is a share of sensors, between 0 and 1" in capsys.readouterr().err
