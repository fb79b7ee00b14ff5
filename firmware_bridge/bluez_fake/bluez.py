"""``FakeBluez``: the ``org.bluez`` service, served with dbus-fast on a (private) bus.

Behaviour modelled on bluetoothd as unmodified bleak 3.1 (BlueZ backend) and bleak-retry-connector use it:

* one adapter ``/org/bluez/<hciN>`` (Powered, Roles with "central"); ObjectManager at "/"
  (dbus-fast's built-in GetManagedObjects / InterfacesAdded / InterfacesRemoved);
* discovery sessions per D-Bus client (``SetDiscoveryFilter`` then ``StartDiscovery``; a client that
  leaves the bus loses its session). While any session runs, each advertising peer that passes a
  session's filter (UUIDs: any advertised or service-data UUID in the filter list; RSSI: at least the
  threshold) is "heard" every ``advert_interval_s``: its Device1 object appears (InterfacesAdded) or
  its RSSI is updated (PropertiesChanged), which is what bleak reports as an advertisement;
* ``Connect`` / ``Pair`` export the GATT objects (``…/serviceXXXX/charYYYY/descZZZZ``), then set
  ``ServicesResolved`` and only then reply; a dropped link clears Connected/ServicesResolved and
  removes the GATT objects; connected peers do not advertise;
* reads, writes (``type`` request/command checked against the Flags), StartNotify/StopNotify per
  client; notifications are ``PropertiesChanged`` on ``Value`` (a read updates ``Value`` too, as in
  BlueZ, so a subscribed client also sees read results). AcquireNotify/AcquireWrite answer NotSupported
  (bleak 3.1 only uses AcquireNotify when asked to and the characteristic has ``NotifyAcquired``);
* ``Powered`` off drops every link and discovery; methods then fail with ``org.bluez.Error.NotReady``;
* a link outlives the client that made it (BlueZ does not disconnect when a program dies): a client that
  leaves the bus only loses its discovery and notify sessions (the last one gone disables the CCCD), the
  device stays ``Connected`` and, being connected, does not advertise; ``Connect`` on it succeeds at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.constants import RequestNameReply

from .interfaces import (
    ALREADY_EXISTS,
    AUTH_CANCELED,
    DOES_NOT_EXIST,
    FAILED,
    IN_PROGRESS,
    INVALID_ARGUMENTS,
    NOT_CONNECTED,
    NOT_PERMITTED,
    NOT_READY,
    NOT_SUPPORTED,
    Adapter1,
    Device1,
    GattCharacteristic1,
    GattDescriptor1,
    GattService1,
    bluez_error,
)
from .peer import CCCD_UUID, RemotePeer, full_uuid

log = logging.getLogger(__name__)


def device_path(adapter_path: str, address: str) -> str:
    return f"{adapter_path}/dev_{address.upper().replace(':', '_')}"


class DiscoveryFilter:
    """One client's SetDiscoveryFilter, as BlueZ applies it to advertisements."""

    def __init__(self, uuids: list[str] | None = None, rssi_dbm: int | None = None) -> None:
        self.uuids = {full_uuid(u) for u in uuids or ()}
        self.rssi_dbm = rssi_dbm

    @classmethod
    def from_dbus(cls, filters: dict[str, Variant]) -> DiscoveryFilter:
        known = {"UUIDs", "RSSI", "Pathloss", "Transport", "DuplicateData", "Discoverable", "Pattern"}
        unknown = set(filters) - known
        if unknown:
            raise bluez_error(INVALID_ARGUMENTS, f"Invalid Arguments in method call: {sorted(unknown)}")
        val = {k: v.value for k, v in filters.items()}
        if "RSSI" in val and "Pathloss" in val:
            raise bluez_error(INVALID_ARGUMENTS, "Invalid Arguments in method call")
        transport = val.get("Transport", "auto")
        if transport not in ("auto", "le", "bredr"):
            raise bluez_error(INVALID_ARGUMENTS, "Invalid Arguments in method call")
        return cls(list(val.get("UUIDs", [])), val.get("RSSI"))

    def matches(self, peer: RemotePeer, rssi_dbm: int) -> bool:
        if self.uuids:
            heard = {full_uuid(u) for u in (*peer.advertised_uuids, *peer.service_data)}
            if not heard & self.uuids:
                return False
        return self.rssi_dbm is None or rssi_dbm >= self.rssi_dbm


class FakeBluez:
    """Serves org.bluez on the bus at ``bus_address``. Peers are added with ``add_peer``."""

    def __init__(self, adapter: str = "hci0", adapter_address: str = "00:1A:7D:DA:71:13",
                 advert_interval_s: float = 0.1, connect_latency_s: float = 0.02,
                 connect_timeout_s: float = 2.0, pair_latency_s: float = 0.05, seed: int = 0) -> None:
        self.adapter_name = adapter
        self.adapter_path = f"/org/bluez/{adapter}"
        self.adapter = Adapter1(self, adapter_address, f"anymo-emulator-{adapter}")
        self.advert_interval_s = advert_interval_s
        self.connect_latency_s = connect_latency_s
        self.connect_timeout_s = connect_timeout_s
        self.pair_latency_s = pair_latency_s
        self.bus: MessageBus | None = None
        self.peers: dict[str, RemotePeer] = {}  # address (upper case) -> peer
        self.devices: dict[str, Device1] = {}  # device path -> exported Device1
        self.gatt: dict[str, list[tuple[str, object]]] = {}  # device path -> exported GATT (path, iface)
        self.sessions: dict[str, DiscoveryFilter] = {}  # discovering client -> its filter
        self.filters: dict[str, DiscoveryFilter] = {}  # client -> filter set for its next session
        self._sender = ""  # D-Bus sender of the method call being handled (set before sync handlers run)
        self._rng = random.Random(seed)
        self._advert_task: asyncio.Task | None = None
        self._busy: dict[str, str] = {}  # device path -> "connecting" | "pairing"
        self._pair_cancel: dict[str, asyncio.Event] = {}
        self._tasks: set[asyncio.Task] = set()

    # --- life cycle -------------------------------------------------------------------------------

    async def start(self, bus_address: str) -> None:
        self.bus = await MessageBus(bus_address=bus_address, bus_type=BusType.SYSTEM).connect()
        self.bus.add_message_handler(self._on_message)
        reply = await self.bus.request_name("org.bluez")
        if reply != RequestNameReply.PRIMARY_OWNER:
            raise RuntimeError(f"could not own org.bluez on {bus_address} ({reply})")
        await self.bus.call(Message(
            destination="org.freedesktop.DBus", path="/org/freedesktop/DBus", interface="org.freedesktop.DBus",
            member="AddMatch", signature="s",
            body=["type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged'"]))
        self.bus.export(self.adapter_path, self.adapter)

    async def stop(self) -> None:
        if self._advert_task is not None:
            self._advert_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._advert_task
            self._advert_task = None
        for t in list(self._tasks):
            t.cancel()
        for dev in list(self.devices.values()):
            if dev.connected:
                self._drop_link(dev, "power")
        if self.bus is not None:
            self.bus.disconnect()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.bus.wait_for_disconnect(), 2.0)
            self.bus = None

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _on_message(self, msg: Message) -> None:
        """Runs before dispatch: remembers the caller, and ends the sessions of clients that left."""
        if msg.message_type == MessageType.METHOD_CALL:
            self._sender = msg.sender or ""
        elif msg.message_type == MessageType.SIGNAL and msg.member == "NameOwnerChanged" and len(msg.body) == 3:
            name, _old, new = msg.body
            if not new:
                self._client_left(name)
        return None

    def _client_left(self, client: str) -> None:
        self.filters.pop(client, None)
        if self.sessions.pop(client, None) is not None:
            self._discovery_changed()
        for devpath, objs in self.gatt.items():
            for _, iface in objs:
                if isinstance(iface, GattCharacteristic1) and client in iface.notify_senders:
                    self._unsubscribe(iface, client)

    # --- peers ------------------------------------------------------------------------------------

    def add_peer(self, peer: RemotePeer) -> None:
        addr = peer.address.upper()
        if addr in self.peers:
            raise ValueError(f"a peer with address {addr} already exists; give each wearable its own address")
        self.peers[addr] = peer

    def device_of(self, address: str) -> Device1 | None:
        return self.devices.get(device_path(self.adapter_path, address))

    def device_uuids(self, dev: Device1) -> list[str]:
        uuids = [full_uuid(u) for u in dev.peer.advertised_uuids]
        if dev.services_resolved:
            uuids += [full_uuid(s.uuid) for s in dev.peer.gatt_services()]
        return sorted(set(uuids))

    def _export_device(self, peer: RemotePeer, rssi: int) -> Device1:
        path = device_path(self.adapter_path, peer.address)
        dev = self.devices.get(path)
        if dev is None:
            dev = Device1(self, path, self.adapter_path, peer)
            dev.rssi = rssi
            self.devices[path] = dev
            assert self.bus is not None
            self.bus.export(path, dev)
        return dev

    def _device(self, path: str) -> Device1:
        dev = self.devices.get(path)
        if dev is None:
            raise bluez_error(DOES_NOT_EXIST)
        return dev

    # --- adapter ----------------------------------------------------------------------------------

    def _require_powered(self) -> None:
        if not self.adapter.powered:
            raise bluez_error(NOT_READY)

    def set_discovery_filter(self, filters: dict[str, Variant]) -> None:
        self._require_powered()
        if filters:
            self.filters[self._sender] = DiscoveryFilter.from_dbus(filters)
        else:
            self.filters.pop(self._sender, None)
        if self._sender in self.sessions:  # BlueZ applies a new filter to a running session
            self.sessions[self._sender] = self.filters.get(self._sender, DiscoveryFilter())

    def start_discovery(self) -> None:
        self._require_powered()
        if self._sender in self.sessions:
            raise bluez_error(IN_PROGRESS, "Operation already in progress")
        self.sessions[self._sender] = self.filters.get(self._sender, DiscoveryFilter())
        self._discovery_changed()

    def stop_discovery(self) -> None:
        self._require_powered()
        if self.sessions.pop(self._sender, None) is None:
            raise bluez_error(FAILED, "No discovery started")
        self._discovery_changed()

    def _discovery_changed(self) -> None:
        on = bool(self.sessions) and self.adapter.powered
        if on != self.adapter.discovering:
            self.adapter.discovering = on
            self.adapter.emit_properties_changed({"Discovering": on})
        if on and (self._advert_task is None or self._advert_task.done()):
            self._advert_task = asyncio.ensure_future(self._advertise())
        elif not on and self._advert_task is not None:
            self._advert_task.cancel()
            self._advert_task = None

    async def _advertise(self) -> None:
        """While discovering: 'hear' every advertising peer once per advert interval."""
        while self.sessions and self.adapter.powered:
            self.hear_adverts()
            await asyncio.sleep(self.advert_interval_s)

    def hear_adverts(self) -> None:
        for peer in list(self.peers.values()):
            dev = self.device_of(peer.address)
            if not peer.advertising or not peer.discoverable or (dev is not None and dev.connected):
                continue
            rssi = int(round(peer.rssi_dbm + self._rng.uniform(-2.0, 2.0)))
            if not any(f.matches(peer, rssi) for f in self.sessions.values()):
                continue
            if dev is None:
                self._export_device(peer, rssi)  # InterfacesAdded: bleak's first advertisement
            else:
                dev.rssi = rssi
                dev.emit_properties_changed({"RSSI": rssi})

    def remove_device(self, path: str) -> None:
        dev = self._device(path)
        if dev.connected:
            self._drop_link(dev, "local")
        self.devices.pop(path, None)
        assert self.bus is not None
        self.bus.unexport(path)

    def set_powered(self, on: bool) -> None:
        if on == self.adapter.powered:
            return
        if not on:
            for dev in list(self.devices.values()):
                if dev.connected:
                    self._drop_link(dev, "power")
        self.adapter.powered = on
        self.adapter.emit_properties_changed({"Powered": on, "PowerState": "on" if on else "off"})
        if not on:
            self.sessions.clear()
        self._discovery_changed()

    # --- links ------------------------------------------------------------------------------------

    async def connect(self, dev: Device1) -> None:
        self._require_powered()
        if dev.connected:  # bluetoothd's dev_connect: an LE link that is up already is a success
            return
        if dev.path in self._busy:
            raise bluez_error(IN_PROGRESS)
        self._busy[dev.path] = "connecting"
        try:
            await self._link_up(dev)
        finally:
            self._busy.pop(dev.path, None)

    async def _link_up(self, dev: Device1) -> None:
        peer = dev.peer
        if not peer.advertising:
            await asyncio.sleep(self.connect_timeout_s)
            raise bluez_error(FAILED, "Connection timed out: the peripheral is not advertising")
        await asyncio.sleep(self.connect_latency_s)
        if not self.adapter.powered:
            raise bluez_error(NOT_READY)
        dev.connected = True
        dev.emit_properties_changed({"Connected": True})
        peer.on_connect(lambda uuid, data, _dev=dev: self.notify(_dev, uuid, data))
        self._export_gatt(dev)
        await asyncio.sleep(0.005)
        if not dev.connected:  # dropped while resolving services
            raise bluez_error(FAILED, "Software caused connection abort")
        dev.services_resolved = True
        dev.emit_properties_changed({"ServicesResolved": True, "UUIDs": self.device_uuids(dev)})
        await asyncio.sleep(0.01)  # let the signals reach clients before the method reply

    async def disconnect(self, dev: Device1) -> None:
        if not dev.connected:
            raise bluez_error(NOT_CONNECTED)
        self._drop_link(dev, "local")

    def drop_link(self, address: str, reason: str = "remote") -> bool:
        """Peripheral-initiated disconnect (supervision timeout, device hung up). False if not connected."""
        dev = self.device_of(address)
        if dev is None or not dev.connected:
            return False
        self._drop_link(dev, reason)
        return True

    def _drop_link(self, dev: Device1, reason: str) -> None:
        if dev.path in self._pair_cancel:
            self._pair_cancel[dev.path].set()
        dev.services_resolved = False
        dev.emit_properties_changed({"ServicesResolved": False})
        dev.connected = False
        dev.emit_properties_changed({"Connected": False})
        self._unexport_gatt(dev)
        with contextlib.suppress(Exception):
            dev.peer.on_disconnect(reason)
        log.debug("%s disconnected (%s)", dev.peer.address, reason)

    async def pair(self, dev: Device1) -> None:
        self._require_powered()
        if dev.paired:
            raise bluez_error(ALREADY_EXISTS)
        if dev.path in self._busy:
            raise bluez_error(IN_PROGRESS)
        self._busy[dev.path] = "pairing"
        try:
            if not dev.connected:
                await self._link_up(dev)
            cancel = asyncio.Event()
            self._pair_cancel[dev.path] = cancel
            try:
                await asyncio.wait_for(cancel.wait(), self.pair_latency_s)
                cancelled = True
            except asyncio.TimeoutError:
                cancelled = False
            finally:
                self._pair_cancel.pop(dev.path, None)
            if cancelled:
                raise bluez_error(AUTH_CANCELED) if dev.connected else bluez_error(FAILED, "Authentication Failed")
            dev.paired = dev.bonded = True
            dev.emit_properties_changed({"Paired": True, "Bonded": True})
        finally:
            self._busy.pop(dev.path, None)

    def cancel_pairing(self, dev: Device1) -> None:
        cancel = self._pair_cancel.get(dev.path)
        if cancel is None:
            raise bluez_error(DOES_NOT_EXIST)
        cancel.set()

    # --- GATT -------------------------------------------------------------------------------------

    def _export_gatt(self, dev: Device1) -> None:
        assert self.bus is not None
        objs: list[tuple[str, object]] = []
        handle = 0x000C
        for svc in dev.peer.gatt_services():
            spath = f"{dev.path}/service{handle:04x}"
            objs.append((spath, GattService1(full_uuid(svc.uuid), dev.path)))
            handle += 1
            for ch in svc.characteristics:
                cpath = f"{spath}/char{handle:04x}"
                char = GattCharacteristic1(self, dev, full_uuid(ch.uuid), spath, ch.flags, dev.peer.mtu)
                char.value = bytes(ch.initial_value)
                objs.append((cpath, char))
                handle += 2  # declaration + value
                if {"notify", "indicate"} & set(ch.flags):
                    objs.append((f"{cpath}/desc{handle:04x}", GattDescriptor1(CCCD_UUID, char, cpath)))
                    handle += 1
        for path, iface in objs:
            self.bus.export(path, iface)  # parents first, as BlueZ does
        self.gatt[dev.path] = objs

    def _unexport_gatt(self, dev: Device1) -> None:
        objs = self.gatt.pop(dev.path, [])
        for path, iface in reversed(objs):
            if isinstance(iface, GattCharacteristic1):
                iface.notify_senders.clear()
            if self.bus is not None:
                self.bus.unexport(path, iface)

    def characteristic(self, dev: Device1, uuid: str) -> GattCharacteristic1 | None:
        uuid = full_uuid(uuid)
        for _, iface in self.gatt.get(dev.path, []):
            if isinstance(iface, GattCharacteristic1) and iface.uuid == uuid:
                return iface
        return None

    def _require_link(self, char: GattCharacteristic1) -> None:
        if not char.device.connected:
            raise bluez_error(NOT_CONNECTED)

    def read_characteristic(self, char: GattCharacteristic1, options: dict[str, Variant]) -> bytes:
        self._require_link(char)
        if "read" not in char.flags:
            raise bluez_error(NOT_PERMITTED, "Read not permitted")
        value = bytes(char.device.peer.on_read(char.uuid))
        offset = int(options["offset"].value) if "offset" in options else 0
        if offset > len(value):
            raise bluez_error(INVALID_ARGUMENTS, "Invalid offset")
        char.value = value
        char.emit_properties_changed({"Value": value})  # BlueZ caches reads in Value and signals it
        return value[offset:]

    def write_characteristic(self, char: GattCharacteristic1, data: bytes, options: dict[str, Variant]) -> None:
        self._require_link(char)
        kind = str(options["type"].value) if "type" in options else ""
        if kind not in ("", "request", "command", "reliable"):
            raise bluez_error(INVALID_ARGUMENTS, "Invalid Arguments in method call")
        if "write" in char.flags and kind != "command":
            with_response = True
        elif "write-without-response" in char.flags and kind != "request":
            with_response = False
        else:
            raise bluez_error(NOT_PERMITTED, "Write not permitted")
        if not with_response and len(data) > char.mtu - 3:
            raise bluez_error(FAILED, "Failed to initiate write")
        if with_response and len(data) > 512:
            raise bluez_error(INVALID_ARGUMENTS, "Invalid Length")
        char.device.peer.on_write(char.uuid, bytes(data), with_response)

    def start_notify(self, char: GattCharacteristic1) -> None:
        self._require_link(char)
        if not {"notify", "indicate"} & set(char.flags):
            raise bluez_error(NOT_SUPPORTED, "Notify not supported")
        first = not char.notify_senders
        char.notify_senders.add(self._sender)
        if first:
            char.emit_properties_changed({"Notifying": True})
            char.device.peer.on_subscribe(char.uuid, True)

    def stop_notify(self, char: GattCharacteristic1) -> None:
        self._require_link(char)
        if self._sender not in char.notify_senders:
            raise bluez_error(FAILED, "No notify session started")
        self._unsubscribe(char, self._sender)

    def _unsubscribe(self, char: GattCharacteristic1, client: str) -> None:
        char.notify_senders.discard(client)
        if not char.notify_senders:
            char.emit_properties_changed({"Notifying": False})
            with contextlib.suppress(Exception):
                char.device.peer.on_subscribe(char.uuid, False)

    def notify(self, dev: Device1, char_uuid: str, data: bytes) -> bool:
        """Deliver a notification/indication from the peer; False when nobody is subscribed or no link."""
        if not dev.connected:
            return False
        char = self.characteristic(dev, char_uuid)
        if char is None or not char.notifying:
            return False
        char.value = bytes(data)
        char.emit_properties_changed({"Value": char.value})
        return True
