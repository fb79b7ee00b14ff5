"""Unmodified bleak (BlueZ backend) against the fake BlueZ on a private dbus-daemon, with emulated wearables."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakBluetoothNotAvailableError, BleakError, BleakGATTProtocolError

from firmware_bridge.battery import BATTERY_LEVEL_UUID, BATTERY_SERVICE_UUID
from firmware_bridge.bleak_gatt import BleakGattClient
from firmware_bridge.devices import anymo_imu, get_driver, polar
from firmware_bridge.devices.base import StreamSettings
from firmware_bridge.emulator import FaultPlan, WearableSpec

ANYMO, POLAR = "AA:4D:00:00:00:01", "AA:4D:00:00:00:02"
TWO = [WearableSpec("anymo-imu", placement="left_wrist"), WearableSpec("polar-verity", placement="right_wrist")]


class Capture:
    """Raw notifications with their arrival time; decoded after the start procedure returns the decoder."""

    def __init__(self) -> None:
        self.raw: list[tuple[str, bytes, float]] = []

    def __call__(self, uuid: str, data: bytes) -> None:
        self.raw.append((uuid, data, time.time()))

    def decode(self, decoder):
        out = []
        for uuid, data, t in self.raw:
            for s in decoder.decode(uuid, data):
                out.append((s, t))
        return out


async def stream_for(address, device_type: str, seconds: float, settings=StreamSettings(rate_hz=100)):
    """Connect, run the driver's start procedure over bleak, collect for ``seconds``, stop, disconnect."""
    cap = Capture()
    async with BleakClient(address, timeout=10) as client:
        gatt = BleakGattClient(client)
        driver = get_driver(device_type)
        decoder = await driver.start(gatt, settings, cap)
        await asyncio.sleep(seconds)
        await driver.stop(gatt)
    return cap.decode(decoder), decoder


def match_truth(samples, truth, sensor_field: str, tol_t_s: float = 1e-3):
    """Indices into ``truth`` of each decoded sample (by device time) and the decoded values."""
    ts = np.concatenate([s.t_device_s for s, _ in samples if getattr(s, sensor_field) is not None])
    vals = np.concatenate([getattr(s, sensor_field) for s, _ in samples if getattr(s, sensor_field) is not None])
    idx = np.searchsorted(truth["t_device_s"], ts)
    idx = np.clip(idx, 1, len(truth["t_device_s"]) - 1)
    left = truth["t_device_s"][idx - 1]
    right = truth["t_device_s"][idx]
    idx = np.where(np.abs(ts - left) < np.abs(ts - right), idx - 1, idx)
    dt = np.abs(truth["t_device_s"][idx] - ts)
    assert dt.max() < tol_t_s, f"decoded sample times do not match the device's (max off by {dt.max():.2e} s)"
    return idx, vals


def test_discover_reports_both_wearables_with_advertisement_data(emulate):
    async def body(em):
        return await BleakScanner.discover(timeout=0.6, return_adv=True)

    found = emulate(TWO, body)
    assert set(found) == {ANYMO, POLAR}
    dev, adv = found[ANYMO]
    assert dev.name == "AnyMo IMU" and adv.local_name == "AnyMo IMU"
    assert anymo_imu.SERVICE_UUID in adv.service_uuids
    assert -57 <= adv.rssi <= -53  # -55 dBm +-2 dB jitter
    dev, adv = found[POLAR]
    assert dev.name.startswith("Polar Sense")
    assert polar.PMD_SERVICE_UUID in adv.service_uuids
    assert adv.manufacturer_data == {0x006B: b"\x33\x1e\x33\x33"}
    assert -60 <= adv.rssi <= -56  # second wearable: 3 dB further away
    assert get_driver("polar-verity").matches(dev.name, adv.service_uuids)


def test_scan_filters_by_service_uuid_and_rssi_like_bluez(emulate):
    specs = [WearableSpec("anymo-imu", rssi_dbm=-45), WearableSpec("polar-verity", rssi_dbm=-80)]

    async def body(em):
        by_bleak = await BleakScanner.discover(timeout=0.5, service_uuids=[anymo_imu.SERVICE_UUID])
        # bluez-level filters only: bleak does not filter these itself, so this checks the fake's SetDiscoveryFilter
        by_uuid = await BleakScanner.discover(timeout=0.5, bluez={"filters": {"UUIDs": [polar.PMD_SERVICE_UUID]}})
        return by_bleak, by_uuid

    by_bleak, by_uuid = emulate(specs, body)
    assert [d.address for d in by_bleak] == [ANYMO]
    assert [d.address for d in by_uuid] == [POLAR]

    async def rssi_body(em):
        return await BleakScanner.discover(timeout=0.5, bluez={"filters": {"RSSI": -60}})

    assert [d.address for d in emulate(specs, rssi_body)] == [ANYMO]


def test_connect_lists_gatt_reads_writes_and_notifies(emulate):
    async def body(em):
        async with BleakClient(ANYMO, timeout=10) as client:
            table = {ch.uuid: sorted(ch.properties) for s in client.services for ch in s.characteristics}
            services = [s.uuid for s in client.services]
            info = await client.read_gatt_char(anymo_imu.INFO_UUID)
            replies = asyncio.Queue()
            await client.start_notify(anymo_imu.CONFIG_UUID, lambda _c, d: replies.put_nowait(bytes(d)))
            await client.write_gatt_char(anymo_imu.CONFIG_UUID, anymo_imu.stop_command(), response=True)
            reply = await asyncio.wait_for(replies.get(), 2)
            errors = {}
            try:
                await client.read_gatt_char(anymo_imu.DATA_UUID)  # notify-only
            except BleakGATTProtocolError as exc:
                errors["read"] = exc
            try:
                await client.write_gatt_char(anymo_imu.INFO_UUID, b"\x00", response=True)  # read-only
            except BleakGATTProtocolError as exc:
                errors["write"] = exc
            await client.stop_notify(anymo_imu.CONFIG_UUID)
            return table, services, bytes(info), reply, errors

    table, services, info, reply, errors = emulate([WearableSpec("anymo-imu")], body)
    assert sorted(services) == sorted([anymo_imu.SERVICE_UUID, BATTERY_SERVICE_UUID])  # + Battery Service
    assert table == {anymo_imu.INFO_UUID: ["read"], anymo_imu.CONFIG_UUID: ["notify", "read", "write"],
                     anymo_imu.DATA_UUID: ["notify"], BATTERY_LEVEL_UUID: ["notify", "read"]}
    parsed = anymo_imu.DeviceInfo.unpack(info)
    assert parsed.sensor_name == "emulator" and parsed.protocol_version == anymo_imu.PROTOCOL_VERSION
    assert reply == anymo_imu.reply(anymo_imu.OP_STOP, anymo_imu.STATUS_OK)
    assert set(errors) == {"read", "write"}


def test_two_wearables_stream_at_once_and_match_the_truth(emulate):
    async def body(em):
        # one scan, then connect both by BLEDevice: like real BlueZ, the fake refuses a second concurrent
        # discovery from the same client (org.bluez.Error.InProgress), which connecting by address would start
        found = {d.address: d for d in await BleakScanner.discover(timeout=0.4)}
        (a, dec_a), (p, dec_p) = await asyncio.gather(stream_for(found[ANYMO], "anymo-imu", 2.0),
                                                     stream_for(found[POLAR], "polar-verity", 2.0))
        return a, dec_a, p, dec_p, em.truth(ANYMO), em.truth(POLAR), em.stats(ANYMO), em.stats(POLAR)

    a, dec_a, p, dec_p, truth_a, truth_p, stats_a, stats_p = emulate(TWO, body)
    # AnyMo IMU: every packet decoded, every sample equal to what the device sent (within half an LSB)
    assert dec_a.stats.packets_ok == stats_a["packets_sent"] > 0 and dec_a.stats.packets_lost == 0
    idx, acc = match_truth(a, truth_a, "acc_mps2", tol_t_s=5e-6)
    assert len(idx) == truth_a["sent"].sum() and len(np.unique(idx)) == len(idx)
    np.testing.assert_allclose(acc, truth_a["acc_mps2"][idx], atol=0.5 * anymo_imu.acc_lsb_mps2(8) + 1e-9)
    idx, gyro = match_truth(a, truth_a, "gyro_rads", tol_t_s=5e-6)
    np.testing.assert_allclose(gyro, truth_a["gyro_rads"][idx], atol=0.5 * anymo_imu.gyro_lsb_rads(2000) + 1e-9)
    # 100 Hz on the device's own clock
    assert np.allclose(np.diff(truth_a["t_device_s"][truth_a["packet_index"] == 1]), 0.01)
    # real time: a packet arrives after its last sample was taken, and promptly
    for s, t_arrival in a:
        t_last = truth_a["t_host_s"][np.argmin(np.abs(truth_a["t_device_s"] - s.t_device_s[-1]))]
        assert 0.0 <= t_arrival - t_last < 0.25
    # Polar Verity Sense at 52 Hz: ACC (mG) and GYRO frames
    acc_frames = [s for s, _ in p if s.sensor == "acc"]
    assert acc_frames and [s for s, _ in p if s.sensor == "gyro"]
    idx, acc = match_truth(p, truth_p, "acc_mps2")
    np.testing.assert_allclose(acc, truth_p["acc_mps2"][idx], atol=0.5e-3 * 9.80665 + 1e-9)
    idx, gyro = match_truth(p, truth_p, "gyro_rads")
    np.testing.assert_allclose(gyro, truth_p["gyro_rads"][idx], atol=0.5 * 2000 / 32768 * np.pi / 180 + 1e-9)
    assert dec_p.stats.bad_packets == 0 and stats_p["connections"] == 1


def test_drops_and_duplicates_are_what_the_decoder_counts(emulate):
    plan = FaultPlan(drop_prob=0.25, duplicate_prob=0.25, seed=7)

    async def body(em):
        samples, dec = await stream_for(ANYMO, "anymo-imu", 3.0, StreamSettings(rate_hz=200))
        return samples, dec, em.truth(ANYMO), em.stats(ANYMO)

    samples, dec, truth, stats = emulate([WearableSpec("anymo-imu", faults=plan)], body)
    assert stats["packets_dropped"] > 0 and stats["packets_duplicated"] > 0
    sent_packets = np.unique(truth["packet_index"][truth["sent"]])
    dropped_packets = np.unique(truth["packet_index"][~truth["sent"]])
    assert len(dropped_packets) == stats["packets_dropped"]
    assert dec.stats.packets_ok == stats["packets_sent"] == len(sent_packets)
    assert dec.stats.duplicates == stats["packets_duplicated"]
    lost_inside = np.sum((dropped_packets > sent_packets.min()) & (dropped_packets < sent_packets.max()))
    assert dec.stats.packets_lost == lost_inside
    # only the samples of sent packets arrive
    idx, _ = match_truth(samples, truth, "acc_mps2", tol_t_s=5e-6)
    assert truth["sent"][idx].all() and len(idx) == truth["sent"].sum()


def test_device_clock_drifts_by_the_planned_ppm(emulate):
    plan = FaultPlan(clock_drift_ppm=800.0, clock_offset_s=1000.0)

    async def body(em):
        samples, _ = await stream_for(ANYMO, "anymo-imu", 2.0)
        return samples, em.truth(ANYMO)

    samples, truth = emulate([WearableSpec("anymo-imu", faults=plan)], body)
    idx, _ = match_truth(samples, truth, "acc_mps2", tol_t_s=5e-6)
    t_dev = np.concatenate([s.t_device_s for s, _ in samples])
    slope = np.polyfit(truth["t_host_s"][idx] - truth["t_host_s"][0], t_dev, 1)[0]
    assert abs(slope - (1 + 800e-6)) < 2e-5, slope
    assert 1000.0 < t_dev[0] < 1010.0
    # the device samples on its own clock: exactly 100 Hz in device time, 100.08 Hz in host time
    one_packet = truth["packet_index"] == 1
    np.testing.assert_allclose(np.diff(truth["t_device_s"][one_packet]), 0.01, rtol=1e-9)
    np.testing.assert_allclose(np.diff(truth["t_host_s"][one_packet]), 0.01 / (1 + 800e-6), atol=1e-6)  # float64 at 1.8e9 s


def test_device_disconnect_is_seen_and_reconnect_resumes_streaming(emulate):
    from bleak_retry_connector import establish_connection

    plan = FaultPlan(disconnect_after_s=(0.6,))

    async def body(em):
        lost = asyncio.Event()
        client = BleakClient(ANYMO, disconnected_callback=lambda _c: lost.set(), timeout=10)
        await client.connect()
        await get_driver("anymo-imu").start(BleakGattClient(client), StreamSettings(), Capture())
        await asyncio.wait_for(lost.wait(), 5)
        was_connected = client.is_connected
        device = await BleakScanner.find_device_by_address(ANYMO, timeout=5)
        client2 = await establish_connection(BleakClient, device, "anymo-imu", max_attempts=2)
        cap = Capture()
        decoder = await get_driver("anymo-imu").start(BleakGattClient(client2), StreamSettings(), cap)
        await asyncio.sleep(0.8)
        await client2.disconnect()
        return was_connected, cap.decode(decoder), em.stats(ANYMO)

    was_connected, samples, stats = emulate([WearableSpec("anymo-imu", faults=plan)], body)
    assert not was_connected
    assert samples, "no samples after reconnecting"
    assert stats["disconnects"] == 1 and stats["connections"] == 2 and stats["link_losses"] == 2


def test_pairing_and_unpairing(emulate):
    async def body(em):
        async with BleakClient(POLAR, pair=True, timeout=10) as client:
            paired = em.fake.device_of(POLAR).paired
            await client.pair()  # already paired: a no-op, no error
            services = [s.uuid for s in client.services]
        still_paired = em.fake.device_of(POLAR).paired
        client = BleakClient(POLAR, timeout=10)
        await client.connect()
        await client.unpair()
        return paired, still_paired, services, em.fake.device_of(POLAR)

    paired, still_paired, services, after = emulate(TWO, body)
    assert paired and still_paired and sorted(services) == sorted([polar.PMD_SERVICE_UUID, BATTERY_SERVICE_UUID])
    assert after is None  # RemoveDevice forgot it


def test_adapter_power_off_is_an_error_for_clients_and_scanners(emulate):
    async def body(em):
        lost = asyncio.Event()
        client = BleakClient(ANYMO, disconnected_callback=lambda _c: lost.set(), timeout=10)
        await client.connect()
        await em.set_powered(False)
        await asyncio.wait_for(lost.wait(), 5)
        errors = []
        try:
            await BleakScanner.discover(timeout=0.3)
        except BleakBluetoothNotAvailableError as exc:
            errors.append(exc)
        try:
            await client.connect()
        except (BleakError, BleakBluetoothNotAvailableError) as exc:
            errors.append(exc)
        await em.set_powered(True)
        found = await BleakScanner.discover(timeout=0.4)
        return errors, [d.address for d in found]

    errors, found = emulate([WearableSpec("anymo-imu")], body)
    assert len(errors) == 2
    assert found == [ANYMO]


def test_not_advertising_device_is_not_found_and_cannot_connect(emulate):
    async def body(em):
        em.set_advertising(POLAR, False)
        found = await BleakScanner.discover(timeout=0.4)
        em.set_advertising(POLAR, True)
        found_again = await BleakScanner.discover(timeout=0.4)
        return [d.address for d in found], sorted(d.address for d in found_again)

    found, again = emulate(TWO, body)
    assert found == [ANYMO] and again == [ANYMO, POLAR]


def test_emulator_rejects_bad_specs():
    with pytest.raises(ValueError, match="valid types"):
        WearableSpec("no-such-device")
    with pytest.raises(ValueError, match="six hex pairs"):
        WearableSpec("anymo-imu", address="AA:4D")
    with pytest.raises(ValueError, match="drop_prob"):
        FaultPlan(drop_prob=1.5)


def test_every_registered_device_type_streams_through_bleak(emulate):
    from firmware_bridge.devices import PERIPHERALS

    types = sorted(PERIPHERALS)

    async def body(em):
        found = {d.address: d for d in await BleakScanner.discover(timeout=0.5)}
        runs = [stream_for(found[a], em.wearable(a).spec.device_type, 1.5, StreamSettings(rate_hz=50))
                for a in em.addresses]
        results = await asyncio.gather(*runs)
        return {em.wearable(a).spec.device_type: (r, em.stats(a)) for a, r in zip(em.addresses, results)}

    results = emulate([WearableSpec(t) for t in types], body, timeout_s=40)
    assert sorted(results) == types
    for device_type, ((samples, decoder), stats) in results.items():
        acc = [s.acc_mps2 for s, _ in samples if s.acc_mps2 is not None]
        assert acc, f"{device_type}: no accelerometer samples decoded"
        assert decoder.stats.bad_packets == 0 and decoder.stats.packets_ok == stats["packets_sent"], device_type
        # the synthetic wearer sways gently: |acc| = 1 g, in SI units whatever the device's wire format
        assert abs(np.median(np.linalg.norm(np.concatenate(acc), axis=1)) - 9.80665) < 0.1, device_type
