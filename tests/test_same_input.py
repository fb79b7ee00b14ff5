"""One signal, three paths, one model input: the simulator's windows (`anymo.sim.unit.stream_windows` ->
shard arrays -> `load_model_input`), the evaluation's (`Recording` -> `make_windows`) and the live runtime's
(host-stamped blocks -> `LiveWindower`) must hand the model the same `ModelInput`.

Tolerance, absolute on every signal value (acc in g, gyro in rad/s; the signal peaks near 2 g and 4 rad/s):
1e-6 between simulator and evaluation (float32 storage of the shards, m/s² before the division by g);
5e-5 for the live path, whose samples are stamped in Unix host seconds: float64 resolves 2.4e-7 s there,
times the signal's slope (up to ~50 /s here) is ~1e-5. Any difference of method (another resampler,
window alignment, a second interpolation, a wrong rate) shows at 1e-3 or more (the last test).
"""

from __future__ import annotations

import numpy as np
import pytest

from anymo.data.recording import Recording
from anymo.preprocess.model_input import ModelInput, placement_id_of
from anymo.preprocess.windows import WindowConfig, make_windows
from anymo.sim.shards import load_model_input
from anymo.sim.unit import stream_windows
from edge.live_windows import LiveWindower

TOL = 1e-6
LIVE_TOL = 5e-5
PLACEMENTS = ("right_thigh", "lower_back")
N_WIN = 3


def _signal(rate_hz: float, dur_s: float) -> tuple[np.ndarray, np.ndarray]:
    """[S, T, 3] acc (gravity + movement up to 0.8 x Nyquist) and gyro for two sensors."""
    t = np.arange(int(dur_s * rate_hz)) / rate_hz
    acc, gyro = [], []
    for s in range(len(PLACEMENTS)):
        f = np.array([1.3, 4.1, 0.4 * rate_hz]) * (1 + 0.1 * s)
        move = sum(np.sin(2 * np.pi * fk * t + k + s) / (k + 1) for k, fk in enumerate(f))
        acc.append(np.stack([3.0 * move, 2.0 * np.cos(2 * np.pi * 0.7 * t), np.full_like(t, 9.80665) + move], axis=1))
        gyro.append(np.stack([2.0 * move, np.sin(2 * np.pi * 2.2 * t), 0.1 * t], axis=1))
    return np.array(acc), np.array(gyro)


def _sim(acc: np.ndarray, gyro: np.ndarray, rate_hz: float) -> ModelInput:
    a, g = stream_windows(acc, gyro, rate_hz, 60.0, 300, N_WIN)
    pid = np.array([placement_id_of(p) for p in PLACEMENTS], np.int32)
    arrays = {
        "acc_mps2": a.astype(np.float32), "gyro_rads": g.astype(np.float32),
        "placement_id": np.tile(pid, (N_WIN, 1)), "unit_id": np.zeros(N_WIN, np.int32),
        "activity": np.array(["walking"] * N_WIN), "caption": np.array(["A person walks."] * N_WIN),
        "window_start_s": np.arange(N_WIN, dtype=np.float32) * 5.0, "rate_hz": np.array(60.0),
    }
    return load_model_input(arrays)


def _eval(acc: np.ndarray, gyro: np.ndarray, rate_hz: float) -> ModelInput:
    recs = [Recording(acc_mps2=acc[s], gyro_rads=gyro[s], rate_hz=rate_hz, placement=p, dataset="d", session="one")
            for s, p in enumerate(PLACEMENTS)]
    return make_windows(recs, WindowConfig(hop_s=5.0)).subset(np.arange(N_WIN))


def _live(acc: np.ndarray, gyro: np.ndarray, rate_hz: float, t0: float = 1_700_000_000.0) -> ModelInput:
    devices = {f"dev{s}": rate_hz for s in range(len(PLACEMENTS))}
    w = LiveWindower(devices, hop_s=5.0, placements={f"dev{s}": p for s, p in enumerate(PLACEMENTS)})
    t = t0 + np.arange(acc.shape[1]) / rate_hz
    out = []
    for k in range(0, len(t), 7):  # notifications of 7 samples, the devices interleaved
        for s, dev in enumerate(devices):
            w.push(dev, t[k:k + 7], acc[s, k:k + 7], gyro[s, k:k + 7], rate_hz=rate_hz)
        out += w.pop_windows()
    assert len(out) >= N_WIN
    x = ModelInput.concat(out[:N_WIN])
    np.testing.assert_allclose(x.meta.start_s - t0, np.arange(N_WIN) * 5.0, atol=1e-6)
    return x


@pytest.mark.parametrize("rate_hz", [52.0, 100.0, 25.0])
def test_simulator_evaluation_and_live_paths_give_the_same_model_input(rate_hz: float) -> None:
    acc, gyro = _signal(rate_hz, 5.0 * N_WIN + 1.5)
    sim, ev, live = _sim(acc, gyro, rate_hz), _eval(acc, gyro, rate_hz), _live(acc, gyro, rate_hz)
    assert sim.signals.shape == ev.signals.shape == live.signals.shape == (N_WIN, 2, 300, 6)
    assert np.abs(sim.signals).max() > 1.5  # a real signal, not zeros
    for name, other in (("evaluation", ev), ("live", live)):
        err = np.abs(other.signals - sim.signals).max()
        assert err < (LIVE_TOL if name == "live" else TOL), f"{name} path differs from the simulator path by {err:.3g} at {rate_hz} Hz"
        for field in ("placement_id", "sensor_mask", "has_gyro", "gravity_removed"):
            np.testing.assert_array_equal(getattr(other, field), getattr(sim, field), err_msg=f"{name}: {field}")
        assert other.rate_hz == sim.rate_hz == 60.0


def test_the_paths_disagree_when_one_resamples_differently() -> None:
    """The comparison is sharp: the old simulator resampler (scipy polyphase, line-extended edges) or a
    live stream put on a 2%-wrong rate moves the model input far beyond the tolerance."""
    scipy_signal = pytest.importorskip("scipy.signal")
    rate_hz = 52.0
    acc, gyro = _signal(rate_hz, 5.0 * N_WIN + 1.5)
    ev = _eval(acc, gyro, rate_hz)
    old = scipy_signal.resample_poly(acc, 15, 13, axis=1, padtype="line", window=("kaiser", 8.0))[:, : N_WIN * 300]
    old_g = old.reshape(2, N_WIN, 300, 3).transpose(1, 0, 2, 3) / 9.80665
    assert np.abs(old_g - ev.signals[..., :3]).max() > 1e-3
    wrong = _live(acc, gyro, rate_hz * 1.02)
    assert np.abs(wrong.signals - ev.signals).max() > 1e-3
