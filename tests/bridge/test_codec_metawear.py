"""MetaWear (BMI160) codec: the three MbientLab SDK vectors in metawear.json, round trips, the GATT procedure."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from anymo.data.datasets import default_data_dir  # the one data-folder rule (tests/conftest.py)
from firmware_bridge.devices import DRIVERS, PERIPHERALS, get_driver
from firmware_bridge.devices import metawear as mw
from firmware_bridge.devices.base import ImuSamples, StreamSettings
from firmware_bridge.devices.common import DEG2RAD, G0_MPS2
from firmware_bridge.devices.loopback import LoopbackGattClient

ROOT = Path(__file__).resolve().parents[2]
DATA = default_data_dir()
VECTORS = DATA / "ble_vectors" / "metawear.json"


def _vectors() -> list[dict]:
    if not VECTORS.is_file():
        pytest.skip(f"MetaWear vectors not found at {VECTORS} (set ANYMO_DATA to the shared data folder)")
    return json.loads(VECTORS.read_text())


def test_all_sdk_vectors_decode_to_the_published_values():
    vectors = _vectors()
    assert len(vectors) == 3
    for v in vectors:
        packet = bytes.fromhex(v["packet_hex"])
        dec = mw.MetaWearDecoder(acc_range_g=v.get("acc_range_g", 16), gyro_range_dps=v.get("gyro_range_dps", 2000))
        out = dec.decode(mw.NOTIFY_UUID, packet)
        assert dec.stats.bad_packets == 0 and len(out) == 1, v["name"]
        want = np.array(v["expected"]["samples"])
        if v["expected"]["unit"] == "g":
            got = out[0].acc_mps2 / G0_MPS2
            assert out[0].sensor == "acc" and out[0].gyro_rads is None
        else:
            got = out[0].gyro_rads / DEG2RAD
            assert out[0].sensor == "gyro" and out[0].acc_mps2 is None
        np.testing.assert_allclose(got, want, atol=v["expected"]["tolerance"], err_msg=v["name"])
        np.testing.assert_allclose(out[0].t_device_s, np.arange(len(want)) / 100.0)  # counted at the ODR


def test_gyro_vector_extremes_are_full_scale():
    # 0x7fff and 0x8000 in the SDK's gyro vector are +-full scale of the +-500 deg/s range
    packet = bytes.fromhex("13053e43ff7f0080")
    out = mw.MetaWearDecoder(gyro_range_dps=500).decode(mw.NOTIFY_UUID, packet)[0]
    assert out.gyro_rads[0, 1] == pytest.approx(32767 / 65.6 * DEG2RAD)
    assert out.gyro_rads[0, 2] == pytest.approx(-32768 / 65.6 * DEG2RAD)


def test_registered_with_its_peripheral():
    assert isinstance(DRIVERS["metamotion"], mw.MetaWearDriver)
    assert isinstance(PERIPHERALS["metamotion"](), mw.MetaWearPeripheral)


def _start(settings: StreamSettings, **kw):
    periph = PERIPHERALS["metamotion"](**kw)
    client = LoopbackGattClient(periph)
    got: list[ImuSamples] = []
    holder = {}

    def on_notify(uuid: str, data: bytes) -> None:
        got.extend(holder["dec"].decode(uuid, data))

    holder["dec"] = asyncio.run(get_driver("metamotion").start(client, settings, on_notify))
    return periph, client, holder["dec"], got


def test_start_procedure_configures_both_sensors_then_powers_gyro_first():
    periph, client, dec, _ = _start(StreamSettings(rate_hz=90, acc_range_g=6, gyro_range_dps=1500))
    writes = [d for op, _, d in client.log if op == "write"]
    assert client.log[0][:2] == ("start_notify", mw.NOTIFY_UUID)
    assert writes[:2] == [bytes([mw.ACC_MODULE, 0x80]), bytes([mw.GYRO_MODULE, 0x80])]  # module info reads
    # nearest ODR to 90 Hz is 100 Hz (code 8 for acc, 8 for gyro); smallest covering ranges +-8 g, +-2000 dps
    assert writes[2] == bytes([mw.ACC_MODULE, mw.REG_CONFIG, 0x08 | 0x20, mw.ACC_RANGE_CODE[8]])
    assert writes[5] == bytes([mw.GYRO_MODULE, mw.REG_CONFIG, 0x08 | 0x20, mw.GYRO_RANGE_CODE[2000]])
    assert writes[-2:] == [bytes([mw.GYRO_MODULE, mw.REG_POWER, 1]), bytes([mw.ACC_MODULE, mw.REG_POWER, 1])]
    assert periph.streaming() and periph.module_rate(mw.ACC_MODULE) == periph.module_rate(mw.GYRO_MODULE) == 100.0
    asyncio.run(get_driver("metamotion").stop(client))
    assert not periph.streaming()
    assert client.log[-1][:2] == ("stop_notify", mw.NOTIFY_UUID)


def test_low_rate_request_keeps_acc_and_gyro_on_one_rate():
    periph, client, dec, got = _start(StreamSettings(rate_hz=10))
    assert dec.rate["acc"] == dec.rate["gyro"] == 25.0  # 12.5 Hz exists only for the accelerometer
    assert periph.module_rate(mw.ACC_MODULE) == periph.module_rate(mw.GYRO_MODULE) == 25.0


@pytest.mark.parametrize("revision", [0, 1])
def test_round_trip_through_peripheral(revision):
    rng = np.random.default_rng(revision)
    periph, client, dec, got = _start(StreamSettings(rate_hz=100, acc_range_g=8, gyro_range_dps=1000), revision=revision)
    n = 31  # packed registers carry 3 samples: one sample stays held back
    t = np.arange(n) / 100.0
    acc = rng.uniform(-70, 70, (n, 3))
    gyro = rng.uniform(-15, 15, (n, 3))
    client.push(t, acc, gyro)
    acc_out = [s for s in got if s.sensor == "acc"]
    gyro_out = [s for s in got if s.sensor == "gyro"]
    m = 30 if revision else 31
    a = np.concatenate([s.acc_mps2 for s in acc_out])
    g = np.concatenate([s.gyro_rads for s in gyro_out])
    assert len(a) == len(g) == m
    np.testing.assert_allclose(a, acc[:m], atol=mw.acc_scale_mps2(mw.ACC_RANGE_CODE[8]) / 2 + 1e-12)
    np.testing.assert_allclose(g, gyro[:m], atol=mw.gyro_scale_rads(mw.GYRO_RANGE_CODE[1000]) / 2 + 1e-12)
    np.testing.assert_allclose(np.concatenate([s.t_device_s for s in acc_out]), t[:m])
    assert dec.stats.bad_packets == 0


def test_bad_packets_are_counted_and_read_replies_ignored():
    dec = mw.MetaWearDecoder()
    good = bytes.fromhex("030416c494a22ad0")
    for bad in (b"", b"\x03", good[:-1], good + b"\x00", b"\x07\x04" + good[2:]):
        assert dec.decode(mw.NOTIFY_UUID, bad) == []
    assert dec.stats.bad_packets == 5
    assert dec.decode(mw.NOTIFY_UUID, bytes([mw.ACC_MODULE, 0x80, 1, 1])) == []  # module info: not data
    assert dec.stats.bad_packets == 5 and dec.stats.packets_ok == 0
