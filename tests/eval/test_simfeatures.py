"""simfeatures: orientation-free features, the logistic regression, and training on simulated windows only."""

from __future__ import annotations

import numpy as np

from anymo.eval.models import load_model
from anymo.eval.simfeatures import (
    DEVICE_SPECS,
    Logistic,
    SimFeaturesModel,
    SimTrainConfig,
    training_set,
    window_features,
)
from anymo.geometry.rotations import quat_to_matrix, random_quat


def test_features_do_not_depend_on_how_the_sensor_is_turned() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(300) / 60.0
    acc = np.stack([np.sin(2 * np.pi * 1.3 * t), 0.3 * np.cos(2 * np.pi * 0.7 * t), 1.0 + 0.1 * np.sin(2 * np.pi * 3 * t)], -1)[None]
    gyro = np.stack([np.cos(2 * np.pi * 1.3 * t), 0.2 * t / t[-1], 0 * t], -1)[None]
    r = quat_to_matrix(random_quat(rng))
    f0 = window_features(acc, gyro, 60.0)
    f1 = window_features(acc @ r.T, gyro @ r.T, 60.0)
    np.testing.assert_allclose(f0, f1, rtol=1e-6, atol=1e-6)
    f2 = window_features(acc * np.array([1.0, 1.0, 0.0]), gyro, 60.0)
    assert not np.allclose(f0, f2)  # but they do see the motion


def test_logistic_regression_separates_classes() -> None:
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0, 1, (50, 3)), rng.normal(3, 1, (50, 3))])
    y = np.repeat([0, 1], 50)
    p = Logistic.fit(x, y, 2, 1e-3).proba(x)
    assert np.mean(p.argmax(1) == y) > 0.95 and np.allclose(p.sum(1), 1.0)


def test_training_windows_are_simulated_deterministically(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ANYMO_CACHE", str(tmp_path))
    cfg = SimTrainConfig(clips_per_label=2, clip_s=(6.0, 7.0))
    labels = ["standing", "running"]
    x1, y1 = training_set(labels, ["left_wrist"], DEVICE_SPECS["basicmotions"], has_gyro=True, gravity_removed=True, cfg=cfg)
    assert list((tmp_path / "simfeatures").glob("*.npz"))  # cached
    x2, y2 = training_set(labels, ["left_wrist"], DEVICE_SPECS["basicmotions"], has_gyro=True, gravity_removed=True, cfg=cfg, use_cache=False)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_allclose(x1, x2, rtol=1e-5)
    # running moves the wrist far more than standing (the simulated classes differ)
    a_std = x1[:, 1]  # std of |acc|
    assert a_std[y1 == 1].min() > a_std[y1 == 0].max()


def test_load_model_and_text_rows() -> None:
    m = load_model("simfeatures")
    assert isinstance(m, SimFeaturesModel)
    e = m.embed_text(["walking", "an unknown label"])
    assert e[0].sum() == 1.0 and e[1].sum() == 0.0
