"""Battery level where the device reports it (GATT Battery Service 0x180F / Battery Level 0x2A19), through real
bleak against the emulated wearables: read at connect, then followed through its notifications."""

from __future__ import annotations

import asyncio
import json

import pytest

from firmware_bridge.battery import (
    BATTERY_LEVEL_UUID,
    BatteryLevel,
    parse_level,
    watch_battery,
)
from firmware_bridge.devices import PERIPHERALS
from firmware_bridge.devices.loopback import LoopbackGattClient
from firmware_bridge.emulator import WearableSpec


def test_battery_level_values_and_the_emulated_discharge() -> None:
    assert parse_level(b"\x57") == 87 and parse_level(b"\x00") == 0
    assert parse_level(b"") is None and parse_level(b"\xff") is None  # not a percentage
    t = [100.0]
    bat = BatteryLevel(50, pct_every_s=10.0, now=lambda: t[0])
    assert bat.read() == bytes([50]) and bat.changed() is None  # nobody subscribed
    bat.notifying = True
    bat.changed()
    t[0] += 25.0
    assert bat.changed() == bytes([48]) and bat.changed() is None  # notified once per change
    t[0] += 1e4
    assert bat.level() == 0


def test_types_with_a_battery_service_are_the_ones_whose_hardware_has_it() -> None:
    have = {t for t, make in PERIPHERALS.items() if make().battery_service}
    assert have == {"anymo-imu", "polar-h10", "polar-oh1", "polar-verity", "metamotion", "thingy52"}


def test_a_device_without_a_battery_service_reports_none() -> None:
    seen: list[int] = []
    client = LoopbackGattClient(PERIPHERALS["movesense"]())
    assert asyncio.run(watch_battery(client, seen.append)) is False and seen == []


@pytest.mark.parametrize("device_type", ["polar-verity", "anymo-imu"])
def test_battery_level_is_read_and_followed_through_bleak(emulate, device_type: str) -> None:
    from firmware_bridge.pairing import PairedDevice
    from firmware_bridge.session import Session

    specs = [WearableSpec(device_type, battery_pct=64, battery_s_per_pct=1.0), WearableSpec("movesense")]

    async def body(em):
        devices = [PairedDevice(a, s.device_type, "unknown") for a, s in zip(em.addresses, specs, strict=True)]
        session = Session(devices)
        task = asyncio.ensure_future(session.run(4.0))
        t0 = asyncio.get_running_loop().time()
        first = None
        snap = {}
        while not task.done():
            await asyncio.sleep(0.1)
            first = first if first is not None else session.stats[em.addresses[0]].battery_pct
            if asyncio.get_running_loop().time() - t0 > 3.0 and not snap:
                snap = session.snapshot()  # the runtime's view while streaming
        stats = await task
        return em.addresses, first, stats, em.wearable(em.addresses[0]).battery.level(), snap

    addresses, first, stats, level_at_end, snap = emulate(specs, body)
    json.dumps(snap, allow_nan=False)  # plain JSON values
    live = snap[addresses[0]]
    assert live["connected"] and live["samples_received"] > 0 and live["rate_hz"] > 0
    assert live["battery_pct"] is not None and snap[addresses[1]]["battery_pct"] is None
    assert {"packets_lost", "reconnects", "clock_drift_ppm", "clock_drift_ci_ppm", "last_error"} <= set(live)
    with_bas, without = stats[addresses[0]], stats[addresses[1]]
    assert first is not None and 60 <= first <= 64  # read right after connecting
    # the discharge arrived as notifications (the level may have dropped once more as the session ended)
    assert level_at_end <= with_bas.battery_pct <= level_at_end + 1 and with_bas.battery_pct < first
    assert with_bas.to_json()["battery_pct"] == with_bas.battery_pct
    assert without.battery_pct is None and without.to_json()["battery_pct"] is None  # Movesense: no 0x180F
    assert without.samples_received > 0
    assert BATTERY_LEVEL_UUID.startswith("00002a19")
