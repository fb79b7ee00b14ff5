"""Bridge recordings: round trip, crash safety (a killed writer loses at most its last chunk), corruption."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge.record import (
    CHUNK_HEAD,
    DeviceMeta,
    RecordingError,
    RecordingWriter,
    iter_chunks,
    read_recording,
    read_streams,
)

ROOT = Path(__file__).resolve().parents[2]
IMU = DeviceMeta("AA:4D:00:00:00:01", "anymo-imu", "left_wrist", "AnyMo IMU")
POLAR = DeviceMeta("AA:4D:00:00:00:02", "polar-verity", "right_thigh", "Polar Sense 1")
T0 = 1.7e9


def imu_block(k: int, n: int = 10, rate_hz: float = 100.0, rng=np.random.default_rng(0)):
    t_dev = 50.0 + (k * n + np.arange(n)) / rate_hz
    return (T0 + t_dev - 50.0 + 0.004, t_dev, rng.normal(0, 3, (n, 3)), rng.normal(0, 1, (n, 3)),
            rng.normal(0, 40, (n, 3)))


def test_round_trip_keeps_every_sample_and_the_metadata(tmp_path: Path) -> None:
    path = tmp_path / "s.anymorec"
    sent = {"imu": [], "acc": [], "gyro": []}
    with RecordingWriter(path, [IMU, POLAR], chunk_s=0.25) as w:
        for k in range(30):
            th, td, acc, gyro, mag = imu_block(k)
            w.add_samples(IMU.address, "imu", 0, th, td, acc, gyro, mag)
            sent["imu"].append((th, td, acc, gyro, mag))
            # Polar: acc and gyro arrive as separate streams on the same device timestamps
            w.add_samples(POLAR.address, "acc", 0, th + 0.001, td, acc_mps2=acc * 0.5)
            w.add_samples(POLAR.address, "gyro", 0, th + 0.001, td, gyro_rads=gyro * 0.5)
            sent["acc"].append(acc * 0.5)
            sent["gyro"].append(gyro * 0.5)
        w.add_clock(IMU.address, 0, 50.0, T0 + 0.002, 1.0, 0.0, 0.0)
    devs = {d.meta.address: d for d in read_streams(path)}
    imu = devs[IMU.address].streams["imu"]
    np.testing.assert_array_equal(imu["t_host_s"], np.concatenate([s[0] for s in sent["imu"]]))
    np.testing.assert_array_equal(imu["t_device_s"], np.concatenate([s[1] for s in sent["imu"]]))
    for i, name in ((2, "acc_mps2"), (3, "gyro_rads"), (4, "mag_uT")):  # sensor values are float32 on disk
        np.testing.assert_allclose(imu[name], np.concatenate([s[i] for s in sent["imu"]]), rtol=1e-6, atol=1e-5)
    recs = {r.device: r for r in read_recording(path)}
    r = recs["anymo-imu"]
    assert r.placement == "left_wrist" and r.n_samples == 300 and r.rate_hz == pytest.approx(100.0)
    # re-timed with the stored clock chunk: t_host = T0 + 0.002 + (t_dev - 50)
    np.testing.assert_allclose(r.t_s, T0 + 0.002 + np.concatenate([s[1] for s in sent["imu"]]) - 50.0, atol=1e-6)
    assert read_recording(path, remap_clock=False)[0].t_s[0] == pytest.approx(T0 + 0.004)
    p = recs["polar-verity"]
    assert p.placement == "right_thigh" and p.n_samples == 300
    np.testing.assert_allclose(p.acc_mps2, np.concatenate(sent["acc"]), atol=1e-5)
    np.testing.assert_allclose(p.gyro_rads, np.concatenate(sent["gyro"]), atol=1e-5)  # joined on acc times


def test_gap_in_a_joined_stream_leaves_those_samples_out(tmp_path: Path) -> None:
    path = tmp_path / "g.anymorec"
    with RecordingWriter(path, [POLAR]) as w:
        for k in range(10):
            th, td, acc, gyro, _ = imu_block(k)
            w.add_samples(POLAR.address, "acc", 0, th, td, acc_mps2=acc)
            if k != 4:  # one gyro frame lost
                w.add_samples(POLAR.address, "gyro", 0, th, td, gyro_rads=gyro)
    (rec,) = read_recording(path)
    assert rec.n_samples == 100 - 10  # exactly the lost frame's samples
    assert np.all(np.diff(rec.t_s) > 0)


def _write_chunks(path: Path, n: int) -> list[int]:
    """n one-block chunks; returns the byte offset where each chunk starts."""
    with RecordingWriter(path, [IMU], chunk_s=0.01) as w:
        for k in range(n):
            w.add_samples(IMU.address, "imu", 0, *imu_block(k)[:3])
    return [c.offset for c in iter_chunks(path)]


@pytest.mark.parametrize("cut", ["header", "payload", "last byte"])
def test_truncated_tail_keeps_every_complete_chunk(tmp_path: Path, cut: str) -> None:
    path = tmp_path / "t.anymorec"
    offsets = _write_chunks(path, 8)
    size = path.stat().st_size
    cut_at = {"header": offsets[-1] + CHUNK_HEAD.size - 3, "payload": offsets[-1] + 40, "last byte": size - 1}[cut]
    with open(path, "r+b") as f:
        f.truncate(cut_at)
    chunks = list(iter_chunks(path))
    assert [c.offset for c in chunks] == offsets[:-1]
    assert read_recording(path)[0].n_samples == 70


def test_half_written_last_chunk_is_ignored(tmp_path: Path) -> None:
    """A crash can leave the file extended but the last chunk's bytes zeroed (CRC mismatch at the end)."""
    path = tmp_path / "z.anymorec"
    offsets = _write_chunks(path, 5)
    with open(path, "r+b") as f:
        f.seek(offsets[-1] + CHUNK_HEAD.size + 10)
        f.write(b"\0" * 20)
    assert len(list(iter_chunks(path))) == 4


def test_corrupt_byte_is_reported_with_file_and_offset(tmp_path: Path) -> None:
    path = tmp_path / "c.anymorec"
    offsets = _write_chunks(path, 6)
    with open(path, "r+b") as f:
        f.seek(offsets[2] + CHUNK_HEAD.size + 30)
        b = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([b[0] ^ 0x40]))
    with pytest.raises(RecordingError, match=rf"{path.name}: corrupt chunk at byte offset {offsets[2]} \(CRC mismatch\)"):
        list(iter_chunks(path))
    assert [c.offset for c in iter_chunks(path, on_corrupt="stop")] == offsets[:2]
    assert [c.offset for c in iter_chunks(path, on_corrupt="skip")] == offsets[:2] + offsets[3:]


def test_not_a_recording_and_no_overwrite(tmp_path: Path) -> None:
    bad = tmp_path / "x.anymorec"
    bad.write_text("t,ax,ay,az\n0,1,2,3\n")
    with pytest.raises(RecordingError, match="not an AnyMo bridge recording"):
        read_recording(bad)
    with pytest.raises(FileExistsError, match="never overwritten"):
        RecordingWriter(bad, [IMU])
    with pytest.raises(ValueError, match="chunk_s"):
        RecordingWriter(tmp_path / "y.anymorec", [IMU], chunk_s=5.0)
    with RecordingWriter(tmp_path / "w.anymorec", [IMU]) as w, pytest.raises(ValueError, match="not one of"):
        w.add_samples(POLAR.address, "imu", 0, *imu_block(0)[:3])


CRASH_WRITER = r"""
import sys, time
import numpy as np
from firmware_bridge.record import DeviceMeta, RecordingWriter
w = RecordingWriter(sys.argv[1], [DeviceMeta("AA:4D:00:00:00:01", "anymo-imu", "left_wrist")], chunk_s=0.05)
t = 0.0
while True:
    n = 5
    td = t + np.arange(n) * 0.01
    w.add_samples("AA:4D:00:00:00:01", "imu", 0, 1.7e9 + td, td, np.ones((n, 3)) * t, np.zeros((n, 3)))
    t += n * 0.01
    w.flush_due(1.7e9 + t)
    print(sum(w.samples_written.values()), flush=True)  # samples on disk (fsync'd)
"""


def test_killed_writer_loses_only_what_was_not_yet_written(tmp_path: Path) -> None:
    path = tmp_path / "crash.anymorec"
    proc = subprocess.Popen([sys.executable, "-c", CRASH_WRITER, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    written = 0
    deadline = time.monotonic() + 60
    while written < 2000 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        written = int(line)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert written >= 2000, "the writer did not get going"
    rec = read_recording(path)[0]
    # everything reported as written is there, in order; at most the chunk in flight is missing
    assert rec.n_samples >= written
    assert np.all(np.diff(rec.t_s) > 0)
    np.testing.assert_allclose(np.diff(rec.t_s), 0.01, atol=1e-6)
