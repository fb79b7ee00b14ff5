"""Movesense GATT SensorData Protocol: packets built by hand from the published layout, round trips, procedure.

Byte layouts follow movesense-device-lib ``samples/gatt_sensordata_app`` (GATTSensorDataClient.cpp: command
``[cmd, ref, path]``, responses COMMAND_RESULT=1 / DATA=2 / DATA_PART2=3) and its Python bleak client
(``[1, 99] + b"/Meas/IMU9/104"``; payload = uint32 ms timestamp, then acc, gyro, magn float32 arrays).
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from firmware_bridge.devices import DRIVERS, PERIPHERALS, get_driver
from firmware_bridge.devices import movesense as ms
from firmware_bridge.devices.base import ImuSamples, StreamSettings
from firmware_bridge.devices.common import DEG2RAD
from firmware_bridge.devices.loopback import LoopbackGattClient

# [DATA=2, ref=99] + ts 100000 ms + acc (0,0,1),(0.5,-1,2) m/s² + gyro (90,0,0),(0,0,-90) deg/s
IMU6_TWO_SAMPLES = bytes.fromhex(
    "0263" "a0860100"
    "00000000000000000000803f" "0000003f000080bf00000040"
    "0000b4420000000000000000" "00000000000000000000b4c2")
MAG_TWO_SAMPLES = bytes.fromhex("0000a041000020c20000803e" "0000a041000020c20000803e")  # (20,-40,0.25) µT twice


def _decoder(resource: str = "IMU6", rate: int = 52) -> ms.MovesenseDecoder:
    return ms.MovesenseDecoder({99: (resource, rate)}, max_notify_len=244)  # ATT_MTU 247: these never fill one


def test_registered_with_its_peripheral_and_uuids_match_the_firmware():
    assert isinstance(DRIVERS["movesense"], ms.MovesenseDriver)
    assert isinstance(PERIPHERALS["movesense"](), ms.MovesensePeripheral)
    periph = PERIPHERALS["movesense"]()
    assert DRIVERS["movesense"].matches(None, list(periph.advertised_service_uuids))
    assert DRIVERS["movesense"].matches(periph.local_name, []) and not DRIVERS["movesense"].matches("Thingy", [])
    # GATTSensorDataClient.cpp stores the UUIDs little-endian: f0 e8 50 70 0e 63 31 b4 5d 4d 85 71 52 22 80 34
    le = bytes.fromhex("f0e850700e6331b45d4d857152228034")
    assert ms.SERVICE_UUID.replace("-", "") == le[::-1].hex()
    assert ms.COMMAND_UUID.replace("-", "") == (le[:12] + b"\x01\x00\x80\x34")[::-1].hex()
    assert ms.DATA_UUID.replace("-", "") == (le[:12] + b"\x02\x00\x80\x34")[::-1].hex()


def test_hand_built_imu6_packet_decodes_to_si_units():
    dec = _decoder("IMU6", 52)
    out = dec.decode(ms.DATA_UUID, IMU6_TWO_SAMPLES)
    assert len(out) == 1 and dec.stats.packets_ok == 1
    s = out[0]
    np.testing.assert_allclose(s.acc_mps2, [[0, 0, 1], [0.5, -1, 2]])
    np.testing.assert_allclose(s.gyro_rads, [[np.pi / 2, 0, 0], [0, 0, -np.pi / 2]])
    np.testing.assert_allclose(s.t_device_s, [100.0, 100.0 + 1 / 52])  # timestamp = first sample
    assert s.mag_uT is None


def test_imu9_split_over_data_and_data_part2_is_reassembled():
    payload = IMU6_TWO_SAMPLES[2:] + MAG_TWO_SAMPLES
    first, second = bytes([ms.DATA, 99]) + payload[:37], bytes([ms.DATA_PART2, 99]) + payload[37:]
    dec = _decoder("IMU9", 104)
    assert dec.decode(ms.DATA_UUID, first) == [] and dec.held_parts == 1
    out = dec.decode(ms.DATA_UUID, second)
    np.testing.assert_allclose(out[0].mag_uT, [[20, -40, 0.25]] * 2)
    np.testing.assert_allclose(out[0].acc_mps2[1], [0.5, -1, 2])
    assert (dec.stats.packets_ok, dec.stats.ignored, dec.stats.bad_packets, dec.held_parts) == (1, 1, 0, 0)


def test_lost_continuation_and_orphan_part2_are_counted_bad():
    payload = IMU6_TWO_SAMPLES[2:] + MAG_TWO_SAMPLES
    dec = _decoder("IMU9", 104)
    later = int(100100).to_bytes(4, "little") + payload[4:]
    dec.decode(ms.DATA_UUID, bytes([ms.DATA, 99]) + payload[:37])
    dec.decode(ms.DATA_UUID, bytes([ms.DATA, 99]) + later[:37])  # the first part's PART2 never came
    assert dec.stats.bad_packets == 1 and dec.stats.reasons == {"continuation missing": 1}
    out = dec.decode(ms.DATA_UUID, bytes([ms.DATA_PART2, 99]) + later[37:])  # completes the second one
    assert out[0].t_device_s[0] == pytest.approx(100.1)
    dec.decode(ms.DATA_UUID, bytes([ms.DATA_PART2, 99]) + payload[37:-4] + b"\x00\x00\x80\x3f")  # orphan
    assert dec.stats.bad_packets == 2 and dec.stats.packets_ok == 1 and dec.stats.duplicates == 0


def test_duplicated_parts_of_a_split_packet_count_as_duplicates():
    payload = IMU6_TWO_SAMPLES[2:] + MAG_TWO_SAMPLES
    first, second = bytes([ms.DATA, 99]) + payload[:37], bytes([ms.DATA_PART2, 99]) + payload[37:]
    dec = _decoder("IMU9", 104)
    outs = [dec.decode(ms.DATA_UUID, d) for d in (first, first, second, second)]
    assert [len(o) for o in outs] == [0, 0, 1, 0]
    assert (dec.stats.duplicates, dec.stats.bad_packets, dec.stats.packets_ok, dec.stats.ignored) == (2, 0, 1, 1)


def _with_ts(packet: bytes, ts_ms: int) -> bytes:
    return packet[:2] + int(ts_ms % 2**32).to_bytes(4, "little") + packet[6:]


def test_duplicates_reordering_gaps_and_clock_wrap():
    dec = _decoder("IMU6", 52)  # 2 samples per packet: 38.46 ms per packet
    order = [100000, 100038, 100038, 100000, 100077, 100192]  # dup, late, then 2 packets lost
    outs = [dec.decode(ms.DATA_UUID, _with_ts(IMU6_TWO_SAMPLES, ts)) for ts in order]
    assert [len(o) for o in outs] == [1, 1, 0, 0, 1, 1]
    assert (dec.stats.duplicates, dec.stats.out_of_order, dec.stats.packets_lost) == (1, 1, 2)
    wrap = _decoder("IMU6", 52)
    t = [wrap.decode(ms.DATA_UUID, _with_ts(IMU6_TWO_SAMPLES, ts))[0].t_device_s[0] for ts in (2**32 - 20, 2**32 + 18)]
    assert t[1] - t[0] == pytest.approx(0.038)  # uint32 ms counter wrapped forward


def test_command_replies_and_garbage_are_not_samples():
    dec = _decoder()
    assert dec.decode(ms.DATA_UUID, bytes([ms.COMMAND_RESULT, 99]) + (404).to_bytes(2, "little")) == []
    assert dec.last_status[99] == 404 and dec.stats.ignored == 1
    for bad in (b"", b"\x02", b"\x02\x63\x00", b"\x02\x07" + IMU6_TWO_SAMPLES[2:], b"\x09\x63" + IMU6_TWO_SAMPLES[2:]):
        assert dec.decode(ms.DATA_UUID, bad) == []
    nan = IMU6_TWO_SAMPLES[:6] + bytes.fromhex("0000c07f") + IMU6_TWO_SAMPLES[10:]
    assert dec.decode(ms.DATA_UUID, nan) == []
    assert dec.stats.bad_packets == 6 and dec.stats.reasons["non-finite value"] == 1


def _start(settings: StreamSettings, periph=None):
    periph = periph or PERIPHERALS["movesense"]()
    client = LoopbackGattClient(periph)
    got: list[ImuSamples] = []
    holder = {}

    def on_notify(uuid: str, data: bytes) -> None:
        got.extend(holder["dec"].decode(uuid, data))

    holder["dec"] = asyncio.run(get_driver("movesense").start(client, settings, on_notify))
    return periph, client, holder["dec"], got


def test_procedure_hello_subscribe_nearest_rate_then_unsubscribe():
    periph, client, dec, _ = _start(StreamSettings(rate_hz=90, sensors=("acc", "gyro")))
    assert client.log == [("start_notify", ms.DATA_UUID, b""), ("write", ms.COMMAND_UUID, bytes([0, ms.HELLO_REF])),
                          ("write", ms.COMMAND_UUID, b"\x01\x63/Meas/IMU6/104")]
    assert periph.streaming() and periph.rate_hz() == 104.0
    asyncio.run(get_driver("movesense").stop(client))
    assert client.log[-2:] == [("write", ms.COMMAND_UUID, b"\x02\x63"), ("stop_notify", ms.DATA_UUID, b"")]
    assert not periph.streaming()


def test_start_fails_clearly_without_the_gsp_app():
    class Silent(ms.MovesensePeripheral):
        def on_write(self, char_uuid, data):
            return []

    driver = ms.MovesenseDriver()
    driver.reply_timeout_s = 0.05
    client = LoopbackGattClient(Silent())
    with pytest.raises(RuntimeError, match="gatt_sensordata_app"):
        asyncio.run(driver.start(client, StreamSettings(), lambda u, d: None))


@pytest.mark.parametrize(("sensors", "rate"), [(("acc",), 13), (("acc", "gyro"), 52), (("acc", "gyro", "mag"), 104),
                                               (("acc", "gyro", "mag"), 1666)])
def test_round_trip_through_peripheral(sensors, rate):
    rng = np.random.default_rng(rate)
    periph, client, dec, got = _start(StreamSettings(rate_hz=rate, sensors=sensors))
    n = 101
    t = 3600.0 + np.arange(n) / rate
    acc, gyro, mag = rng.normal(0, 15, (n, 3)), rng.normal(0, 5, (n, 3)), rng.normal(0, 40, (n, 3))
    client.push(t[:50], acc[:50], gyro[:50], mag[:50])
    client.push(t[50:], acc[50:], gyro[50:], mag[50:])
    m = n - n % ms.samples_per_packet(rate)  # a partial batch stays on the device
    ts = np.concatenate([s.t_device_s for s in got])
    assert len(ts) == m and np.all(np.diff(ts) > 0)
    np.testing.assert_allclose(ts, t[:m], atol=1e-3)  # ms timestamps
    np.testing.assert_allclose(np.concatenate([s.acc_mps2 for s in got]), acc[:m], rtol=1e-6)
    if "gyro" in sensors:
        np.testing.assert_allclose(np.concatenate([s.gyro_rads for s in got]), gyro[:m], rtol=1e-6)
    if "mag" in sensors:
        np.testing.assert_allclose(np.concatenate([s.mag_uT for s in got]), mag[:m], rtol=1e-6)
        assert dec.stats.ignored == dec.stats.packets_ok  # IMU9 batches of 8 exceed one notification
    assert dec.stats.bad_packets == 0 and dec.stats.packets_lost == 0


@pytest.mark.parametrize("sensors", [("acc", "gyro", "mag"), ("acc", "gyro")])
def test_every_mtu_from_23_to_247_decodes_every_sample_with_the_right_layout(sensors):
    """At ATT_MTU 117 and 153 the first part of a split IMU9 measurement is a whole number of samples long
    (108 = 3 x 36, 144 = 4 x 36 bytes) and looked complete: it was decoded with the wrong layout (gyro holding
    acc) and the gap to the next packet counted as lost. Every MTU must give back exactly what was sent."""
    rate = 104
    looks_whole = []
    for mtu in range(23, 248):
        rng = np.random.default_rng(mtu)
        periph, client, dec, got = _start(StreamSettings(rate_hz=rate, sensors=sensors),
                                          periph=ms.MovesensePeripheral(mtu=mtu))
        k = ms.samples_per_packet(rate, ms.resource_for(sensors), mtu)
        n = 6 * k
        t = 50.0 + np.arange(n) / rate
        acc, gyro, mag = rng.normal(0, 15, (n, 3)), rng.normal(0, 5, (n, 3)), rng.normal(0, 40, (n, 3))
        notes = periph.encode(t, acc, gyro, mag)
        first = notes[0][1]
        if len(notes) > n // k and (len(first) - 6) % (12 * len(sensors)) == 0:
            looks_whole.append(mtu)
        client.deliver(notes)
        assert all(len(d) <= mtu - 3 for _, d in notes)
        # the last measurement may wait for the next notification to tell whether it was complete
        client.deliver(periph.encode(t[-1] + np.arange(1, k + 1) / rate, acc[:k], gyro[:k], mag[:k]))
        assert sum(len(s) for s in got) >= n, f"MTU {mtu}: {dec.stats}"
        np.testing.assert_allclose(np.concatenate([s.acc_mps2 for s in got])[:n], acc, rtol=1e-6, err_msg=f"MTU {mtu}")
        np.testing.assert_allclose(np.concatenate([s.gyro_rads for s in got])[:n], gyro, rtol=1e-6, err_msg=f"MTU {mtu}")
        if "mag" in sensors:
            np.testing.assert_allclose(np.concatenate([s.mag_uT for s in got])[:n], mag, rtol=1e-6)
        assert (dec.stats.bad_packets, dec.stats.packets_lost, dec.stats.duplicates) == (0, 0, 0), f"MTU {mtu}"
    if "mag" in sensors:
        assert {117, 153} <= set(looks_whole)  # the cases of the bug report are among those exercised


def test_a_complete_looking_first_part_is_recognised_without_knowing_the_mtu():
    """Without the MTU, the first complete-looking DATA of a length waits for the next notification (it was a
    first part: a DATA_PART2 follows); the answer is remembered, so later ones do not wait. Nothing is wrong or
    lost. A complete measurement of an unknown length waits once too, then no more."""
    periph = ms.MovesensePeripheral(mtu=117)
    periph.on_write(ms.COMMAND_UUID, b"\x01\x63/Meas/IMU9/104")
    k = ms.samples_per_packet(104, "IMU9", 117)
    t = 7.0 + np.arange(5 * k) / 104
    acc = np.random.default_rng(0).normal(0, 15, (5 * k, 3))
    dec = ms.MovesenseDecoder({99: ("IMU9", 104)})
    notes = periph.encode(t, acc, -acc, 2 * acc)
    outs = [dec.decode(u, d) for u, d in notes]
    got = [s for o in outs for s in o]
    assert len(got) == 5 and dec.stats.bad_packets == dec.stats.packets_lost == 0
    np.testing.assert_allclose(np.concatenate([s.acc_mps2 for s in got]), acc, rtol=1e-6)
    np.testing.assert_allclose(np.concatenate([s.mag_uT for s in got]), 2 * acc, rtol=1e-6)
    unsplit = ms.MovesenseDecoder({99: ("IMU6", 52)})
    outs = [unsplit.decode(ms.DATA_UUID, _with_ts(IMU6_TWO_SAMPLES, ts)) for ts in (1000, 1038, 1077)]
    assert [len(o) for o in outs] == [0, 2, 1]  # the first waited for the second to tell it was complete


def test_peripheral_rejects_unknown_paths_like_newer_firmware():
    periph = ms.MovesensePeripheral()
    assert periph.on_write(ms.COMMAND_UUID, b"\x01\x05/Meas/IMU6/50") == [(ms.DATA_UUID, b"\x01\x05" + (404).to_bytes(2, "little"))]
    assert periph.on_write(ms.COMMAND_UUID, bytes([0, 7])) == [(ms.DATA_UUID, b"\x01\x07Hello")]
    assert not periph.streaming()


def test_gyro_units_are_degrees_on_the_wire():
    periph = ms.MovesensePeripheral()
    periph.on_write(ms.COMMAND_UUID, b"\x01\x63/Meas/IMU6/13")
    (note,) = periph.encode(np.array([1.0]), np.zeros((1, 3)), np.array([[DEG2RAD * 45.0, 0, 0]]), None)
    assert np.frombuffer(note[1], "<f4", offset=6 + 12)[0] == pytest.approx(45.0)


@pytest.mark.parametrize("mtu", [117, 153])
def test_imu9_at_mtu_117_and_153_through_bleak_loses_nothing(emulate, mtu: int):
    """The bug report's case end to end: a Movesense streaming IMU9 over a link whose first parts look complete;
    every sample the emulated sensor sent arrives, in order, with no packet counted lost or bad."""
    from firmware_bridge.emulator import WearableSpec
    from firmware_bridge.pairing import PairedDevice
    from firmware_bridge.session import Session

    spec = WearableSpec("movesense", mtu=mtu)

    async def body(em):
        addr = em.addresses[0]
        got = []
        dev = PairedDevice(addr, "movesense", "left_wrist", settings={"sensors": ["acc", "gyro", "mag"], "rate_hz": 104})
        stats = await Session([dev], on_samples=lambda a, b: got.append(b)).run(3.0)
        return stats[addr], got, em.truth(addr)

    st, got, truth = emulate([spec], body)
    t_dev = np.concatenate([b.t_device_s for b in got])
    acc = np.concatenate([b.acc_mps2 for b in got])
    gyro = np.concatenate([b.gyro_rads for b in got])
    assert st.samples_received == len(t_dev) > 200 and np.all(np.diff(t_dev) > 0)
    assert (st.packets_lost, st.bad_packets) == (0, 0)
    j = np.searchsorted(truth["t_device_s"], t_dev - 6e-4)  # ms timestamps: within 1 ms
    assert np.all(np.abs(truth["t_device_s"][j] - t_dev) < 1e-3)
    np.testing.assert_allclose(acc, truth["acc_mps2"][j], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gyro, truth["gyro_rads"][j], rtol=1e-5, atol=1e-5)  # not acc in the gyro slot
