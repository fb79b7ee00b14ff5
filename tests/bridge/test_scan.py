"""Scanning through real bleak against emulated wearables; a powered-off adapter is a clear error."""

from __future__ import annotations

import asyncio

import pytest

from firmware_bridge.devices import anymo_imu, polar
from firmware_bridge.emulator import FaultPlan, WearableSpec
from firmware_bridge.scan import BluetoothUnavailable, DeviceFinder, match_driver, scan

SPECS = [WearableSpec("anymo-imu", "left_wrist"), WearableSpec("polar-verity", "right_thigh"),
         WearableSpec("polar-h10", "chest", name="Polar H10 ABCDEF01")]


def test_advertisements_are_matched_to_drivers_by_uuid_or_name() -> None:
    assert match_driver(None, [anymo_imu.SERVICE_UUID.upper()]).device_type == "anymo-imu"
    assert match_driver("AnyMo IMU", []).device_type == "anymo-imu"
    # every Polar advertises the same services; the name tells the models apart
    assert match_driver("Polar Sense 1234", [polar.PMD_SERVICE_UUID]).device_type == "polar-verity"
    assert match_driver("Polar H10 1234", [polar.HEART_RATE_SERVICE_UUID]).device_type == "polar-h10"
    assert match_driver("Some Headphones", ["0000110b-0000-1000-8000-00805f9b34fb"]) is None


def test_scan_lists_each_wearable_with_its_type(emulate) -> None:
    async def body(em):
        found = await scan(1.5)
        filtered = await scan(1.0, service_filter=True)
        return em.addresses, found, filtered

    addresses, found, filtered = emulate(SPECS, body)
    by_addr = {d.address: d for d in found}
    assert set(by_addr) == set(addresses)
    assert [by_addr[a].device_type for a in addresses] == ["anymo-imu", "polar-verity", "polar-h10"]
    assert by_addr[addresses[2]].name == "Polar H10 ABCDEF01"
    assert [d.rssi_dbm for d in found] == sorted((d.rssi_dbm for d in found), reverse=True)  # strongest first
    # BlueZ-side filter on the drivers' service UUIDs: all three advertise one (Polar: PMD)
    assert {d.address for d in filtered} == set(addresses)


def test_scan_with_the_adapter_powered_off_says_how_to_fix_it(emulate) -> None:
    async def body(em):
        await em.set_powered(False)
        with pytest.raises(BluetoothUnavailable, match=r"powered off.*bluetoothctl power on"):
            await scan(1.0)
        with pytest.raises(BluetoothUnavailable, match="powered off"):
            await DeviceFinder().find(em.addresses[0], 1.0)
        await em.set_powered(True)
        return await scan(1.5)

    assert len(emulate(SPECS[:1], body)) == 1


def test_finder_shares_one_scanner_between_devices(emulate) -> None:
    async def body(em):
        finder = DeviceFinder()
        results = await asyncio.gather(*(finder.find(a, 5.0) for a in em.addresses), finder.find("AA:4D:00:00:00:99", 1.0))
        await finder.close()
        return em.addresses, results

    addresses, results = emulate(SPECS, body)
    assert [r[1].address for r in results[:3]] == addresses
    assert [r[1].device_type for r in results[:3]] == ["anymo-imu", "polar-verity", "polar-h10"]
    assert results[3] == (None, None)  # not advertising: not found, no error


def test_session_with_the_adapter_powered_off_fails_clearly_and_survives_a_power_cycle(emulate, tmp_path) -> None:
    from firmware_bridge.pairing import PairedDevice
    from firmware_bridge.session import Session, SessionConfig

    async def body(em):
        devices = [PairedDevice(em.addresses[0], "anymo-imu", "left_wrist")]
        await em.set_powered(False)
        with pytest.raises(BluetoothUnavailable, match="powered off"):
            await Session(devices, config=SessionConfig(scan_timeout_s=2.0)).run(5.0)
        await em.set_powered(True)
        # powered off while streaming: the link drops, the session keeps trying and comes back
        session = Session(devices, record=tmp_path / "p.anymorec", config=SessionConfig(backoff_initial_s=0.2))

        async def consume() -> int:  # the async-iterator consumer API sees the same samples
            return sum(len(b) for b in [b async for b in session.blocks()] if b.sensor == "imu")

        consumer = asyncio.ensure_future(consume())
        run = asyncio.ensure_future(session.run(6.0))
        await asyncio.sleep(2.0)
        await em.set_powered(False)
        await asyncio.sleep(1.0)
        await em.set_powered(True)
        stats = await run
        assert await consumer == stats[em.addresses[0]].samples_received
        return stats[em.addresses[0]], em.stats(em.addresses[0])

    st, es = emulate([WearableSpec("anymo-imu", faults=FaultPlan(seed=1))], body)
    assert st.reconnects == 1 and es["connections"] == 2
    assert st.samples_received == es["samples"]  # nothing lost on either side of the power cycle


def test_reconnect_backoff_grows_to_ten_seconds_with_jitter() -> None:
    import random

    from firmware_bridge.session import SessionConfig, backoff_s

    cfg, rng = SessionConfig(), random.Random(0)
    assert backoff_s(0, cfg, rng) == 0.0  # right after a link loss: at once
    delays = [[backoff_s(a, cfg, rng) for _ in range(200)] for a in range(1, 9)]
    means = [sum(d) / len(d) for d in delays]
    assert means[:5] == pytest.approx([0.5, 1.0, 2.0, 4.0, 8.0], rel=0.08)
    assert all(x <= 10.0 for d in delays for x in d) and max(delays[-1]) == 10.0
    assert min(delays[2]) >= 2.0 * 0.75 and max(delays[2]) <= 2.0 * 1.25 and len(set(delays[2])) > 100


def test_a_device_that_stays_away_is_warned_about_once_not_on_every_retry(emulate, caplog) -> None:
    """A session retries a missing device forever (every scan timeout + backoff); the log says so once."""
    import logging

    from firmware_bridge.pairing import PairedDevice
    from firmware_bridge.session import Session, SessionConfig

    async def body(em):
        cfg = SessionConfig(scan_timeout_s=0.2, backoff_initial_s=0.05, backoff_max_s=0.1)
        return await Session([PairedDevice("AA:4D:00:00:00:09", "anymo-imu", "left_wrist")], config=cfg).run(2.0)

    with caplog.at_level(logging.INFO, logger="firmware_bridge.session"):
        stats = emulate([WearableSpec("anymo-imu")], body)
    about = [r for r in caplog.records if "AA:4D:00:00:00:09 was not seen advertising" in r.getMessage()]
    assert len(about) >= 4  # it kept trying
    assert [r.levelno for r in about].count(logging.WARNING) == 1
    assert stats["AA:4D:00:00:00:09"].samples_received == 0 and "not seen advertising" in stats["AA:4D:00:00:00:09"].last_error
    assert "bluetoothctl disconnect AA:4D:00:00:00:09" in stats["AA:4D:00:00:00:09"].last_error  # how to release it
