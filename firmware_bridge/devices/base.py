"""The contract every wearable driver fulfils (modelled on bleak: one API, one backend per device).

A driver is two halves that share one codec:

* ``DeviceDriver``: the central side. Knows how to recognise the device in an advertisement, which
  GATT characteristics to use, which commands to write in which order to start and stop the IMU
  stream (its GATT procedure), and how to turn notification bytes into ``ImuSamples``
  (its ``PacketDecoder``). Used by ``firmware_bridge.stream`` through a real ``BleakClient``.
* ``VirtualPeripheral``: the peripheral side, for the emulator. Declares the same GATT table, answers
  control-point writes the way the real device does, and encodes samples into notification bytes
  with the same codec. Used by the fake BlueZ (``firmware_bridge.bluez_fake``).

Units leaving a decoder are always SI: m/s², rad/s, µT; device time in seconds on the device's clock.
Decoders never raise on bad bytes: they count, log and skip (see ``DecodeStats``).
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class ImuSamples:
    """Samples decoded from one notification (or one frame), in SI units on the device clock."""

    t_device_s: np.ndarray  # [n] float64 device timestamps, seconds
    acc_mps2: np.ndarray | None = None  # [n, 3]
    gyro_rads: np.ndarray | None = None  # [n, 3]
    mag_uT: np.ndarray | None = None  # [n, 3]
    seq: int | None = None  # packet sequence number, when the protocol carries one
    sensor: str = "imu"  # which stream it came from (e.g. "acc", "gyro", "imu")

    def __len__(self) -> int:
        return int(len(self.t_device_s))


@dataclass
class DecodeStats:
    """What a decoder saw. ``bad_packets`` are skipped (short, long, garbage); ``gaps`` are missing sequence numbers."""

    packets_ok: int = 0
    bad_packets: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    packets_lost: int = 0
    ignored: int = 0  # notifications that carry no samples by design (command replies, first parts of split packets)
    reasons: dict[str, int] = field(default_factory=dict)

    def bad(self, reason: str, data: bytes) -> None:
        self.bad_packets += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1
        log.debug("skipping bad packet (%s): %s", reason, bytes(data[:32]).hex())


class PacketDecoder(abc.ABC):
    """Stateful bytes -> samples for one connection (delta frames, sequence tracking, scale factors)."""

    def __init__(self) -> None:
        self.stats = DecodeStats()

    @abc.abstractmethod
    def decode(self, char_uuid: str, data: bytes) -> list[ImuSamples]:
        """Decode one notification from characteristic ``char_uuid``. Never raises on bad bytes."""


@dataclass(frozen=True)
class StreamSettings:
    """What the user asked for; drivers pick the nearest supported values and report them."""

    rate_hz: float = 100.0
    acc_range_g: float = 8.0
    gyro_range_dps: float = 2000.0
    sensors: tuple[str, ...] = ("acc", "gyro")


NotifyHandler = Callable[[str, bytes], None]  # (char_uuid, data)


class GattClient(abc.ABC):
    """The slice of ``bleak.BleakClient`` a GATT procedure needs (so procedures are testable alone)."""

    @abc.abstractmethod
    async def write(self, char_uuid: str, data: bytes, response: bool = True) -> None: ...

    @abc.abstractmethod
    async def read(self, char_uuid: str) -> bytes: ...

    @abc.abstractmethod
    async def start_notify(self, char_uuid: str, handler: NotifyHandler) -> None: ...

    @abc.abstractmethod
    async def stop_notify(self, char_uuid: str) -> None: ...

    def max_notify_len(self, char_uuid: str) -> int | None:
        """The longest notification ``char_uuid`` can carry on this link (ATT_MTU - 3); None when unknown."""
        return None


class DeviceDriver(abc.ABC):
    """Central side of one device type: recognition, GATT procedure and decoder factory."""

    device_type: str  # stable id used on the CLI and in the pairing store, e.g. "polar-verity"
    display_name: str
    # How the protocol times its samples, which decides how the stream detects lost packets:
    # "sequence" (packet counter), "timestamp" (device time per frame) or "count" (neither: samples are
    # timed by counting them at the configured rate, so losses can only be inferred from late arrivals).
    timing: str = "timestamp"
    seq_restarts_on_start: bool = False  # "sequence": the counter restarts at 0 with every start command
    service_uuids: tuple[str, ...]  # advertised services used to recognise the device when scanning
    name_prefixes: tuple[str, ...] = ()  # advertised local-name prefixes, e.g. ("Polar Sense",)

    def matches(self, name: str | None, service_uuids: list[str]) -> bool:
        """Whether an advertisement (local name, advertised service UUIDs) is this device type."""
        uuids = {u.lower() for u in service_uuids}
        if any(u.lower() in uuids for u in self.service_uuids):
            return True
        return bool(name) and any(name.startswith(p) for p in self.name_prefixes)

    @abc.abstractmethod
    def new_decoder(self, settings: StreamSettings) -> PacketDecoder: ...

    @abc.abstractmethod
    async def start(self, client: GattClient, settings: StreamSettings, on_notify: NotifyHandler) -> PacketDecoder:
        """Run the start procedure (subscribe, write commands, read responses); return the configured decoder."""

    @abc.abstractmethod
    async def stop(self, client: GattClient) -> None:
        """Run the stop procedure (stop commands, unsubscribe). Must tolerate a dropped link."""


@dataclass(frozen=True)
class GattCharacteristicSpec:
    uuid: str
    flags: tuple[str, ...]  # BlueZ flag names: "read", "write", "write-without-response", "notify", "indicate"
    initial_value: bytes = b""


@dataclass(frozen=True)
class GattServiceSpec:
    uuid: str
    characteristics: tuple[GattCharacteristicSpec, ...]


Notify = Callable[[str, bytes], Awaitable[None] | None]  # (char_uuid, data) sent to the central


class VirtualPeripheral(abc.ABC):
    """Peripheral side of one device type, driven by the emulator over the fake BlueZ.

    The emulator calls ``on_write`` for writes from the central, and pushes samples through
    ``encode`` while streaming is on. Encoders use the same codec as the driver's decoder.
    """

    device_type: str
    local_name: str
    services: tuple[GattServiceSpec, ...]
    advertised_service_uuids: tuple[str, ...]
    manufacturer_data: dict[int, bytes] = {}
    battery_service: bool = False  # the real device has the GATT Battery Service (the emulator then offers it)

    @abc.abstractmethod
    def on_write(self, char_uuid: str, data: bytes) -> list[tuple[str, bytes]]:
        """Handle a write from the central; return notifications/indications to send in reply."""

    @abc.abstractmethod
    def streaming(self) -> bool:
        """Whether the central has started the IMU stream."""

    @abc.abstractmethod
    def rate_hz(self) -> float:
        """The output rate the central configured."""

    @abc.abstractmethod
    def encode(self, t_device_s: np.ndarray, acc_mps2: np.ndarray, gyro_rads: np.ndarray | None,
               mag_uT: np.ndarray | None) -> list[tuple[str, bytes]]:
        """Encode a block of samples into one or more notifications (char_uuid, bytes)."""

    def on_subscribe(self, char_uuid: str, enabled: bool) -> list[tuple[str, bytes]]:
        """The central enabled (``StartNotify``) or disabled (``StopNotify``) notifications on ``char_uuid``.

        Devices that stream as soon as their data characteristic is subscribed (Thingy:52 raw motion,
        WitMotion) start and stop here; the default ignores it. Returns notifications to send.
        """
        return []

    def read(self, char_uuid: str) -> bytes:
        """Answer a read of ``char_uuid`` (default: the characteristic's initial value)."""
        for svc in self.services:
            for ch in svc.characteristics:
                if ch.uuid == char_uuid:
                    return ch.initial_value
        raise KeyError(char_uuid)
