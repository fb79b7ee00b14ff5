"""Nordic Thingy:52 raw motion codec: packets built from Nordic's firmware layout, round trips, procedure.

Layout (Thingy:52 firmware ``ble_tms.h``: ``ble_tms_raw_t`` = 9 x int16, ``ble_tms_config_t`` = 4 x uint16 +
uint8, packed; ``m_motion.c``: acc Q6.10 g, gyro Q11.5 °/s, compass Q12.4 µT after clipping the integer part).
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from firmware_bridge.devices import DRIVERS, PERIPHERALS, get_driver
from firmware_bridge.devices import thingy52 as th
from firmware_bridge.devices.base import ImuSamples, StreamSettings
from firmware_bridge.devices.common import DEG2RAD, G0_MPS2
from firmware_bridge.devices.loopback import LoopbackGattClient

# acc (1024, -512, 31744) = (1, -0.5, 31) g; gyro (32, -32768, 0) = (1, -1024, 0) °/s;
# compass (16, -8, 32752) = (1, -0.5, 2047) µT
RAW = bytes.fromhex("0004" "00fe" "007c" "2000" "0080" "0000" "1000" "f8ff" "f07f")


def test_uuids_and_registration():
    assert th.SERVICE_UUID == "ef680400-9b35-4933-9b10-52ffa9740042"
    assert th.CONFIG_UUID == "ef680401-9b35-4933-9b10-52ffa9740042"
    assert th.RAW_UUID == "ef680406-9b35-4933-9b10-52ffa9740042"
    assert isinstance(DRIVERS["thingy52"], th.Thingy52Driver)
    assert isinstance(PERIPHERALS["thingy52"](), th.Thingy52Peripheral)
    periph = PERIPHERALS["thingy52"]()
    assert DRIVERS["thingy52"].matches(None, list(periph.advertised_service_uuids))
    assert DRIVERS["thingy52"].matches("Thingy", []) and not DRIVERS["thingy52"].matches("Polar H10 1234", [])


def test_hand_built_raw_packet_decodes_q_formats_to_si():
    dec = th.Thingy52Decoder(rate_hz=50)
    (s,) = dec.decode(th.RAW_UUID, RAW)
    np.testing.assert_allclose(s.acc_mps2, [[G0_MPS2, -0.5 * G0_MPS2, 31 * G0_MPS2]])
    np.testing.assert_allclose(s.gyro_rads, [[DEG2RAD, -1024 * DEG2RAD, 0]])
    np.testing.assert_allclose(s.mag_uT, [[1, -0.5, 2047]])
    (s2,) = dec.decode(th.RAW_UUID, RAW)
    assert s2.t_device_s[0] - s.t_device_s[0] == pytest.approx(0.02)


def test_config_layout_and_validation():
    cfg = th.MotionConfig(1000, 500, 500, 100, 1)
    assert cfg.pack() == bytes.fromhex("e803" "f401" "f401" "6400" "01")
    assert th.MotionConfig.unpack(cfg.pack()) == cfg and cfg.valid()
    assert not th.MotionConfig(motion_freq_hz=201).valid() and not th.MotionConfig(step_interval_ms=50).valid()
    with pytest.raises(ValueError, match="9"):
        th.MotionConfig.unpack(b"\x00" * 8)


def test_bad_lengths_are_counted():
    dec = th.Thingy52Decoder()
    for bad in (b"", RAW[:17], RAW + b"\x00", RAW + RAW):
        assert dec.decode(th.RAW_UUID, bad) == []
    assert dec.stats.bad_packets == 4 and dec.count == 0
    assert dec.decode(th.CONFIG_UUID, RAW) == []


def _start(settings: StreamSettings, periph=None):
    periph = periph or PERIPHERALS["thingy52"]()
    client = LoopbackGattClient(periph)
    got: list[ImuSamples] = []
    holder = {}

    def on_notify(uuid: str, data: bytes) -> None:
        got.extend(holder["dec"].decode(uuid, data))

    holder["dec"] = asyncio.run(get_driver("thingy52").start(client, settings, on_notify))
    return periph, client, holder["dec"], got


def test_procedure_read_write_readback_then_subscribe():
    periph, client, dec, _ = _start(StreamSettings(rate_hz=90.4))
    assert [(op, u) for op, u, _ in client.log] == [("read", th.CONFIG_UUID), ("write", th.CONFIG_UUID),
                                                    ("read", th.CONFIG_UUID), ("start_notify", th.RAW_UUID)]
    assert client.log[1][2] == th.MotionConfig(1000, 500, 500, 90, 1).pack()  # other fields kept
    assert dec.rate_hz == 90.0 and periph.streaming()
    asyncio.run(get_driver("thingy52").stop(client))
    assert client.log[-1] == ("stop_notify", th.RAW_UUID, b"") and not periph.streaming()


@pytest.mark.parametrize(("asked", "got"), [(1000.0, 200), (1.0, 5), (52.0, 52)])
def test_unsupported_rate_reports_the_nearest_supported_one(asked, got):
    periph, _, dec, _ = _start(StreamSettings(rate_hz=asked))
    assert dec.rate_hz == got == periph.rate_hz()


def test_start_fails_when_the_device_keeps_its_old_config():
    class Stubborn(th.Thingy52Peripheral):
        def on_write(self, char_uuid, data):
            return []

    with pytest.raises(RuntimeError, match="kept motion frequency 10 Hz"):
        _start(StreamSettings(rate_hz=100), periph=Stubborn())


def test_round_trip_through_peripheral_and_firmware_clipping():
    rng = np.random.default_rng(5)
    periph, client, dec, got = _start(StreamSettings(rate_hz=100))
    n = 40
    acc, gyro, mag = rng.uniform(-150, 150, (n, 3)), rng.uniform(-15, 15, (n, 3)), rng.uniform(-80, 80, (n, 3))
    assert client.push(np.arange(n) / 100.0, acc, gyro, mag) == n
    np.testing.assert_allclose(np.concatenate([s.acc_mps2 for s in got]), acc, atol=th.ACC_MPS2_PER_LSB / 2 + 1e-12)
    np.testing.assert_allclose(np.concatenate([s.gyro_rads for s in got]), gyro, atol=th.GYRO_RADS_PER_LSB / 2 + 1e-12)
    np.testing.assert_allclose(np.concatenate([s.mag_uT for s in got]), mag, atol=th.MAG_UT_PER_LSB / 2 + 1e-12)
    np.testing.assert_allclose(np.concatenate([s.t_device_s for s in got]), np.arange(n) / 100.0)
    got.clear()
    client.push(np.zeros(1), np.array([[40 * G0_MPS2, -40 * G0_MPS2, 0]]), np.array([[30.0, 0, 0]]), None)
    np.testing.assert_allclose(got[0].acc_mps2[0, :2] / G0_MPS2, [31.0, -32.0])  # limits of m_motion.c
    assert got[0].gyro_rads[0, 0] == pytest.approx(1023 * DEG2RAD)


def test_no_data_before_the_raw_characteristic_is_subscribed():
    periph = th.Thingy52Peripheral()
    client = LoopbackGattClient(periph)
    assert client.push(np.zeros(3), np.zeros((3, 3))) == 0
