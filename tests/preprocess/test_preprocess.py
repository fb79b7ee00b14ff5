from __future__ import annotations

import numpy as np
import pytest

from anymo.data.recording import STANDARD_GRAVITY_MPS2 as G
from anymo.data.recording import LabelSegment, Recording
from anymo.preprocess import ModelInput, WindowConfig, make_windows, placement_id_of, regularise, resample, to_model_input


def _fit_amplitude(y: np.ndarray, t: np.ndarray, f_hz: float) -> float:
    basis = np.stack([np.sin(2 * np.pi * f_hz * t), np.cos(2 * np.pi * f_hz * t), np.ones_like(t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    return float(np.hypot(coef[0], coef[1]))


@pytest.mark.parametrize(("rate_in", "f_hz"), [(10, 1.3), (32, 3.0), (50, 7.5), (100, 2.0), (128, 11.0), (1000, 5.0)])
def test_resampling_keeps_sine_frequency_and_amplitude(rate_in: float, f_hz: float) -> None:
    t_in = np.arange(int(rate_in * 30)) / rate_in
    x = 9.81 + 2.0 * np.sin(2 * np.pi * f_hz * t_in + 0.3)
    y = resample(x, rate_in, 60.0)
    assert len(y) == int(np.floor((len(x) - 1) * 60 / rate_in + 1e-9)) + 1
    t_out = np.arange(len(y)) / 60.0
    inner = slice(120, len(y) - 120)  # 2 s away from the edges
    spec = np.abs(np.fft.rfft((y[inner] - y[inner].mean()) * np.hanning(len(y[inner]))))
    f_peak = np.fft.rfftfreq(len(y[inner]), 1 / 60.0)[np.argmax(spec)]
    assert f_peak == pytest.approx(f_hz, abs=60.0 / len(y[inner]))
    assert _fit_amplitude(y[inner], t_out[inner], f_hz) == pytest.approx(2.0, rel=0.01)
    ref = 9.81 + 2.0 * np.sin(2 * np.pi * f_hz * t_out + 0.3)
    assert np.abs(y[inner] - ref[inner]).max() < 0.02


def test_downsampling_removes_what_would_alias() -> None:
    t = np.arange(4000) / 200.0
    y = resample(np.sin(2 * np.pi * 40.0 * t), 200.0, 60.0)  # 40 Hz would alias to 20 Hz at 60 Hz
    assert np.abs(y[60:-60]).max() < 0.01


def test_constant_gravity_passes_exactly_including_edges() -> None:
    y = resample(np.full((333, 3), [0.0, 0.0, 9.80665]), 128.0, 60.0)
    assert np.allclose(y, [0.0, 0.0, 9.80665], atol=1e-12)


@pytest.mark.parametrize("bad_hz", [5.0, 2000.0, float("nan")])
def test_out_of_range_rates_are_refused(bad_hz: float) -> None:
    with pytest.raises(ValueError, match=r"outside the supported 10\.\.1000 Hz"):
        resample(np.zeros(100), bad_hz, 60.0)
    rec = Recording(acc_mps2=np.zeros((100, 3)), rate_hz=bad_hz if bad_hz == bad_hz else 5.0)
    with pytest.raises(ValueError, match="recording 0: recording sampling rate"):
        make_windows([rec])
    ok = Recording(acc_mps2=np.zeros((1000, 3)), rate_hz=100.0)
    named = Recording(acc_mps2=np.zeros((100, 3)), rate_hz=5.0, source="my_data/walk_03.csv")
    with pytest.raises(ValueError, match=r"^my_data/walk_03.csv: recording sampling rate 5.0 Hz"):
        make_windows([ok, named])  # the error names the recording among many


def _rec_with_gaps() -> Recording:
    # 100 Hz: 0..10 s, a 0.1 s hole at 4 s (interpolated), a 2 s hole after 10 s (split), 10 s more
    t = np.arange(0, 10.0, 0.01)
    t = t[(t < 4.0) | (t >= 4.1)]
    t = np.concatenate([t, 12.0 + np.arange(0, 10.0, 0.01)])
    acc = np.tile([0.0, 0.0, 9.81], (len(t), 1))
    return Recording(acc_mps2=acc, t_s=t, rate_hz=100.0)


def test_gaps_are_interpolated_or_split_and_counted() -> None:
    rec = _rec_with_gaps()
    segs, report = regularise(rec.t_s, rec.acc_mps2, 100.0, max_interp_gap_s=0.2)
    assert report.n_gaps_interpolated == 1 and report.n_gaps_split == 1
    assert [len(s.data) for s in segs] == [1000, 1000] and [s.start_s for s in segs] == pytest.approx([0.0, 12.0])
    segs, report = regularise(rec.t_s, rec.acc_mps2, 100.0, max_interp_gap_s=0.05)
    assert report.n_gaps_interpolated == 0 and report.n_gaps_split == 2 and len(segs) == 3
    w = make_windows([rec], WindowConfig(hop_s=2.5))
    # each 10 s segment -> 600 samples at 60 Hz (the last sample is at 9.99 s: 599 + 1) -> windows at 0, 150
    # ... floor((600 - 300) / 150) + 1 = 3 per segment
    assert w.stats.n_segments == 2 and w.stats.n_gaps_split == 1 and w.stats.n_gaps_interpolated == 1
    assert isinstance(w, ModelInput) and len(w) == 6 and w.signals.shape == (6, 1, 300, 6)
    assert w.meta.start_s.tolist() == pytest.approx([0.0, 2.5, 5.0, 12.0, 14.5, 17.0])
    np.testing.assert_allclose(w.signals[:, 0, :, 2], 9.81 / G, rtol=1e-6)  # acc in g, gravity kept


def test_window_counts_and_label_rules() -> None:
    rec = Recording(
        acc_mps2=np.zeros((1200, 3)), rate_hz=60.0, subject="s1", placement="left_wrist",
        labels=[LabelSegment("a", 0.0, 7.0), LabelSegment("b", 7.0, 20.0)],
    )
    inside = make_windows([rec], WindowConfig(hop_s=2.5, label_rule="inside"))
    assert len(inside) == 7 and inside.stats.n_windows == 7  # floor((1200 - 300) / 150) + 1
    assert inside.meta.label == ["a", None, None, "b", "b", "b", "b"] and inside.stats.n_unlabelled == 2
    majority = make_windows([rec], WindowConfig(hop_s=2.5, label_rule="majority"))
    assert majority.meta.label == ["a", "a", "b", "b", "b", "b", "b"]
    assert inside.placement_id[:, 0].tolist() == [placement_id_of("left_wrist")] * 7 and inside.meta.subject == ["s1"] * 7
    assert not inside.has_gyro.any() and not inside.signals[..., 3:].any()
    assert len(make_windows([rec], WindowConfig(hop_s=1.0))) == 16  # (1200 - 300) / 60 + 1


def test_short_recordings_are_padded_or_dropped() -> None:
    four = Recording(acc_mps2=np.tile([0, 0, 9.81], (128, 1)), rate_hz=32.0, labels=[LabelSegment("x", 0, 4.0)])
    two = Recording(acc_mps2=np.zeros((64, 3)), rate_hz=32.0)
    w = make_windows([four, two])
    assert len(w) == 1 and w.meta.padded.tolist() == [True] and w.meta.label == ["x"]
    assert w.stats.n_padded == 1 and w.stats.n_segments_dropped_short == 1 and w.stats.n_recordings_without_window == 1
    assert np.allclose(w.signals[0, 0, :, :3], [0, 0, 9.81 / G], atol=1e-6)


def test_model_input_keeps_gravity_in_g_and_masks_missing_gyro() -> None:
    acc = np.tile([0.0, 0.0, 9.80665], (2, 300, 1))
    gyro = np.full((2, 300, 3), 50.0)
    x = to_model_input(acc, gyro, has_gyro=np.array([True, False]))
    assert x.shape == (2, 300, 6) and x.dtype == np.float32
    assert np.allclose(x[:, :, 2], 1.0) and np.allclose(x[0, :, 3:], 35.0) and not x[1, :, 3:].any()


@pytest.mark.needs_data
def test_real_lower_back_gap_splits_the_stream(need) -> None:
    path = need("gaitpy_lowerback/demo_data.csv")
    from anymo.data.loaders import load_file

    w = make_windows(load_file(path))
    assert w.stats.n_gaps_split == 1 and w.stats.n_segments == 2  # the one 0.52 s hole > 0.2 s
    assert len(w) == 64 and set(w.meta.label) == {"walking"}
    assert np.median(np.linalg.norm(w.signals[..., :3], axis=-1)) == pytest.approx(1.0, abs=0.03)
    w2 = make_windows(load_file(path), WindowConfig(max_interp_gap_s=1.0))
    assert w2.stats.n_gaps_split == 0 and w2.stats.n_gaps_interpolated == 1 and len(w2) == 66


def _session(n: int, rate_hz: float, session: str, placement: str, t0: float = 0.0, gyro: bool = True) -> Recording:
    t = t0 + np.arange(n) / rate_hz
    acc = np.stack([np.sin(t), np.cos(t), np.full_like(t, 9.81)], axis=1)
    return Recording(acc_mps2=acc, gyro_rads=acc * 0.1 if gyro else None, t_s=t, rate_hz=rate_hz, placement=placement,
                     subject="s", dataset="d", session=session, labels=[LabelSegment("walking", 0.0, float("inf"))])


def test_sensors_recorded_together_share_windows_one_slot_each() -> None:
    """One session's recordings -> one window with a slot per sensor (signals identical to windowing each
    alone); a sensor that starts later is masked where it has no window; other recordings stay single."""
    a = _session(64 * 20, 64.0, "run1", "right_ankle")
    b = _session(64 * 12, 64.0, "run1", "lower_back", gyro=False)  # stops after 12 s
    c = _session(50 * 10, 50.0, "", "left_wrist")
    w = make_windows([a, b, c])
    alone = [make_windows([r]) for r in (a, b, c)]
    assert w.n_sensors == 2 and len(w) == len(alone[0]) + len(alone[2])
    n_a, n_b = len(alone[0]), len(alone[1])
    assert w.sensor_mask[:n_a].sum(axis=0).tolist() == [n_a, n_b]
    np.testing.assert_array_equal(w.signals[:n_a, 0], alone[0].signals[:, 0])
    np.testing.assert_array_equal(w.signals[:n_b, 1], alone[1].signals[:, 0])
    assert not w.signals[n_b:n_a, 1].any() and not w.has_gyro[:, 1].any()
    assert w.placement_id[0].tolist() == [placement_id_of("right_ankle"), placement_id_of("lower_back")]
    assert w.sensor_mask[n_a:].tolist() == [[True, False]] * len(alone[2])  # the lone recording: one slot
    assert w.meta.recording.tolist() == [0] * n_a + [2] * len(alone[2]) and w.stats.n_recordings == 3


@pytest.mark.parametrize(("rate_in", "channels"), [(52.0, 138), (50.0, 6), (100.0, 3), (128.0, 3), (10.0, 2), (60.0 * 7 / 5, 1)])
def test_polyphase_path_gives_the_general_paths_numbers(rate_in: float, channels: int, monkeypatch) -> None:
    """Rational rate ratios take the polyphase path; forcing the general path (MAX_PHASES = 1 leaves only
    integer ratios to polyphase) gives the same output to 1e-10, edges included; and an output grid
    shifted by k samples (t0_s, the live windows' grid) is the same output from sample k on."""
    import importlib

    rs = importlib.import_module("anymo.preprocess.resample")
    x = np.random.default_rng(3).standard_normal((int(rate_in * 20), channels)) + 9.81
    fast = resample(x, rate_in, 60.0, n_out=1300)
    monkeypatch.setattr(rs, "MAX_PHASES", 1)
    slow = resample(x, rate_in, 60.0, n_out=1300)
    np.testing.assert_allclose(fast, slow, atol=1e-10, rtol=0)
    shifted = resample(x, rate_in, 60.0, n_out=1000, t0_s=37 / 60.0)
    np.testing.assert_allclose(shifted, fast[37:1037], atol=1e-10, rtol=0)
