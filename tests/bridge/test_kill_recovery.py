"""After `kill -9` of `anymo stream`, BlueZ keeps the links up and the wearables stop advertising (as real BlueZ
does); the next stream must pick every one of them up from BlueZ's device objects, and a link another live
program streams from must be reported with how to release it, not taken over."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from firmware_bridge.bluez_devices import bluez_devices
from firmware_bridge.devices import DRIVERS
from firmware_bridge.emulator import WearableSpec
from firmware_bridge.pairing import PairedDevice, PairingStore
from firmware_bridge.scan import DeviceFinder, scan

ROOT = Path(__file__).resolve().parents[2]
TYPES = [t for t in DRIVERS if t not in ("polar-oh1", "polar-h10")] + ["polar-h10"]  # one of each protocol


async def _stream_process(env: dict, seconds: float | None = None) -> asyncio.subprocess.Process:
    args = ["stream", "--status-every", "0"] + (["--seconds", str(seconds)] if seconds else [])
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "edge.cli", *args, cwd=ROOT, env=env,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)


async def _wait_in_use(addresses: list[str], timeout_s: float = 40.0) -> dict:
    """Wait until BlueZ shows every address connected with notifications on (the stream process is streaming)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        state = {d.address: d for d in await bluez_devices()}
        if all(a in state and state[a].held_by_another_program for a in addresses):
            return state
        assert loop.time() < deadline, f"the stream process did not start streaming: {state}"
        await asyncio.sleep(0.2)


def test_a_new_stream_picks_up_devices_left_connected_by_a_killed_one(emulate, tmp_path: Path) -> None:
    from firmware_bridge.session import Session, SessionConfig

    specs = [WearableSpec(t) for t in TYPES]

    async def body(em):
        store = PairingStore(tmp_path / "devices.json")
        devices = [PairedDevice(a, s.device_type, "unknown") for a, s in zip(em.addresses, specs, strict=True)]
        for d in devices:
            store.add(d)
        env = {**os.environ, "ANYMO_CONFIG_DIR": str(tmp_path), "DBUS_SYSTEM_BUS_ADDRESS": em.bus_address}
        proc = await _stream_process(env)
        await _wait_in_use(em.addresses)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        await asyncio.sleep(0.3)  # the bus tells BlueZ the client left: its notify sessions end
        left = {d.address: d for d in await bluez_devices()}
        # as real BlueZ: the links stay up, nobody is subscribed, and a connected device does not advertise
        assert all(left[a].connected and not left[a].notifying for a in em.addresses)
        listed = {d.address: d.state for d in await scan(1.0)}
        assert listed == {a: "connected" for a in em.addresses}
        connections = {a: em.stats(a)["connections"] for a in em.addresses}
        got: dict[str, int] = {a: 0 for a in em.addresses}

        def count(address, block):
            got[address] += len(block)

        session = Session(devices, on_samples=count, config=SessionConfig(scan_timeout_s=3.0))
        stats = await session.run(4.0)
        after = {a: em.stats(a)["connections"] for a in em.addresses}
        return stats, got, connections, after

    stats, got, before, after = emulate(specs, body, timeout_s=90.0)
    for addr, st in stats.items():
        assert st.samples_received > 0 and got[addr] > 0, f"{st.device_type}: {st.last_error}"
        assert st.reconnects == 0 and st.connected_at_end
    assert after == before  # the existing links were used: no new connection was made


def test_a_device_another_live_stream_uses_is_reported_with_how_to_release_it(emulate, tmp_path: Path) -> None:
    specs = [WearableSpec("anymo-imu")]

    async def body(em):
        addr = em.addresses[0]
        PairingStore(tmp_path / "devices.json").add(PairedDevice(addr, "anymo-imu", "left_wrist"))
        env = {**os.environ, "ANYMO_CONFIG_DIR": str(tmp_path), "DBUS_SYSTEM_BUS_ADDRESS": em.bus_address}
        proc = await _stream_process(env, seconds=30)
        try:
            await _wait_in_use([addr])
            ble, found = await DeviceFinder().find(addr, 1.0)
            listed = await scan(1.0)
            second = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "edge.cli", "stream", "--seconds", "2", "--status-every", "0", cwd=ROOT,
                env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
            _, err = await second.communicate()
        finally:
            proc.send_signal(signal.SIGINT)
            await proc.communicate()
        return addr, ble, found, listed, second.returncode, err.decode()

    addr, ble, found, listed, code, err = emulate(specs, body, timeout_s=90.0)
    assert ble is None and found.held and found.device_type == "anymo-imu"
    assert [(d.address, d.state) for d in listed] == [(addr, "in use")]
    assert code == 1
    assert "connected to another program" in err and f"bluetoothctl disconnect {addr}" in err


def test_a_paired_device_that_scans_do_not_report_is_connected_through_bluez(emulate) -> None:
    """A device bonded in BlueZ that only sends directed advertisements (no scan reports it) is still streamed:
    the session connects through its paired Device1 object instead of waiting for an advertisement."""
    from bleak import BleakClient

    from firmware_bridge.session import Session, SessionConfig

    async def body(em):
        addr = em.addresses[0]
        async with BleakClient(addr, pair=True, timeout=10):  # bond, as `bluetoothctl pair` would
            pass
        em.wearable(addr).discoverable = False
        listed = await scan(1.0)
        session = Session([PairedDevice(addr, "anymo-imu", "left_wrist")], config=SessionConfig(scan_timeout_s=2.0))
        stats = await session.run(3.0)
        return listed, stats[addr], em.fake.device_of(addr).paired

    listed, st, paired = emulate([WearableSpec("anymo-imu")], body)
    assert paired and listed == []  # bonded, and invisible to scans
    assert st.samples_received > 0 and st.reconnects == 0, st.last_error
