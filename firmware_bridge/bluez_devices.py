"""What BlueZ already knows about a device: its ``org.bluez.Device1`` object (connected? paired?) and whether
another program is using the link (notifications on), read from BlueZ's ObjectManager.

Why: BlueZ keeps an LE link up when the program that made it dies (``kill -9``, a crash), and a connected
peripheral stops advertising, so a scan never sees it again. Such a device is picked up through its D-Bus
object instead (bleak connects to an already connected device without calling ``Connect``). A link whose
characteristics still notify belongs to a live program (BlueZ ends the notify sessions of a client that left
the bus), so it is reported, not taken over.

Linux/BlueZ only; elsewhere, and when BlueZ cannot be reached, the lookups return nothing (the scan that
follows then reports the real problem).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

DEVICE_IFACE = "org.bluez.Device1"
CHAR_IFACE = "org.bluez.GattCharacteristic1"


@dataclass
class BluezDevice:
    """One ``org.bluez.Device1`` object and the state of its link."""

    path: str
    address: str
    name: str | None
    connected: bool
    paired: bool
    services_resolved: bool
    uuids: list[str]
    rssi_dbm: int | None
    props: dict = field(repr=False, default_factory=dict)
    notifying: list[str] = field(default_factory=list)  # characteristics with notifications on (some client uses them)

    @property
    def adapter(self) -> str:
        return self.path.split("/")[3]

    @property
    def held_by_another_program(self) -> bool:
        """Connected, with notifications on: a live program on this computer is streaming from it."""
        return self.connected and bool(self.notifying)

    def ble_device(self):
        """A ``bleak`` ``BLEDevice`` its BlueZ backend connects to directly (no scan needed)."""
        from bleak.backends.device import BLEDevice

        return BLEDevice(self.address, self.name, {"path": self.path, "props": self.props})


def release_hint(address: str) -> str:
    """How a user frees a device another program holds."""
    return (f"if another program on this computer holds it, stop that program or release the device with "
            f"`bluetoothctl disconnect {address}`; if a phone app is connected to it, close the app or turn off "
            "the phone's Bluetooth")


def _plain(value):
    """dbus-fast ``Variant`` trees -> plain Python values."""
    from dbus_fast import Variant

    if isinstance(value, Variant):
        return _plain(value.value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


async def bluez_devices(adapter: str | None = None) -> list[BluezDevice]:
    """Every device object BlueZ exports (on ``adapter``, else on all adapters); [] when BlueZ is not reachable."""
    if not sys.platform.startswith("linux"):
        return []
    from dbus_fast import BusType, Message, MessageType
    from dbus_fast.aio import MessageBus

    try:
        bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    except Exception as exc:  # noqa: BLE001 - no system bus: the scan reports it with the fix
        log.debug("cannot reach the system bus: %s", exc)
        return []
    try:
        reply = await bus.call(Message(destination="org.bluez", path="/", member="GetManagedObjects",
                                       interface="org.freedesktop.DBus.ObjectManager"))
    except Exception as exc:  # noqa: BLE001
        log.debug("GetManagedObjects failed: %s", exc)
        return []
    finally:
        bus.disconnect()
    if reply is None or reply.message_type != MessageType.METHOD_RETURN:
        log.debug("GetManagedObjects: %s", getattr(reply, "body", None))
        return []
    objects: dict[str, dict] = reply.body[0]
    prefix = f"/org/bluez/{adapter}/" if adapter else "/org/bluez/"
    devices: dict[str, BluezDevice] = {}
    for path, ifaces in objects.items():
        if DEVICE_IFACE in ifaces and path.startswith(prefix):
            p = _plain(ifaces[DEVICE_IFACE])
            devices[path] = BluezDevice(
                path=path, address=str(p.get("Address", "")).upper(), name=p.get("Name") or p.get("Alias"),
                connected=bool(p.get("Connected")), paired=bool(p.get("Paired") or p.get("Bonded")),
                services_resolved=bool(p.get("ServicesResolved")), uuids=[u.lower() for u in p.get("UUIDs", [])],
                rssi_dbm=p.get("RSSI"), props=p)
    for path, ifaces in objects.items():
        ch = ifaces.get(CHAR_IFACE)
        if ch is None:
            continue
        dev = devices.get(path.split("/service")[0])
        if dev is not None and _plain(ch.get("Notifying", False)):
            dev.notifying.append(str(_plain(ch.get("UUID", path))))
    return list(devices.values())


async def bluez_device(address: str, adapter: str | None = None) -> BluezDevice | None:
    """BlueZ's object for ``address`` (a connected one first when several adapters know it), or None."""
    address = address.upper()
    found = [d for d in await bluez_devices(adapter) if d.address == address]
    found.sort(key=lambda d: (not d.connected, not d.paired))
    return found[0] if found else None


__all__ = ["BluezDevice", "bluez_device", "bluez_devices", "release_hint"]
