"""Replay sources of the emulated wearables: exact at the native rate, band-limited resampling, looping,
bridge recordings, and a physically consistent synthetic signal."""

from __future__ import annotations

import numpy as np
import pytest

from anymo.data.recording import STANDARD_GRAVITY_MPS2, Recording
from firmware_bridge.replay import RecordingSource, SyntheticSource, make_source


def sine_recording(rate_hz: float = 120.0, seconds: float = 10.0, freq_hz: float = 2.0) -> Recording:
    t = np.arange(int(rate_hz * seconds)) / rate_hz
    acc = np.stack([np.sin(2 * np.pi * freq_hz * t), np.cos(2 * np.pi * freq_hz * t), np.full_like(t, 9.8)], axis=1)
    gyro = 0.5 * acc[:, [1, 0, 2]]
    return Recording(acc_mps2=acc, gyro_rads=gyro, rate_hz=rate_hz)


def test_native_rate_replays_the_samples_and_loops():
    rec = sine_recording()
    src = RecordingSource(rec)
    blk = src.block(120.0, 0, 50)
    np.testing.assert_array_equal(blk.acc_mps2, rec.acc_mps2[:50])
    np.testing.assert_array_equal(blk.gyro_rads, rec.gyro_rads[:50])
    assert blk.mag_uT is None and src.has_mag is False
    wrap = src.block(120.0, rec.n_samples - 2, 4)  # last two samples, then the first two again
    np.testing.assert_array_equal(wrap.acc_mps2, rec.acc_mps2[[-2, -1, 0, 1]])


def test_resampled_replay_follows_the_band_limited_signal_and_ends_without_loop():
    rec = sine_recording()
    src = RecordingSource(rec, loop=False)
    n_out = int(10.0 * 52) - 20
    blk = src.block(52.0, 0, n_out)
    t = np.arange(n_out) / 52.0
    inner = slice(20, n_out - 20)  # away from the edges of the resampling kernel
    np.testing.assert_allclose(blk.acc_mps2[inner, 0], np.sin(2 * np.pi * 2.0 * t[inner]), atol=5e-3)
    np.testing.assert_allclose(blk.acc_mps2[:, 2], 9.8, atol=1e-9)  # a constant (gravity) passes exactly
    assert len(src.block(52.0, 10_000, 10)) == 0  # past the end, no loop: nothing more


def test_irregular_timestamps_are_regularised_before_resampling():
    rec = sine_recording()
    t = rec.times_s().copy()
    keep = np.ones(len(t), bool)
    keep[100:103] = False  # a 25 ms hole: interpolated
    irregular = Recording(acc_mps2=rec.acc_mps2[keep], t_s=t[keep], rate_hz=120.0)
    blk = RecordingSource(irregular).block(120.0, 95, 15)
    np.testing.assert_allclose(blk.acc_mps2, rec.acc_mps2[95:110], atol=2e-2)


def test_bridge_recording_replays_the_requested_device(tmp_path):
    from firmware_bridge.record import DeviceMeta, RecordingWriter

    path = tmp_path / "session.anymorec"
    t = 1000.0 + np.arange(400) / 100.0
    devices = [DeviceMeta("AA:4D:00:00:00:01", "anymo-imu", "left_wrist"),
               DeviceMeta("AA:4D:00:00:00:02", "anymo-imu", "right_ankle")]
    with RecordingWriter(path, devices, fsync=False) as w:
        for i, d in enumerate(devices):
            acc = np.tile([0.0, float(i), 9.81], (len(t), 1))
            w.add_samples(d.address, "imu", 0, t, t - 1000.0, acc_mps2=acc, gyro_rads=np.zeros((len(t), 3)))
    second = make_source(path, device_index=1)
    blk = second.block(100.0, 0, 10)
    np.testing.assert_allclose(blk.acc_mps2, np.tile([0.0, 1.0, 9.81], (10, 1)), atol=1e-5)


def test_replay_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make_source(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="folder"):
        make_source(tmp_path)
    bad = tmp_path / "notes.txt"
    bad.write_text("hello\n")
    with pytest.raises(ValueError, match="unrecognised file format"):
        make_source(bad)


def test_synthetic_signal_is_a_rigid_rotation_of_gravity_and_the_earth_field():
    rate = 1000.0
    blk = SyntheticSource().block(rate, 0, 4000)
    np.testing.assert_allclose(np.linalg.norm(blk.acc_mps2, axis=1), STANDARD_GRAVITY_MPS2, rtol=1e-12)
    # a world-fixed vector v seen from a frame rotating at w obeys dv/dt = v x w (central differences)
    for v in (blk.acc_mps2, blk.mag_uT):
        dv = (v[2:] - v[:-2]) * rate / 2
        np.testing.assert_allclose(dv, np.cross(v[1:-1], blk.gyro_rads[1:-1]), atol=1e-3 * np.abs(v).max())
    assert np.ptp(blk.gyro_rads[:, 0]) > 0.5  # it does move


def test_a_bridge_recording_with_a_corrupt_chunk_still_replays_the_rest(tmp_path, caplog):
    """`anymo emulate --replay damaged.anymorec` used to stop with advice for the Python API; the emulator now
    replays every intact chunk and says where the damage was."""
    from firmware_bridge.record import CHUNK_HEAD, DeviceMeta, RecordingWriter, iter_chunks
    from firmware_bridge.replay import load_recordings

    path = tmp_path / "damaged.anymorec"
    rate_hz, n = 100.0, 1000
    t = 1.7e9 + np.arange(n) / rate_hz
    acc = np.stack([np.sin(2 * np.pi * t), np.zeros(n), np.full(n, 9.8)], axis=1)
    with RecordingWriter(path, [DeviceMeta("AA:4D:00:00:00:01", "anymo-imu", "left_wrist")], fsync=False) as w:
        for k in range(0, n, 10):
            w.add_samples("AA:4D:00:00:00:01", "imu", 0, t[k:k + 10], t[k:k + 10] - 1.7e9, acc[k:k + 10])
    offsets = [c.offset for c in iter_chunks(path)]
    data = bytearray(path.read_bytes())
    data[offsets[5] + CHUNK_HEAD.size + 40] ^= 0x40
    path.write_bytes(bytes(data))
    (rec,) = load_recordings(path)
    assert n - 100 <= rec.n_samples < n  # one chunk (0.5 s = 50 samples here) is gone, the rest is there
    np.testing.assert_allclose(rec.acc_mps2[:, 0], np.sin(2 * np.pi * rec.t_s), atol=1e-5)
    assert f"corrupt chunk at byte offset {offsets[5]}" in caplog.text
