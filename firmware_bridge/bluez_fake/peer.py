"""What the fake BlueZ needs from an emulated peripheral: advertisement, GATT table and link callbacks."""

from __future__ import annotations

import abc
from collections.abc import Callable

from firmware_bridge.devices.base import GattServiceSpec

CCCD_UUID = "00002902-0000-1000-8000-00805f9b34fb"


def full_uuid(uuid: str) -> str:
    """Lower-case 128-bit UUID; 16/32-bit short forms are expanded with the Bluetooth base UUID."""
    u = uuid.strip().lower()
    if len(u) in (4, 8) and all(c in "0123456789abcdef" for c in u):
        return f"{int(u, 16):08x}-0000-1000-8000-00805f9b34fb"
    return u


class RemotePeer(abc.ABC):
    """A BLE peripheral in radio range of the fake adapter.

    The fake BlueZ reads the advertisement fields below while discovering, builds the D-Bus GATT
    objects from ``gatt_services()`` on connect, and forwards the central's reads, writes and
    subscriptions. The peer answers by calling ``send`` (given in ``on_connect``) with notifications.
    """

    address: str
    address_type: str = "public"
    name: str
    rssi_dbm: int = -55
    advertising: bool = True
    # False: connectable but not reported by scans, like a bonded device that only sends directed
    # advertisements to its central (BlueZ connects to it through the paired Device1 object)
    discoverable: bool = True
    advertised_uuids: tuple[str, ...] = ()
    manufacturer_data: dict[int, bytes] = {}
    service_data: dict[str, bytes] = {}
    mtu: int = 247

    @abc.abstractmethod
    def gatt_services(self) -> tuple[GattServiceSpec, ...]:
        """The GATT table the central discovers after connecting."""

    @abc.abstractmethod
    def on_connect(self, send: Callable[[str, bytes], bool]) -> None:
        """A central connected; ``send(char_uuid, data)`` notifies/indicates (False when not delivered)."""

    @abc.abstractmethod
    def on_disconnect(self, reason: str) -> None:
        """The link dropped (``reason``: "local" = central asked, "remote" = we hung up, "power" = adapter off)."""

    @abc.abstractmethod
    def on_read(self, char_uuid: str) -> bytes:
        """Answer a read request."""

    @abc.abstractmethod
    def on_write(self, char_uuid: str, data: bytes, with_response: bool) -> None:
        """Handle a write request (``with_response``) or a write command."""

    def on_subscribe(self, char_uuid: str, enabled: bool) -> None:
        """The central enabled or disabled notifications/indications (CCCD write)."""
