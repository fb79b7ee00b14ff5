"""`StreamBlock.rate_hz`: the bridge tells the live runtime the rate a stream delivers (its device-clock
sample spacing through the clock sync's rate), so the runtime does not estimate it again."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from anymo.preprocess.model_input import placement_id_of
from edge.live_windows import LiveWindower
from firmware_bridge.devices import get_driver, get_peripheral
from firmware_bridge.devices.base import StreamSettings
from firmware_bridge.devices.loopback import LoopbackGattClient
from firmware_bridge.stream import DeviceStream, StreamBlock

T0 = 1_700_000_000.0


@pytest.mark.parametrize("drift_ppm", [0.0, 400.0])
def test_blocks_carry_the_stream_rate_and_feed_the_live_windows(drift_ppm: float) -> None:
    got: list[StreamBlock] = []
    stream = DeviceStream("AA:4D:00:00:00:09", "anymo-imu", "left_wrist", consumers=[lambda a, b: got.append(b)])
    peripheral = get_peripheral("anymo-imu")
    client = LoopbackGattClient(peripheral)
    stream.new_connection(asyncio.run(get_driver("anymo-imu").start(client, StreamSettings(rate_hz=100.0), lambda u, d: None)))
    rate = 100.0
    for k in range(0, 2000, 10):  # 20 s in notifications of 10 samples
        t_true = T0 + (k + np.arange(10)) / rate
        t_dev = 5.0 + (t_true - T0) * (1 + drift_ppm * 1e-6)  # the device clock runs fast by drift_ppm
        acc = np.column_stack([np.sin(t_true - T0), np.cos(t_true - T0), np.full(10, 9.81)])
        for uuid, data in peripheral.encode(t_dev, acc, 0.1 * acc, None):
            stream.on_notify(uuid, data, t_true[-1] + 0.004)
    assert got[0].rate_hz is None or len(got[0]) >= 8  # not before the stream has 8 samples
    late = np.array([b.rate_hz for b in got[len(got) // 4 :]], dtype=float)
    # 100 Hz of true time; the device clock's drift is taken out once the clock sync has learnt it
    assert np.all(np.abs(late - rate) <= rate * (drift_ppm * 1e-6 + 2e-5))
    assert late[-1] == pytest.approx(stream.stats.rate_hz, rel=1e-6)  # the bridge's own figure for the stream
    w = LiveWindower({"AA:4D:00:00:00:09": 50.0}, hop_s=2.5, placements={"AA:4D:00:00:00:09": "left_wrist"})
    windows = []
    for b in got:
        w.push_block(b)
        windows += w.pop_windows()
    assert len(windows) >= 5 and w._buf["AA:4D:00:00:00:09"].rate_hz == pytest.approx(rate, abs=0.05)
    x = windows[-1]
    assert x.placement_id[0, 0] == placement_id_of("left_wrist") and x.sensor_mask.all()
    np.testing.assert_allclose(x.signals[0, 0, 30:-30, 2], 9.81 / 9.80665, atol=2e-3)
