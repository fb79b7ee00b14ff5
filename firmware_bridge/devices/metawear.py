"""MbientLab MetaWear / MetaMotion boards with the Bosch BMI160 accelerometer and gyroscope.

Protocol facts follow mbientlab/MetaWear-SDK-Cpp (``accelerometer_bosch.cpp``, ``gyro_bosch.cpp`` and the
register headers). Every command and response is ``[module_id, register_id, payload...]``; bit 7 of the
register marks a read. Commands go to ``326A9001`` (write), responses and data to ``326A9006`` (notify).

=============  ======  ========================================================================
module         id      registers used
=============  ======  ========================================================================
accelerometer  0x03    0x01 power (1 start / 0 stop), 0x02 data-interrupt enable ([1,0] / [0,1]),
                       0x03 config [acc_conf = odr | bwp<<4, acc_range code], 0x04 data (x,y,z int16),
                       0x1C packed data (3 x x,y,z int16; module revision >= 1)
gyro           0x13    0x01 power, 0x02 data-interrupt enable, 0x03 config [odr | bwp<<4, range code],
                       0x05 data, 0x07 packed data (revision >= 1)
=============  ======  ========================================================================

``[module, 0x80]`` reads module info ``[module, 0x80, implementation, revision, ...]``. Subscribing to a
data register is ``[module, register, 1]`` (0 unsubscribes). Scales: BMI160 acc LSB/g 16384, 8192, 4096,
2048 for ±2/4/8/16 g (range codes 0x3, 0x5, 0x8, 0xC); gyro LSB/(deg/s) 16.4, 32.8, 65.6, 131.2, 262.4 for
±2000/1000/500/250/125 (codes 0..4). ODR code k: acc 100·2^(k-8) Hz, gyro 25·2^(k-6) Hz.

Streamed MetaWear data carries no timestamp and no sequence number: the decoder times samples by counting
them at the configured output data rate (``t_device_s`` = sample index / rate), so losses cannot be
detected; malformed packets are still counted and skipped. BMI270 boards (MetaMotionS) are not supported
here: their accelerometer register map could not be verified.
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
from .common import DEG2RAD, G0_MPS2, ReplyWaiter, at_least, nearest, quietly

log = logging.getLogger(__name__)

SERVICE_UUID = "326a9000-85cb-9195-d9dd-464cfbbae75a"
COMMAND_UUID = "326a9001-85cb-9195-d9dd-464cfbbae75a"
NOTIFY_UUID = "326a9006-85cb-9195-d9dd-464cfbbae75a"

ACC_MODULE, GYRO_MODULE = 0x03, 0x13
REG_POWER, REG_DATA_ENABLE, REG_CONFIG = 0x01, 0x02, 0x03
ACC_DATA, ACC_PACKED = 0x04, 0x1C
GYRO_DATA, GYRO_PACKED = 0x05, 0x07
READ_INFO = 0x80
ACC_IMPL_BMI160, GYRO_IMPL_BMI160 = 1, 0

ACC_RANGE_CODE = {2: 0x3, 4: 0x5, 8: 0x8, 16: 0xC}
ACC_LSB_PER_G = {0x3: 16384.0, 0x5: 8192.0, 0x8: 4096.0, 0xC: 2048.0}
GYRO_RANGE_CODE = {2000: 0, 1000: 1, 500: 2, 250: 3, 125: 4}
GYRO_LSB_PER_DPS = (16.4, 32.8, 65.6, 131.2, 262.4)
ACC_ODR = {100.0 * 2.0 ** (k - 8): k for k in range(5, 13)}  # 12.5 .. 1600 Hz
GYRO_ODR = {25.0 * 2.0 ** (k - 6): k for k in range(6, 14)}  # 25 .. 3200 Hz
BWP_NORMAL = 2


def acc_config(rate_hz: float, range_g: int) -> bytes:
    return bytes([ACC_MODULE, REG_CONFIG, ACC_ODR[rate_hz] | BWP_NORMAL << 4, ACC_RANGE_CODE[range_g]])


def gyro_config(rate_hz: float, range_dps: int) -> bytes:
    return bytes([GYRO_MODULE, REG_CONFIG, GYRO_ODR[rate_hz] | BWP_NORMAL << 4, GYRO_RANGE_CODE[range_dps]])


def acc_scale_mps2(range_code: int) -> float:
    return G0_MPS2 / ACC_LSB_PER_G[range_code]


def gyro_scale_rads(range_code: int) -> float:
    return DEG2RAD / GYRO_LSB_PER_DPS[range_code]


class MetaWearDecoder(PacketDecoder):
    """Notifications on ``326A9006`` -> ImuSamples (sensor "acc" or "gyro"); other responses are ignored."""

    def __init__(self, acc_range_g: int = 16, acc_rate_hz: float = 100.0, gyro_range_dps: int = 2000,
                 gyro_rate_hz: float = 100.0) -> None:
        super().__init__()
        self.acc_scale = acc_scale_mps2(ACC_RANGE_CODE[acc_range_g])
        self.gyro_scale = gyro_scale_rads(GYRO_RANGE_CODE[gyro_range_dps])
        self.rate = {"acc": float(acc_rate_hz), "gyro": float(gyro_rate_hz)}
        self.count = {"acc": 0, "gyro": 0}
        self.routes = {(ACC_MODULE, ACC_DATA): ("acc", 1), (ACC_MODULE, ACC_PACKED): ("acc", 3),
                       (GYRO_MODULE, GYRO_DATA): ("gyro", 1), (GYRO_MODULE, GYRO_PACKED): ("gyro", 3)}

    def decode(self, char_uuid: str, data: bytes) -> list[ImuSamples]:
        if char_uuid.lower() != NOTIFY_UUID:
            return []
        data = bytes(data)
        if len(data) < 2:
            self.stats.bad("short", data)
            return []
        route = self.routes.get((data[0], data[1]))
        if route is None:
            if data[0] in (ACC_MODULE, GYRO_MODULE) and data[1] & 0x80:
                self.stats.ignored += 1  # a read response (module info, config): not data
                return []
            self.stats.bad("unknown register", data)
            return []
        sensor, n = route
        if len(data) != 2 + 6 * n:
            self.stats.bad("length", data)
            return []
        raw = np.frombuffer(data, "<i2", offset=2).reshape(n, 3).astype(np.float64)
        k0 = self.count[sensor]
        self.count[sensor] += n
        self.stats.packets_ok += 1
        out = ImuSamples(t_device_s=(k0 + np.arange(n)) / self.rate[sensor], sensor=sensor)
        if sensor == "acc":
            out.acc_mps2 = raw * self.acc_scale
        else:
            out.gyro_rads = raw * self.gyro_scale
        return [out]


class MetaWearDriver(DeviceDriver):
    """Start: subscribe notify, read acc/gyro module info, write config, subscribe data, enable, power on.
    Stop: power off, disable, unsubscribe — gyro then accelerometer — then stop notifications."""
    timing = "count"

    device_type = "metamotion"
    display_name = "MbientLab MetaMotion (BMI160)"
    service_uuids = (SERVICE_UUID,)
    name_prefixes = ("MetaWear", "MetaMotion")
    reply_timeout_s = 5.0

    def __init__(self) -> None:
        self._active: dict[int, list[tuple[int, int]]] = {}

    def new_decoder(self, settings: StreamSettings) -> PacketDecoder:
        # acc and gyro run at one rate both support (25..1600 Hz) so their samples pair up in time
        rates = set(ACC_ODR) & set(GYRO_ODR) if "gyro" in settings.sensors else set(ACC_ODR)
        rate = nearest(settings.rate_hz, rates)
        return MetaWearDecoder(int(at_least(settings.acc_range_g, ACC_RANGE_CODE)), rate,
                               int(at_least(settings.gyro_range_dps, GYRO_RANGE_CODE)), rate)

    async def _info(self, client: GattClient, waiter: ReplyWaiter, module: int) -> tuple[int, int] | None:
        await client.write(COMMAND_UUID, bytes([module, READ_INFO]), response=True)
        r = await waiter.wait(lambda r: len(r) >= 2 and r[0] == module and r[1] == READ_INFO, self.reply_timeout_s)
        return (r[2], r[3]) if len(r) >= 4 else None

    async def start(self, client: GattClient, settings: StreamSettings, on_notify: NotifyHandler) -> PacketDecoder:
        waiter = ReplyWaiter()

        def route(uuid: str, data: bytes) -> None:
            if len(data) >= 2 and data[1] & 0x80:
                waiter.handler(uuid, data)
            else:
                on_notify(uuid, data)

        await client.start_notify(NOTIFY_UUID, route)
        acc_info = await self._info(client, waiter, ACC_MODULE)
        if acc_info is None or acc_info[0] != ACC_IMPL_BMI160:
            raise RuntimeError(f"MetaWear accelerometer implementation {acc_info} is not a BMI160 (unsupported)")
        want_gyro = "gyro" in settings.sensors
        gyro_info = await self._info(client, waiter, GYRO_MODULE) if want_gyro else None
        if want_gyro and (gyro_info is None or gyro_info[0] != GYRO_IMPL_BMI160):
            log.warning("MetaWear gyro %s not supported; streaming accelerometer only", gyro_info)
            gyro_info = None
        dec = self.new_decoder(settings)
        acc_rate, gyro_rate = dec.rate["acc"], dec.rate["gyro"]
        acc_range = int(at_least(settings.acc_range_g, ACC_RANGE_CODE))
        gyro_range = int(at_least(settings.gyro_range_dps, GYRO_RANGE_CODE))
        plan = [(ACC_MODULE, ACC_PACKED if acc_info[1] >= 1 else ACC_DATA, acc_config(acc_rate, acc_range))]
        if gyro_info is not None:
            plan.append((GYRO_MODULE, GYRO_PACKED if gyro_info[1] >= 1 else GYRO_DATA, gyro_config(gyro_rate, gyro_range)))
        for module, reg, config in plan:
            await client.write(COMMAND_UUID, config, response=True)
            await client.write(COMMAND_UUID, bytes([module, reg, 1]), response=True)
            await client.write(COMMAND_UUID, bytes([module, REG_DATA_ENABLE, 1, 0]), response=True)
        for module, _, _ in reversed(plan):  # gyro powers up first, as in MbientLab's examples
            await client.write(COMMAND_UUID, bytes([module, REG_POWER, 1]), response=True)
        self._active[id(client)] = [(m, r) for m, r, _ in plan]
        return dec

    async def stop(self, client: GattClient) -> None:
        plan = self._active.pop(id(client), [(GYRO_MODULE, GYRO_PACKED), (ACC_MODULE, ACC_PACKED)])
        for module, reg in sorted(plan, key=lambda p: p[0] != GYRO_MODULE):
            await quietly(client.write(COMMAND_UUID, bytes([module, REG_POWER, 0]), response=True))
            await quietly(client.write(COMMAND_UUID, bytes([module, REG_DATA_ENABLE, 0, 1]), response=True))
            await quietly(client.write(COMMAND_UUID, bytes([module, reg, 0]), response=True))
        await quietly(client.stop_notify(NOTIFY_UUID))


class MetaWearPeripheral(VirtualPeripheral):
    """A BMI160 MetaMotion board as the emulator presents it (register state machine + data encoder)."""

    device_type = "metamotion"
    advertised_service_uuids = (SERVICE_UUID,)
    battery_service = True  # GATT Battery Service 0x180F (Battery Level 0x2A19)

    def __init__(self, local_name: str = "MetaWear", revision: int = 1) -> None:
        self.local_name = local_name
        self.revision = revision  # >= 1: packed data registers available
        self.services = (GattServiceSpec(SERVICE_UUID, (
            GattCharacteristicSpec(COMMAND_UUID, ("write", "write-without-response")),
            GattCharacteristicSpec(NOTIFY_UUID, ("notify",)),
        )),)
        self.config = {ACC_MODULE: (ACC_ODR[100.0] | BWP_NORMAL << 4, ACC_RANGE_CODE[2]),
                       GYRO_MODULE: (GYRO_ODR[100.0] | BWP_NORMAL << 4, GYRO_RANGE_CODE[2000])}
        self.power = {ACC_MODULE: False, GYRO_MODULE: False}
        self.enabled = {ACC_MODULE: False, GYRO_MODULE: False}
        self.subscribed: dict[int, int | None] = {ACC_MODULE: None, GYRO_MODULE: None}
        self._pending = {m: np.zeros((0, 3), dtype="<i2") for m in (ACC_MODULE, GYRO_MODULE)}

    def _on(self, module: int) -> bool:
        return self.power[module] and self.enabled[module] and self.subscribed[module] is not None

    def streaming(self) -> bool:
        return self._on(ACC_MODULE) or self._on(GYRO_MODULE)

    def module_rate(self, module: int) -> float:
        odr = self.config[module][0] & 0x0F
        return 100.0 * 2.0 ** (odr - 8) if module == ACC_MODULE else 25.0 * 2.0 ** (odr - 6)

    def rate_hz(self) -> float:
        return self.module_rate(ACC_MODULE)

    def on_write(self, char_uuid: str, data: bytes) -> list[tuple[str, bytes]]:
        if char_uuid.lower() != COMMAND_UUID or len(data) < 2 or data[0] not in (ACC_MODULE, GYRO_MODULE):
            return []
        module, reg, payload = data[0], data[1], bytes(data[2:])
        if reg == READ_INFO:
            impl = ACC_IMPL_BMI160 if module == ACC_MODULE else GYRO_IMPL_BMI160
            return [(NOTIFY_UUID, bytes([module, READ_INFO, impl, self.revision]))]
        if reg == REG_CONFIG | 0x80:
            return [(NOTIFY_UUID, bytes([module, reg, *self.config[module]]))]
        if reg == REG_CONFIG and len(payload) == 2:
            self.config[module] = (payload[0], payload[1])
        elif reg == REG_POWER and len(payload) == 1:
            self.power[module] = bool(payload[0])
        elif reg == REG_DATA_ENABLE and len(payload) == 2:
            self.enabled[module] = bool(payload[0] & 1) or (self.enabled[module] and not payload[1] & 1)
        elif len(payload) == 1 and reg in self._data_registers(module):
            self.subscribed[module] = reg if payload[0] else None
        return []

    def _data_registers(self, module: int) -> tuple[int, ...]:
        data, packed = (ACC_DATA, ACC_PACKED) if module == ACC_MODULE else (GYRO_DATA, GYRO_PACKED)
        return (data, packed) if self.revision >= 1 else (data,)

    def _encode(self, module: int, vals: np.ndarray, scale: float) -> list[tuple[str, bytes]]:
        q = np.clip(np.round(np.asarray(vals, dtype=np.float64) / scale), -32768, 32767).astype("<i2")
        q = np.concatenate([self._pending[module], q.reshape(-1, 3)])
        reg = self.subscribed[module]
        per = 3 if reg in (ACC_PACKED, GYRO_PACKED) else 1
        full = len(q) - len(q) % per
        self._pending[module] = q[full:]  # a packed register carries exactly 3 samples: hold the rest back
        return [(NOTIFY_UUID, bytes([module, reg]) + q[i:i + per].tobytes()) for i in range(0, full, per)]

    def encode(self, t_device_s: np.ndarray, acc_mps2: np.ndarray, gyro_rads: np.ndarray | None,
               mag_uT: np.ndarray | None) -> list[tuple[str, bytes]]:
        """Notifications for the running sensors (packed registers: samples held back until a triple is full)."""
        out: list[tuple[str, bytes]] = []
        if self._on(ACC_MODULE) and acc_mps2 is not None:
            out += self._encode(ACC_MODULE, acc_mps2, acc_scale_mps2(self.config[ACC_MODULE][1] & 0x0F))
        if self._on(GYRO_MODULE) and gyro_rads is not None:
            out += self._encode(GYRO_MODULE, gyro_rads, gyro_scale_rads(self.config[GYRO_MODULE][1] & 0x07))
        return out
