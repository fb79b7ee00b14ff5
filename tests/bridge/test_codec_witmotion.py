"""WitMotion WT901BLE codec: packets built from WitMotion's BLE 5.0 protocol description, round trips, procedure.

Layout (wit-motion.gitbook.io "Bluetooth 5.0 communication protocol"; ESPHome witmotion component after the
WT901BLECL datasheet v23-0420): ``55 61`` + int16 LE acc xyz (/32768*16 g), gyro xyz (/32768*2000 °/s),
angle roll/pitch/yaw (/32768*180 °); register reply ``55 71 reg 00`` + 8 int16; commands ``FF AA reg lo hi``.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from firmware_bridge.devices import DRIVERS, PERIPHERALS, get_driver
from firmware_bridge.devices import witmotion as wm
from firmware_bridge.devices.base import ImuSamples, StreamSettings
from firmware_bridge.devices.common import DEG2RAD, G0_MPS2
from firmware_bridge.devices.loopback import LoopbackGattClient

# acc (2048, -2048, 16384) = (1, -1, 8) g; gyro (4096, 0, -32768) = (250, 0, -2000) °/s;
# angle (16384, -16384, 32767) = (90, -90, 179.9945) °
PACKET = bytes.fromhex("5561" "0008" "00f8" "0040" "0010" "0000" "0080" "0040" "00c0" "ff7f")


def test_uuids_use_the_vendor_base_not_the_bluetooth_base():
    for uuid in (wm.SERVICE_UUID, wm.NOTIFY_UUID, wm.WRITE_UUID):
        assert uuid.endswith("-0000-1000-8000-00805f9a34fb") and not uuid.endswith("00805f9b34fb")
    assert (wm.SERVICE_UUID, wm.NOTIFY_UUID, wm.WRITE_UUID) == (
        "0000ffe5-0000-1000-8000-00805f9a34fb", "0000ffe4-0000-1000-8000-00805f9a34fb", "0000ffe9-0000-1000-8000-00805f9a34fb")
    assert isinstance(DRIVERS["witmotion-wt901ble"], wm.WitMotionDriver)
    assert isinstance(PERIPHERALS["witmotion-wt901ble"](), wm.WitMotionPeripheral)
    periph = PERIPHERALS["witmotion-wt901ble"]()
    assert DRIVERS["witmotion-wt901ble"].matches(periph.local_name, [])
    # a 0xffe5 service in the Bluetooth base is some other device, not a WitMotion
    assert not DRIVERS["witmotion-wt901ble"].matches(None, ["0000ffe5-0000-1000-8000-00805f9b34fb"])


def test_hand_built_packet_decodes_to_si_units():
    dec = wm.WitMotionDecoder(rate_hz=50)
    (s,) = dec.decode(wm.NOTIFY_UUID, PACKET)
    np.testing.assert_allclose(s.acc_mps2, [[G0_MPS2, -G0_MPS2, 8 * G0_MPS2]])
    np.testing.assert_allclose(s.gyro_rads, [[250 * DEG2RAD, 0, -2000 * DEG2RAD]])
    np.testing.assert_allclose(dec.angle_deg, [[90, -90, 32767 * 180 / 32768]])
    (s2,) = dec.decode(wm.NOTIFY_UUID, PACKET)
    np.testing.assert_allclose([s.t_device_s[0], s2.t_device_s[0]], [0.0, 0.02])  # counted at 50 Hz


def test_batched_packets_and_register_replies():
    dec = wm.WitMotionDecoder(rate_hz=10)
    reply = wm.pack_registers(wm.REG_RATE, [0x09])
    assert reply == bytes.fromhex("55710300") + bytes([0x09, 0]) + bytes(14)
    (s,) = dec.decode(wm.NOTIFY_UUID, PACKET + reply + PACKET)
    assert len(s) == 2 and dec.registers[wm.REG_RATE][0] == 9
    assert dec.decode(wm.NOTIFY_UUID, reply) == [] and dec.stats.ignored == 1


def _packets(n: int, seed: int = 0) -> tuple[list[bytes], np.ndarray]:
    """n distinct data packets and their raw int16 values [n, 9]."""
    raw = np.random.default_rng(seed).integers(-32768, 32767, (n, 9)).astype(np.int16)
    return [wm.pack_data(r[0:3], r[3:6], r[6:9]) for r in raw], raw


def _decode_all(dec: wm.WitMotionDecoder, notes: list[bytes]) -> np.ndarray:
    out = [s for d in notes for s in dec.decode(wm.NOTIFY_UUID, d)]
    if not out:
        return np.zeros((0, 3))
    return np.rint(np.concatenate([s.acc_mps2 for s in out]) / wm.ACC_MPS2_PER_LSB)


def _chunks(stream: bytes, sizes) -> list[bytes]:
    out, i = [], 0
    for k in sizes:
        if i >= len(stream):
            break
        out.append(stream[i:i + k])
        i += k
    return out + ([stream[i:]] if i < len(stream) else [])


@pytest.mark.parametrize("split", ["11+9", "28-byte", "stray-leading-byte", "random 1..60", "one byte each"])
def test_notifications_are_one_byte_stream_like_the_vendor_decoders(split: str):
    """WitMotion's decoders concatenate notifications and resync on 55 61; so does the bridge: no sample is lost
    however the 20-byte packets are cut into notifications (before: any notification not a multiple of 20 bytes
    was dropped whole)."""
    packets, raw = _packets(60)
    stream = b"".join(packets)
    rng = np.random.default_rng(1)
    if split == "11+9":
        notes = _chunks(stream, [11, 9] * 60)
    elif split == "28-byte":
        notes = _chunks(stream, [28] * 60)
    elif split == "stray-leading-byte":
        notes = [b"\x00" + p for p in packets]  # a junk byte before every packet
    elif split == "random 1..60":
        notes = _chunks(stream, rng.integers(1, 61, 400))
    else:
        notes = _chunks(stream, [1] * len(stream))
    dec = wm.WitMotionDecoder(rate_hz=100)
    acc_raw = _decode_all(dec, notes)
    np.testing.assert_array_equal(acc_raw, raw[:, 0:3])  # every sample, in order, exact
    assert dec.count == 60
    assert dec.stats.bad_packets == 0 and dec.held_parts == 0
    assert dec.skipped_bytes == (60 if split == "stray-leading-byte" else 0)
    assert dec.stats.packets_ok + dec.stats.ignored == len(notes)  # every notification accounted once


def test_junk_is_skipped_and_a_lost_continuation_costs_only_its_own_packet():
    packets, raw = _packets(10, seed=2)
    dec = wm.WitMotionDecoder()
    junk = [b"\x54" + packets[0][1:], b"\x55\x51" + packets[0][2:]]  # no 55 61 / 55 71 header in either
    assert _decode_all(dec, junk).shape == (0, 3) and dec.stats.bad_packets == 2
    notes = _chunks(b"".join(packets), [11, 9] * 10)
    del notes[7]  # the 9-byte second half of packet 3 never arrived
    dec = wm.WitMotionDecoder()
    acc_raw = _decode_all(dec, notes)
    np.testing.assert_array_equal(acc_raw, raw[[0, 1, 2, 4, 5, 6, 7, 8, 9], 0:3])
    assert dec.stats.reasons == {"continuation missing": 1}
    assert dec.decode(wm.WRITE_UUID, PACKET) == []  # not the data characteristic


def test_split_stream_through_the_device_pipeline_loses_nothing():
    from firmware_bridge.stream import DeviceStream

    packets, raw = _packets(400, seed=3)
    dec = wm.WitMotionDecoder(rate_hz=100)
    got = []
    stream = DeviceStream("AA:4D:00:00:00:05", "witmotion-wt901ble", consumers=[lambda a, b: got.append(b)])
    stream.new_connection(dec)
    notes = _chunks(b"".join(packets), [11, 9, 28, 12, 20, 1, 19] * 100)
    t0 = 1.7e9
    sent = 0
    for d in notes:
        sent += len(d)
        stream.on_notify(wm.NOTIFY_UUID, d, t0 + (sent // 20) / 100 + 0.004)
    st = stream.stats
    assert st.samples_received == 400 and st.packets_lost == 0 and st.bad_packets == 0
    np.testing.assert_array_equal(np.rint(np.concatenate([b.acc_mps2 for b in got]) / wm.ACC_MPS2_PER_LSB), raw[:, 0:3])


def test_commands_are_five_bytes():
    assert wm.UNLOCK == bytes.fromhex("ffaa6988b5")
    assert wm.SAVE == bytes.fromhex("ffaa000000")
    assert wm.command(wm.REG_RATE, wm.RATE_CODES[200.0]) == bytes.fromhex("ffaa030a00")
    assert wm.read_register_command(wm.REG_RATE) == bytes.fromhex("ffaa270300")


def _start(settings: StreamSettings, periph=None, driver=None):
    periph = periph or PERIPHERALS["witmotion-wt901ble"]()
    client = LoopbackGattClient(periph)
    got: list[ImuSamples] = []
    holder = {}

    def on_notify(uuid: str, data: bytes) -> None:
        got.extend(holder["dec"].decode(uuid, data))

    holder["dec"] = asyncio.run((driver or get_driver("witmotion-wt901ble")).start(client, settings, on_notify))
    return periph, client, holder["dec"], got


def test_procedure_unlock_rate_save_readback_and_nearest_rate():
    periph, client, dec, _ = _start(StreamSettings(rate_hz=90))
    assert client.log == [("start_notify", wm.NOTIFY_UUID, b""), ("write", wm.WRITE_UUID, wm.UNLOCK),
                          ("write", wm.WRITE_UUID, bytes.fromhex("ffaa030900")), ("write", wm.WRITE_UUID, wm.SAVE),
                          ("write", wm.WRITE_UUID, bytes.fromhex("ffaa270300"))]
    assert dec.rate_hz == 100.0 and periph.rate_hz() == 100.0 and periph.saved[wm.REG_RATE] == 0x09
    assert periph.streaming()
    asyncio.run(get_driver("witmotion-wt901ble").stop(client))
    assert client.log[-1] == ("stop_notify", wm.NOTIFY_UUID, b"") and not periph.streaming()
    _, _, dec, _ = _start(StreamSettings(rate_hz=1000))
    assert dec.rate_hz == 200.0  # above the fastest supported rate: the fastest


def test_locked_device_keeps_its_rate_and_the_decoder_uses_the_real_one():
    class NoUnlock(wm.WitMotionPeripheral):
        def on_write(self, char_uuid, data):
            return [] if bytes(data) == wm.UNLOCK else super().on_write(char_uuid, data)

    periph, _, dec, _ = _start(StreamSettings(rate_hz=50), periph=NoUnlock())
    assert periph.rate_hz() == 10.0 and dec.rate_hz == 10.0  # write ignored without unlock; read back tells


def test_round_trip_through_peripheral():
    rng = np.random.default_rng(3)
    periph, client, dec, got = _start(StreamSettings(rate_hz=100))
    n = 64
    acc = rng.uniform(-150, 150, (n, 3))
    gyro = rng.uniform(-30, 30, (n, 3))
    assert client.push(np.arange(n) / 100.0, acc, gyro) == n  # one notification per sample
    np.testing.assert_allclose(np.concatenate([s.acc_mps2 for s in got]), acc, atol=wm.ACC_MPS2_PER_LSB / 2 + 1e-12)
    np.testing.assert_allclose(np.concatenate([s.gyro_rads for s in got]), gyro, atol=wm.GYRO_RADS_PER_LSB / 2 + 1e-12)
    np.testing.assert_allclose(np.concatenate([s.t_device_s for s in got]), np.arange(n) / 100.0)


def test_emulated_angles_follow_gravity_and_values_saturate():
    periph = wm.WitMotionPeripheral()
    periph.on_subscribe(wm.NOTIFY_UUID, True)
    tilted = np.array([[0.0, G0_MPS2 * np.sin(0.5), G0_MPS2 * np.cos(0.5)], [400.0, 0, 0]])
    notes = periph.encode(np.zeros(2), tilted, np.array([[0, 0, 0], [100.0, 0, 0]]), None)
    dec = wm.WitMotionDecoder()
    out = [dec.decode(u, d)[0] for u, d in notes]
    assert dec.angle_deg[0, 1] == pytest.approx(-90.0, abs=0.01)  # pitch of the saturated second sample
    assert out[1].acc_mps2[0, 0] == pytest.approx(32767 * wm.ACC_MPS2_PER_LSB)
    assert out[1].gyro_rads[0, 0] == pytest.approx(32767 * wm.GYRO_RADS_PER_LSB)
    dec0 = wm.WitMotionDecoder()
    dec0.decode(*notes[0])
    assert dec0.angle_deg[0, 0] == pytest.approx(np.degrees(0.5), abs=0.01)  # roll from gravity


@pytest.mark.parametrize("mtu", [31, 64])
def test_witmotion_cut_into_arbitrary_notifications_through_bleak(emulate, mtu: int):
    """The emulated WT901BLE forwards its packets as a byte stream in notifications of up to MTU - 3 bytes (28 at
    MTU 31: 20 + 8, then 12 + 16, ...); through bleak every sample sent arrives, in order, none lost or bad."""
    from firmware_bridge.emulator import WearableSpec
    from firmware_bridge.pairing import PairedDevice
    from firmware_bridge.session import Session

    async def body(em):
        addr = em.addresses[0]
        got = []
        dev = PairedDevice(addr, "witmotion-wt901ble", "left_wrist", settings={"rate_hz": 100})
        stats = await Session([dev], on_samples=lambda a, b: got.append(b)).run(3.0)
        return stats[addr], got, em.truth(addr)

    st, got, truth = emulate([WearableSpec("witmotion-wt901ble", mtu=mtu)], body)
    acc = np.rint(np.concatenate([b.acc_mps2 for b in got]) / wm.ACC_MPS2_PER_LSB)
    sent = np.clip(np.rint(truth["acc_mps2"] / wm.ACC_MPS2_PER_LSB), -32768, 32767)
    assert len(acc) > 200 and (st.bad_packets, st.packets_lost) == (0, 0)
    np.testing.assert_array_equal(acc, sent[:len(acc)])  # every sample, in order, from the first one on
    assert len(sent) - len(acc) <= 8  # at most the samples in flight when the session stopped
