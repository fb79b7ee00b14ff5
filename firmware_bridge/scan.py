"""Find nearby wearables the bridge can stream from (BleakScanner + each driver's ``matches``).

A device BlueZ already holds a link to (left connected by a program that was killed, or in use by another
one) does not advertise; scans list it from BlueZ's device objects (``bluez_devices``) with its state, and
``DeviceFinder`` hands it to the session directly when no live program uses it.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass

from bleak import BleakScanner
from bleak.exc import BleakBluetoothNotAvailableError, BleakError

from .bluez_devices import BluezDevice, bluez_device, bluez_devices, release_hint
from .devices import DRIVERS
from .devices.base import DeviceDriver

log = logging.getLogger(__name__)


class BluetoothUnavailable(RuntimeError):
    """Bluetooth cannot be used (adapter off or missing, BlueZ not reachable); the message says how to fix it."""


def explain_bluetooth_error(exc: BaseException) -> BluetoothUnavailable | None:
    """A clear, actionable error for 'Bluetooth is not usable' failures; None for other errors."""
    if isinstance(exc, BluetoothUnavailable):
        return exc
    if isinstance(exc, BleakBluetoothNotAvailableError):
        reason = getattr(exc.reason, "name", "")
        if reason == "POWERED_OFF":
            return BluetoothUnavailable("the Bluetooth adapter is powered off: turn it on (`bluetoothctl power on`, "
                                        "or `rfkill unblock bluetooth` if it is blocked) and try again")
        if reason == "NO_BLUETOOTH":
            return BluetoothUnavailable("no Bluetooth adapter found: plug in a BLE adapter (or enable the built-in "
                                        "one) and check `bluetoothctl list`")
        return BluetoothUnavailable(f"Bluetooth is not available ({exc.args[0] if exc.args else reason})")
    text = str(exc)
    if isinstance(exc, BleakError) and "not powered" in text.lower():
        return BluetoothUnavailable(f"the Bluetooth adapter is powered off ({text}): turn it on "
                                    "(`bluetoothctl power on`) and try again")
    if isinstance(exc, (FileNotFoundError, ConnectionRefusedError)) or "org.bluez" in text and "ServiceUnknown" in text:
        return BluetoothUnavailable(f"cannot reach BlueZ over D-Bus ({text or type(exc).__name__}): is bluetoothd "
                                    "running? (`sudo systemctl start bluetooth`)")
    return None


@dataclass
class FoundDevice:
    """One device in range and the driver that can stream from it (None: not a supported wearable).

    ``state``: "advertising" (heard in the scan), "connected" (BlueZ holds a link nobody uses, e.g. left by a
    killed program: it is picked up directly) or "in use" (connected and streaming to another program)."""

    address: str
    name: str | None
    rssi_dbm: int | None
    service_uuids: list[str]
    device_type: str | None
    state: str = "advertising"

    @property
    def display_name(self) -> str:
        return DRIVERS[self.device_type].display_name if self.device_type else "(not supported)"

    @property
    def held(self) -> bool:
        return self.state == "in use"

    def to_json(self) -> dict:
        return {"address": self.address, "name": self.name, "rssi_dbm": self.rssi_dbm,
                "device_type": self.device_type, "display_name": self.display_name,
                "service_uuids": self.service_uuids, "state": self.state}

    @classmethod
    def from_bluez(cls, dev: BluezDevice) -> FoundDevice:
        driver = match_driver(dev.name, dev.uuids)
        state = "in use" if dev.held_by_another_program else "connected" if dev.connected else "known"
        return cls(dev.address, dev.name, None, dev.uuids, driver.device_type if driver else None, state)


def held_message(address: str) -> str:
    """The error for a device another live program on this computer streams from."""
    return (f"{address} is connected to another program on this computer, which is streaming from it; "
            f"{release_hint(address)}")


def not_found_message(address: str, timeout_s: float) -> str:
    """The error for a device neither heard advertising nor known connected to BlueZ."""
    return (f"{address} was not seen advertising within {timeout_s:g} s: is it on, charged and in range? "
            f"(a connected device does not advertise: {release_hint(address)})")


def match_driver(name: str | None, service_uuids: list[str]) -> DeviceDriver | None:
    """The first registered driver whose ``matches`` accepts this advertisement."""
    for driver in DRIVERS.values():
        if driver.matches(name, list(service_uuids)):
            return driver
    return None


def driver_service_uuids() -> list[str]:
    """Every service UUID a driver recognises (for a BlueZ-side discovery filter)."""
    return sorted({u.lower() for d in DRIVERS.values() for u in d.service_uuids})


async def scan(timeout_s: float = 5.0, *, include_unsupported: bool = False, service_filter: bool = False,
               adapter: str | None = None) -> list[FoundDevice]:
    """Advertising devices, strongest first. ``service_filter``: let BlueZ report only devices advertising a
    driver's service UUID (cheaper, but misses devices recognised by name only, e.g. Polar)."""
    if not (timeout_s > 0 and math.isfinite(timeout_s)):
        raise ValueError(f"scan timeout must be a positive number of seconds, got {timeout_s}")
    kwargs: dict = {"service_uuids": driver_service_uuids()} if service_filter else {}
    if adapter:
        kwargs["bluez"] = {"adapter": adapter}
    try:
        found = await BleakScanner.discover(timeout=timeout_s, return_adv=True, **kwargs)
    except Exception as exc:
        clear = explain_bluetooth_error(exc)
        if clear is not None:
            raise clear from exc
        raise
    out = []
    for device, adv in found.values():
        name = adv.local_name or device.name
        uuids = [u.lower() for u in adv.service_uuids]
        driver = match_driver(name, uuids)
        if driver is None and not include_unsupported:
            continue
        out.append(FoundDevice(device.address.upper(), name, adv.rssi, uuids, driver.device_type if driver else None))
    heard = {d.address for d in out}
    for dev in await bluez_devices(adapter):  # connected devices do not advertise: list them from BlueZ
        if dev.connected and dev.address not in heard:
            f = FoundDevice.from_bluez(dev)
            if f.device_type is not None or include_unsupported:
                out.append(f)
    out.sort(key=lambda d: -(d.rssi_dbm if d.rssi_dbm is not None else -999))
    return out


async def connected_device(address: str, adapter: str | None = None):
    """``(BLEDevice or None, FoundDevice)`` for a device BlueZ reports connected or paired, without scanning;
    ``(None, None)`` when BlueZ has no such link. A connected device another program streams from comes back
    as ``(None, found)`` with ``found.held`` (it is not taken over)."""
    dev = await bluez_device(address, adapter)
    if dev is None or not (dev.connected or dev.paired):
        return None, None
    found = FoundDevice.from_bluez(dev)
    if found.held:
        return None, found
    return dev.ble_device(), found


async def find_device(address: str, timeout_s: float = 10.0, adapter: str | None = None):
    """``(BLEDevice, FoundDevice)`` for ``address``: BlueZ's object when it is connected or paired, else from a
    scan; ``(None, None)`` when it is not advertising (``(None, found)`` when another program holds it)."""
    address = address.upper()
    ble, found = await connected_device(address, adapter)
    if found is not None:
        return ble, found
    hit: dict = {}
    kwargs: dict = {"bluez": {"adapter": adapter}} if adapter else {}

    def want(device, adv) -> bool:
        if device.address.upper() == address:
            hit["adv"] = adv
            return True
        return False

    try:
        device = await BleakScanner.find_device_by_filter(want, timeout=timeout_s, **kwargs)
    except Exception as exc:
        clear = explain_bluetooth_error(exc)
        if clear is not None:
            raise clear from exc
        raise
    if device is None:
        return None, None
    adv = hit["adv"]
    name = adv.local_name or device.name
    uuids = [u.lower() for u in adv.service_uuids]
    driver = match_driver(name, uuids)
    return device, FoundDevice(address, name, adv.rssi, uuids, driver.device_type if driver else None)


class DeviceFinder:
    """One shared scanner for several tasks looking for their device (BlueZ allows one discovery per client).

    ``await finder.find(address, timeout_s)`` -> ``(BLEDevice, FoundDevice)`` or ``(None, None)``. The scanner
    runs only while someone is waiting.
    """

    def __init__(self, adapter: str | None = None) -> None:
        self.adapter = adapter
        self._waiters: dict[str, list[asyncio.Future]] = {}
        self._scanner: BleakScanner | None = None
        self._lock = asyncio.Lock()

    def _seen(self, device, adv) -> None:
        futs = self._waiters.pop(device.address.upper(), [])
        if not futs:
            return
        name = adv.local_name or device.name
        uuids = [u.lower() for u in adv.service_uuids]
        driver = match_driver(name, uuids)
        found = FoundDevice(device.address.upper(), name, adv.rssi, uuids, driver.device_type if driver else None)
        for f in futs:
            if not f.done():
                f.set_result((device, found))

    async def _update_scanner(self) -> None:
        async with self._lock:
            want = any(any(not f.done() for f in fs) for fs in self._waiters.values())
            if want and self._scanner is None:
                kwargs: dict = {"bluez": {"adapter": self.adapter}} if self.adapter else {}
                scanner = BleakScanner(detection_callback=self._seen, **kwargs)
                try:
                    await scanner.start()
                except Exception as exc:
                    clear = explain_bluetooth_error(exc)
                    if clear is not None:
                        raise clear from exc
                    raise
                self._scanner = scanner
            elif not want and self._scanner is not None:
                scanner, self._scanner = self._scanner, None
                try:
                    await scanner.stop()
                except Exception as exc:  # noqa: BLE001 - the adapter may have gone away meanwhile
                    log.debug("stopping the scanner failed: %s", exc)

    async def find(self, address: str, timeout_s: float = 10.0):
        """``(BLEDevice, FoundDevice)``: BlueZ's object at once when the device is connected (no program uses the
        link) or paired, else the first advertisement within ``timeout_s``; ``(None, None)`` when not seen, and
        ``(None, found)`` with ``found.held`` when another program streams from it."""
        address = address.upper()
        ble, found = await connected_device(address, self.adapter)
        if found is not None:
            return ble, found
        fut = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(address, []).append(fut)
        try:
            await self._update_scanner()
            return await asyncio.wait_for(fut, timeout_s)
        except asyncio.TimeoutError:
            return None, None
        finally:
            fs = self._waiters.get(address)
            if fs and fut in fs:
                fs.remove(fut)
                if not fs:
                    del self._waiters[address]
            await asyncio.shield(self._update_scanner())

    async def close(self) -> None:
        for fs in self._waiters.values():
            for f in fs:
                f.cancel()
        self._waiters.clear()
        await self._update_scanner()
