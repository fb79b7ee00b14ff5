"""Tempo augmentation: a window replayed faster or slower keeps its physics and never contradicts its text."""

from __future__ import annotations

import numpy as np
import pytest

from anymo.model.augment import AugmentConfig, tempo_free, time_warp

RATE = 60.0


def _turning_arm(n: int, freq_hz: float, amp_rad: float = 0.8, radius_m: float = 0.6) -> np.ndarray:
    """[1, n, 6] ideal IMU at the end of a rigid arm swinging about the sensor's z axis (pendulum-like):
    gravity turns in the x-y plane, tangential and centripetal acceleration from the swing."""
    t = np.arange(n) / RATE
    w = 2 * np.pi * freq_hz
    th = amp_rad * np.sin(w * t)
    dth, ddth = amp_rad * w * np.cos(w * t), -amp_rad * w * w * np.sin(w * t)
    # sensor frame: x along the arm (outwards), y tangential; world gravity "up" seen in it turns by -th
    g_up = np.stack([np.cos(th), -np.sin(th), 0 * th], -1)
    kin = np.stack([-radius_m * dth**2, radius_m * ddth, 0 * th], -1) / 9.80665  # g
    gyro = np.stack([0 * th, 0 * th, dth], -1)
    return np.concatenate([g_up + kin, gyro], -1)[None].astype(np.float32)


@pytest.mark.parametrize("scale", [0.7, 1.4])
def test_replayed_swing_has_the_faster_or_slower_motions_rates(scale):
    slow_hz = 0.8
    buf = _turning_arm(600, slow_hz)
    out = time_warp(buf, 300, scale, 0.0)
    ref = _turning_arm(300, slow_hz * scale)  # the same swing, really done `scale` times as fast
    # angular rate: exact (the rate scales with the tempo)
    assert np.allclose(out[0, :, 5], ref[0, :, 5], atol=5e-3 * np.abs(ref[0, :, 5]).max())  # linear interpolation
    peak = np.abs(out[0, :, 5]).max()
    assert abs(peak / np.abs(buf[0, :, 5]).max() - scale) < 0.02
    # specific force: gravity keeps its 1 g size, the swing's own acceleration grows with scale^2;
    # the 1 s split is approximate, so compare against the physically replayed swing loosely
    err = np.linalg.norm(out[0, :, :3] - ref[0, :, :3], axis=1)
    assert np.median(err) < 0.08
    naive = np.linalg.norm(time_warp_without_physics(buf, 300, scale)[0, :, :3] - ref[0, :, :3], axis=1)
    assert np.median(err) < np.median(naive)  # closer than a plain resampling of the old signal


def time_warp_without_physics(buf: np.ndarray, n: int, scale: float) -> np.ndarray:
    pos = scale * np.arange(n)
    return np.stack([np.interp(pos, np.arange(buf.shape[1]), buf[0, :, c]) for c in range(6)], -1)[None]


def test_still_sensor_reads_one_g_whatever_the_tempo():
    buf = np.zeros((2, 600, 6), np.float32)
    buf[..., :3] = np.array([0.3, -0.2, 0.93]) / np.linalg.norm([0.3, -0.2, 0.93])
    for scale in (0.6, 1.0, 1.5):
        out = time_warp(buf, 300, scale, 10.0)
        assert np.allclose(np.linalg.norm(out[..., :3], axis=-1), 1.0, atol=1e-5)
        assert np.allclose(out[..., 3:], 0.0)


def test_a_window_that_does_not_fit_is_refused():
    with pytest.raises(ValueError, match="do not fit"):
        time_warp(np.zeros((1, 300, 6), np.float32), 300, 1.2, 0.0)


def test_texts_that_fix_the_tempo_block_the_warp():
    assert tempo_free("shoulder abduction", "a person raises the left arm out to the side")
    assert not tempo_free("shoulder abduction", "raises the left arm out to the side at a fast tempo")
    assert not tempo_free("arm curls", "someone slowly curls a dumbbell")
    assert not tempo_free("walking", "a person walks")  # cadence tells walking from running
    assert not tempo_free("dancing", "a man dances, then jogs in place")


def test_training_batches_warp_only_tempo_free_windows(tiny_sim):
    from anymo.model.data import load_sim
    from anymo.model.train import warp_windows

    data = load_sim([tiny_sim])
    nxt = data.next_index
    assert (nxt >= 0).sum() > len(data) // 2  # most windows continue in the next one of their unit
    ok = nxt >= 0
    assert np.all(data.unit[nxt[ok]] == data.unit[ok])
    idx = np.arange(len(data))
    free = np.array([tempo_free(a, c) for a, c in zip(data.activity, data.caption, strict=True)])
    assert free.any() and (~free).any()
    out = warp_windows(data, idx, AugmentConfig(p_time_warp=1.0), np.random.default_rng(0))
    same = np.all(out == data.signals.astype(np.float32), axis=(1, 2, 3))
    assert same[~free].all()  # texts with a tempo, and locomotion, are never replayed
    assert (~same[free]).mean() > 0.9
    # replayed windows keep the data's gravity: the mean |acc| of still-ish sensors stays near 1 g
    acc = np.linalg.norm(out[free][..., :3], axis=-1)
    assert 0.85 < float(np.median(acc)) < 1.2
    off = warp_windows(data, idx, AugmentConfig(p_time_warp=0.0), np.random.default_rng(0))
    assert np.array_equal(off, data.signals.astype(np.float32))


@pytest.mark.parametrize("flags, words", [(["--time-warp", "1.5"], "between 0 and 1"), (["--pretraining-weight", "-0.5"], "0 or more"),
                                          (["--no-pretraining", "--pretraining-weight", "0.3"], "contradict")])
def test_train_refuses_out_of_range_recipe_flags(tmp_path, capsys, flags, words):
    from anymo.model.train_cli import main

    with pytest.raises(SystemExit) as exc:
        main(["--data", str(tmp_path), "--out", str(tmp_path / "run"), *flags])
    assert exc.value.code == 2
    assert words in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_gravity_is_filtered_along_whole_runs_and_only_for_the_runs_asked(tiny_sim):
    from anymo.model.augment import gravity_direction
    from anymo.model.data import MODEL_RATE_HZ, load_sim

    data = load_sim([tiny_sim])
    nxt = data.next_index
    run = [int(np.setdiff1d(np.arange(len(data)), nxt[nxt >= 0])[0])]
    while nxt[run[-1]] >= 0:
        run.append(int(nxt[run[-1]]))
    assert len(run) >= 2  # the fixture has continuous runs
    last = np.array([run[-1]])
    up = data.gravity_up_at(last)  # asking for one window filters its whole run
    done = data.__dict__["_gravity_up"][1]
    assert done[run].all() and done.sum() == len(run)
    s, t = data.signals.shape[1], data.signals.shape[2]
    x = data.signals[run].astype(np.float32).transpose(1, 0, 2, 3).reshape(s, len(run) * t, 6)
    whole = gravity_direction(x, MODEL_RATE_HZ).reshape(s, len(run), t, 3)[:, -1]
    np.testing.assert_allclose(up[0].astype(np.float32), whole, atol=2e-3)
