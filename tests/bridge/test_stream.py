"""Per-device stream pipeline (decode -> gaps -> clock -> blocks -> recording), then streaming through bleak."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge.devices import get_driver, get_peripheral
from firmware_bridge.devices.base import StreamSettings
from firmware_bridge.devices.loopback import LoopbackGattClient
from firmware_bridge.record import DeviceMeta, RecordingWriter, read_recording, read_streams
from firmware_bridge.stream import DeviceStream, StreamBlock, replay_recording

T0 = 1.7e9


class FakeDevice:
    """A virtual peripheral behind a loopback client, with a drifting clock and a per-notification drop list."""

    def __init__(self, device_type: str, rate_hz: float, drift_ppm: float, offset_s: float, seed: int,
                 **peripheral_kwargs) -> None:
        self.driver = get_driver(device_type)
        self.rate_hz = rate_hz
        self.drift, self.offset_s = drift_ppm * 1e-6, offset_s
        self.rng = np.random.default_rng(seed)
        self.peripheral = get_peripheral(device_type, **peripheral_kwargs)
        self.k = 0  # samples produced so far
        self.dropped = 0

    async def connect(self, stream: DeviceStream) -> None:
        self.client = LoopbackGattClient(self.peripheral)
        decoder = await self.driver.start(self.client, StreamSettings(rate_hz=self.rate_hz), lambda u, d: None)
        stream.new_connection(decoder)

    def produce(self, stream: DeviceStream, n: int, drop: set[int] = frozenset(), delay_s: float = 0.004):
        """n samples taken on the true timeline; notifications with index in ``drop`` never arrive."""
        t_true = T0 + (self.k + np.arange(n)) / self.rate_hz
        self.k += n
        t_dev = self.offset_s + (t_true - T0) * (1 + self.drift)
        acc = np.column_stack([np.sin(t_true - T0), np.cos(t_true - T0), np.full(n, 9.81)])
        gyro = 0.1 * acc
        notes = self.peripheral.encode(t_dev, acc, gyro, None)
        blocks = []
        for i, (uuid, data) in enumerate(notes):
            if i in drop:
                self.dropped += 1
                continue
            blocks += stream.on_notify(uuid, data, t_true[-1] + delay_s + self.rng.exponential(0.003))
        return t_true, t_dev, blocks


def test_anymo_imu_drops_are_counted_exactly_and_samples_are_host_aligned() -> None:
    dev = FakeDevice("anymo-imu", 100.0, drift_ppm=150.0, offset_s=3.0, seed=0)
    got: list[StreamBlock] = []
    stream = DeviceStream("AA:4D:00:00:00:01", "anymo-imu", "left_wrist", consumers=[lambda a, b: got.append(b)])
    asyncio.run(dev.connect(stream))
    rng = np.random.default_rng(1)
    truth_t, truth_dev = [], []
    for _ in range(300):  # 30 s in 0.1 s bursts
        t_true, t_dev, _ = dev.produce(stream, 10, drop={0} if rng.random() < 0.05 else set())
        truth_t.append(t_true)
        truth_dev.append(t_dev)
    assert dev.dropped > 5
    st = stream.stats
    assert st.packets_lost == dev.dropped
    assert st.samples_received == sum(len(b) for b in got) == 3000 - 10 * dev.dropped  # one packet per burst
    t_true, t_dev = np.concatenate(truth_t), np.concatenate(truth_dev)
    t_got = np.concatenate([b.t_device_s for b in got])
    idx = np.clip(np.searchsorted(t_dev, t_got - 1e-4), 0, len(t_dev) - 1)
    np.testing.assert_allclose(t_dev[idx], t_got, atol=2e-5)  # every delivered sample is a real one
    host = np.concatenate([b.t_host_s for b in got])
    assert np.max(np.abs(stream.clock.to_host(t_got) - t_true[idx])) < 5e-3
    assert st.clock_drift_ppm == pytest.approx(150.0, abs=20.0)
    assert st.rate_hz == pytest.approx(100.0, abs=0.1)
    late = t_true[idx] - t_true[0] > 15.0
    assert np.max(np.abs(host[late] - t_true[idx][late])) < 5e-3


def test_reconnect_counts_packets_lost_at_the_start_of_a_connection() -> None:
    """AnyMo IMU restarts its stream at seq 0 on every START: a first packet seq k means k were lost."""
    dev = FakeDevice("anymo-imu", 100.0, drift_ppm=-60.0, offset_s=10.0, seed=2)
    stream = DeviceStream("AA:4D:00:00:00:01", "anymo-imu")
    asyncio.run(dev.connect(stream))
    dev.produce(stream, 190, drop={0, 4})  # 10 packets of 19; the very first one is lost
    stream.end_connection("link loss")
    dev.k += 300  # 3 s disconnected: the device produced nothing
    asyncio.run(dev.connect(stream))
    dev.produce(stream, 190, drop={0, 1})  # the first two after the reconnect
    dev.produce(stream, 190)
    assert stream.stats.reconnects == 1
    assert dev.dropped == 4
    assert stream.stats.packets_lost == 4
    assert stream.stats.samples_received == 3 * 190 - 4 * 19
    assert stream.stats.clock_epochs == 0  # the device clock kept running


def test_polar_acc_and_gyro_streams_and_timestamp_gaps() -> None:
    # fixed frame sizes: PMD has no sequence number, the decoder infers losses from frame timestamps
    dev = FakeDevice("polar-verity", 52.0, drift_ppm=80.0, offset_s=8.1e8, seed=3, samples_per_frame=26)
    got: list[StreamBlock] = []
    stream = DeviceStream("A0:9E:1A:00:00:02", "polar-verity", consumers=[lambda a, b: got.append(b)])
    asyncio.run(dev.connect(stream))
    for k in range(40):
        dev.produce(stream, 52, drop={2} if k % 10 == 5 else set())  # every 10th burst loses one frame
    assert dev.dropped == 4
    assert stream.stats.packets_lost == 4
    assert {b.sensor for b in got} == {"acc", "gyro"}
    assert stream.stats.samples_received == 2 * 40 * 52 - 4 * 26
    assert stream.stats.rate_hz == pytest.approx(52.0, abs=0.1)


def test_recorded_stream_reads_back_and_replays(tmp_path: Path) -> None:
    path = tmp_path / "s.anymorec"
    meta = DeviceMeta("AA:4D:00:00:00:01", "anymo-imu", "left_wrist")
    dev = FakeDevice("anymo-imu", 100.0, drift_ppm=100.0, offset_s=1.0, seed=4)
    got: list[StreamBlock] = []
    with RecordingWriter(path, [meta]) as rec:
        stream = DeviceStream(meta.address, meta.device_type, meta.placement, consumers=[lambda a, b: got.append(b)],
                              recorder=rec)
        asyncio.run(dev.connect(stream))
        for _ in range(50):
            dev.produce(stream, 10)
        stream.write_clock()
        stream.end_connection()
    raw = read_streams(path)[0]
    np.testing.assert_array_equal(raw.streams["imu"]["t_device_s"], np.concatenate([b.t_device_s for b in got]))
    np.testing.assert_array_equal(raw.streams["imu"]["t_host_s"], np.concatenate([b.t_host_s for b in got]))
    assert [e["event"] for e in raw.events] == ["connected", "disconnected"]
    (r,) = read_recording(path)
    assert r.n_samples == 500 and r.placement == "left_wrist" and r.device == "anymo-imu"

    async def collect():
        return [b async for b in replay_recording(path, speed=0)]

    replayed = asyncio.run(collect())
    np.testing.assert_array_equal(np.concatenate([b.t_host_s for b in replayed]), raw.streams["imu"]["t_host_s"])
    np.testing.assert_allclose(np.concatenate([b.acc_mps2 for b in replayed]),
                               np.concatenate([b.acc_mps2 for b in got]), atol=1e-5)
