"""The org.bluez D-Bus interfaces (Adapter1, Device1, GattService1, GattCharacteristic1, GattDescriptor1).

Thin dbus-fast ``ServiceInterface`` classes: they hold the property values and forward method calls to
``FakeBluez`` (``bluez.py``), which owns the behaviour. Property and method names, signatures and error
names follow BlueZ's doc/org.bluez.*.rst. (No ``from __future__ import annotations`` here: dbus-fast reads
the D-Bus signatures from the annotations.)
"""

from typing import TYPE_CHECKING, Any

from dbus_fast import DBusError, Variant
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_property, method

if TYPE_CHECKING:
    from .bluez import FakeBluez

# org.bluez error names (src/error.c) and the messages BlueZ sends with them
NOT_READY = ("org.bluez.Error.NotReady", "Resource Not Ready")
FAILED = "org.bluez.Error.Failed"
IN_PROGRESS = ("org.bluez.Error.InProgress", "In Progress")
NOT_CONNECTED = ("org.bluez.Error.NotConnected", "Not Connected")
ALREADY_CONNECTED = ("org.bluez.Error.AlreadyConnected", "Already Connected")
ALREADY_EXISTS = ("org.bluez.Error.AlreadyExists", "Already Exists")
DOES_NOT_EXIST = ("org.bluez.Error.DoesNotExist", "Does Not Exist")
NOT_SUPPORTED = ("org.bluez.Error.NotSupported", "Operation is not supported")
NOT_PERMITTED = "org.bluez.Error.NotPermitted"
INVALID_ARGUMENTS = "org.bluez.Error.InvalidArguments"
AUTH_CANCELED = ("org.bluez.Error.AuthenticationCanceled", "Authentication Canceled")


def bluez_error(err: tuple[str, str] | str, text: str | None = None) -> DBusError:
    if isinstance(err, tuple):
        return DBusError(err[0], text or err[1])
    return DBusError(err, text or "Operation failed")


class Adapter1(ServiceInterface):
    def __init__(self, fake: "FakeBluez", address: str, name: str) -> None:
        super().__init__("org.bluez.Adapter1")
        self.fake = fake
        self.address = address
        self.local_name = name  # (``name`` is the interface name in dbus-fast)
        self.alias = name
        self.powered = True
        self.discovering = False
        self.discoverable = False
        self.pairable = True

    # --- methods -----------------------------------------------------------------------------

    @method()
    def StartDiscovery(self) -> None:
        self.fake.start_discovery()

    @method()
    def StopDiscovery(self) -> None:
        self.fake.stop_discovery()

    @method()
    def SetDiscoveryFilter(self, filters: "a{sv}") -> None:
        self.fake.set_discovery_filter(filters)

    @method()
    def GetDiscoveryFilters(self) -> "as":
        return ["UUIDs", "RSSI", "Pathloss", "Transport", "DuplicateData", "Discoverable", "Pattern"]

    @method()
    def RemoveDevice(self, device: "o") -> None:
        self.fake.remove_device(device)

    # --- properties --------------------------------------------------------------------------

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> "s":
        return self.address

    @dbus_property(access=PropertyAccess.READ)
    def AddressType(self) -> "s":
        return "public"

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> "s":
        return self.local_name

    @dbus_property()
    def Alias(self) -> "s":
        return self.alias

    @Alias.setter
    def Alias(self, value: "s") -> None:
        self.alias = value

    @dbus_property(access=PropertyAccess.READ)
    def Class(self) -> "u":
        return 0x7C010C

    @dbus_property()
    def Powered(self) -> "b":
        return self.powered

    @Powered.setter
    def Powered(self, value: "b") -> None:
        self.fake.set_powered(bool(value))

    @dbus_property(access=PropertyAccess.READ)
    def PowerState(self) -> "s":
        return "on" if self.powered else "off"

    @dbus_property()
    def Discoverable(self) -> "b":
        return self.discoverable

    @Discoverable.setter
    def Discoverable(self, value: "b") -> None:
        self.discoverable = bool(value)

    @dbus_property()
    def Pairable(self) -> "b":
        return self.pairable

    @Pairable.setter
    def Pairable(self, value: "b") -> None:
        self.pairable = bool(value)

    @dbus_property(access=PropertyAccess.READ)
    def Discovering(self) -> "b":
        return self.discovering

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> "as":
        return ["00001800-0000-1000-8000-00805f9b34fb", "00001801-0000-1000-8000-00805f9b34fb"]

    @dbus_property(access=PropertyAccess.READ)
    def Modalias(self) -> "s":
        return "usb:v1D6Bp0246d0548"

    @dbus_property(access=PropertyAccess.READ)
    def Roles(self) -> "as":
        return ["central", "peripheral"]


class Device1(ServiceInterface):
    def __init__(self, fake: "FakeBluez", path: str, adapter_path: str, peer: Any) -> None:
        super().__init__("org.bluez.Device1")
        self.fake = fake
        self.path = path
        self.adapter_path = adapter_path
        self.peer = peer
        self.alias: str | None = None
        self.paired = False
        self.bonded = False
        self.trusted = False
        self.blocked = False
        self.connected = False
        self.services_resolved = False
        self.rssi = int(peer.rssi_dbm)

    @method()
    async def Connect(self) -> None:
        await self.fake.connect(self)

    @method()
    async def Disconnect(self) -> None:
        await self.fake.disconnect(self)

    @method()
    async def Pair(self) -> None:
        await self.fake.pair(self)

    @method()
    def CancelPairing(self) -> None:
        self.fake.cancel_pairing(self)

    @method()
    def ConnectProfile(self, uuid: "s") -> None:
        raise bluez_error(NOT_SUPPORTED)

    @method()
    def DisconnectProfile(self, uuid: "s") -> None:
        raise bluez_error(NOT_SUPPORTED)

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> "s":
        return self.peer.address

    @dbus_property(access=PropertyAccess.READ)
    def AddressType(self) -> "s":
        return self.peer.address_type

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> "s":
        return self.peer.name

    @dbus_property()
    def Alias(self) -> "s":
        return self.alias or self.peer.name or self.peer.address.replace(":", "-")

    @Alias.setter
    def Alias(self, value: "s") -> None:
        self.alias = value or None

    @dbus_property(access=PropertyAccess.READ)
    def Adapter(self) -> "o":
        return self.adapter_path

    @dbus_property(access=PropertyAccess.READ)
    def Paired(self) -> "b":
        return self.paired

    @dbus_property(access=PropertyAccess.READ)
    def Bonded(self) -> "b":
        return self.bonded

    @dbus_property()
    def Trusted(self) -> "b":
        return self.trusted

    @Trusted.setter
    def Trusted(self, value: "b") -> None:
        self.trusted = bool(value)

    @dbus_property()
    def Blocked(self) -> "b":
        return self.blocked

    @Blocked.setter
    def Blocked(self, value: "b") -> None:
        self.blocked = bool(value)

    @dbus_property(access=PropertyAccess.READ)
    def LegacyPairing(self) -> "b":
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Connected(self) -> "b":
        return self.connected

    @dbus_property(access=PropertyAccess.READ)
    def ServicesResolved(self) -> "b":
        return self.services_resolved

    @dbus_property(access=PropertyAccess.READ)
    def RSSI(self) -> "n":
        return self.rssi

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> "as":
        return list(self.fake.device_uuids(self))

    @dbus_property(access=PropertyAccess.READ)
    def ManufacturerData(self) -> "a{qv}":
        return {int(k): Variant("ay", bytes(v)) for k, v in self.peer.manufacturer_data.items()}

    @dbus_property(access=PropertyAccess.READ)
    def ServiceData(self) -> "a{sv}":
        return {k: Variant("ay", bytes(v)) for k, v in self.peer.service_data.items()}


class GattService1(ServiceInterface):
    def __init__(self, uuid: str, device_path: str, primary: bool = True) -> None:
        super().__init__("org.bluez.GattService1")
        self.uuid = uuid
        self.device_path = device_path
        self.primary = primary

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Device(self) -> "o":
        return self.device_path

    @dbus_property(access=PropertyAccess.READ)
    def Primary(self) -> "b":
        return self.primary

    @dbus_property(access=PropertyAccess.READ)
    def Includes(self) -> "ao":
        return []


class GattCharacteristic1(ServiceInterface):
    def __init__(self, fake: "FakeBluez", device: Device1, uuid: str, service_path: str, flags: tuple[str, ...],
                 mtu: int) -> None:
        super().__init__("org.bluez.GattCharacteristic1")
        self.fake = fake
        self.device = device
        self.uuid = uuid
        self.service_path = service_path
        self.flags = tuple(flags)
        self.mtu = int(mtu)
        self.value = b""
        self.notify_senders: set[str] = set()

    @property
    def notifying(self) -> bool:
        return bool(self.notify_senders)

    @method()
    def ReadValue(self, options: "a{sv}") -> "ay":
        return self.fake.read_characteristic(self, options)

    @method()
    def WriteValue(self, value: "ay", options: "a{sv}") -> None:
        self.fake.write_characteristic(self, bytes(value), options)

    @method()
    def StartNotify(self) -> None:
        self.fake.start_notify(self)

    @method()
    def StopNotify(self) -> None:
        self.fake.stop_notify(self)

    @method()
    def AcquireWrite(self, options: "a{sv}") -> "hq":
        raise bluez_error(NOT_SUPPORTED)

    @method()
    def AcquireNotify(self, options: "a{sv}") -> "hq":
        raise bluez_error(NOT_SUPPORTED)

    @method()
    def Confirm(self) -> None:
        pass

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Service(self) -> "o":
        return self.service_path

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> "ay":
        return self.value

    @dbus_property(access=PropertyAccess.READ)
    def Notifying(self) -> "b":
        return self.notifying

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> "as":
        return list(self.flags)

    @dbus_property(access=PropertyAccess.READ)
    def MTU(self) -> "q":
        return self.mtu


class GattDescriptor1(ServiceInterface):
    """Only the Client Characteristic Configuration descriptor (0x2902) is modelled."""

    def __init__(self, uuid: str, char: GattCharacteristic1, char_path: str) -> None:
        super().__init__("org.bluez.GattDescriptor1")
        self.uuid = uuid
        self.char = char
        self.char_path = char_path

    def current(self) -> bytes:
        if not self.char.notifying:
            return b"\x00\x00"
        return b"\x01\x00" if "notify" in self.char.flags else b"\x02\x00"

    @method()
    def ReadValue(self, options: "a{sv}") -> "ay":
        if not self.char.device.connected:
            raise bluez_error(NOT_CONNECTED)
        return self.current()

    @method()
    def WriteValue(self, value: "ay", options: "a{sv}") -> None:
        # BlueZ owns the CCCD: clients must use StartNotify/StopNotify.
        raise bluez_error(NOT_PERMITTED, "Write not permitted")

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Characteristic(self) -> "o":
        return self.char_path

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> "ay":
        return self.current()

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> "as":
        return ["read"]
