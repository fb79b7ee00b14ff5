"""Emulated wearables on a fake BlueZ: what tests and ``anymo emulate`` run instead of real hardware.

``Emulator`` starts a private ``dbus-daemon``, serves ``org.bluez`` on it (``firmware_bridge.bluez_fake``)
and hosts one ``VirtualWearable`` per ``WearableSpec``. A wearable wraps the device's ``VirtualPeripheral``
(the same codec as its driver): writes from the central go to ``peripheral.on_write`` and its replies come
back as notifications/indications; while ``peripheral.streaming()``, a real-time producer takes samples
from the replay source at ``peripheral.rate_hz()``, stamps them with the (drifting) device clock, encodes
them in the device's natural packet size and sends them, applying the ``FaultPlan`` and recording the
ground truth (``Emulator.truth``).

Timeline: the device samples on its own clock, so sample ``k`` of a streaming session is taken at device
time ``t_dev_start + k / rate``, i.e. host time ``t_start + k / (rate * (1 + drift_ppm 1e-6))`` (host
monotonic time mapped to ``time.time()``); a packet is sent when its last sample has been taken. The producer sleeps
until that ideal instant and catches up if it wakes late, so timing never drifts with the event loop.
Each link starts a fresh peripheral (the device resets its state when the link drops).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from anymo.data.recording import Recording
from firmware_bridge.battery import BATTERY_LEVEL_UUID, BatteryLevel
from firmware_bridge.bluez_fake import FakeBluez, PrivateBus, RemotePeer
from firmware_bridge.devices import PERIPHERALS, get_peripheral
from firmware_bridge.devices.base import GattServiceSpec, VirtualPeripheral
from firmware_bridge.replay import SampleSource, make_source

log = logging.getLogger(__name__)

REPLY_DELAY_S = 0.002  # a control-point reply follows the write response, as over the air
SIGNAL_SETTLE_S = 0.05  # after a state change: time for its D-Bus signals to reach clients in this process


@dataclass
class FaultPlan:
    """Link and clock faults of one wearable. Drops/duplicates apply to DATA notifications only."""

    drop_prob: float = 0.0  # fraction of data notifications never sent (seeded; exact count in stats)
    duplicate_prob: float = 0.0  # fraction of data notifications sent twice
    clock_drift_ppm: float = 0.0  # the device clock runs fast by this much
    clock_offset_s: float = 0.0  # device clock reading at host time 0 of the emulator (arbitrary epoch)
    # device-initiated disconnects: entry i fires this long after the i-th streaming session started
    disconnect_after_s: tuple[float, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("drop_prob", "duplicate_prob"):
            p = getattr(self, name)
            if not 0.0 <= p < 1.0:
                raise ValueError(f"FaultPlan.{name} must be in [0, 1), got {p}")
        if abs(self.clock_drift_ppm) >= 1e5:
            raise ValueError(f"FaultPlan.clock_drift_ppm {self.clock_drift_ppm} is not a crystal error (|ppm| < 1e5)")
        self.disconnect_after_s = tuple(float(d) for d in self.disconnect_after_s)
        if any(d < 0 for d in self.disconnect_after_s):
            raise ValueError("FaultPlan.disconnect_after_s must hold non-negative seconds")


@dataclass
class WearableSpec:
    """One emulated wearable."""

    device_type: str  # a key of firmware_bridge.devices.PERIPHERALS, e.g. "polar-verity", "anymo-imu"
    placement: str = "unknown"  # named placement, informational
    replay: Recording | str | Path | None = None  # None = built-in synthetic signal (gravity + gentle motion)
    address: str | None = None  # default: deterministic from the index, "AA:4D:00:00:00:01", ...
    name: str | None = None  # advertised local name, default from the peripheral
    faults: FaultPlan = field(default_factory=FaultPlan)
    loop: bool = True  # loop the replay
    rssi_dbm: int | None = None  # default: the emulator's rssi_dbm minus 3 dB per index
    battery_pct: int = 87  # Battery Level at start, for device types with the Battery Service
    battery_s_per_pct: float = 30.0  # discharge: one percent per this many seconds
    mtu: int | None = None  # ATT_MTU of the link (default: the peripheral's; AnyMo IMU, Polar, Movesense take one)

    def __post_init__(self) -> None:
        if self.device_type not in PERIPHERALS:
            raise ValueError(f"unknown device type {self.device_type!r}; valid types: {', '.join(sorted(PERIPHERALS))}")
        if self.address is not None:
            check_address(self.address)
        if self.mtu is not None and not 23 <= self.mtu <= 517:
            raise ValueError(f"ATT_MTU must be 23..517, got {self.mtu}")


def check_address(address: str) -> str:
    parts = address.split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
        raise ValueError(f"Bluetooth address {address!r} must look like AA:4D:00:00:00:01 (six hex pairs)")
    return address.upper()


@dataclass
class SentSample:
    """Ground truth for a block of samples the device produced while streaming (arrays, one row per sample)."""

    t_host_s: np.ndarray  # [n] time.time() at which each sample was taken (the true instant)
    t_device_s: np.ndarray  # [n] the device clock at that instant
    acc_mps2: np.ndarray  # [n, 3]
    gyro_rads: np.ndarray | None  # [n, 3]
    sent: np.ndarray  # [n] bool: every notification carrying the block reached the air
    packet_index: np.ndarray  # [n] index of the block (one notification per active stream) in the session


def samples_per_notification(p: VirtualPeripheral) -> int:
    """How many samples the device puts in one data notification (its natural packet size)."""
    fn = getattr(p, "samples_per_notification", None)
    if callable(fn):
        return max(1, int(fn()))
    if hasattr(p, "max_samples_per_packet"):  # anymo-imu: configured or MTU-limited samples per packet
        return max(1, int(getattr(p, "_spp", 0) or p.max_samples_per_packet()))
    model = getattr(p, "model", None)
    if model is not None and hasattr(p, "_frame_samples"):  # Polar PMD: samples per ACC frame
        return max(1, int(p._frame_samples(next(iter(model.sensors.values())))))
    return max(1, int(round(p.rate_hz() * 0.04)))  # unknown device: ~25 notifications per second


class VirtualWearable(RemotePeer):
    """A ``VirtualPeripheral`` on the air: advertisement, link state, real-time producer, ground truth."""

    def __init__(self, spec: WearableSpec, index: int, emulator: Emulator, rssi_dbm: int) -> None:
        self.spec = spec
        self.index = index
        self.emulator = emulator
        self.address = check_address(spec.address or f"AA:4D:00:00:00:{index + 1:02X}")
        self.peripheral: VirtualPeripheral = self._new_peripheral()
        self.name = self.peripheral.local_name
        self.rssi_dbm = int(rssi_dbm)
        self.advertising = True
        self.advertised_uuids = tuple(self.peripheral.advertised_service_uuids)
        self.manufacturer_data = dict(getattr(self.peripheral, "manufacturer_data", {}) or {})
        self.service_data = {}
        self.mtu = int(getattr(self.peripheral, "mtu", 247))
        self.battery = BatteryLevel(spec.battery_pct, spec.battery_s_per_pct) if self.peripheral.battery_service \
            else None  # outlives links: the device's battery, not its connection state
        self.source: SampleSource = make_source(spec.replay, spec.loop, index)
        recording = getattr(self.source, "recording", None)
        self.placement = spec.placement
        if spec.placement == "unknown" and recording is not None:  # informational: what the replay was worn at
            self.placement = recording.placement
        self.faults = spec.faults
        self._rng = random.Random(spec.faults.seed)
        self._send = None
        self._producer: asyncio.Task | None = None
        self._disconnect_timer: asyncio.TimerHandle | None = None
        self.connected = False
        self.cursor = 0  # next replay sample (continues across sessions)
        self.sessions = 0  # streaming sessions started
        self._truth: list[SentSample] = []
        self.stats = {"packets_sent": 0, "packets_dropped": 0, "packets_duplicated": 0, "packets_undelivered": 0,
                      "disconnects": 0, "connections": 0, "link_losses": 0, "samples": 0}

    def _new_peripheral(self) -> VirtualPeripheral:
        """A peripheral in its power-on state, with the spec's local name."""
        name = self.spec.name
        kwargs = {"mtu": self.spec.mtu} if self.spec.mtu is not None else {}
        try:
            p = get_peripheral(self.spec.device_type, **kwargs, **({"local_name": name} if name else {}))
        except TypeError:  # a peripheral without a local_name (or mtu) parameter
            if kwargs:
                raise ValueError(f"the emulated {self.spec.device_type} has a fixed MTU; leave mtu out") from None
            p = get_peripheral(self.spec.device_type)
            if name:
                p.local_name = name
        return p

    # --- RemotePeer --------------------------------------------------------------------------------

    def gatt_services(self) -> tuple[GattServiceSpec, ...]:
        return tuple(self.peripheral.services) + ((BatteryLevel.service,) if self.battery is not None else ())

    def on_connect(self, send) -> None:
        self.peripheral = self._new_peripheral()  # fresh device state per link
        self._send = send
        self.connected = True
        self.stats["connections"] += 1

    def on_disconnect(self, reason: str) -> None:
        self.connected = False
        self._send = None
        if self.battery is not None:
            self.battery.notifying = False
        self.stats["link_losses"] += 1
        if reason == "remote":
            self.stats["disconnects"] += 1
        self._stop_producer()

    def on_read(self, char_uuid: str) -> bytes:
        if self.battery is not None and char_uuid.lower() == BATTERY_LEVEL_UUID:
            return self.battery.read()
        return self.peripheral.read(char_uuid)

    def on_write(self, char_uuid: str, data: bytes, with_response: bool) -> None:
        self._reply(self.peripheral.on_write(char_uuid, bytes(data)))

    def on_subscribe(self, char_uuid: str, enabled: bool) -> None:
        if self.battery is not None and char_uuid.lower() == BATTERY_LEVEL_UUID:
            self.battery.notifying = enabled
            self.battery.changed()  # the current level is known to the central: notify only changes
            return
        self._reply(self.peripheral.on_subscribe(char_uuid, enabled))

    def _reply(self, replies) -> None:
        if replies:
            asyncio.get_running_loop().call_later(REPLY_DELAY_S, self._send_all, list(replies))
        self._sync_producer()

    # --- producer ----------------------------------------------------------------------------------

    def _send_all(self, notes: list[tuple[str, bytes]]) -> None:
        if self._send is not None:
            for uuid, data in notes:
                self._send(uuid, data)

    def _sync_producer(self) -> None:
        running = self._producer is not None and not self._producer.done()
        if self.peripheral.streaming() and not running and self.connected:
            self.sessions += 1
            self._producer = asyncio.ensure_future(self._produce(self.sessions - 1))
        elif not self.peripheral.streaming() and running:
            self._stop_producer()

    def _stop_producer(self) -> None:
        if self._disconnect_timer is not None:
            self._disconnect_timer.cancel()
            self._disconnect_timer = None
        if self._producer is not None and not self._producer.done():
            self._producer.cancel()
        self._producer = None

    def device_time_s(self, t_mono: np.ndarray | float) -> np.ndarray:
        em = self.emulator
        return self.faults.clock_offset_s + (np.asarray(t_mono) - em.epoch_mono) * (1.0 + self.faults.clock_drift_ppm * 1e-6)

    async def _produce(self, session: int) -> None:
        loop = asyncio.get_running_loop()
        p = self.peripheral
        t0 = loop.time()
        if session < len(self.faults.disconnect_after_s):
            self._disconnect_timer = loop.call_at(t0 + self.faults.disconnect_after_s[session], self._hang_up)
        speed = 1.0 + self.faults.clock_drift_ppm * 1e-6  # the device samples on its own (drifting) clock
        rate = p.rate_hz()
        k = 0  # samples produced in this session
        packet = 0
        try:
            while p.streaming() and self.connected:
                if p.rate_hz() != rate:  # re-configured while streaming: a new timeline
                    rate, t0, k = p.rate_hz(), loop.time(), 0
                n = samples_per_notification(p)
                due = t0 + (k + n - 1) / (rate * speed)
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                    continue  # re-check state after sleeping
                blk = self.source.block(rate, self.cursor, n)
                if len(blk) == 0:
                    log.info("%s: replay finished", self.address)
                    return
                n = len(blk)
                t_mono = t0 + (k + np.arange(n)) / (rate * speed)
                self._emit(p, t_mono, blk, packet)
                self.cursor += n
                k += n
                packet += 1
        except asyncio.CancelledError:
            pass

    def _emit(self, p: VirtualPeripheral, t_mono: np.ndarray, blk, packet: int) -> None:
        t_dev = self.device_time_s(t_mono)
        gyro = blk.gyro_rads if self.source.has_gyro else None
        mag = blk.mag_uT if self.source.has_mag else None
        notes = p.encode(t_dev, blk.acc_mps2, gyro, mag)
        all_sent = bool(notes)
        for uuid, data in notes:
            if self._rng.random() < self.faults.drop_prob:
                self.stats["packets_dropped"] += 1
                all_sent = False
                continue
            delivered = self._send is not None and self._send(uuid, data)
            if not delivered:
                self.stats["packets_undelivered"] += 1
                all_sent = False
                continue
            self.stats["packets_sent"] += 1
            if self._rng.random() < self.faults.duplicate_prob:
                self._send(uuid, data)
                self.stats["packets_duplicated"] += 1
        if self.battery is not None and self._send is not None:
            level = self.battery.changed()
            if level is not None:
                self._send(BATTERY_LEVEL_UUID, level)
        n = len(t_mono)
        self.stats["samples"] += n
        self._truth.append(SentSample(
            t_host_s=self.emulator.epoch_wall + (t_mono - self.emulator.epoch_mono),
            t_device_s=np.asarray(t_dev, dtype=np.float64),
            acc_mps2=np.asarray(blk.acc_mps2, dtype=np.float64),
            gyro_rads=None if gyro is None else np.asarray(gyro, dtype=np.float64),
            sent=np.full(n, all_sent),
            packet_index=np.full(n, packet, dtype=np.int64),
        ))

    def _hang_up(self) -> None:
        self._disconnect_timer = None
        self.emulator.fake.drop_link(self.address, "remote")

    def truth(self) -> dict[str, np.ndarray]:
        rows = self._truth
        out: dict[str, np.ndarray] = {
            "t_host_s": np.concatenate([r.t_host_s for r in rows]) if rows else np.zeros(0),
            "t_device_s": np.concatenate([r.t_device_s for r in rows]) if rows else np.zeros(0),
            "acc_mps2": np.concatenate([r.acc_mps2 for r in rows]) if rows else np.zeros((0, 3)),
            "sent": np.concatenate([r.sent for r in rows]) if rows else np.zeros(0, dtype=bool),
            "packet_index": np.concatenate([r.packet_index for r in rows]) if rows else np.zeros(0, dtype=np.int64),
        }
        if rows and all(r.gyro_rads is not None for r in rows):
            out["gyro_rads"] = np.concatenate([r.gyro_rads for r in rows])
        return out


class Emulator:
    """Emulated wearables on a private bus. Async context manager; one per test / ``anymo emulate`` process.

    Set ``DBUS_SYSTEM_BUS_ADDRESS`` to ``bus_address`` and bleak (BlueZ backend) sees the wearables.
    """

    def __init__(self, wearables: list[WearableSpec], *, adapter: str = "hci0", rssi_dbm: int = -55,
                 advert_interval_s: float = 0.1) -> None:
        if not wearables:
            raise ValueError("Emulator needs at least one WearableSpec (e.g. WearableSpec('anymo-imu'))")
        self.specs = list(wearables)
        self.adapter = adapter
        self.rssi_dbm = int(rssi_dbm)
        self.bus = PrivateBus()
        self.fake = FakeBluez(adapter, advert_interval_s=advert_interval_s)
        self.wearables: dict[str, VirtualWearable] = {}
        self.epoch_mono = 0.0
        self.epoch_wall = 0.0
        self.bus_address = ""

    @property
    def addresses(self) -> list[str]:
        return list(self.wearables)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.epoch_mono, self.epoch_wall = loop.time(), time.time()
        names: dict[str, int] = {}
        for i, spec in enumerate(self.specs):
            rssi = spec.rssi_dbm if spec.rssi_dbm is not None else self.rssi_dbm - 3 * i
            w = VirtualWearable(spec, i, self, rssi)
            if w.address in self.wearables:
                raise ValueError(f"two wearables share the address {w.address}; give each its own --address")
            if spec.name is None and w.name in names:  # same model twice: tell them apart by name too
                w.name = f"{w.name} {w.address[-5:].replace(':', '')}"
            names[w.name] = i
            self.wearables[w.address] = w
        self.bus_address = self.bus.start()
        try:
            await self.fake.start(self.bus_address)
            for w in self.wearables.values():
                self.fake.add_peer(w)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        for w in self.wearables.values():
            w._stop_producer()
        with contextlib.suppress(Exception):
            await self.fake.stop()
        self.bus.stop()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    def wearable(self, address: str) -> VirtualWearable:
        try:
            return self.wearables[address.upper()]
        except KeyError:
            raise ValueError(f"no emulated wearable at {address}; addresses: {', '.join(self.wearables)}") from None

    def truth(self, address: str) -> dict[str, np.ndarray]:
        """Every sample the device produced while streaming (see ``SentSample``)."""
        return self.wearable(address).truth()

    def stats(self, address: str) -> dict[str, int]:
        """packets_sent, packets_dropped, packets_duplicated, packets_undelivered (nobody subscribed),
        disconnects (device-initiated), connections, link_losses (any cause), samples."""
        return dict(self.wearable(address).stats)

    async def disconnect(self, address: str) -> None:
        """Device-initiated disconnect now (Connected -> False, ServicesResolved False, GATT objects removed)."""
        w = self.wearable(address)
        if not self.fake.drop_link(w.address, "remote"):
            raise ValueError(f"{address} is not connected")
        await asyncio.sleep(SIGNAL_SETTLE_S)

    async def set_powered(self, powered: bool) -> None:
        """Adapter Powered on/off (off disconnects everyone and stops discovery)."""
        self.fake.set_powered(powered)
        await asyncio.sleep(SIGNAL_SETTLE_S)

    def set_advertising(self, address: str, on: bool) -> None:
        self.wearable(address).advertising = bool(on)
