"""Nordic Thingy:52, Thingy Motion Service (TMS), raw motion data.

Protocol facts, from Nordic's Thingy:52 firmware (``ble_tms.h``, ``m_motion.c``) and its BLE API
documentation:

* Service ``EF680400-9B35-4933-9B10-52FFA9740042``; characteristics in the same base: ``EF680401`` config
  (read/write), ``EF680406`` raw data (notify). Raw data streams while its notifications are enabled.
* Config, 9 bytes packed LE (``ble_tms_config_t``): step counter interval ms (u16, 100..5000), temperature
  compensation interval ms (u16, 100..5000), magnetometer compensation interval ms (u16, 100..5000), motion
  processing unit frequency Hz (u16; documented 5..200 Hz), wake on motion (u8, 0/1).
* Raw data, 18 bytes (``ble_tms_raw_t``): 9 int16 LE, accelerometer xyz in g as Q6.10, gyroscope xyz in
  deg/s as Q11.5, compass xyz in µT as Q12.4. ``m_motion.c`` makes them by shifting the MPU-9250 driver's
  16Q16 values right by 6, 11 and 12 bits after replacing values whose integer part reaches the limit by the
  limit: at most 31 g, 1023 °/s, 2047 µT; at least -32 g, -1024 °/s, -2048 µT.

Timing: the raw packet carries NO timestamp and no sequence number. Samples are timed from the configured
motion processing frequency and the arrival order (``t_device_s`` = sample count / frequency), so losses
cannot be detected.
"""

from __future__ import annotations

import logging
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
from .common import DEG2RAD, G0_MPS2, quietly

log = logging.getLogger(__name__)


def tms_uuid(short: int) -> str:
    """Characteristic in the Thingy Motion Service base ``EF68XXXX-9B35-4933-9B10-52FFA9740042``."""
    return f"ef68{short:04x}-9b35-4933-9b10-52ffa9740042"


CONFIGURATION_SERVICE_UUID = tms_uuid(0x0100)  # what a Thingy advertises
SERVICE_UUID = tms_uuid(0x0400)
CONFIG_UUID = tms_uuid(0x0401)
RAW_UUID = tms_uuid(0x0406)

CONFIG = struct.Struct("<HHHHB")
RAW_SIZE = 18
MOTION_FREQ_HZ = (5, 200)  # documented range of the motion processing unit frequency
INTERVAL_MS = (100, 5000)
ACC_MPS2_PER_LSB = G0_MPS2 / 1024.0  # Q6.10 g
GYRO_RADS_PER_LSB = DEG2RAD / 32.0  # Q11.5 deg/s
MAG_UT_PER_LSB = 1.0 / 16.0  # Q12.4 µT
RAW_LIMITS = ((-32, 31), (-1024, 1023), (-2048, 2047))  # integer-part clipping in m_motion.c: g, deg/s, µT


@dataclass(frozen=True)
class MotionConfig:
    step_interval_ms: int = 1000
    temp_comp_interval_ms: int = 500
    magnet_comp_interval_ms: int = 500
    motion_freq_hz: int = 10
    wake_on_motion: int = 1

    def pack(self) -> bytes:
        return CONFIG.pack(self.step_interval_ms, self.temp_comp_interval_ms, self.magnet_comp_interval_ms,
                           self.motion_freq_hz, self.wake_on_motion)

    @classmethod
    def unpack(cls, data: bytes) -> MotionConfig:
        """Parse the config characteristic; ValueError when it is not 9 bytes (a read, not a stream)."""
        if len(data) != CONFIG.size:
            raise ValueError(f"Thingy:52 motion config has {len(data)} bytes, expected {CONFIG.size}")
        return cls(*CONFIG.unpack(data))

    def valid(self) -> bool:
        lo, hi = INTERVAL_MS
        return (all(lo <= v <= hi for v in (self.step_interval_ms, self.temp_comp_interval_ms,
                                             self.magnet_comp_interval_ms))
                and MOTION_FREQ_HZ[0] <= self.motion_freq_hz <= MOTION_FREQ_HZ[1] and self.wake_on_motion in (0, 1))


def supported_rate(rate_hz: float) -> int:
    """Nearest motion processing frequency the Thingy accepts (integer Hz in 5..200)."""
    return int(min(max(round(rate_hz), MOTION_FREQ_HZ[0]), MOTION_FREQ_HZ[1]))


def pack_raw(acc_raw, gyro_raw, mag_raw) -> bytes:
    return np.concatenate([np.asarray(v, dtype="<i2").reshape(3) for v in (acc_raw, gyro_raw, mag_raw)]).astype("<i2").tobytes()


class Thingy52Decoder(PacketDecoder):
    """Raw motion notifications -> ImuSamples (sensor "imu") timed by count at the motion frequency."""

    def __init__(self, rate_hz: float = 10.0) -> None:
        super().__init__()
        self.rate_hz = float(rate_hz)
        self.count = 0

    def decode(self, char_uuid: str, data: bytes) -> list[ImuSamples]:
        if char_uuid.lower() != RAW_UUID:
            return []
        data = bytes(data)
        if len(data) != RAW_SIZE:
            self.stats.bad("length", data)
            return []
        raw = np.frombuffer(data, "<i2").astype(np.float64).reshape(1, 9)
        t = np.array([self.count / self.rate_hz])
        self.count += 1
        self.stats.packets_ok += 1
        return [ImuSamples(t_device_s=t, acc_mps2=raw[:, 0:3] * ACC_MPS2_PER_LSB,
                           gyro_rads=raw[:, 3:6] * GYRO_RADS_PER_LSB, mag_uT=raw[:, 6:9] * MAG_UT_PER_LSB,
                           sensor="imu")]


class Thingy52Driver(DeviceDriver):
    """Start: read the motion config, write it back with the motion frequency nearest to the request, read it
    again to confirm, enable raw notifications. Stop: disable raw notifications."""
    timing = "count"

    device_type = "thingy52"
    display_name = "Nordic Thingy:52"
    service_uuids = (CONFIGURATION_SERVICE_UUID, SERVICE_UUID)
    name_prefixes = ("Thingy",)

    def new_decoder(self, settings: StreamSettings) -> PacketDecoder:
        return Thingy52Decoder(supported_rate(settings.rate_hz))

    async def start(self, client: GattClient, settings: StreamSettings, on_notify: NotifyHandler) -> PacketDecoder:
        current = MotionConfig.unpack(await client.read(CONFIG_UUID))
        rate = supported_rate(settings.rate_hz)
        wanted = MotionConfig(current.step_interval_ms, current.temp_comp_interval_ms, current.magnet_comp_interval_ms,
                              rate, current.wake_on_motion)
        if not wanted.valid():  # a device left with odd intervals: fall back to the documented defaults
            wanted = MotionConfig(motion_freq_hz=rate)
        await client.write(CONFIG_UUID, wanted.pack(), response=True)
        applied = MotionConfig.unpack(await client.read(CONFIG_UUID))
        if applied.motion_freq_hz != rate:
            raise RuntimeError(f"Thingy:52 kept motion frequency {applied.motion_freq_hz} Hz, asked for {rate} Hz")
        await client.start_notify(RAW_UUID, on_notify)
        log.info("Thingy:52 raw motion at %d Hz (timed by arrival order: no device timestamps)", rate)
        return Thingy52Decoder(rate)

    async def stop(self, client: GattClient) -> None:
        await quietly(client.stop_notify(RAW_UUID))


class Thingy52Peripheral(VirtualPeripheral):
    """A Thingy:52 motion service as the emulator presents it (config validation, raw data while subscribed)."""

    device_type = "thingy52"
    advertised_service_uuids = (CONFIGURATION_SERVICE_UUID,)
    battery_service = True  # GATT Battery Service 0x180F (Battery Level 0x2A19)

    def __init__(self, local_name: str = "Thingy") -> None:
        self.local_name = local_name
        self.config = MotionConfig()
        self.notifying = False
        self.services = (GattServiceSpec(SERVICE_UUID, (
            GattCharacteristicSpec(CONFIG_UUID, ("read", "write")),
            GattCharacteristicSpec(RAW_UUID, ("notify",)),
        )),)

    def streaming(self) -> bool:
        return self.notifying

    def rate_hz(self) -> float:
        return float(self.config.motion_freq_hz)

    def read(self, char_uuid: str) -> bytes:
        if char_uuid.lower() == CONFIG_UUID:
            return self.config.pack()
        return super().read(char_uuid)

    def on_subscribe(self, char_uuid: str, enabled: bool) -> list[tuple[str, bytes]]:
        if char_uuid.lower() == RAW_UUID:
            self.notifying = enabled
        return []

    def on_write(self, char_uuid: str, data: bytes) -> list[tuple[str, bytes]]:
        if char_uuid.lower() == CONFIG_UUID and len(data) == CONFIG.size:
            cfg = MotionConfig.unpack(bytes(data))
            if cfg.valid():  # the firmware rejects out-of-range configs and keeps the old one
                self.config = cfg
        return []

    def encode(self, t_device_s: np.ndarray, acc_mps2: np.ndarray, gyro_rads: np.ndarray | None,
               mag_uT: np.ndarray | None) -> list[tuple[str, bytes]]:
        acc = np.asarray(acc_mps2, dtype=np.float64).reshape(-1, 3)
        blocks = [acc, np.zeros_like(acc) if gyro_rads is None else np.asarray(gyro_rads, dtype=np.float64).reshape(-1, 3),
                  np.zeros_like(acc) if mag_uT is None else np.asarray(mag_uT, dtype=np.float64).reshape(-1, 3)]
        raws = []
        for x, lsb, (lo, hi), frac_bits in zip(blocks, (ACC_MPS2_PER_LSB, GYRO_RADS_PER_LSB, MAG_UT_PER_LSB),
                                               RAW_LIMITS, (10, 5, 4), strict=True):
            q = np.round(x / lsb)  # m_motion.c: integer part >= hi -> exactly hi, below lo -> lo
            raws.append(np.clip(q, lo << frac_bits, hi << frac_bits).astype("<i2"))
        return [(RAW_UUID, pack_raw(raws[0][i], raws[1][i], raws[2][i])) for i in range(len(acc))]
