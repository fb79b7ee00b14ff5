"""IMU hardware errors: the simulated statistics match the settings they were drawn from.

Tolerances are derived from the sample sizes (a few standard errors), seeds are fixed.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy.signal import welch

from anymo.sim.devices import DEVICE_PRESETS, device_preset
from anymo.sim.hardware import (
    DEG2RAD,
    G0_MPS2,
    IDEAL,
    ImuHardware,
    SensorErrors,
    apply_sensor_errors,
    bias_drift,
    draw_sensor_errors,
    sample_clock,
)

MG = 1e-3 * G0_MPS2


def _zeros(s: int, t: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((s, t, 3)), np.zeros((s, t, 3))


def _allan_dev(x: np.ndarray, m: int) -> np.ndarray:
    """Non-overlapping Allan deviation of [C, T] series at cluster size m, per channel."""
    k = x.shape[1] // m
    means = x[:, : k * m].reshape(x.shape[0], k, m).mean(axis=2)
    return np.sqrt(0.5 * np.mean(np.diff(means, axis=1) ** 2, axis=1))


def _channels(x: np.ndarray) -> np.ndarray:
    """[S, T, 3] -> [S*3, T]."""
    return x.transpose(0, 2, 1).reshape(-1, x.shape[1])


# --- white noise -------------------------------------------------------------------------------------


NOISY = ImuHardware(name="noisy", acc_noise_density_ug_rthz=150.0, gyro_noise_density_mdps_rthz=5.0, rate_hz=100.0)


def test_white_noise_std_and_psd_match_the_density():
    s, t, rate = 4, 2**16, 100.0
    acc, gyro = apply_sensor_errors(*_zeros(s, t), NOISY, np.random.default_rng(1), rate_hz=rate)
    for x, density in ((acc, 150e-6 * G0_MPS2), (gyro, 5e-3 * DEG2RAD)):
        # per-sample std = N * sqrt(fs / 2); relative standard error of a std over n samples ~ 1/sqrt(2n)
        n = x.size
        assert x.std() == pytest.approx(density * math.sqrt(rate / 2), rel=5 / math.sqrt(2 * n))
        f, psd = welch(_channels(x), fs=rate, nperseg=1024, axis=-1)  # one-sided PSD, unit^2/Hz
        band = (f > 0.05 * rate) & (f < 0.45 * rate)
        level = psd[:, band].mean()
        # 12 channels x 127 segments x ~400 bins: the mean PSD is known to well under 1 %
        assert level == pytest.approx(density**2, rel=0.02)
        # flat: no band holds noticeably more or less than the density (Welch bins of 12 x 127 averages)
        per_bin = psd[:, band].mean(axis=0)
        assert np.all(np.abs(per_bin / density**2 - 1) < 5 / math.sqrt(12 * 127))


def test_allan_deviation_at_one_second_is_density_over_sqrt2():
    s, rate, dur = 4, 100.0, 1500
    acc, gyro = apply_sensor_errors(*_zeros(s, int(rate * dur)), NOISY, np.random.default_rng(2), rate_hz=rate)
    for x, density in ((acc, 150e-6 * G0_MPS2), (gyro, 5e-3 * DEG2RAD)):
        adev = _allan_dev(_channels(x), int(rate)).mean()
        # one-sided density N spanning the Nyquist band: AVAR(tau) = N^2 / (2 tau); 12 channels x 1500 clusters
        assert adev == pytest.approx(density / math.sqrt(2), rel=4 / math.sqrt(2 * 12 * dur))


# --- bias and drift ----------------------------------------------------------------------------------


def test_bias_random_walk_gives_the_allan_rate_random_walk_slope():
    k_dps_rts = 0.01
    hw = ImuHardware(name="rw", gyro_bias_random_walk_dps_rts=k_dps_rts, rate_hz=10.0)
    rate, dur, s = 10.0, 4000, 16
    _, gyro = apply_sensor_errors(*_zeros(s, int(rate * dur)), hw, np.random.default_rng(3), rate_hz=rate)
    x = _channels(gyro)
    k = k_dps_rts * DEG2RAD
    for tau in (100, 400):
        adev = _allan_dev(x, int(tau * rate)).mean()
        clusters = dur // tau
        # rate random walk: AVAR(tau) = K^2 tau / 3; 48 channels of `clusters` clusters
        assert adev == pytest.approx(k * math.sqrt(tau / 3), rel=4 / math.sqrt(2 * 48 * (clusters - 1)) + 0.02)
    # and the walk starts at zero: no turn-on bias hides in the drift
    assert np.abs(gyro[:, 0]).max() < 3 * k * math.sqrt(1.0)


def test_gauss_markov_drift_has_its_std_and_correlation_time():
    sigma, tau, rate, dur, s = 1.0, 20.0, 20.0, 2000, 10
    d = _channels(bias_drift(s, int(rate * dur), rate, np.random.default_rng(4), instability=sigma,
                             random_walk_rts=0.0, corr_time_s=tau))
    # ~ 30 channels x dur / (2 tau) independent stretches
    n_eff = 30 * dur / (2 * tau)
    assert d.std() == pytest.approx(sigma, rel=4 / math.sqrt(2 * n_eff))
    lag = int(tau * rate)
    rho = np.mean(d[:, :-lag] * d[:, lag:]) / np.mean(d * d)
    assert rho == pytest.approx(math.exp(-1), abs=4 / math.sqrt(n_eff))
    # it starts in the stationary distribution: the first samples are as spread as the rest
    assert d[:, 0].std() == pytest.approx(sigma, rel=0.35)


def test_turn_on_bias_is_the_mean_of_the_output():
    hw = device_preset("metamotion")
    rate, t = hw.rate_hz, 20_000
    rng = np.random.default_rng(5)
    err = draw_sensor_errors(3, hw, rng)
    acc, gyro = apply_sensor_errors(*_zeros(3, t), hw, rng, rate_hz=rate, errors=err)
    # white noise SE of a mean of t samples plus the thermal drift's spread (its std, slow) and an LSB
    acc_tol = 4 * hw.acc_noise_density_ug_rthz * 1e-6 * G0_MPS2 * math.sqrt(rate / 2 / t) + 4 * hw.acc_bias_instability_mg * MG
    gyro_tol = 4 * hw.gyro_noise_density_mdps_rthz * 1e-3 * DEG2RAD * math.sqrt(rate / 2 / t) + 4 * hw.gyro_bias_instability_dps * DEG2RAD
    np.testing.assert_allclose(acc.mean(axis=1), err.acc_bias_mps2, atol=acc_tol + hw.acc_lsb_mps2)
    np.testing.assert_allclose(gyro.mean(axis=1), err.gyro_bias_rads, atol=gyro_tol + hw.gyro_lsb_rads)
    # the bias really is there: far larger than the tolerance for this part
    assert np.abs(err.acc_bias_mps2).max() > 3 * (acc_tol + hw.acc_lsb_mps2)


def test_turn_on_biases_across_instances_have_the_datasheet_spread():
    hw = device_preset("movesense")
    n = 4000
    err = draw_sensor_errors(n, hw, np.random.default_rng(6))
    for b, sigma in ((err.acc_bias_mps2, hw.acc_bias_mg * MG), (err.gyro_bias_rads, hw.gyro_bias_dps * DEG2RAD)):
        assert b.std() == pytest.approx(sigma, rel=4 / math.sqrt(2 * 3 * n))
        assert abs(b.mean()) < 4 * sigma / math.sqrt(3 * n)
    scale = err.acc_matrix[:, [0, 1, 2], [0, 1, 2]] - 1
    cross = err.acc_matrix[:, ~np.eye(3, dtype=bool)]
    assert scale.std() == pytest.approx(hw.acc_scale_error_frac, rel=4 / math.sqrt(2 * 3 * n))
    assert cross.std() == pytest.approx(hw.acc_cross_axis_frac, rel=4 / math.sqrt(2 * 6 * n))


# --- scale, cross-axis, g-sensitivity -----------------------------------------------------------------


def test_scale_and_cross_axis_matrix_maps_a_known_input():
    m_acc = np.array([[1.02, 0.01, -0.005], [0.003, 0.99, 0.02], [-0.01, 0.004, 1.005]])
    m_gyro = np.array([[0.98, -0.02, 0.0], [0.01, 1.01, 0.0], [0.0, 0.03, 1.0]])
    g_sens = np.zeros((3, 3))
    g_sens[2, 0] = 0.1 * DEG2RAD / G0_MPS2  # 0.1 dps/g from x acceleration into z rate
    err = SensorErrors(m_acc[None], m_gyro[None], g_sens[None], np.array([[0.1, -0.2, 0.3]]), np.zeros((1, 3)))
    f = np.array([1.0, -2.0, 9.80665])
    w = np.array([0.5, 1.5, -3.0])
    acc, gyro = apply_sensor_errors(np.tile(f, (1, 5, 1)), np.tile(w, (1, 5, 1)), IDEAL, 0, rate_hz=60.0, errors=err)
    np.testing.assert_allclose(acc[0], np.tile(m_acc @ f + [0.1, -0.2, 0.3], (5, 1)), rtol=0, atol=1e-12)
    expected_gyro = m_gyro @ w + g_sens @ f
    np.testing.assert_allclose(gyro[0], np.tile(expected_gyro, (5, 1)), rtol=0, atol=1e-12)
    assert expected_gyro[2] - (m_gyro @ w)[2] == pytest.approx(0.1 * DEG2RAD / G0_MPS2)


# --- range and ADC ------------------------------------------------------------------------------------


def test_saturation_clips_exactly_at_the_range():
    hw = ImuHardware(name="clip", acc_range_g=4.0, gyro_range_dps=250.0)
    ramp = np.linspace(-3, 3, 601)
    acc_in = np.stack([ramp * 4 * G0_MPS2] * 3, axis=-1)[None]
    gyro_in = np.stack([ramp * 250 * DEG2RAD] * 3, axis=-1)[None]
    acc, gyro = apply_sensor_errors(acc_in, gyro_in, hw, 0, rate_hz=60.0)
    for out, x, r in ((acc, acc_in, 4 * G0_MPS2), (gyro, gyro_in, 250 * DEG2RAD)):
        assert out.max() == r and out.min() == -r
        inside = np.abs(x) <= r
        np.testing.assert_array_equal(out[inside], x[inside])
        np.testing.assert_array_equal(out[~inside], np.sign(x[~inside]) * r)


def test_adc_quantises_to_the_lsb_and_saturates_at_the_code_range():
    hw = ImuHardware(name="adc", acc_range_g=2.0, gyro_range_dps=125.0, acc_adc_bits=12, gyro_adc_bits=16)
    acc_lsb, gyro_lsb = 2 * G0_MPS2 / 2**11, 125 * DEG2RAD / 2**15
    assert hw.acc_lsb_mps2 == pytest.approx(acc_lsb) and hw.gyro_lsb_rads == pytest.approx(gyro_lsb)
    x = np.linspace(-0.05, 0.05, 4001)
    acc_in = np.stack([x, x + 0.3, -x], axis=-1)[None] * G0_MPS2 * 5
    gyro_in = np.stack([x, x - 0.01, -x], axis=-1)[None]
    acc, gyro = apply_sensor_errors(acc_in, gyro_in, hw, 0, rate_hz=60.0)
    for out, inp, lsb in ((acc, acc_in, acc_lsb), (gyro, gyro_in, gyro_lsb)):
        for axis in range(3):  # each axis sweeps a contiguous span: its levels are one LSB apart
            np.testing.assert_allclose(np.diff(np.unique(out[..., axis])), lsb, rtol=1e-9)
        np.testing.assert_allclose(out / lsb, np.rint(out / lsb), atol=1e-6)  # every output on the LSB grid
        assert np.abs(out - inp).max() <= lsb / 2 * (1 + 1e-9)  # rounding error at most half an LSB
    # beyond full scale: a signed code range, -2^(b-1) .. 2^(b-1) - 1
    big = np.full((1, 2, 3), 10 * G0_MPS2)
    big[0, 1] *= -1
    acc, _ = apply_sensor_errors(big, np.zeros((1, 2, 3)), hw, 0, rate_hz=60.0)
    assert acc[0, 0, 0] == pytest.approx(2 * G0_MPS2 - acc_lsb) and acc[0, 1, 0] == pytest.approx(-2 * G0_MPS2)


# --- clocks -------------------------------------------------------------------------------------------


def test_clock_drift_of_100_ppm_puts_the_device_0_1_s_ahead_after_1000_s():
    hw = ImuHardware(name="clk", rate_hz=50.0)
    clock = sample_clock(1000.0, hw, 0, drift_ppm=100.0)
    # the device clock runs fast: when it reads 1000 s, only 1000 / 1.0001 s have truly passed
    k = 50_000
    assert clock.t_device_s[k] == pytest.approx(1000.0, abs=1e-9)
    assert clock.t_device_s[k] - clock.t_true_s[k] == pytest.approx(0.1, rel=2e-4)
    # and it took more samples than nominal: 1000 s x 50.005 Hz, + the one at t = 0
    assert clock.t_true_s.size == 50_006 and clock.t_true_s[-1] <= 1000.0
    np.testing.assert_allclose(np.diff(clock.t_true_s), 1 / (50.0 * 1.0001), rtol=1e-9)


def test_clock_drift_is_drawn_within_the_tolerance():
    hw = ImuHardware(name="clk", rate_hz=50.0, clock_drift_ppm=40.0)
    drifts = np.array([sample_clock(1.0, hw, seed).drift_ppm for seed in range(400)])
    assert np.all(np.abs(drifts) <= 40.0)
    # uniform in +-40 ppm: std 40 / sqrt(3)
    assert drifts.std() == pytest.approx(40 / math.sqrt(3), rel=4 / math.sqrt(2 * 400) * 1.2)


@pytest.mark.parametrize("duration_s", [0.0, 0.004, 1 / 52.0, 0.5, 7.3])
def test_every_clock_gives_at_least_one_sample_and_all_inside_the_interval(duration_s):
    # simulate_imu relies on this: it feeds t_true_s to the physics unfiltered
    fast = ImuHardware(name="fast", rate_hz=52.0, clock_drift_ppm=999_000.0, timestamp_jitter_s=0.01, random_start_phase=True)
    for hw in (fast, *(p.at_rate(p.nearest_rate(52.0)) for p in DEVICE_PRESETS.values())):
        for seed in range(20):
            clock = sample_clock(duration_s, hw, seed, start_s=3.0)
            assert clock.t_true_s.size >= 1, hw.name
            assert clock.t_true_s[0] >= 3.0 and clock.t_true_s[-1] <= 3.0 + duration_s, hw.name
            assert clock.t_device_s.shape == clock.t_true_s.shape and np.all(np.diff(clock.t_device_s) > 0)


def test_timestamp_jitter_has_its_std_and_timestamps_keep_increasing():
    rate = 52.0
    hw = ImuHardware(name="jit", rate_hz=rate, timestamp_jitter_s=1e-3, random_start_phase=True)
    clock = sample_clock(600.0, hw, np.random.default_rng(7))
    n = clock.t_device_s.size
    err = clock.t_device_s - np.arange(n) / rate
    assert err.std() == pytest.approx(1e-3, rel=4 / math.sqrt(2 * n))
    assert abs(err.mean()) < 4e-3 / math.sqrt(n)
    assert np.all(np.diff(clock.t_device_s) > 0)
    assert 0 <= clock.start_offset_s < 1 / rate and clock.t_true_s[0] == pytest.approx(clock.start_offset_s)
    assert clock.t_true_s[-1] <= 600.0
    # jitter close to the period is truncated, and timestamps still never go backwards
    rough = dataclasses.replace(hw, timestamp_jitter_s=0.4 / rate)
    clock = sample_clock(60.0, rough, np.random.default_rng(8))
    assert np.all(np.diff(clock.t_device_s) > 0)


# --- ideal, presets, determinism ---------------------------------------------------------------------


def test_ideal_hardware_is_the_identity():
    rng = np.random.default_rng(9)
    acc_in, gyro_in = rng.normal(0, 30, (5, 500, 3)), rng.normal(0, 10, (5, 500, 3))
    acc, gyro = apply_sensor_errors(acc_in, gyro_in, DEVICE_PRESETS["ideal"], rng, rate_hz=123.0)
    np.testing.assert_array_equal(acc, acc_in)
    np.testing.assert_array_equal(gyro, gyro_in)
    assert acc is not acc_in
    clock = sample_clock(10.0, IDEAL.at_rate(40.0), rng, start_s=2.0)
    np.testing.assert_array_equal(clock.t_true_s, clock.t_device_s)
    np.testing.assert_allclose(clock.t_true_s, 2.0 + np.arange(401) / 40.0)
    # a real device with ideal=True samples like the ideal one
    clock = sample_clock(10.0, device_preset("phone"), rng, ideal=True)
    np.testing.assert_allclose(clock.t_true_s, np.arange(1001) / 100.0)
    np.testing.assert_array_equal(clock.t_true_s, clock.t_device_s)


def test_same_seed_same_output_different_seed_different_output():
    hw = device_preset("polar-verity")
    acc_in, gyro_in = np.ones((2, 300, 3)), np.full((2, 300, 3), 0.5)
    a1, g1 = apply_sensor_errors(acc_in, gyro_in, hw, np.random.default_rng(10), rate_hz=52.0)
    a2, g2 = apply_sensor_errors(acc_in, gyro_in, hw, np.random.default_rng(10), rate_hz=52.0)
    a3, _ = apply_sensor_errors(acc_in, gyro_in, hw, np.random.default_rng(11), rate_hz=52.0)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(g1, g2)
    assert not np.array_equal(a1, a3)
    c1, c2 = sample_clock(30.0, hw, 12), sample_clock(30.0, hw, 12)
    np.testing.assert_array_equal(c1.t_true_s, c2.t_true_s)
    np.testing.assert_array_equal(c1.t_device_s, c2.t_device_s)
    # an integer seed and a generator seeded alike give the same draws
    a4, _ = apply_sensor_errors(acc_in, gyro_in, hw, 10, rate_hz=52.0)
    np.testing.assert_array_equal(a1, a4)


def test_float32_output_matches_float64_to_well_below_an_lsb():
    hw = device_preset("smartwatch")
    rng_in = np.random.default_rng(13)
    acc_in, gyro_in = rng_in.normal(0, 20, (2, 2000, 3)), rng_in.normal(0, 5, (2, 2000, 3))
    a64, g64 = apply_sensor_errors(acc_in, gyro_in, hw, 14, rate_hz=52.0)
    a32, g32 = apply_sensor_errors(acc_in, gyro_in, hw, 14, rate_hz=52.0, dtype=np.float32)
    assert a32.dtype == np.float32
    # identical draws: the same ADC codes, except where float32 rounding tips a value over a rounding
    # boundary, and then by one LSB
    for x32, x64, lsb in ((a32, a64, hw.acc_lsb_mps2), (g32, g64, hw.gyro_lsb_rads)):
        codes32, codes64 = np.rint(x32 / lsb), np.rint(x64 / lsb)
        assert np.mean(codes32 != codes64) < 0.01
        assert np.abs(codes32 - codes64).max() <= 1


def test_presets_are_physically_consistent():
    required = {"ideal", "smartwatch", "polar-verity", "movesense", "metamotion", "phone"}
    assert required <= set(DEVICE_PRESETS)
    for name, hw in DEVICE_PRESETS.items():
        assert hw.name == name and hw.description
        assert hw.supports_rate(hw.rate_hz)
        if hw.is_ideal:
            continue
        assert hw.chip and hw.supported_rates_hz
        rate = hw.rate_hz
        acc_noise = hw.acc_noise_density_ug_rthz * 1e-6 * G0_MPS2 * math.sqrt(rate / 2)
        gyro_noise = hw.gyro_noise_density_mdps_rthz * 1e-3 * DEG2RAD * math.sqrt(rate / 2)
        # 16-bit words are fine enough that the noise, not the LSB, sets the floor (catches unit slips)
        assert hw.acc_lsb_mps2 / math.sqrt(12) < acc_noise, name
        assert hw.gyro_lsb_rads / math.sqrt(12) < gyro_noise, name
        # consumer MEMS: noise floor well under 1 % g and 1 dps; turn-on offsets under 0.1 g and 20 dps
        assert acc_noise < 0.01 * G0_MPS2 and gyro_noise < DEG2RAD, name
        assert hw.acc_bias_mg < 100 and hw.gyro_bias_dps < 20, name
        # ranges cover walking and running on the wrist (~4 g, ~600 dps)
        assert hw.acc_range_g >= 4 and hw.gyro_range_dps >= 1000, name
        # the sensor low-pass sits below Nyquist at every supported rate
        assert 0 < hw.bandwidth_frac <= 0.5
        # one period of clock drift takes hours; jitter stays well inside a period at every rate
        assert hw.clock_drift_ppm <= 200 and hw.timestamp_jitter_s < 0.25 / max(hw.supported_rates_hz)


# --- bad input ----------------------------------------------------------------------------------------


def test_unknown_preset_lists_the_valid_names():
    with pytest.raises(ValueError, match="valid names: .*movesense.*phone"):
        device_preset("fitbit")


def test_unsupported_rate_lists_the_supported_rates_or_picks_the_nearest():
    hw = device_preset("polar-verity")
    with pytest.raises(ValueError, match="26, 52, 104, 208, 416 Hz"):
        hw.at_rate(60.0)
    assert hw.at_rate(60.0, nearest=True).rate_hz == 52.0
    assert hw.at_rate(156.0, nearest=True).rate_hz == 208.0  # a tie goes to the higher rate
    with pytest.raises(ValueError, match="cannot output 60 Hz"):
        apply_sensor_errors(*_zeros(1, 10), hw, 0, rate_hz=60.0)
    with pytest.raises(ValueError, match="cannot output 100 Hz"):
        sample_clock(1.0, hw, 0, rate_hz=100.0)
    assert IDEAL.at_rate(61.5).rate_hz == 61.5


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("acc_noise_density_ug_rthz", -1.0, "acc_noise_density_ug_rthz must be >= 0"),
        ("gyro_bias_dps", float("nan"), "gyro_bias_dps must be >= 0"),
        ("acc_range_g", 0.0, "acc_range_g must be positive"),
        ("acc_adc_bits", 12.5, "acc_adc_bits must be an integer"),
        ("bandwidth_frac", 0.7, "bandwidth_frac must be in"),
        ("rate_hz", 60.0, "cannot output 60 Hz"),
    ],
)
def test_bad_hardware_settings_are_named(field, value, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(device_preset("movesense"), **{field: value})


def test_bad_signals_are_named():
    hw = device_preset("phone")
    with pytest.raises(ValueError, match=r"\[S, T, 3\]"):
        apply_sensor_errors(np.zeros((10, 3)), np.zeros((10, 3)), hw, 0, rate_hz=100.0)
    bad = np.zeros((1, 10, 3))
    bad[0, 3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        apply_sensor_errors(bad, np.zeros((1, 10, 3)), hw, 0, rate_hz=100.0)
    with pytest.raises(ValueError, match="drawn for 2 sensors"):
        apply_sensor_errors(*_zeros(3, 10), hw, 0, rate_hz=100.0, errors=SensorErrors.none(2))
    with pytest.raises(ValueError, match="duration_s"):
        sample_clock(-1.0, hw, 0)
    with pytest.raises(ValueError, match="rng must be"):
        sample_clock(1.0, hw, "seed")
