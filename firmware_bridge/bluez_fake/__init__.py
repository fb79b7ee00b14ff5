"""A fake BlueZ (``org.bluez``) on a private ``dbus-daemon``, so unmodified bleak can be tested without radios.

``PrivateBus`` starts the daemon, ``FakeBluez`` serves the adapter, devices and GATT objects on it, and
``RemotePeer`` is what an emulated peripheral implements (``firmware_bridge.emulator`` builds one per
wearable from its ``VirtualPeripheral``). Set ``DBUS_SYSTEM_BUS_ADDRESS`` to ``PrivateBus.address``.
"""

from .bluez import DiscoveryFilter, FakeBluez, device_path
from .daemon import DBusDaemonNotFound, PrivateBus, find_dbus_daemon
from .peer import CCCD_UUID, RemotePeer, full_uuid

__all__ = ["CCCD_UUID", "DBusDaemonNotFound", "DiscoveryFilter", "FakeBluez", "PrivateBus", "RemotePeer",
           "device_path", "find_dbus_daemon", "full_uuid"]
