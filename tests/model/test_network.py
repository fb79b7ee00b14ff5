"""AnyMoModel behaviour: any number of sensors at any placement, slot-order invariance, exact masking,
placement geometry that matters, and the kinematic-tree distances it is built on."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from anymo.body.skeleton import SEGMENT_INDEX
from anymo.model.config import ModelConfig
from anymo.model.geometry import placement_geometry, segment_graph_distance
from anymo.model.network import AnyMoModel
from anymo.preprocess.model_input import placement_id_of


@pytest.fixture(scope="module")
def model() -> AnyMoModel:
    torch.manual_seed(0)
    return AnyMoModel(ModelConfig()).eval()


def _batch(b: int, s: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, s, 300, 6, generator=g) * 0.5
    x[..., 2] += 1.0  # gravity on z
    pid = torch.randint(-1, 2400, (b, s), generator=g)
    mask = torch.ones(b, s, dtype=torch.bool)
    gyro = torch.rand(b, s, generator=g) > 0.3
    return x, pid, mask, gyro


@pytest.mark.parametrize("s", [1, 2, 3, 5, 8])
def test_any_number_of_sensors_and_placements(model, s):
    x, pid, mask, gyro = _batch(3, s, seed=s)
    pid[0, 0] = -1  # unknown placement
    pid[1, 0] = 2399  # last table row
    with torch.no_grad():
        emb, tok = model(x, pid, mask, gyro)
    assert emb.shape == (3, model.config.embed_dim) and torch.isfinite(emb).all()
    assert torch.allclose(emb.norm(dim=1), torch.ones(3), atol=1e-5)
    assert tok.dtype == torch.int64 and tok.shape == (3, model.config.n_codebooks, model.config.token_steps)
    assert int(tok.min()) >= 0 and int(tok.max()) < model.config.codebook_size


def test_invariant_to_sensor_order(model):
    x, pid, mask, gyro = _batch(4, 6, seed=1)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    with torch.no_grad():
        e1, t1 = model(x, pid, mask, gyro)
        e2, t2 = model(x[:, perm], pid[:, perm], mask[:, perm], gyro[:, perm])
    assert torch.allclose(e1, e2, atol=1e-5)
    assert torch.equal(t1, t2)


def test_masked_slots_change_nothing(model):
    """Empty slots (any content) give exactly the output of the batch without them."""
    x, pid, mask, gyro = _batch(2, 3, seed=2)
    pad = torch.randn(2, 2, 300, 6) * 5
    xp = torch.cat([x[:, :1], pad[:, :1], x[:, 1:], pad[:, 1:]], dim=1)
    pidp = torch.cat([pid[:, :1], torch.full((2, 1), 7), pid[:, 1:], torch.full((2, 1), -1)], dim=1)
    maskp = torch.tensor([[True, False, True, True, False]] * 2)
    gyrop = torch.cat([gyro[:, :1], torch.ones(2, 1, dtype=torch.bool), gyro[:, 1:], torch.ones(2, 1, dtype=torch.bool)], dim=1)
    with torch.no_grad():
        e1, t1 = model(x, pid, mask, gyro)
        e2, t2 = model(xp, pidp, maskp, gyrop)
    assert torch.allclose(e1, e2, atol=1e-5)
    assert torch.equal(t1, t2)


def test_acc_only_ignores_gyro_channels(model):
    x, pid, mask, _ = _batch(2, 2, seed=3)
    off = torch.zeros(2, 2, dtype=torch.bool)
    y = x.clone()
    y[..., 3:] = torch.randn_like(y[..., 3:]) * 3  # whatever sits in the gyro channels of acc-only sensors
    with torch.no_grad():
        assert torch.allclose(model(x, pid, mask, off)[0], model(y, pid, mask, off)[0], atol=1e-6)


def test_placement_enters_only_with_geometry():
    torch.manual_seed(0)
    x, _, mask, gyro = _batch(1, 1, seed=4)
    wrist = torch.tensor([[placement_id_of("left_wrist")]])
    thigh = torch.tensor([[placement_id_of("right_thigh")]])
    for use_geometry, differs in ((True, True), (False, False)):
        m = AnyMoModel(ModelConfig(use_geometry=use_geometry)).eval()
        with torch.no_grad():
            d = (m(x, wrist, mask, gyro)[0] - m(x, thigh, mask, gyro)[0]).abs().max().item()
        assert (d > 1e-4) == differs, (use_geometry, d)


def test_geometry_tables_follow_the_body():
    feats, seg = placement_geometry()
    assert feats.shape[0] == 2401 and np.all(feats[0] == 0) and seg[0] == 23
    frames = feats[1:, 3:12].reshape(-1, 3, 3)
    assert np.allclose(np.einsum("pji,pjk->pik", frames, frames), np.eye(3), atol=1e-6)  # orthonormal sensor frames
    wrist, ankle = placement_id_of("left_wrist") + 1, placement_id_of("right_ankle") + 1
    assert feats[wrist, 2] > feats[ankle, 2] + 0.3  # the wrist is higher than the ankle (body heights, z up)
    assert feats[wrist, 1] > 0 > feats[ankle, 1]  # left is +y
    d = segment_graph_distance(8)
    assert np.array_equal(d, d.T) and np.all(np.diag(d)[:23] == 0)
    assert d[SEGMENT_INDEX["LeftHand"], SEGMENT_INDEX["LeftForeArm"]] == 1
    assert d[SEGMENT_INDEX["LeftHand"], SEGMENT_INDEX["RightHand"]] == 8  # hand-forearm-upper arm-shoulder-T8 and back
    assert d[SEGMENT_INDEX["Pelvis"], 23] == 9  # unknown segment: its own bucket
