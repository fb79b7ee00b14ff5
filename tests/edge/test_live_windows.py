"""LiveWindower: synchronised `ModelInput` windows from several live streams at different rates."""

from __future__ import annotations

import numpy as np
import pytest

from anymo.data.recording import STANDARD_GRAVITY_MPS2 as G
from anymo.preprocess.model_input import ModelInput, placement_id_of
from edge.live_windows import LiveWindower


class _Win:
    """The fields of one live `ModelInput` window these tests look at, in physical units."""

    def __init__(self, x: ModelInput) -> None:
        assert isinstance(x, ModelInput) and len(x) == 1 and x.rate_hz == 60.0
        self.x = x
        self.acc_mps2 = x.signals[0, :, :, :3].astype(np.float64) * G
        self.gyro_rads = x.signals[0, :, :, 3:].astype(np.float64)
        self.present, self.has_gyro = x.sensor_mask[0], x.has_gyro[0]
        self.t_host_s, self.coverage = x.stats.t_host_s, x.stats.coverage
        self.start_s, self.end_s = x.stats.start_s, x.stats.end_s
        assert x.meta.start_s[0] == self.start_s


def _pop(w: LiveWindower, **kw) -> list[_Win]:
    return [_Win(x) for x in w.pop_windows(**kw)]


def _stream(rate_hz: float, t0: float, dur_s: float, f_hz: float, amp: float, jitter_s: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = t0 + np.arange(int(dur_s * rate_hz)) / rate_hz + rng.uniform(-jitter_s, jitter_s, int(dur_s * rate_hz))
    acc = np.stack([amp * np.sin(2 * np.pi * f_hz * t), np.zeros_like(t), np.full_like(t, 9.80665)], axis=1)
    gyro = np.stack([np.cos(2 * np.pi * f_hz * t)] * 3, axis=1)
    return t, acc, gyro


def _blocks(dev, t, rng):
    i, out = 0, []
    while i < len(t):
        n = int(rng.integers(1, 40))  # notifications carry a varying number of samples
        out.append((t[min(i + n, len(t)) - 1], dev, slice(i, i + n)))
        i += n
    return out


def test_two_rates_are_resampled_onto_one_grid_matching_the_true_signal():
    rng = np.random.default_rng(1)
    w = LiveWindower({"a": 100.0, "b": 52.0}, hop_s=1.0)
    streams = {"a": _stream(100.0, 1000.0, 20.0, 1.3, 3.0, jitter_s=0.001), "b": _stream(52.0, 1000.2, 20.0, 1.3, 3.0)}
    blocks = sorted(_blocks("a", streams["a"][0], rng) + _blocks("b", streams["b"][0], rng), key=lambda b: b[0])
    windows: list = []
    for _, dev, sel in blocks:  # in arrival order, as live notifications interleave
        t, acc, gyro = streams[dev]
        w.push(dev, t[sel], acc[sel], gyro[sel])
        windows.extend(_pop(w))
    assert len(windows) >= 12
    ends = np.array([x.end_s for x in windows])
    np.testing.assert_allclose(np.diff(ends), 1.0, atol=1e-9)  # one window per hop, none skipped
    for win in windows:
        assert win.x.signals.shape == (1, 2, 300, 6) and win.present.all()
        truth = 3.0 * np.sin(2 * np.pi * 1.3 * win.t_host_s)
        for d in range(2):
            settled = win.t_host_s > 1000.5  # b starts 0.2 s late: its first window holds the edge value there
            err = np.abs(win.acc_mps2[d, :, 0] - truth)[settled]
            assert err.max() < 0.06, (win.start_s, d, err.max())  # < 2% of the amplitude, jitter included
            np.testing.assert_allclose(win.x.signals[0, d, :, 2], 1.0, atol=1e-6)  # gravity passes exactly (1 g)
            np.testing.assert_allclose(win.gyro_rads[d, settled, 0], np.cos(2 * np.pi * 1.3 * win.t_host_s[settled]), atol=0.02)


def test_a_device_that_drops_out_is_absent_without_holding_the_others_back():
    w = LiveWindower({"a": 100.0, "b": 100.0}, hop_s=1.0, max_wait_s=1.5)
    ta, aa, ga = _stream(100.0, 0.0, 20.0, 1.0, 1.0)
    tb, ab, gb = _stream(100.0, 0.0, 20.0, 1.0, 1.0)
    gone = (tb > 7.0) & (tb < 14.0)  # b silent for 7 s
    windows = []
    for k in range(0, len(ta), 10):
        w.push("a", ta[k:k + 10], aa[k:k + 10], ga[k:k + 10])
        sel = slice(k, k + 10)
        keep = ~gone[sel]
        w.push("b", tb[sel][keep], ab[sel][keep], gb[sel][keep])
        windows.extend(_pop(w))
    assert len(windows) >= 13
    for win in windows:
        assert win.present[0]
        overlap = max(0.0, min(win.end_s, 14.0) - max(win.start_s, 7.0)) / 5.0
        if overlap > 0.2 + 1e-6:
            assert not win.present[1], (win.start_s, win.coverage)
            assert np.all(win.x.signals[0, 1] == 0)
        elif overlap == 0.0:
            assert win.present[1]
    # windows kept coming on time while b was silent: every hop is there
    np.testing.assert_allclose(np.diff([x.end_s for x in windows]), 1.0, atol=1e-9)


def test_duplicates_and_late_samples_are_ignored_and_bad_input_is_named():
    w = LiveWindower({"a": 50.0})
    t, acc, gyro = _stream(50.0, 0.0, 8.0, 0.5, 1.0)
    w.push("a", t[:200], acc[:200], gyro[:200])
    w.push("a", t[150:200], acc[150:200] + 100.0, gyro[150:200])  # a resend of samples already in, wrong values
    w.push("a", t[[199, 120, 210]], acc[[199, 120, 210]], gyro[[199, 120, 210]])  # late ones among a new one
    w.push("a", t[200:], acc[200:], gyro[200:])
    win = _pop(w, now_host_s=20.0)[0]
    assert np.abs(win.acc_mps2[0, :, 0]).max() < 1.05  # the +100 resend never got in
    with pytest.raises(KeyError, match="unknown device 'zz'"):
        w.push("zz", t[:2], acc[:2])
    with pytest.raises(ValueError, match="timestamps for"):
        w.push("a", t[:3], acc[:2])
    with pytest.raises(ValueError, match="outside"):
        LiveWindower({"a": 5000.0})


def test_a_gyroscope_sent_as_its_own_stream_lands_on_the_same_grid():
    w = LiveWindower({"polar": 52.0}, hop_s=2.0)
    t, acc, gyro = _stream(52.0, 50.0, 12.0, 0.8, 2.0)
    tg = t + 0.004  # gyro frames are stamped on their own
    gyro_true = lambda tt: np.cos(2 * np.pi * 0.8 * (tt - 0.004))  # noqa: E731
    windows = []
    for k in range(0, len(t), 9):
        w.push("polar", t[k:k + 9], acc[k:k + 9])
        w.push("polar", tg[k:k + 9], None, gyro[k:k + 9])
        windows += _pop(w)
    assert len(windows) >= 3
    for win in windows:
        assert win.present[0] and win.has_gyro[0]
        settled = win.t_host_s > 50.5
        np.testing.assert_allclose(win.gyro_rads[0, settled, 0], gyro_true(win.t_host_s[settled]), atol=0.02)
        np.testing.assert_allclose(win.acc_mps2[0, settled, 0], 2.0 * np.sin(2 * np.pi * 0.8 * win.t_host_s[settled]), atol=0.04)


@pytest.mark.parametrize("nominal_hz", [52.0, 100.0, 400.0])
def test_a_device_faster_or_slower_than_its_nominal_rate_is_windowed_without_aliasing(nominal_hz):
    """A 208 Hz stream set up as 52 Hz (or 100, 400): the 1 Hz motion comes through, its 40 Hz vibration
    (above the 30 Hz Nyquist of the 60 Hz windows) must not alias into the band (to 12 Hz at a 52 Hz grid)."""
    rate_hz = 208.0
    w = LiveWindower({"d": nominal_hz}, hop_s=2.5)
    t = 500.0 + np.arange(int(14 * rate_hz)) / rate_hz
    x = np.sin(2 * np.pi * 1.0 * t) + np.sin(2 * np.pi * 40.0 * t)
    acc = np.stack([x, np.zeros_like(t), np.full_like(t, 9.80665)], axis=1)
    windows = []
    for k in range(0, len(t), 16):
        w.push("d", t[k:k + 16], acc[k:k + 16])
        windows += _pop(w)
    assert len(windows) >= 3
    for win in windows:
        assert win.present[0]
        err = win.acc_mps2[0, :, 0] - np.sin(2 * np.pi * 1.0 * win.t_host_s)
        assert np.abs(err[30:-30]).max() < 0.05, (nominal_hz, np.abs(err).max())
        np.testing.assert_allclose(win.x.signals[0, 0, :, 2], 1.0, atol=1e-6)


def test_windows_carry_placements_and_the_rate_a_block_brings():
    """Placements become placement ids; a rate given with the samples is used as it is, not re-measured:
    a 208 Hz stream with a 40 Hz vibration declared at 208 Hz (or not declared: measured) keeps the
    vibration out of the window; declared at 52 Hz it is put on a 52 Hz grid first and aliases in."""
    rate_hz = 208.0
    t = 500.0 + np.arange(int(14 * rate_hz)) / rate_hz
    x = np.sin(2 * np.pi * 1.0 * t) + np.sin(2 * np.pi * 40.0 * t)
    acc = np.stack([x, np.zeros_like(t), np.full_like(t, G)], axis=1)
    errs = {}
    for declared in (208.0, None, 52.0):
        w = LiveWindower({"a": 208.0, "b": 104.0}, hop_s=2.5, placements={"a": "left_wrist"})
        for k in range(0, len(t), 16):
            w.push("a", t[k:k + 16], acc[k:k + 16], acc[k:k + 16] * 0.1, rate_hz=declared)
            w.push("b", t[k:k + 16:2], acc[k:k + 16:2])
        wins = _pop(w)
        assert len(wins) >= 3 and all(x.x.placement_id[0].tolist() == [placement_id_of("left_wrist"), -1] for x in wins)
        assert all(x.has_gyro.tolist() == [True, False] for x in wins)
        errs[declared] = max(np.abs(win.acc_mps2[0, 30:-30, 0] - np.sin(2 * np.pi * win.t_host_s[30:-30])).max() for win in wins)
    assert errs[208.0] < 0.05 and errs[None] < 0.05 and errs[52.0] > 0.3, errs
    with pytest.raises(ValueError, match="not set up for"):
        LiveWindower({"a": 100.0}, placements={"zz": "left_wrist"})
