"""WitMotion WT901BLE family (BWT901BLECL5.0, WT901BLE68): the BLE 5.0 protocol.

Protocol facts, from WitMotion's "Bluetooth 5.0 communication protocol" (wit-motion.gitbook.io, as transcribed
by the ESPHome ``witmotion`` component "based on WT901BLECL datasheet v23-0420" and community bleak decoders):

* Service ``0000ffe5-0000-1000-8000-00805f9a34fb``, notify ``0000ffe4-…``, write ``0000ffe9-…``. Note the
  vendor base ``…-00805f9a34fb``: it is NOT the Bluetooth base UUID ``…-00805f9b34fb``.
* Default data packet, 20 bytes: ``55 61`` then nine int16 LE: acc xyz (±16 g full scale: raw / 32768 * 16 g),
  angular velocity xyz (±2000 °/s: raw / 32768 * 2000), angle roll, pitch, yaw (±180°: raw / 32768 * 180).
  Some firmware batches several 20-byte packets in one notification or splits one over two; the decoder reads
  the notifications as one byte stream, as the vendor's decoders do (see ``WitMotionDecoder``).
* Register read reply, 20 bytes: ``55 71 <reg lo> <reg hi>`` then 8 int16 LE registers starting at ``reg``.
* Commands, 5 bytes ``FF AA <reg> <lo> <hi>``: unlock ``FF AA 69 88 B5`` (needed before a register write),
  return rate register 0x03 (codes 0x01..0x0A = 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200 Hz), save
  ``FF AA 00 00 00``, read register ``FF AA 27 <reg> 00``.

Timing: the packet carries NO device timestamp and no sequence number. The decoder times samples from the
configured return rate and the arrival order (``t_device_s`` = sample count / rate), so lost packets cannot be
detected and the stream's clock is only as good as the sensor's rate. The magnetometer is only readable as a
register (0x3A) in unspecified units and is not streamed here. The last decoded angles are kept in
``WitMotionDecoder.angle_deg`` (roll, pitch, yaw); the emulated device derives roll and pitch from gravity and
reports yaw 0.
"""

from __future__ import annotations

import logging

import numpy as np

from .base import (
    DeviceDriver,
    GattCharacteristicSpec,
    GattClient,
    GattServiceSpec,
    ImuSamples,
    NotifyHandler,
    PacketDecoder,
    StreamSettings,
    VirtualPeripheral,
)
from .common import DEG2RAD, G0_MPS2, ReplyWaiter, nearest, quietly

log = logging.getLogger(__name__)


def wit_uuid(short: int) -> str:
    """16-bit id in WitMotion's vendor base (…-00805f9a34fb, not the Bluetooth base …-00805f9b34fb)."""
    return f"0000{short:04x}-0000-1000-8000-00805f9a34fb"


SERVICE_UUID = wit_uuid(0xFFE5)
NOTIFY_UUID = wit_uuid(0xFFE4)
WRITE_UUID = wit_uuid(0xFFE9)

HEADER, FLAG_DATA, FLAG_REGISTERS = 0x55, 0x61, 0x71
PACKET_SIZE = 20
REG_SAVE, REG_RATE, REG_READ, REG_UNLOCK = 0x00, 0x03, 0x27, 0x69
UNLOCK = bytes([0xFF, 0xAA, REG_UNLOCK, 0x88, 0xB5])
SAVE = bytes([0xFF, 0xAA, REG_SAVE, 0x00, 0x00])
RATE_CODES = {0.2: 0x01, 0.5: 0x02, 1.0: 0x03, 2.0: 0x04, 5.0: 0x05, 10.0: 0x06, 20.0: 0x07, 50.0: 0x08,
              100.0: 0x09, 200.0: 0x0A}
RATE_OF_CODE = {c: r for r, c in RATE_CODES.items()}
ACC_MPS2_PER_LSB = 16.0 * G0_MPS2 / 32768.0
GYRO_RADS_PER_LSB = 2000.0 * DEG2RAD / 32768.0
ANGLE_DEG_PER_LSB = 180.0 / 32768.0


def command(reg: int, value: int) -> bytes:
    return bytes([0xFF, 0xAA, reg, value & 0xFF, (value >> 8) & 0xFF])


def read_register_command(reg: int) -> bytes:
    return command(REG_READ, reg)


def pack_data(acc_raw, gyro_raw, angle_raw) -> bytes:
    """One 20-byte ``55 61`` packet from int16 triples."""
    body = np.concatenate([np.asarray(v, dtype="<i2").reshape(3) for v in (acc_raw, gyro_raw, angle_raw)])
    return bytes([HEADER, FLAG_DATA]) + body.astype("<i2").tobytes()


def pack_registers(reg: int, values) -> bytes:
    """A ``55 71`` register reply: 8 int16 registers starting at ``reg``."""
    vals = np.zeros(8, dtype="<i2")
    vals[:len(values)] = values
    return bytes([HEADER, FLAG_REGISTERS, reg & 0xFF, reg >> 8]) + vals.tobytes()


class WitMotionDecoder(PacketDecoder):
    """``55 61`` packets -> ImuSamples (sensor "imu"), timed by count at the configured rate.

    Like WitMotion's own decoders, notifications are one byte stream: a packet may span notifications (an
    11 + 9 split), several may share one (a 28-byte notification holds a packet and the start of the next),
    and bytes before a ``55 61`` / ``55 71`` header are skipped (resync, counted in ``stats.bad_packets``).
    One refinement over a plain byte stream: when a notification that starts with a header arrives while a
    packet is incomplete and cannot be its continuation (the byte after the missing part is no header), the
    continuation was lost and the incomplete packet is dropped instead of being glued to the next one.

    Accounting (each notification counted once, as for every decoder): one that completes a data packet is
    ``packets_ok``; one that completes only a register reply, or held the first part of a packet completed
    later, is ``ignored``; one whose bytes were all skipped (junk, or a packet whose continuation was lost) is
    ``bad``. Notifications still waiting are ``held_parts``; skipped junk bytes are counted in ``skipped_bytes``.
    """

    def __init__(self, rate_hz: float = 10.0) -> None:
        super().__init__()
        self.rate_hz = float(rate_hz)
        self.count = 0
        self.angle_deg: np.ndarray | None = None  # [n, 3] roll, pitch, yaw of the last notification
        self.registers: dict[int, np.ndarray] = {}  # start register -> 8 values, from 55 71 replies
        self.skipped_bytes = 0  # bytes skipped while resyncing on a header
        self._buf = b""  # bytes of an incomplete packet
        self._held = 0  # notifications whose bytes are in _buf and that are not counted yet

    @property
    def held_parts(self) -> int:
        """Notifications held while their packet is incomplete (not yet counted anywhere)."""
        return self._held

    @staticmethod
    def _is_header(buf: bytes, i: int) -> bool:
        return buf[i] == HEADER and (i + 1 >= len(buf) or buf[i + 1] in (FLAG_DATA, FLAG_REGISTERS))

    def _drop_held(self, reason: str) -> None:
        for _ in range(self._held):
            self.stats.bad(reason, self._buf)
        self._held = 0

    def decode(self, char_uuid: str, data: bytes) -> list[ImuSamples]:
        if char_uuid.lower() != NOTIFY_UUID:
            return []
        data = bytes(data)
        if not data:
            self.stats.bad("empty", data)
            return []
        if self._buf and len(data) >= 2 and self._is_header(data, 0):
            need = PACKET_SIZE - len(self._buf)
            if len(data) > need and not self._is_header(data, need):  # not a continuation: it was lost
                self._drop_held("continuation missing")
                self._buf = b""
        old = len(self._buf)
        buf = self._buf + data
        frames: list[bytes] = []
        i = 0
        while i < len(buf):
            if not self._is_header(buf, i):
                i += 1
                self.skipped_bytes += 1
                continue
            if len(buf) - i < PACKET_SIZE:
                break
            frames.append(buf[i:i + PACKET_SIZE])
            i += PACKET_SIZE
        self._buf = buf[i:]
        rows = []
        for f in frames:
            if f[1] == FLAG_REGISTERS:
                self.registers[f[2] | f[3] << 8] = np.frombuffer(f[4:], "<i2").copy()
            else:
                rows.append(np.frombuffer(f[2:], "<i2"))
        if frames:  # earlier held notifications were first parts (or junk): settled now
            self.stats.ignored += self._held
            self._held = 0
        elif i >= old:  # nothing completed, and no earlier byte is still pending: those were junk
            self._drop_held("resync")
            if not self._buf:
                self.stats.bad("resync", data)
        if not frames and self._buf:
            self._held += 1
            return []
        if not rows:
            if frames:
                self.stats.ignored += 1
            return []
        raw = np.stack(rows).astype(np.float64)
        n = len(raw)
        t = (self.count + np.arange(n)) / self.rate_hz
        self.count += n
        self.stats.packets_ok += 1
        self.angle_deg = raw[:, 6:9] * ANGLE_DEG_PER_LSB
        return [ImuSamples(t_device_s=t, acc_mps2=raw[:, 0:3] * ACC_MPS2_PER_LSB,
                           gyro_rads=raw[:, 3:6] * GYRO_RADS_PER_LSB, sensor="imu")]


class WitMotionDriver(DeviceDriver):
    """Start: notifications on, unlock, write the return rate, save, read the rate register back.
    Stop: notifications off (the sensor streams whenever a central listens; there is no stop command)."""
    timing = "count"

    device_type = "witmotion-wt901ble"
    display_name = "WitMotion WT901BLE"
    service_uuids = (SERVICE_UUID,)
    name_prefixes = ("WT901", "WT9011")
    reply_timeout_s = 5.0

    def new_decoder(self, settings: StreamSettings) -> PacketDecoder:
        return WitMotionDecoder(nearest(settings.rate_hz, RATE_CODES))

    async def start(self, client: GattClient, settings: StreamSettings, on_notify: NotifyHandler) -> PacketDecoder:
        waiter = ReplyWaiter()

        def route(uuid: str, data: bytes) -> None:
            if len(data) == PACKET_SIZE and data[0] == HEADER and data[1] == FLAG_REGISTERS:
                waiter.handler(uuid, data)
            else:
                on_notify(uuid, data)

        rate = nearest(settings.rate_hz, RATE_CODES)
        await client.start_notify(NOTIFY_UUID, route)
        await client.write(WRITE_UUID, UNLOCK, response=True)
        await client.write(WRITE_UUID, command(REG_RATE, RATE_CODES[rate]), response=True)
        await client.write(WRITE_UUID, SAVE, response=True)
        await client.write(WRITE_UUID, read_register_command(REG_RATE), response=True)
        reply = await waiter.wait(lambda r: r[2] == REG_RATE and r[3] == 0, self.reply_timeout_s)
        code = int.from_bytes(reply[4:6], "little")
        if code not in RATE_OF_CODE:
            raise RuntimeError(f"WitMotion reports return-rate code 0x{code:02x}, not a known rate")
        if RATE_OF_CODE[code] != rate:
            log.warning("WitMotion kept %g Hz instead of the requested %g Hz", RATE_OF_CODE[code], rate)
        log.info("WitMotion streaming at %g Hz (timed by arrival order: no device timestamps)", RATE_OF_CODE[code])
        return WitMotionDecoder(RATE_OF_CODE[code])

    async def stop(self, client: GattClient) -> None:
        await quietly(client.stop_notify(NOTIFY_UUID))


class WitMotionPeripheral(VirtualPeripheral):
    """A WT901BLE as the emulator presents it: register file, unlock/save, the 20-byte packets forwarded as a byte
    stream in notifications of up to ATT_MTU - 3 bytes (one packet each at the default MTU 23)."""

    device_type = "witmotion-wt901ble"
    advertised_service_uuids = (SERVICE_UUID,)

    def __init__(self, local_name: str = "WT901BLE68", mtu: int = 23) -> None:
        self.local_name = local_name
        self.mtu = mtu  # the BLE module forwards the sensor's UART bytes in notifications of up to mtu - 3 bytes
        self.services = (GattServiceSpec(SERVICE_UUID, (
            GattCharacteristicSpec(NOTIFY_UUID, ("notify",)),
            GattCharacteristicSpec(WRITE_UUID, ("write", "write-without-response")),
        )),)
        self.registers = {REG_RATE: RATE_CODES[10.0]}
        self.unlocked = False
        self.saved: dict[int, int] = dict(self.registers)
        self.notifying = False

    def streaming(self) -> bool:
        return self.notifying

    def rate_hz(self) -> float:
        return RATE_OF_CODE[self.registers[REG_RATE]]

    def on_subscribe(self, char_uuid: str, enabled: bool) -> list[tuple[str, bytes]]:
        if char_uuid.lower() == NOTIFY_UUID:
            self.notifying = enabled
        return []

    def on_write(self, char_uuid: str, data: bytes) -> list[tuple[str, bytes]]:
        if char_uuid.lower() != WRITE_UUID or len(data) != 5 or data[0] != 0xFF or data[1] != 0xAA:
            return []
        reg, value = data[2], data[3] | data[4] << 8
        if reg == REG_UNLOCK:
            self.unlocked = bytes(data) == UNLOCK
        elif reg == REG_READ:
            return [(NOTIFY_UUID, pack_registers(value, [self.registers.get(value + i, 0) for i in range(8)]))]
        elif reg == REG_SAVE and self.unlocked:
            self.saved = dict(self.registers)
            self.unlocked = False
        elif reg == REG_RATE and self.unlocked and value in RATE_OF_CODE:
            self.registers[REG_RATE] = value
        return []

    def encode(self, t_device_s: np.ndarray, acc_mps2: np.ndarray, gyro_rads: np.ndarray | None,
               mag_uT: np.ndarray | None) -> list[tuple[str, bytes]]:
        acc = np.asarray(acc_mps2, dtype=np.float64).reshape(-1, 3)
        gyro = np.zeros_like(acc) if gyro_rads is None else np.asarray(gyro_rads, dtype=np.float64).reshape(-1, 3)
        roll = np.degrees(np.arctan2(acc[:, 1], acc[:, 2]))
        pitch = np.degrees(np.arctan2(-acc[:, 0], np.hypot(acc[:, 1], acc[:, 2])))
        angle = np.stack([roll, pitch, np.zeros_like(roll)], axis=1)

        def q(x: np.ndarray, lsb: float) -> np.ndarray:
            return np.clip(np.round(x / lsb), -32768, 32767).astype("<i2")

        a, g, e = q(acc, ACC_MPS2_PER_LSB), q(gyro, GYRO_RADS_PER_LSB), q(angle, ANGLE_DEG_PER_LSB)
        stream = b"".join(pack_data(a[i], g[i], e[i]) for i in range(len(acc)))
        size = max(1, self.mtu - 3)  # MTU 23: one 20-byte packet per notification; larger: cut anywhere (28 = 20 + 8)
        return [(NOTIFY_UUID, stream[i:i + size]) for i in range(0, len(stream), size)]
