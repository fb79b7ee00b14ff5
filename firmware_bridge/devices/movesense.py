"""Movesense sensors running the GATT SensorData Protocol (GSP) of the ``gatt_sensordata_app`` firmware.

Protocol facts, from the sources below:

* Service ``34802252-7185-4d5d-b431-630e7050e8f0``; the central writes commands to ``34800001-…`` and
  everything comes back as notifications on ``34800002-…`` (same base, 16-bit ids 0x0001 / 0x0002).
* Command ``[command u8, client reference u8 (not 0), data...]``: HELLO = 0 (answered by
  ``[1, ref, "Hello"]``), SUBSCRIBE = 1 (data = the Whiteboard resource path as UTF-8, e.g.
  ``/Meas/IMU6/52``), UNSUBSCRIBE = 2 (the reference given at SUBSCRIBE).
* Notification ``[response u8, reference u8, payload...]``: COMMAND_RESULT = 1 (payload: uint16 LE HTTP
  status, or "Hello"), DATA = 2 (payload: the SBEM-serialised measurement), DATA_PART2 = 3 / DATA_PART3 = 4
  (the rest of a measurement too long for one notification, appended to the DATA payload).
* ``/Meas/Acc|IMU6|IMU9/{rate}`` payload: uint32 LE timestamp (ms on the sensor clock, of the first sample),
  then one float32 LE [n, 3] array per sensor, in the order acc (m/s²), gyro (deg/s), magn (µT).
  ``n`` follows from the length. Rates: 13, 26, 52, 104, 208, 416, 833, 1666 Hz.

Sources: movesense-device-lib ``samples/gatt_sensordata_app/GATTSensorDataClient.cpp`` (commands, response
codes incl. DATA_PART2/3, UUID bytes) and its ``python_client/movesense_sensor_data.py`` (the command bytes a
bleak client writes); the IMU9 bleak client built on it that reassembles DATA + DATA_PART2 and reads the
timestamp at offset 2 and the acc/gyro/magn float arrays one after another; MovesenseDotNet ``AccData``
("Local timestamp of first measurement"); the Movesense API YAML (``meas/imu.yaml``: IMU6 = acc + gyro,
IMU9 = acc + gyro + magn).

Device time: the ms timestamp is unwrapped (uint32) and sample ``i`` of a packet is at ``t + i / rate``.
Movesense carries no sequence number: a packet whose timestamp is not after the previous one is a duplicate
(equal) or out of order (earlier) and is dropped; a timestamp step longer than 1.5 packets counts the packets
in between as lost. Above ~500 Hz the 1 ms timestamp resolution is coarser than the sample period, so a
packet's first sample is kept at least half a period after the previous sample (error <= 1 ms).

A split measurement is recognised by its length: a DATA payload that is not ``4 + n * stride`` bytes waits
for its continuation. A first part that happens to be a whole number of samples long (IMU9 at an ATT_MTU of
117 or 153) looks complete; what tells it apart is that a first part fills its notification (ATT_MTU - 3
bytes, from the GATT client when it knows the MTU). Such a full notification that looks complete is held
until the next notification of its stream says which it was (a continuation, or the next measurement), and
the answer is remembered per (response code, notification length), so only the first one waits.
How many samples the emulated sensor puts in one packet (``rate / 13``, at most 8) is the
emulator's choice, not a published constant.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

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
from .common import DEG2RAD, ClockUnwrapper, ReplyWaiter, nearest, quietly

log = logging.getLogger(__name__)

SERVICE_UUID = "34802252-7185-4d5d-b431-630e7050e8f0"
COMMAND_UUID = "34800001-7185-4d5d-b431-630e7050e8f0"
DATA_UUID = "34800002-7185-4d5d-b431-630e7050e8f0"
ADVERTISED_UUID = "0000fdf3-0000-1000-8000-00805f9b34fb"  # Movesense's 16-bit service id in advertisements

HELLO, SUBSCRIBE, UNSUBSCRIBE = 0, 1, 2
COMMAND_RESULT, DATA, DATA_PART2, DATA_PART3 = 1, 2, 3, 4
RATES_HZ = (13, 26, 52, 104, 208, 416, 833, 1666)
HELLO_REF, DATA_REF = 0xFE, 99
TS_BYTES = 4

# resource name -> sensors in payload order
RESOURCES = {"Acc": ("acc",), "IMU6": ("acc", "gyro"), "IMU9": ("acc", "gyro", "mag")}


def resource_for(sensors) -> str:
    """The smallest ``/Meas`` resource that carries the requested sensors."""
    if "mag" in sensors:
        return "IMU9"
    return "IMU6" if "gyro" in sensors else "Acc"


def meas_path(resource: str, rate_hz: int) -> str:
    return f"/Meas/{resource}/{rate_hz}"


def parse_path(path: str) -> tuple[str, int] | None:
    """``/Meas/IMU6/52`` -> ("IMU6", 52); None when not an IMU path at a supported rate."""
    parts = path.strip("/").split("/")
    if len(parts) != 3 or parts[0] != "Meas" or parts[1] not in RESOURCES or not parts[2].isdigit():
        return None
    rate = int(parts[2])
    return (parts[1], rate) if rate in RATES_HZ else None


def subscribe_command(ref: int, path: str) -> bytes:
    return bytes([SUBSCRIBE, ref]) + path.encode("utf-8")


def unsubscribe_command(ref: int) -> bytes:
    return bytes([UNSUBSCRIBE, ref])


def pack_measurement(ts_ms: int, blocks: list[np.ndarray]) -> bytes:
    """SBEM payload: uint32 timestamp then one float32 [n, 3] array per sensor (no response header)."""
    return int(ts_ms & 0xFFFFFFFF).to_bytes(4, "little") + b"".join(
        np.asarray(b, dtype="<f4").reshape(-1, 3).tobytes() for b in blocks)


@dataclass
class _Stream:
    resource: str
    rate_hz: float
    clock: ClockUnwrapper = field(default_factory=lambda: ClockUnwrapper(bits=32))
    last_ts_ms: int | None = None
    last_n: int = 0
    last_t_s: float | None = None
    pending: bytes | None = None  # payload of a measurement waiting for its continuation
    pending_parts: int = 0
    pending_code: int = 0  # response code of the last part in ``pending``
    pending_key: tuple[int, int] | None = None  # (code, length) of a complete-looking full notification on hold
    continued: set = field(default_factory=set)  # (code, notification length) seen to be followed by a part
    complete: set = field(default_factory=set)  # (code, notification length) seen to end a measurement
    last_part: bytes | None = None  # the continuation that completed the last split packet
    last_data_key: tuple[int, int] | None = None  # (DATA, length) of the last measurement sent in one notification

    @property
    def stride(self) -> int:
        return 12 * len(RESOURCES[self.resource])


class MovesenseDecoder(PacketDecoder):
    """GSP notifications -> ImuSamples (sensor "imu") for the subscribed references.

    ``max_notify_len``: the longest notification the link carries (ATT_MTU - 3); a first part always fills one.
    None (unknown): the first complete-looking notification of each length waits for the next one.
    """

    def __init__(self, subscriptions: dict[int, tuple[str, float]], max_notify_len: int | None = None) -> None:
        super().__init__()
        self.streams = {ref: _Stream(res, float(rate)) for ref, (res, rate) in subscriptions.items()}
        self.max_notify_len = max_notify_len
        self.last_status: dict[int, int] = {}  # reference -> last COMMAND_RESULT status

    @property
    def held_parts(self) -> int:
        """Notifications held while waiting for a continuation (not yet counted anywhere)."""
        return sum(s.pending_parts for s in self.streams.values())

    def decode(self, char_uuid: str, data: bytes) -> list[ImuSamples]:
        if char_uuid.lower() != DATA_UUID:
            return []
        data = bytes(data)
        if len(data) < 2:
            self.stats.bad("short", data)
            return []
        code, ref = data[0], data[1]
        if code == COMMAND_RESULT:
            if len(data) == 4:
                self.last_status[ref] = int.from_bytes(data[2:4], "little")
            self.stats.ignored += 1
            return []
        st = self.streams.get(ref)
        if st is None or code not in (DATA, DATA_PART2, DATA_PART3):
            self.stats.bad("unknown response or reference", data)
            return []
        out: list[ImuSamples] = []
        if st.pending_key is not None:  # a complete-looking full notification waits for this one to decide
            if code == st.pending_code + 1:
                st.continued.add(st.pending_key)
                st.pending_key = None
            elif not (code == DATA and st.pending_parts == 1 and data[2:] == st.pending):
                st.complete.add(st.pending_key)
                st.pending_key = None
                out += self._finish(st, data)
        if code == DATA:
            payload = data[2:]
            if st.pending_parts == 1 and payload == st.pending:  # the first part, delivered twice
                self.stats.duplicates += 1
                return out
            self._drop_pending(st, "continuation missing")
            if len(payload) < TS_BYTES or len(payload) > TS_BYTES + 255 * st.stride:
                self.stats.bad("short" if len(payload) < TS_BYTES else "length", data)
                return out
            st.pending, st.pending_parts = payload, 1
        else:  # DATA_PART2 / DATA_PART3
            if st.pending is None or code != st.pending_code + 1:
                if st.pending is None and data == st.last_part:  # the part that completed the last packet, again
                    self.stats.duplicates += 1
                    return out
                if st.pending is None and code == DATA_PART2 and st.last_data_key is not None:
                    st.continued.add(st.last_data_key)  # that DATA was a first part after all: learn it
                    st.complete.discard(st.last_data_key)
                self._drop_pending(st, "continuation missing")
                self.stats.bad("continuation without a first part", data)
                return out
            st.pending += data[2:]
            st.pending_parts += 1
        st.pending_code = code
        key = (code, len(data))
        if not self._whole(st, st.pending):
            if code == DATA_PART3 or len(st.pending) > TS_BYTES + 255 * st.stride:
                self._drop_pending(st, "length")
            return out
        if code != DATA_PART3 and key not in st.complete and (
                key in st.continued or self.max_notify_len is None or len(data) >= self.max_notify_len):
            if key not in st.continued:  # complete-looking but full: the next notification tells
                st.pending_key = key
            return out
        if code != DATA:
            st.last_part = data
        st.last_data_key = key if code == DATA else None
        return out + self._finish(st, data)

    def _finish(self, st: _Stream, data: bytes) -> list[ImuSamples]:
        """Decode the pending measurement (it is complete)."""
        payload, parts = st.pending, st.pending_parts
        st.pending, st.pending_parts, st.pending_key = None, 0, None
        self.stats.ignored += parts - 1
        return self._emit(st, payload, data)

    def _drop_pending(self, st: _Stream, reason: str) -> None:
        if st.pending is not None:
            for _ in range(st.pending_parts):
                self.stats.bad(reason, st.pending)
            st.pending, st.pending_parts, st.pending_key = None, 0, None

    @staticmethod
    def _whole(st: _Stream, payload: bytes) -> bool:
        body = len(payload) - TS_BYTES
        return body > 0 and body % st.stride == 0

    def _emit(self, st: _Stream, payload: bytes, data: bytes) -> list[ImuSamples]:
        n = (len(payload) - TS_BYTES) // st.stride
        vals = np.frombuffer(payload, "<f4", offset=TS_BYTES).astype(np.float64).reshape(len(RESOURCES[st.resource]), n, 3)
        if not np.all(np.isfinite(vals)):
            self.stats.bad("non-finite value", data)
            return []
        ts_ms = st.clock.peek(int.from_bytes(payload[:4], "little"))
        if st.last_ts_ms is not None and ts_ms <= st.last_ts_ms:
            if ts_ms == st.last_ts_ms:
                self.stats.duplicates += 1
            else:
                self.stats.out_of_order += 1
            return []
        if st.last_ts_ms is not None and st.last_n:
            packet_ms = st.last_n * 1000.0 / st.rate_hz
            step = ts_ms - st.last_ts_ms
            if step > 1.5 * packet_ms:
                self.stats.packets_lost += max(1, round(step / packet_ms) - 1)
        st.clock.update(ts_ms)
        t0 = ts_ms / 1000.0
        if st.last_t_s is not None:
            t0 = max(t0, st.last_t_s + 0.5 / st.rate_hz)
        t = t0 + np.arange(n) / st.rate_hz
        st.last_ts_ms, st.last_n, st.last_t_s = ts_ms, n, float(t[-1])
        self.stats.packets_ok += 1
        out = ImuSamples(t_device_s=t, sensor="imu")
        for name, block in zip(RESOURCES[st.resource], vals, strict=True):
            if name == "acc":
                out.acc_mps2 = block
            elif name == "gyro":
                out.gyro_rads = block * DEG2RAD
            else:
                out.mag_uT = block
        return [out]


class MovesenseDriver(DeviceDriver):
    """Start: enable notifications, HELLO (proves the GSP app runs), SUBSCRIBE ``/Meas/<IMU>/<rate>``.
    Stop: UNSUBSCRIBE, stop notifications."""

    device_type = "movesense"
    display_name = "Movesense (GATT SensorData Protocol)"
    service_uuids = (SERVICE_UUID, ADVERTISED_UUID)
    name_prefixes = ("Movesense",)
    reply_timeout_s = 5.0

    def choose(self, settings: StreamSettings) -> tuple[str, int]:
        return resource_for(settings.sensors), int(nearest(settings.rate_hz, RATES_HZ))

    def new_decoder(self, settings: StreamSettings) -> PacketDecoder:
        resource, rate = self.choose(settings)
        return MovesenseDecoder({DATA_REF: (resource, rate)})

    def decoder_for(self, settings: StreamSettings, client: GattClient) -> MovesenseDecoder:
        dec = self.new_decoder(settings)
        max_len = client.max_notify_len(DATA_UUID)
        if max_len:
            dec.max_notify_len = max_len
        return dec

    async def start(self, client: GattClient, settings: StreamSettings, on_notify: NotifyHandler) -> PacketDecoder:
        waiter = ReplyWaiter()

        def route(uuid: str, data: bytes) -> None:
            if len(data) >= 2 and data[0] == COMMAND_RESULT and data[1] == HELLO_REF:
                waiter.handler(uuid, data)
            else:
                on_notify(uuid, data)

        await client.start_notify(DATA_UUID, route)
        await client.write(COMMAND_UUID, bytes([HELLO, HELLO_REF]), response=True)
        try:
            await waiter.wait(lambda r: r[0] == COMMAND_RESULT and r[1] == HELLO_REF, self.reply_timeout_s)
        except TimeoutError:
            raise RuntimeError("Movesense did not answer HELLO: is the gatt_sensordata_app firmware installed?") from None
        resource, rate = self.choose(settings)
        await client.write(COMMAND_UUID, subscribe_command(DATA_REF, meas_path(resource, rate)), response=True)
        log.info("Movesense streaming %s", meas_path(resource, rate))
        return self.decoder_for(settings, client)

    async def stop(self, client: GattClient) -> None:
        await quietly(client.write(COMMAND_UUID, unsubscribe_command(DATA_REF), response=True))
        await quietly(client.stop_notify(DATA_UUID))


MAX_PARTS = 3  # DATA, DATA_PART2, DATA_PART3


def samples_per_packet(rate_hz: int, resource: str = "IMU6", mtu: int = 247) -> int:
    """How many samples the emulated sensor batches per measurement (emulator choice, see module doc): ``rate/13``,
    at most 8, and no more than fit in the three notifications a measurement may span at this ATT_MTU."""
    fit = (MAX_PARTS * (mtu - 3 - 2) - TS_BYTES) // (12 * len(RESOURCES[resource]))
    return max(1, min(8, rate_hz // 13, fit))


class MovesensePeripheral(VirtualPeripheral):
    """A Movesense sensor with the GSP app, as the emulator presents it."""

    device_type = "movesense"
    advertised_service_uuids = (ADVERTISED_UUID,)

    def __init__(self, local_name: str = "Movesense 220330000123", mtu: int = 247) -> None:
        self.local_name = local_name
        self.mtu = mtu
        self.services = (GattServiceSpec(SERVICE_UUID, (
            GattCharacteristicSpec(COMMAND_UUID, ("write", "write-without-response")),
            GattCharacteristicSpec(DATA_UUID, ("notify",)),
        )),)
        self.subs: dict[int, tuple[str, int]] = {}  # reference -> (resource, rate)
        self._held: dict[int, tuple[np.ndarray, list[np.ndarray]]] = {}

    def streaming(self) -> bool:
        return bool(self.subs)

    def rate_hz(self) -> float:
        return float(next(iter(self.subs.values()))[1]) if self.subs else 52.0

    def on_write(self, char_uuid: str, data: bytes) -> list[tuple[str, bytes]]:
        if char_uuid.lower() != COMMAND_UUID or len(data) < 2:
            return []
        cmd, ref = data[0], data[1]
        if cmd == HELLO:
            return [(DATA_UUID, bytes([COMMAND_RESULT, ref]) + b"Hello")]
        if cmd == SUBSCRIBE:
            parsed = parse_path(bytes(data[2:]).decode("utf-8", "replace"))
            if ref == 0 or parsed is None:
                return [(DATA_UUID, bytes([COMMAND_RESULT, ref]) + (404).to_bytes(2, "little"))]
            if len(self.subs) >= 4 and ref not in self.subs:  # MAX_DATASUB_COUNT slots
                return [(DATA_UUID, bytes([COMMAND_RESULT, ref]) + (507).to_bytes(2, "little"))]
            self.subs[ref] = parsed
            self._held.pop(ref, None)
            return []
        if cmd == UNSUBSCRIBE:
            self.subs.pop(ref, None)
            self._held.pop(ref, None)
        return []

    def _split(self, ref: int, payload: bytes) -> list[tuple[str, bytes]]:
        first = self.mtu - 3  # ATT notification payload
        if len(payload) + 2 <= first:
            return [(DATA_UUID, bytes([DATA, ref]) + payload)]
        cut = first - 2  # a first part fills its notification, even where it then looks whole (IMU9 at MTU 117)
        out = [(DATA_UUID, bytes([DATA, ref]) + payload[:cut])]
        rest, code = payload[cut:], DATA_PART2
        while rest:
            out.append((DATA_UUID, bytes([code, ref]) + rest[:first - 2]))
            rest, code = rest[first - 2:], code + 1
        return out

    def encode(self, t_device_s: np.ndarray, acc_mps2: np.ndarray, gyro_rads: np.ndarray | None,
               mag_uT: np.ndarray | None) -> list[tuple[str, bytes]]:
        """Measurements of ``samples_per_packet`` samples each; a partial batch is held for the next call."""
        out: list[tuple[str, bytes]] = []
        t = np.asarray(t_device_s, dtype=np.float64)
        source = {"acc": acc_mps2, "gyro": None if gyro_rads is None else np.asarray(gyro_rads) / DEG2RAD,
                  "mag": mag_uT}
        for ref, (resource, rate) in self.subs.items():
            names = RESOURCES[resource]
            blocks = [np.zeros((len(t), 3)) if source[n] is None else np.asarray(source[n], dtype=np.float64).reshape(-1, 3)
                      for n in names]
            if ref in self._held:
                ht, hb = self._held.pop(ref)
                t_all = np.concatenate([ht, t])
                blocks = [np.concatenate([h, b]) for h, b in zip(hb, blocks, strict=True)]
            else:
                t_all = t
            k = samples_per_packet(rate, resource, self.mtu)
            full = len(t_all) - len(t_all) % k
            for i in range(0, full, k):
                ts_ms = int(round(t_all[i] * 1000.0))
                out += self._split(ref, pack_measurement(ts_ms, [b[i:i + k] for b in blocks]))
            if full < len(t_all):
                self._held[ref] = (t_all[full:], [b[full:] for b in blocks])
        return out
