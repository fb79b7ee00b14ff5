"""AnyMo IMU: our open GATT profile for DIY wearables (spec: firmware_bridge/docs/anymo_imu_profile.md).

All multi-byte fields are little-endian. Data packet (version 1)::

    off size field
    0   u8   version (1)
    1   u8   flags: bit0 acc, bit1 gyro, bit2 mag present; bits 3..7 zero
    2   u16  seq (wraps at 65536)
    4   u32  t_first_us: device time of the first sample, microseconds (wraps at 2**32)
    8   u32  period_us: sample period, microseconds
    12  u8   n: samples in this packet (>= 1)
    13  u8   acc_range_g (full scale, e.g. 8 for +-8 g)
    14  u16  gyro_range_dps (full scale, e.g. 2000 for +-2000 deg/s)
    16  n x [acc xyz i16][gyro xyz i16][mag xyz i16] (only the blocks flagged present)

Scales: acc_mps2 = raw * acc_range_g * 9.80665 / 32768, gyro_rads = raw * gyro_range_dps * pi/180 / 32768,
mag_uT = raw * 0.1.

Control point (config characteristic): START ``01 sensors rate_hz:u16 acc_g gyro_dps:u16 spp`` and STOP ``02``;
each is answered by one notification ``F0 opcode status [applied config]``; config notifications that do not
start with F0 are not replies (ArduinoBLE echoes writes) and are ignored. seq restarts at 0 with every accepted
START; a refused command changes nothing. The C twin of this module is
firmware_bridge/firmware/anymo_imu/anymo_imu_packet.h (tests/bridge/test_firmware_bytes.py keeps them equal).
"""

from __future__ import annotations

import logging
import math
import struct
from dataclasses import dataclass

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
from .common import G0_MPS2, ClockUnwrapper, ReplyWaiter, SeqTracker, at_least, nearest, quietly

log = logging.getLogger(__name__)


def anymo_uuid(short: int) -> str:
    """128-bit UUID in the AnyMo IMU base ``616eXXXX-6d6f-4d55-9e00-494d55303031``."""
    return f"616e{short:04x}-6d6f-4d55-9e00-494d55303031"


SERVICE_UUID = anymo_uuid(0x0001)
INFO_UUID = anymo_uuid(0x0002)
CONFIG_UUID = anymo_uuid(0x0003)
DATA_UUID = anymo_uuid(0x0004)

PROTOCOL_VERSION = 1
HEADER = struct.Struct("<BBHIIBBH")  # version, flags, seq, t_first_us, period_us, n, acc_range_g, gyro_range_dps
assert HEADER.size == 16

FLAG_ACC, FLAG_GYRO, FLAG_MAG = 0x01, 0x02, 0x04
SENSOR_FLAGS = {"acc": FLAG_ACC, "gyro": FLAG_GYRO, "mag": FLAG_MAG}
MAG_UT_PER_LSB = 0.1

OP_START, OP_STOP = 0x01, 0x02
REPLY_MARKER = 0xF0
STATUS_OK, STATUS_BAD_LENGTH, STATUS_UNSUPPORTED, STATUS_UNKNOWN_OPCODE, STATUS_SENSOR_ERROR = 0, 1, 2, 3, 4
STATUS_NAMES = {STATUS_OK: "ok", STATUS_BAD_LENGTH: "bad length", STATUS_UNSUPPORTED: "unsupported setting",
                STATUS_UNKNOWN_OPCODE: "unknown opcode", STATUS_SENSOR_ERROR: "sensor error"}
START = struct.Struct("<BBHBHB")  # opcode, sensors, rate_hz, acc_range_g, gyro_range_dps, samples_per_packet
assert START.size == 8

ACC_RANGES_G = (2, 4, 8, 16)  # info bitmask bit i -> ACC_RANGES_G[i]
GYRO_RANGES_DPS = (125, 250, 500, 1000, 2000)  # info bitmask bit i -> GYRO_RANGES_DPS[i]
SENSOR_IDS = {0: "unknown", 1: "LSM6DS3", 2: "BMI270", 3: "LSM9DS1", 4: "MPU6050", 5: "ICM20948", 6: "BMI160",
              7: "LSM6DSOX", 0xFF: "emulator"}


def acc_lsb_mps2(acc_range_g: float) -> float:
    """m/s² per LSB for a ±``acc_range_g`` int16 accelerometer."""
    return acc_range_g * G0_MPS2 / 32768.0


def gyro_lsb_rads(gyro_range_dps: float) -> float:
    """rad/s per LSB for a ±``gyro_range_dps`` int16 gyroscope."""
    return gyro_range_dps * math.pi / 180.0 / 32768.0


def flags_for(sensors) -> int:
    return sum(SENSOR_FLAGS[s] for s in set(sensors) if s in SENSOR_FLAGS)


def bytes_per_sample(flags: int) -> int:
    return 6 * bin(flags & 0x07).count("1")


# --- info characteristic -------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceInfo:
    """Contents of the info characteristic."""

    protocol_version: int = PROTOCOL_VERSION
    firmware_version: tuple[int, int, int] = (1, 0, 0)
    sensor_id: int = 0
    sensors: int = FLAG_ACC | FLAG_GYRO
    acc_ranges_g: tuple[int, ...] = ACC_RANGES_G
    gyro_ranges_dps: tuple[int, ...] = GYRO_RANGES_DPS
    rates_hz: tuple[int, ...] = (25, 50, 100, 200)

    @property
    def sensor_name(self) -> str:
        return SENSOR_IDS.get(self.sensor_id, f"sensor-{self.sensor_id}")

    def pack(self) -> bytes:
        acc_mask = sum(1 << i for i, r in enumerate(ACC_RANGES_G) if r in self.acc_ranges_g)
        gyro_mask = sum(1 << i for i, r in enumerate(GYRO_RANGES_DPS) if r in self.gyro_ranges_dps)
        head = struct.pack("<BBBBBBBBB", self.protocol_version, *self.firmware_version, self.sensor_id,
                           self.sensors, acc_mask, gyro_mask, len(self.rates_hz))
        return head + struct.pack(f"<{len(self.rates_hz)}H", *self.rates_hz)

    @classmethod
    def unpack(cls, data: bytes) -> DeviceInfo:
        """Parse the info characteristic; raises ValueError when malformed (this is a read, not a stream)."""
        if len(data) < 9:
            raise ValueError(f"AnyMo IMU info too short ({len(data)} bytes)")
        ver, fmaj, fmin, fpat, sid, sensors, acc_mask, gyro_mask, n = struct.unpack_from("<BBBBBBBBB", data)
        if len(data) < 9 + 2 * n:  # bytes after the rates are reserved for later versions: ignored
            raise ValueError(f"AnyMo IMU info has {len(data)} bytes, expected at least {9 + 2 * n} for {n} rates")
        rates = struct.unpack_from(f"<{n}H", data, 9)
        return cls(ver, (fmaj, fmin, fpat), sid, sensors,
                   tuple(r for i, r in enumerate(ACC_RANGES_G) if acc_mask >> i & 1),
                   tuple(r for i, r in enumerate(GYRO_RANGES_DPS) if gyro_mask >> i & 1), tuple(rates))


# --- data packets --------------------------------------------------------------------------------


def pack_packet(seq: int, t_first_us: int, period_us: int, acc_range_g: int, gyro_range_dps: int,
                acc_raw: np.ndarray | None, gyro_raw: np.ndarray | None, mag_raw: np.ndarray | None) -> bytes:
    """Pack int16 raw blocks ([n, 3] each, or None) into one data packet (the firmware's byte layout)."""
    blocks = [b for b in (acc_raw, gyro_raw, mag_raw) if b is not None]
    n = len(blocks[0])
    flags = (FLAG_ACC if acc_raw is not None else 0) | (FLAG_GYRO if gyro_raw is not None else 0) \
        | (FLAG_MAG if mag_raw is not None else 0)
    body = np.concatenate([np.asarray(b, dtype="<i2").reshape(n, 3) for b in blocks], axis=1)
    return HEADER.pack(PROTOCOL_VERSION, flags, seq & 0xFFFF, t_first_us & 0xFFFFFFFF, period_us, n,
                       acc_range_g, gyro_range_dps) + body.astype("<i2").tobytes()


class AnymoImuDecoder(PacketDecoder):
    """Data characteristic -> ImuSamples; tracks seq (u16) and unwraps the u32 µs clock."""

    def __init__(self) -> None:
        super().__init__()
        self.seq = SeqTracker(self.stats, bits=16)
        self.clock = ClockUnwrapper(bits=32)
        self.last_us: int | None = None  # device time of the last sample emitted

    def decode(self, char_uuid: str, data: bytes) -> list[ImuSamples]:
        if char_uuid.lower() != DATA_UUID:
            return []
        data = bytes(data)
        if len(data) < HEADER.size:
            self.stats.bad("short", data)
            return []
        ver, flags, seq, t_first_us, period_us, n, acc_range_g, gyro_range_dps = HEADER.unpack_from(data)
        if ver != PROTOCOL_VERSION:
            self.stats.bad("version", data)
            return []
        if flags & ~0x07 or not flags & 0x07 or n == 0:
            self.stats.bad("header", data)
            return []
        if len(data) != HEADER.size + n * bytes_per_sample(flags):
            self.stats.bad("length", data)
            return []
        if (flags & FLAG_ACC and acc_range_g == 0) or (flags & FLAG_GYRO and gyro_range_dps == 0) \
                or (n > 1 and period_us == 0):
            self.stats.bad("scale", data)
            return []
        t0_us = self.clock.peek(t_first_us)
        if not self.seq.accept(seq):
            return []
        if self.last_us is not None and t0_us <= self.last_us:
            self.stats.bad("time went backwards", data)  # a corrupt clock field; keeps the stream monotonic
            return []
        self.clock.update(t_first_us)
        self.last_us = t0_us + period_us * (n - 1)
        self.stats.packets_ok += 1
        raw = np.frombuffer(data, dtype="<i2", offset=HEADER.size).reshape(n, -1).astype(np.float64)
        out = ImuSamples(t_device_s=(t0_us + period_us * np.arange(n, dtype=np.int64)) / 1e6, seq=seq, sensor="imu")
        col = 0
        if flags & FLAG_ACC:
            out.acc_mps2 = raw[:, col:col + 3] * acc_lsb_mps2(acc_range_g)
            col += 3
        if flags & FLAG_GYRO:
            out.gyro_rads = raw[:, col:col + 3] * gyro_lsb_rads(gyro_range_dps)
            col += 3
        if flags & FLAG_MAG:
            out.mag_uT = raw[:, col:col + 3] * MAG_UT_PER_LSB
        return [out]


# --- config characteristic -----------------------------------------------------------------------


def start_command(sensors: int, rate_hz: int, acc_range_g: int, gyro_range_dps: int, samples_per_packet: int = 0) -> bytes:
    return START.pack(OP_START, sensors, rate_hz, acc_range_g, gyro_range_dps, samples_per_packet)


def stop_command() -> bytes:
    return bytes([OP_STOP])


def reply(opcode: int, status: int, body: bytes = b"") -> bytes:
    return bytes([REPLY_MARKER, opcode, status]) + body


# --- central side --------------------------------------------------------------------------------


class AnymoImuDriver(DeviceDriver):
    timing = "sequence"
    seq_restarts_on_start = True
    device_type = "anymo-imu"
    display_name = "AnyMo IMU (open profile)"
    service_uuids = (SERVICE_UUID,)
    name_prefixes = ("AnyMo",)
    reply_timeout_s = 5.0

    def new_decoder(self, settings: StreamSettings) -> PacketDecoder:
        return AnymoImuDecoder()

    @staticmethod
    def choose(info: DeviceInfo, settings: StreamSettings) -> tuple[int, int, int, int]:
        """(sensor flags, rate, acc range, gyro range) nearest to ``settings`` that the device supports."""
        flags = flags_for(settings.sensors) & info.sensors or info.sensors & FLAG_ACC or info.sensors
        rate = int(nearest(settings.rate_hz, info.rates_hz))
        acc = int(at_least(settings.acc_range_g, info.acc_ranges_g)) if info.acc_ranges_g else 0
        gyro = int(at_least(settings.gyro_range_dps, info.gyro_ranges_dps)) if info.gyro_ranges_dps else 0
        return flags, rate, acc, gyro

    async def start(self, client: GattClient, settings: StreamSettings, on_notify: NotifyHandler) -> PacketDecoder:
        info = DeviceInfo.unpack(await client.read(INFO_UUID))
        if info.protocol_version != PROTOCOL_VERSION:
            raise RuntimeError(f"AnyMo IMU protocol version {info.protocol_version} not supported (want {PROTOCOL_VERSION})")
        flags, rate, acc, gyro = self.choose(info, settings)
        waiter = ReplyWaiter()
        await client.start_notify(CONFIG_UUID, waiter.handler)
        await client.start_notify(DATA_UUID, on_notify)
        await client.write(CONFIG_UUID, start_command(flags, rate, acc, gyro), response=True)
        rep = await waiter.wait(lambda r: len(r) >= 3 and r[0] == REPLY_MARKER and r[1] == OP_START, self.reply_timeout_s)
        if rep[2] != STATUS_OK:
            raise RuntimeError(f"AnyMo IMU refused start (status {rep[2]}: {STATUS_NAMES.get(rep[2], 'unknown')}) "
                               f"for sensors 0x{flags:02x}, {rate} Hz, ±{acc} g, ±{gyro} dps")
        log.info("AnyMo IMU streaming: sensors 0x%02x, %d Hz, ±%d g, ±%d dps (%s)", flags, rate, acc, gyro, info.sensor_name)
        return self.new_decoder(settings)

    async def stop(self, client: GattClient) -> None:
        await quietly(client.write(CONFIG_UUID, stop_command(), response=True))
        await quietly(client.stop_notify(DATA_UUID))
        await quietly(client.stop_notify(CONFIG_UUID))


# --- peripheral side -----------------------------------------------------------------------------


class AnymoImuPeripheral(VirtualPeripheral):
    """The reference firmware's behaviour, in Python, for the emulator."""

    device_type = "anymo-imu"
    advertised_service_uuids = (SERVICE_UUID,)
    battery_service = True  # GATT Battery Service 0x180F (Battery Level 0x2A19)

    def __init__(self, local_name: str = "AnyMo IMU", info: DeviceInfo | None = None, mtu: int = 247) -> None:
        self.local_name = local_name
        self.info = info or DeviceInfo(sensor_id=0xFF, sensors=FLAG_ACC | FLAG_GYRO | FLAG_MAG)
        self.mtu = mtu
        self.services = (GattServiceSpec(SERVICE_UUID, (
            GattCharacteristicSpec(INFO_UUID, ("read",), self.info.pack()),
            GattCharacteristicSpec(CONFIG_UUID, ("read", "write", "notify")),
            GattCharacteristicSpec(DATA_UUID, ("notify",)),
        )),)
        self._streaming = False
        self._flags, self._rate, self._acc, self._gyro, self._spp = FLAG_ACC | FLAG_GYRO, 100, 8, 2000, 0
        self._seq = 0

    def streaming(self) -> bool:
        return self._streaming

    def rate_hz(self) -> float:
        return float(self._rate)

    def config_body(self) -> bytes:
        return START.pack(OP_START, self._flags, self._rate, self._acc, self._gyro, self._spp)[1:]

    def read(self, char_uuid: str) -> bytes:
        if char_uuid.lower() == CONFIG_UUID:
            return bytes([int(self._streaming)]) + self.config_body()
        return super().read(char_uuid)

    def on_write(self, char_uuid: str, data: bytes) -> list[tuple[str, bytes]]:
        if char_uuid.lower() != CONFIG_UUID or not data:
            return []
        op = data[0]
        if op == OP_STOP:
            if len(data) != 1:
                return [(CONFIG_UUID, reply(OP_STOP, STATUS_BAD_LENGTH))]
            self._streaming = False
            return [(CONFIG_UUID, reply(OP_STOP, STATUS_OK))]
        if op != OP_START:
            return [(CONFIG_UUID, reply(op, STATUS_UNKNOWN_OPCODE))]
        if len(data) != START.size:
            return [(CONFIG_UUID, reply(OP_START, STATUS_BAD_LENGTH))]
        _, flags, rate, acc, gyro, spp = START.unpack(data)
        ok = (flags and not flags & ~self.info.sensors and rate in self.info.rates_hz
              and (not flags & FLAG_ACC or acc in self.info.acc_ranges_g)
              and (not flags & FLAG_GYRO or gyro in self.info.gyro_ranges_dps))
        if not ok or self.max_samples_per_packet(flags) == 0:
            return [(CONFIG_UUID, reply(OP_START, STATUS_UNSUPPORTED))]
        self._flags, self._rate, self._acc, self._gyro = flags, rate, acc, gyro
        self._spp = min(spp, self.max_samples_per_packet()) if spp else self.max_samples_per_packet()
        self._seq = 0  # every accepted START begins a new stream at seq 0
        self._streaming = True
        return [(CONFIG_UUID, reply(OP_START, STATUS_OK, self.config_body()))]

    def on_subscribe(self, char_uuid: str, enabled: bool) -> list[tuple[str, bytes]]:
        if char_uuid.lower() == DATA_UUID and not enabled:  # nobody listens any more: stop sampling
            self._streaming = False
        return []

    def max_samples_per_packet(self, flags: int | None = None) -> int:
        """Most samples one notification (ATT_MTU - 3 bytes) can carry; 0 when not even one fits."""
        per_sample = bytes_per_sample(self._flags if flags is None else flags)
        return max(0, min(255, (self.mtu - 3 - HEADER.size) // per_sample))

    def encode(self, t_device_s: np.ndarray, acc_mps2: np.ndarray, gyro_rads: np.ndarray | None,
               mag_uT: np.ndarray | None) -> list[tuple[str, bytes]]:
        t_us = np.round(np.asarray(t_device_s, dtype=np.float64) * 1e6).astype(np.int64)
        n_all = len(t_us)
        spp = self._spp or self.max_samples_per_packet()

        def q(x: np.ndarray | None, lsb: float, flag: int) -> np.ndarray | None:
            if x is None or not self._flags & flag:
                return None
            return np.clip(np.round(np.asarray(x, dtype=np.float64) / lsb), -32768, 32767).astype(np.int16)

        acc = q(acc_mps2, acc_lsb_mps2(self._acc), FLAG_ACC)
        gyro = q(gyro_rads, gyro_lsb_rads(self._gyro), FLAG_GYRO)
        mag = q(mag_uT, MAG_UT_PER_LSB, FLAG_MAG)
        if acc is None and gyro is None and mag is None:
            return []
        out = []
        for i in range(0, n_all, spp):
            j = min(i + spp, n_all)
            if j - i > 1:
                period_us = int(round((t_us[j - 1] - t_us[i]) / (j - i - 1)))
            else:
                period_us = int(round(1e6 / self._rate))
            sl = slice(i, j)
            out.append((DATA_UUID, pack_packet(self._seq, int(t_us[i]), period_us, self._acc, self._gyro,
                                               None if acc is None else acc[sl], None if gyro is None else gyro[sl],
                                               None if mag is None else mag[sl])))
            self._seq = (self._seq + 1) & 0xFFFF
        return out
