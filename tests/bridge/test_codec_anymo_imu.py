"""AnyMo IMU codec and GATT procedure: round trips through the virtual peripheral, counted drops."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from firmware_bridge.devices import DRIVERS, PERIPHERALS, get_driver
from firmware_bridge.devices import anymo_imu as am
from firmware_bridge.devices.base import ImuSamples, StreamSettings
from firmware_bridge.devices.loopback import LoopbackGattClient


def _collect(decoder, notes) -> list[ImuSamples]:
    out = []
    for uuid, data in notes:
        out += decoder.decode(uuid, data)
    return out


def _cat(samples: list[ImuSamples], attr: str) -> np.ndarray:
    return np.concatenate([getattr(s, attr) for s in samples])


def _start(settings: StreamSettings, **kw):
    periph = PERIPHERALS["anymo-imu"](**kw)
    client = LoopbackGattClient(periph)
    got: list[ImuSamples] = []
    holder = {}

    def on_notify(uuid: str, data: bytes) -> None:
        got.extend(holder["dec"].decode(uuid, data))

    holder["dec"] = asyncio.run(get_driver("anymo-imu").start(client, settings, on_notify))
    return periph, client, holder["dec"], got


def test_registry_lists_anymo_and_rejects_unknown_types():
    assert isinstance(DRIVERS["anymo-imu"], am.AnymoImuDriver)
    with pytest.raises(ValueError, match="anymo-imu"):
        get_driver("anymo-imuu")


def test_start_procedure_order_and_applied_settings():
    periph, client, dec, _ = _start(StreamSettings(rate_hz=90, acc_range_g=6, gyro_range_dps=1500, sensors=("acc", "gyro")))
    ops = [(op, uuid) for op, uuid, _ in client.log]
    assert ops == [("read", am.INFO_UUID), ("start_notify", am.CONFIG_UUID), ("start_notify", am.DATA_UUID),
                   ("write", am.CONFIG_UUID)]
    # nearest rate 100, smallest range covering the request
    assert client.log[-1][2] == bytes.fromhex("01" "03" "6400" "08" "d007" "00")
    assert periph.streaming() and periph.rate_hz() == 100.0
    asyncio.run(get_driver("anymo-imu").stop(client))
    assert not periph.streaming()
    assert [op for op, _, _ in client.log[-3:]] == ["write", "stop_notify", "stop_notify"]


def test_stop_tolerates_dropped_link():
    """With the link gone, stop raises nothing, still tries every step of its procedure (a failed first
    write must not skip the unsubscribes), and reaches nothing; once the link is back, stop stops it."""
    periph, client, _, _ = _start(StreamSettings())
    attempts: list[str] = []
    for op in ("write", "stop_notify"):
        real = getattr(client, op)

        async def tried(*args, _op=op, _real=real, **kw):
            attempts.append(_op)
            return await _real(*args, **kw)

        setattr(client, op, tried)
    client.connected = False
    n_log = len(client.log)
    asyncio.run(get_driver("anymo-imu").stop(client))  # no exception
    assert attempts == ["write", "stop_notify", "stop_notify"]
    assert len(client.log) == n_log and periph.streaming()  # nothing went over the dropped link
    client.connected = True
    asyncio.run(get_driver("anymo-imu").stop(client))
    assert not periph.streaming()


@pytest.mark.parametrize("sensors", [("acc",), ("acc", "gyro"), ("acc", "gyro", "mag")])
def test_round_trip_through_peripheral(sensors):
    rng = np.random.default_rng(0)
    periph, client, dec, got = _start(StreamSettings(rate_hz=100, acc_range_g=8, gyro_range_dps=2000, sensors=sensors))
    n = 250
    t = 12.5 + np.arange(n) / 100.0
    acc = rng.uniform(-70, 70, (n, 3))
    gyro = rng.uniform(-30, 30, (n, 3))
    mag = rng.uniform(-60, 60, (n, 3))
    assert client.push(t, acc, gyro, mag) > 1
    assert sum(len(s) for s in got) == n
    np.testing.assert_allclose(_cat(got, "t_device_s"), t, atol=0.5e-6)
    np.testing.assert_allclose(_cat(got, "acc_mps2"), acc, atol=am.acc_lsb_mps2(8) / 2 + 1e-12)
    if "gyro" in sensors:
        np.testing.assert_allclose(_cat(got, "gyro_rads"), gyro, atol=am.gyro_lsb_rads(2000) / 2 + 1e-12)
    else:
        assert all(s.gyro_rads is None for s in got)
    if "mag" in sensors:
        np.testing.assert_allclose(_cat(got, "mag_uT"), mag, atol=0.05 + 1e-12)
    assert dec.stats.packets_ok == len(got) and dec.stats.bad_packets == 0 and dec.stats.packets_lost == 0


def test_saturates_instead_of_wrapping():
    periph, client, dec, got = _start(StreamSettings(acc_range_g=2))
    client.push(np.array([0.0, 0.01]), np.array([[100.0, -100.0, 0.0]] * 2), np.zeros((2, 3)))
    acc = _cat(got, "acc_mps2")
    assert acc[0, 0] == pytest.approx(32767 * am.acc_lsb_mps2(2)) and acc[0, 1] == pytest.approx(-2 * am.G0_MPS2)


def test_clock_unwraps_across_uint32_wrap():
    periph, client, dec, got = _start(StreamSettings(rate_hz=100))
    t = 4294.90 + np.arange(30) / 100.0  # crosses 2**32 µs = 4294.967296 s
    client.push(t, np.zeros((30, 3)), np.zeros((30, 3)))
    ts = _cat(got, "t_device_s")
    assert np.all(np.diff(ts) > 0)
    np.testing.assert_allclose(ts, t, atol=1e-6)  # first packet before the wrap fixes the epoch


def test_sequence_gaps_duplicates_and_reordering_are_counted():
    periph = am.AnymoImuPeripheral()
    periph.on_write(am.CONFIG_UUID, am.start_command(am.FLAG_ACC, 100, 8, 2000, samples_per_packet=2))
    notes = periph.encode(np.arange(20) / 100.0, np.ones((20, 3)), None, None)
    assert len(notes) == 10
    dec = am.AnymoImuDecoder()
    order = [0, 1, 1, 3, 2, 4, 7, 8, 9]  # dup of 1, 3 before 2 (2 late), 5 and 6 lost
    out = _collect(dec, [notes[i] for i in order])
    assert [s.seq for s in out] == [0, 1, 3, 4, 7, 8, 9]
    assert (dec.stats.duplicates, dec.stats.out_of_order, dec.stats.packets_lost) == (1, 1, 3)
    assert dec.stats.packets_ok == 7


def test_peripheral_rejects_unsupported_config():
    periph = am.AnymoImuPeripheral()
    assert periph.on_write(am.CONFIG_UUID, am.start_command(am.FLAG_ACC, 123, 8, 2000)) == \
        [(am.CONFIG_UUID, am.reply(am.OP_START, am.STATUS_UNSUPPORTED))]
    assert periph.on_write(am.CONFIG_UUID, b"\x01\x03") == [(am.CONFIG_UUID, am.reply(am.OP_START, am.STATUS_BAD_LENGTH))]
    assert periph.on_write(am.CONFIG_UUID, b"\x07") == [(am.CONFIG_UUID, am.reply(7, am.STATUS_UNKNOWN_OPCODE))]
    assert not periph.streaming()


def test_driver_raises_when_device_refuses():
    class Stubborn(am.AnymoImuPeripheral):
        def on_write(self, char_uuid, data):
            return [(am.CONFIG_UUID, am.reply(am.OP_START, am.STATUS_SENSOR_ERROR))]

    client = LoopbackGattClient(Stubborn())
    with pytest.raises(RuntimeError, match="status 4"):
        asyncio.run(get_driver("anymo-imu").start(client, StreamSettings(), lambda u, d: None))


def test_bad_packets_are_counted_and_skipped():
    dec = am.AnymoImuDecoder()
    good = am.pack_packet(0, 0, 10000, 8, 2000, np.zeros((2, 3)), np.zeros((2, 3)), None)
    for bad in (b"", good[:15], good[:-1], good + b"\x00", b"\x02" + good[1:], good[:1] + b"\x08" + good[2:]):
        assert dec.decode(am.DATA_UUID, bad) == []
    assert dec.stats.bad_packets == 6 and dec.stats.packets_ok == 0
    assert len(dec.decode(am.DATA_UUID, good)) == 1
    assert dec.decode(am.CONFIG_UUID, good) == []  # other characteristics are not data
