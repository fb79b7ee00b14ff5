"""Polar Measurement Data (PMD) service: Polar H10 / OH1 (ACC) and Verity Sense (ACC, GYRO, MAG).

Protocol facts follow polarofficial/polar-ble-sdk (Android ``BlePMDClient``, ``PmdSetting``,
``PmdControlPointResponse``, ``PmdDataFrame``, ``AccData``/``GyrData``/``MagData``, ``PmdTimeStampUtils``):

* Control point ``FB005C81``: write ``[op, measurement_type, settings TLVs...]``; the reply comes as an
  indication ``[0xF0, op, measurement_type, status, more, params...]`` (``more`` != 0: params continue in
  the next indication). A read returns the feature bitmap ``[0x0F, types0, types1, ...]``.
* Settings TLV: ``[setting_type, count, count x value]``, values little-endian, 2 bytes for sample rate (0),
  resolution (1), range (2); 4 for range in milliunits (3); 1 for channels (4); 4 (float32) for factor (5).
* Data ``FB005C82``: ``[measurement_type, u64 timestamp_ns, frame_type, content...]``. The timestamp is
  the last sample's, in ns since 2000-01-01 00:00 (device clock). ``frame_type`` bit 7: delta-compressed.
* Delta frame: a reference sample (``channels x ceil(resolution/8)`` bytes) then blocks
  ``[delta_bits u8, sample_count u8, bit-packed signed deltas, LSB first]``.

Units: raw ACC frames carry mG; compressed ACC type 0 carries G x factor, type 1 mG x factor; GYRO deg/s x
factor (type 1: float32 bit patterns); MAG type 0 Gauss x factor, type 1 mGauss x factor plus a
calibration status channel. Everything leaves the decoder in SI (m/s², rad/s, µT).
"""

from __future__ import annotations

import logging
import math
import struct
from dataclasses import dataclass, field
from fractions import Fraction

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

PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CP_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
HEART_RATE_SERVICE_UUID = "0000180d-0000-1000-8000-00805f9b34fb"

ACC, GYRO, MAG = 2, 5, 6  # PmdMeasurementType
SENSOR_OF = {ACC: "acc", GYRO: "gyro", MAG: "mag"}
TYPE_OF = {v: k for k, v in SENSOR_OF.items()}
FEATURE_BIT = {ACC: (1, 0x04), GYRO: (1, 0x20), MAG: (1, 0x40)}  # (byte index, mask) in the feature read

OP_GET_SETTINGS, OP_START, OP_STOP = 1, 2, 3
RESPONSE_CODE = 0xF0
FEATURE_CODE = 0x0F
STATUS_SUCCESS, STATUS_INVALID_MEASUREMENT_TYPE, STATUS_NOT_SUPPORTED, STATUS_INVALID_PARAMETER = 0, 2, 3, 5
STATUS_ALREADY_IN_STATE = 6

SAMPLE_RATE, RESOLUTION, RANGE, RANGE_MILLIUNIT, CHANNELS, FACTOR = range(6)
FIELD_SIZE = {SAMPLE_RATE: 2, RESOLUTION: 2, RANGE: 2, RANGE_MILLIUNIT: 4, CHANNELS: 1, FACTOR: 4}

POLAR_EPOCH_UNIX_S = 946684800  # 2000-01-01T00:00:00Z
HEADER_SIZE = 10
MAG_UT_PER_GAUSS = 100.0


# --- control point -------------------------------------------------------------------------------


def pack_settings(settings: dict[int, list[int] | list[float]]) -> bytes:
    """Settings TLVs. FACTOR values are floats (sent as float32 bits); others ints."""
    out = bytearray()
    for key, values in settings.items():
        out += bytes([key, len(values)])
        for v in values:
            out += struct.pack("<f", v) if key == FACTOR else int(v).to_bytes(FIELD_SIZE[key], "little", signed=False)
    return bytes(out)


def parse_settings(data: bytes) -> dict[int, list]:
    """Parse settings TLVs (as in ``PmdSetting.parsePmdSettingsData``). Raises ValueError on malformed data."""
    out: dict[int, list] = {}
    i = 0
    while i < len(data):
        if i + 2 > len(data):
            raise ValueError("truncated settings TLV header")
        key, count = data[i], data[i + 1]
        i += 2
        if key not in FIELD_SIZE:
            raise ValueError(f"unknown PMD setting type {key}")
        size = FIELD_SIZE[key]
        if i + size * count > len(data):
            raise ValueError(f"truncated PMD setting {key}")
        vals = []
        for _ in range(count):
            chunk = data[i:i + size]
            vals.append(struct.unpack("<f", chunk)[0] if key == FACTOR else int.from_bytes(chunk, "little", signed=key != CHANNELS))
            i += size
        out[key] = vals
    return out


@dataclass
class CpResponse:
    op: int
    measurement_type: int
    status: int
    more: bool
    params: bytes

    @classmethod
    def parse(cls, data: bytes) -> CpResponse:
        if len(data) < 4 or data[0] != RESPONSE_CODE:
            raise ValueError(f"not a PMD control point response: {bytes(data).hex()}")
        ok = data[3] == STATUS_SUCCESS
        return cls(data[1], data[2], data[3], ok and len(data) > 4 and data[4] != 0, bytes(data[5:]) if ok else b"")


def cp_response(op: int, mtype: int, status: int, params: bytes = b"", more: bool = False) -> bytes:
    return bytes([RESPONSE_CODE, op, mtype, status, int(more)]) + params


def parse_features(data: bytes) -> set[int]:
    """Measurement types from the control point read ``[0x0F, bitmap...]``."""
    if len(data) < 2 or data[0] != FEATURE_CODE:
        raise ValueError(f"not a PMD feature read: {bytes(data).hex()}")
    return {t for t, (i, m) in FEATURE_BIT.items() if len(data) > i and data[i] & m}


def feature_bytes(types) -> bytes:
    out = bytearray([FEATURE_CODE, 0, 0])
    for t in types:
        i, m = FEATURE_BIT[t]
        out[i] |= m
    return bytes(out)


# --- delta frames --------------------------------------------------------------------------------


class FrameError(ValueError):
    """Content of a data frame does not parse (counted as a bad packet)."""


def _sign_extend(vals: np.ndarray, bits: int) -> np.ndarray:
    half = 1 << (bits - 1)
    return np.where(vals >= half, vals - (1 << bits), vals)


def parse_delta_frames(content: bytes, channels: int, resolution: int, signed: bool = True) -> np.ndarray:
    """Reference sample + delta blocks -> int64 [n, channels] (wrapped to 32 bits like the SDK's Int)."""
    rb = math.ceil(resolution / 8)
    if len(content) < channels * rb:
        raise FrameError("short reference sample")
    ref = np.array([int.from_bytes(content[i * rb:(i + 1) * rb], "little") for i in range(channels)], dtype=np.int64)
    if signed:
        ref = _sign_extend(ref, min(resolution, rb * 8))
    rows = [ref[None, :]]
    off = channels * rb
    while off < len(content):
        if off + 2 > len(content):
            raise FrameError("truncated delta block header")
        bits, count = content[off], content[off + 1]
        off += 2
        if bits > 32:
            raise FrameError(f"delta width {bits} > 32")
        nbits = bits * count * channels
        nbytes = (nbits + 7) // 8
        if off + nbytes > len(content):
            raise FrameError("truncated delta block")
        if nbits:
            b = np.unpackbits(np.frombuffer(content, np.uint8, nbytes, off), bitorder="little")[:nbits]
            vals = b.reshape(-1, bits).astype(np.int64) @ (np.int64(1) << np.arange(bits, dtype=np.int64))
            rows.append(_sign_extend(vals, bits).reshape(count, channels))
        off += nbytes
    out = np.cumsum(np.concatenate(rows), axis=0)
    return ((out + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)  # 32-bit two's complement, as Kotlin Int arithmetic


def _signed_width(vals: np.ndarray) -> int:
    lo, hi = int(vals.min(initial=0)), int(vals.max(initial=0))
    return max(1, (hi.bit_length() + 1) if hi >= -lo - 1 else ((-lo - 1).bit_length() + 1))


def pack_delta_frames(samples: np.ndarray, resolution: int) -> bytes:
    """Inverse of ``parse_delta_frames`` for integer samples [n, channels]."""
    samples = np.asarray(samples, dtype=np.int64)
    rb = math.ceil(resolution / 8)
    out = bytearray()
    for v in samples[0]:
        out += int(v & ((1 << (8 * rb)) - 1)).to_bytes(rb, "little")
    deltas = np.diff(samples, axis=0)
    for i in range(0, len(deltas), 255):
        block = deltas[i:i + 255]
        bits = _signed_width(block)
        flat = (block.reshape(-1) & ((1 << bits) - 1))
        b = ((flat[:, None] >> np.arange(bits, dtype=np.int64)) & 1).astype(np.uint8).reshape(-1)
        out += bytes([bits, len(block)]) + np.packbits(b, bitorder="little").tobytes()
    return bytes(out)


# --- timestamps ----------------------------------------------------------------------------------


def sample_timestamps_ns(prev_ns: int, frame_ns: int, n: int, rate_hz: float) -> list[int]:
    """Per-sample timestamps as ``PmdTimeStampUtils.getTimeStamps``: last sample = frame timestamp; with a
    previous frame, even spacing from it; without one, spacing 1/rate back from the frame timestamp.
    Exact integer arithmetic with half-to-even rounding (Kotlin ``round``)."""
    if prev_ns:
        delta = Fraction(frame_ns - prev_ns, n)
        start = prev_ns + delta
    else:
        delta = Fraction(10**9) / Fraction(rate_hz).limit_denominator(10**6)
        start = frame_ns - delta * (n - 1)
    return [round(start + delta * i) for i in range(n - 1)] + [frame_ns]


# --- frames ------------------------------------------------------------------------------------


def decode_frame_content(mtype: int, frame_type: int, content: bytes, factor: float) -> tuple[np.ndarray, np.ndarray | None]:
    """Frame content -> (values [n, 3] in SI, extra [n] or None). Raises FrameError when it does not parse."""
    compressed, ft = bool(frame_type & 0x80), frame_type & 0x7F
    f32 = float(np.float32(factor))
    if mtype == ACC and not compressed:
        if ft not in (0, 1, 2):
            raise FrameError(f"ACC raw frame type {ft} unsupported")
        step = ft + 1
        if not content or len(content) % (3 * step):
            raise FrameError("ACC raw content length")
        raw = np.frombuffer(content, np.uint8).reshape(-1, step).astype(np.int64)
        vals = _sign_extend(raw @ (np.int64(1) << (8 * np.arange(step, dtype=np.int64))), 8 * step).reshape(-1, 3)
        return vals * (1e-3 * G0_MPS2), None  # mG
    if mtype == ACC and compressed and ft in (0, 1):
        vals = parse_delta_frames(content, 3, 16)
        # type 0: G (x factor); type 1: mG (x factor)
        return vals * f32 * (G0_MPS2 if ft == 0 else 1e-3 * G0_MPS2), None
    if mtype == GYRO and compressed and ft == 0:
        return parse_delta_frames(content, 3, 16) * f32 * DEG2RAD, None
    if mtype == GYRO and compressed and ft == 1:
        bits = parse_delta_frames(content, 3, 32, signed=False) & 0xFFFFFFFF
        vals = bits.astype(np.uint32).view(np.float32).astype(np.float64)
        if not np.all(np.isfinite(vals)):
            raise FrameError("non-finite gyro float")
        return vals * f32 * DEG2RAD, None
    if mtype == MAG and compressed and ft == 0:
        return parse_delta_frames(content, 3, 16) * f32 * MAG_UT_PER_GAUSS, None
    if mtype == MAG and compressed and ft == 1:
        vals = parse_delta_frames(content, 4, 16)
        return vals[:, :3] * f32 * 1e-3 * MAG_UT_PER_GAUSS, vals[:, 3]  # mGauss; 4th channel: calibration status
    raise FrameError(f"measurement {mtype} frame type 0x{frame_type:02x} unsupported")


@dataclass
class PolarStreamState:
    factor: float = 1.0
    rate_hz: float = 0.0
    prev_ns: int = 0


class PolarPmdDecoder(PacketDecoder):
    """PMD data frames -> ImuSamples (one per frame, ``sensor`` = "acc"/"gyro"/"mag").

    PMD has no sequence number; frames are ordered by their timestamps. A frame whose timestamp is not
    after the previous one of its type is a duplicate (equal) or out of order (earlier) and is dropped.
    When the sample rate is known and a frame ends more than 1.5 frame-durations after the previous one,
    the frames in between are counted lost and this frame is timed from the rate (not spread over the gap).
    """

    def __init__(self, streams: dict[int, PolarStreamState] | None = None) -> None:
        super().__init__()
        self.streams: dict[int, PolarStreamState] = streams or {t: PolarStreamState() for t in SENSOR_OF}
        self.calibration_status: np.ndarray | None = None  # MAG type 1 status of the last frame

    def decode(self, char_uuid: str, data: bytes) -> list[ImuSamples]:
        if char_uuid.lower() != PMD_DATA_UUID:
            return []
        data = bytes(data)
        if len(data) <= HEADER_SIZE:
            self.stats.bad("short", data)
            return []
        mtype = data[0] & 0x3F
        st = self.streams.get(mtype)
        if st is None:
            self.stats.bad("measurement type", data)
            return []
        frame_ns = int.from_bytes(data[1:9], "little")
        try:
            vals, extra = decode_frame_content(mtype, data[9], data[HEADER_SIZE:], st.factor)
        except (FrameError, ValueError, IndexError) as exc:
            self.stats.bad(f"frame: {exc}" if isinstance(exc, FrameError) else "frame", data)
            return []
        n = len(vals)
        if st.prev_ns and frame_ns == st.prev_ns:
            self.stats.duplicates += 1
            return []
        if st.prev_ns and frame_ns < st.prev_ns:
            self.stats.out_of_order += 1
            return []
        prev = st.prev_ns
        if prev and st.rate_hz > 0:
            frame_dur = n * 1e9 / st.rate_hz
            gap = frame_ns - prev
            if gap > 1.5 * frame_dur:
                self.stats.packets_lost += max(1, round(gap / frame_dur) - 1)
                prev = 0
        if not prev and st.rate_hz <= 0:
            self.stats.bad("no previous frame and no sample rate", data)
            return []
        ts = sample_timestamps_ns(prev, frame_ns, n, st.rate_hz)
        if ts[0] < 0:
            self.stats.bad("negative timestamps", data)
            return []
        st.prev_ns = frame_ns
        self.stats.packets_ok += 1
        if extra is not None:
            self.calibration_status = extra
        out = ImuSamples(t_device_s=np.array(ts, dtype=np.float64) / 1e9, sensor=SENSOR_OF[mtype])
        setattr(out, {ACC: "acc_mps2", GYRO: "gyro_rads", MAG: "mag_uT"}[mtype], vals)
        return [out]


def pack_frame(mtype: int, frame_ns: int, frame_type: int, content: bytes) -> bytes:
    return bytes([mtype]) + int(frame_ns).to_bytes(8, "little") + bytes([frame_type]) + content


# --- device models -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PolarSensorSpec:
    """One PMD measurement as a device offers it, and how the emulator frames it."""

    rates_hz: tuple[int, ...]
    ranges: tuple[int, ...]  # G for ACC, deg/s for GYRO, Gauss for MAG
    frame_type: int  # what the (emulated) device sends
    resolution: int = 16

    def factor(self, range_: int) -> float:
        """Factor the emulated device reports in its start response (float32)."""
        if self.frame_type in (0x01, 0x81):  # mG integers
            return 1.0
        return float(np.float32(range_ / 32768.0))

    def settings(self) -> dict[int, list]:
        return {SAMPLE_RATE: list(self.rates_hz), RESOLUTION: [self.resolution], RANGE: list(self.ranges), CHANNELS: [3]}


@dataclass(frozen=True)
class PolarModel:
    device_type: str
    display_name: str
    name_prefixes: tuple[str, ...]
    sensors: dict[int, PolarSensorSpec] = field(default_factory=dict)


POLAR_MODELS = {
    # Polar SDK docs: H10 ACC 25/50/100/200 Hz, ±2/4/8 G, 16 bit, mG (raw frame type 1 as in AccDataTest #1).
    "polar-h10": PolarModel("polar-h10", "Polar H10", ("Polar H10",), {
        ACC: PolarSensorSpec((25, 50, 100, 200), (2, 4, 8), 0x01)}),
    # Polar SDK docs: OH1 ACC 50 Hz, ±8 G, mG.
    "polar-oh1": PolarModel("polar-oh1", "Polar OH1", ("Polar OH1",), {
        ACC: PolarSensorSpec((50,), (8,), 0x01)}),
    # Polar SDK docs: Verity Sense ACC 52 Hz ±8 G; GYRO 52 Hz ±250..2000 dps; MAG 10/20/50/100 Hz ±50 G.
    "polar-verity": PolarModel("polar-verity", "Polar Verity Sense", ("Polar Sense",), {
        ACC: PolarSensorSpec((52,), (8,), 0x81),
        GYRO: PolarSensorSpec((52,), (250, 500, 1000, 2000), 0x80),
        MAG: PolarSensorSpec((10, 20, 50, 100), (50,), 0x80)}),
}


# --- central side ------------------------------------------------------------------------------


class PolarPmdDriver(DeviceDriver):
    """PMD start procedure: enable CP indications and data notifications, read features, then per
    measurement type: GET_SETTINGS, pick nearest rate / smallest covering range, REQUEST_START, keep the
    factor from the start response. Stop: STOP per started type, then unsubscribe."""

    reply_timeout_s = 10.0

    def __init__(self, model: PolarModel) -> None:
        self.model = model
        self.device_type = model.device_type
        self.display_name = model.display_name
        self.name_prefixes = model.name_prefixes
        self.service_uuids = (PMD_SERVICE_UUID,)
        self._started: dict[int, int] = {}  # id(client) -> bitmask of started types (best effort)

    def matches(self, name: str | None, service_uuids: list[str]) -> bool:
        # All Polar models advertise the same services; the local name tells them apart.
        return bool(name) and any(name.startswith(p) for p in self.name_prefixes)

    def new_decoder(self, settings: StreamSettings) -> PacketDecoder:
        return PolarPmdDecoder()

    def wanted_types(self, settings: StreamSettings, available: set[int]) -> list[int]:
        types = [TYPE_OF[s] for s in settings.sensors if s in TYPE_OF and TYPE_OF[s] in available]
        return sorted(set(types)) or ([ACC] if ACC in available else [])

    def choose(self, mtype: int, offered: dict[int, list], settings: StreamSettings) -> dict[int, list]:
        chosen: dict[int, list] = {}
        if offered.get(SAMPLE_RATE):
            chosen[SAMPLE_RATE] = [int(nearest(settings.rate_hz, offered[SAMPLE_RATE]))]
        if offered.get(RESOLUTION):
            chosen[RESOLUTION] = [max(offered[RESOLUTION])]
        if offered.get(RANGE):
            want = {ACC: settings.acc_range_g, GYRO: settings.gyro_range_dps}.get(mtype, max(offered[RANGE]))
            chosen[RANGE] = [int(at_least(want, offered[RANGE]))]
        if offered.get(CHANNELS):
            chosen[CHANNELS] = [max(offered[CHANNELS])]
        return chosen

    async def _command(self, client: GattClient, waiter: ReplyWaiter, payload: bytes) -> CpResponse:
        await client.write(PMD_CP_UUID, payload, response=True)
        op, mtype = payload[0], payload[1]

        def match(r: bytes) -> bool:
            return len(r) >= 4 and r[0] == RESPONSE_CODE and r[1] == op and r[2] == mtype

        resp = CpResponse.parse(await waiter.wait(match, self.reply_timeout_s))
        params, more = resp.params, resp.more
        while more:
            nxt = CpResponse.parse(await waiter.wait(match, self.reply_timeout_s))
            params += nxt.params
            more = nxt.more
        resp.params = params
        return resp

    async def start(self, client: GattClient, settings: StreamSettings, on_notify: NotifyHandler) -> PacketDecoder:
        waiter = ReplyWaiter()
        await client.start_notify(PMD_CP_UUID, waiter.handler)
        await client.start_notify(PMD_DATA_UUID, on_notify)
        available = parse_features(await client.read(PMD_CP_UUID))
        types = self.wanted_types(settings, available)
        if not types:
            raise RuntimeError(f"{self.display_name} offers none of {settings.sensors} (features {sorted(available)})")
        streams: dict[int, PolarStreamState] = {}
        for mtype in types:
            resp = await self._command(client, waiter, bytes([OP_GET_SETTINGS, mtype]))
            if resp.status != STATUS_SUCCESS:
                raise RuntimeError(f"{self.display_name}: get settings for {SENSOR_OF[mtype]} failed (status {resp.status})")
            chosen = self.choose(mtype, parse_settings(resp.params), settings)
            resp = await self._command(client, waiter, bytes([OP_START, mtype]) + pack_settings(chosen))
            if resp.status == STATUS_ALREADY_IN_STATE:  # left running by an earlier session: restart it
                await self._command(client, waiter, bytes([OP_STOP, mtype]))
                resp = await self._command(client, waiter, bytes([OP_START, mtype]) + pack_settings(chosen))
            if resp.status != STATUS_SUCCESS:
                raise RuntimeError(f"{self.display_name}: start {SENSOR_OF[mtype]} failed (status {resp.status})")
            factor = parse_settings(resp.params).get(FACTOR, [1.0])[0] if resp.params else 1.0
            streams[mtype] = PolarStreamState(factor=factor, rate_hz=float(chosen.get(SAMPLE_RATE, [0])[0]))
            log.info("%s %s started: %s, factor %g", self.display_name, SENSOR_OF[mtype], chosen, factor)
        self._started[id(client)] = sum(1 << t for t in types)
        return PolarPmdDecoder(streams)

    async def stop(self, client: GattClient) -> None:
        mask = self._started.pop(id(client), sum(1 << t for t in self.model.sensors))
        for mtype in SENSOR_OF:
            if mask >> mtype & 1:
                await quietly(client.write(PMD_CP_UUID, bytes([OP_STOP, mtype]), response=True))
        await quietly(client.stop_notify(PMD_DATA_UUID))
        await quietly(client.stop_notify(PMD_CP_UUID))


# --- peripheral side ---------------------------------------------------------------------------


class PolarPmdPeripheral(VirtualPeripheral):
    """A Polar device's PMD service for the emulator (control point state machine + frame encoder)."""

    battery_service = True  # GATT Battery Service 0x180F (Battery Level 0x2A19)

    def __init__(self, device_type: str = "polar-verity", local_name: str | None = None, mtu: int = 232,
                 samples_per_frame: int | None = None) -> None:
        self.model = POLAR_MODELS[device_type]
        self.device_type = device_type
        self.local_name = local_name or f"{self.model.name_prefixes[0]} 12345678"
        self.mtu = mtu
        self.samples_per_frame = samples_per_frame
        self.advertised_service_uuids = (HEART_RATE_SERVICE_UUID, PMD_SERVICE_UUID)
        self.manufacturer_data = {0x006B: b"\x33\x1e\x33\x33"}  # Polar Electro Oy company id
        self.services = (GattServiceSpec(PMD_SERVICE_UUID, (
            GattCharacteristicSpec(PMD_CP_UUID, ("read", "write", "indicate"), feature_bytes(self.model.sensors)),
            GattCharacteristicSpec(PMD_DATA_UUID, ("notify",)),
        )),)
        self.active: dict[int, dict] = {}  # type -> {"rate", "range", "factor"}
        self._mag_next_t: float | None = None

    def streaming(self) -> bool:
        return bool(self.active)

    def rate_hz(self) -> float:
        for t in (ACC, GYRO, MAG):
            if t in self.active:
                return float(self.active[t]["rate"])
        return float(self.model.sensors[ACC].rates_hz[0])

    def on_write(self, char_uuid: str, data: bytes) -> list[tuple[str, bytes]]:
        if char_uuid.lower() != PMD_CP_UUID or len(data) < 2:
            return []
        op, mtype = data[0], data[1] & 0x3F
        spec = self.model.sensors.get(mtype)
        if op not in (OP_GET_SETTINGS, OP_START, OP_STOP):
            return [(PMD_CP_UUID, cp_response(op, mtype, 1))]  # ERROR_INVALID_OP_CODE
        if spec is None:
            return [(PMD_CP_UUID, cp_response(op, mtype, STATUS_INVALID_MEASUREMENT_TYPE))]
        if op == OP_GET_SETTINGS:
            return [(PMD_CP_UUID, cp_response(op, mtype, STATUS_SUCCESS, pack_settings(spec.settings())))]
        if op == OP_STOP:
            self.active.pop(mtype, None)
            if mtype == MAG:
                self._mag_next_t = None
            return [(PMD_CP_UUID, cp_response(op, mtype, STATUS_SUCCESS))]
        if mtype in self.active:
            return [(PMD_CP_UUID, cp_response(op, mtype, STATUS_ALREADY_IN_STATE))]
        try:
            req = parse_settings(bytes(data[2:]))
        except ValueError:
            return [(PMD_CP_UUID, cp_response(op, mtype, STATUS_INVALID_PARAMETER))]
        rate = req.get(SAMPLE_RATE, [spec.rates_hz[0]])[0]
        rng = req.get(RANGE, [spec.ranges[-1]])[0]
        if rate not in spec.rates_hz:
            return [(PMD_CP_UUID, cp_response(op, mtype, 8))]  # ERROR_INVALID_SAMPLE_RATE
        if rng not in spec.ranges:
            return [(PMD_CP_UUID, cp_response(op, mtype, 9))]  # ERROR_INVALID_RANGE
        factor = spec.factor(rng)
        self.active[mtype] = {"rate": rate, "range": rng, "factor": factor}
        return [(PMD_CP_UUID, cp_response(op, mtype, STATUS_SUCCESS, pack_settings({FACTOR: [factor]})))]

    def _frame_samples(self, spec: PolarSensorSpec) -> int:
        if self.samples_per_frame:
            return self.samples_per_frame
        if spec.frame_type & 0x80 == 0:  # raw int16 x 3
            return max(1, (self.mtu - 3 - HEADER_SIZE) // 6)
        # delta frames: 6-byte reference, 2-byte block header, worst case 17 bits per channel per sample
        return max(1, 1 + (self.mtu - 3 - HEADER_SIZE - 6 - 2) * 8 // (3 * 17))

    def _quantise(self, mtype: int, vals: np.ndarray) -> np.ndarray:
        spec, act = self.model.sensors[mtype], self.active[mtype]
        f = float(np.float32(act["factor"]))
        if mtype == ACC:
            unit = 1e-3 * G0_MPS2 * f if spec.frame_type in (0x01, 0x81) else G0_MPS2 * f
        elif mtype == GYRO:
            unit = DEG2RAD * f
        else:
            unit = MAG_UT_PER_GAUSS * f
        return np.clip(np.round(np.asarray(vals, dtype=np.float64) / unit), -32768, 32767).astype(np.int64)

    def _frames(self, mtype: int, t_s: np.ndarray, vals: np.ndarray) -> list[tuple[str, bytes]]:
        spec = self.model.sensors[mtype]
        q = self._quantise(mtype, vals)
        t_ns = np.round(np.asarray(t_s, dtype=np.float64) * 1e9).astype(np.int64)
        out = []
        k = self._frame_samples(spec)
        for i in range(0, len(q), k):
            block = q[i:i + k]
            if spec.frame_type & 0x80:
                content = pack_delta_frames(block, 16)
            else:
                content = block.astype("<i2").tobytes()
            out.append((PMD_DATA_UUID, pack_frame(mtype, int(t_ns[min(i + k, len(q)) - 1]), spec.frame_type, content)))
        return out

    def encode(self, t_device_s: np.ndarray, acc_mps2: np.ndarray, gyro_rads: np.ndarray | None,
               mag_uT: np.ndarray | None) -> list[tuple[str, bytes]]:
        """Frames for each started measurement. ``t_device_s`` is ns-since-2000 time in seconds.
        MAG, which runs on its own rate, is linearly interpolated onto its own sample grid."""
        t = np.asarray(t_device_s, dtype=np.float64)
        out: list[tuple[str, bytes]] = []
        if not len(t):
            return out
        if ACC in self.active and acc_mps2 is not None:
            out += self._frames(ACC, t, acc_mps2)
        if GYRO in self.active and gyro_rads is not None:
            out += self._frames(GYRO, t, gyro_rads)
        if MAG in self.active and mag_uT is not None:
            period = 1.0 / self.active[MAG]["rate"]
            start = t[0] if self._mag_next_t is None else self._mag_next_t
            tm = start + period * np.arange(max(0, int(np.floor((t[-1] - start) / period + 1e-9)) + 1))
            tm = tm[tm <= t[-1] + 1e-12]
            if len(tm):
                mag = np.stack([np.interp(tm, t, np.asarray(mag_uT)[:, j]) for j in range(3)], axis=1)
                out += self._frames(MAG, tm, mag)
                self._mag_next_t = float(tm[-1] + period)
        return out


def polar_peripheral_factory(device_type: str):
    def make(**kwargs) -> PolarPmdPeripheral:
        return PolarPmdPeripheral(device_type=device_type, **kwargs)

    make.__name__ = f"make_{device_type.replace('-', '_')}"
    return make


DRIVERS = [PolarPmdDriver(m) for m in POLAR_MODELS.values()]
PERIPHERALS = {t: polar_peripheral_factory(t) for t in POLAR_MODELS}
