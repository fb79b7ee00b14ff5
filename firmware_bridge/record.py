"""Bridge recordings: one append-only ``*.anymorec`` file per streaming session (format: docs/recording_format.md).

A JSON header line, then self-delimiting chunks ``MAGIC | u32 length | u32 crc32 | payload``. Each chunk is
written with one ``write`` and then flushed and fsync'd, so a crash (power cut, kill -9) loses at most the
chunk being written: the reader stops at a truncated or half-written tail and returns everything before it.
A CRC mismatch anywhere else is corruption, reported with the file and byte offset. Never pickle.

Chunk payload: ``u32 meta_len | meta JSON | raw little-endian arrays`` listed in ``meta["fields"]``.
Chunk kinds: ``samples`` (one device, one sensor stream, one clock epoch), ``clock`` (the device->host
mapping of an epoch at the time of writing; the last one wins) and ``event`` (connects, drops, gaps).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from anymo.data.recording import Recording
from anymo.preprocess.resample import estimate_rate_hz

log = logging.getLogger(__name__)

FORMAT = "anymorec"
VERSION = 1
SUFFIX = ".anymorec"
MAGIC = b"AMRC"
CHUNK_HEAD = struct.Struct("<4sII")  # magic, payload length, crc32(payload)
META_LEN = struct.Struct("<I")
MAX_PAYLOAD = 64 << 20
TIME_FIELDS = ("t_host_s", "t_device_s")  # stored float64
VALUE_FIELDS = ("acc_mps2", "gyro_rads", "mag_uT")  # stored float32, [n, 3]


@dataclass(frozen=True)
class DeviceMeta:
    """A device as the recording names it."""

    address: str
    device_type: str
    placement: str = "unknown"
    name: str = ""


@dataclass
class Chunk:
    """One chunk as read back: ``kind`` is "samples", "clock" or "event"."""

    kind: str
    offset: int  # byte offset of the chunk in the file
    meta: dict
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def address(self) -> str | None:
        return self.meta.get("address")


class RecordingError(ValueError):
    """A recording file that cannot be read (not a recording, unknown version, corrupt chunk)."""


# --- writing -------------------------------------------------------------------------------------


def _finite_or_none(x: float) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def _encode_chunk(meta: dict, arrays: dict[str, np.ndarray]) -> bytes:
    fields, blobs = [], []
    for name, arr in arrays.items():
        dtype = "<f8" if name in TIME_FIELDS else "<f4"
        a = np.ascontiguousarray(arr, dtype=dtype)
        fields.append([name, dtype, list(a.shape)])
        blobs.append(a.tobytes())
    meta_bytes = json.dumps({**meta, "fields": fields}, separators=(",", ":"), allow_nan=False).encode()
    payload = META_LEN.pack(len(meta_bytes)) + meta_bytes + b"".join(blobs)
    return CHUNK_HEAD.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


@dataclass
class _Pending:
    address: str
    sensor: str
    epoch: int
    first_host_s: float
    parts: list[dict[str, np.ndarray]] = field(default_factory=list)


class RecordingWriter:
    """Appends chunks to a new recording file; buffers samples per (device, sensor, epoch) for ``chunk_s``.

    ``add_samples`` flushes a buffer once it spans ``chunk_s`` of host time; call ``flush_due()`` from a
    timer so a device that went quiet is flushed too, and ``close()`` at the end (flushes everything).
    """

    def __init__(self, path: str | Path, devices: list[DeviceMeta], chunk_s: float = 0.5, fsync: bool = True) -> None:
        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(f"{self.path} exists; recordings are append-only and never overwritten: "
                                  "choose a new file name")
        if not 0.0 < chunk_s <= 1.0:
            raise ValueError(f"chunk_s must be in (0, 1] seconds so a crash loses at most a second, got {chunk_s}")
        self.devices = {d.address: d for d in devices}
        self.chunk_s = chunk_s
        self.fsync = fsync
        self._pending: dict[tuple[str, str, int], _Pending] = {}
        self.samples_written: dict[str, int] = {d.address: 0 for d in devices}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "xb")  # noqa: SIM115 (closed in close())
        header = {"format": FORMAT, "version": VERSION, "created_unix_s": time.time(),
                  "devices": [vars(d) for d in devices]}
        self._write(json.dumps(header, separators=(",", ":")).encode() + b"\n")

    def _write(self, data: bytes) -> None:
        self._f.write(data)
        self._f.flush()
        if self.fsync:
            os.fsync(self._f.fileno())

    def _device(self, address: str) -> DeviceMeta:
        try:
            return self.devices[address]
        except KeyError:
            raise ValueError(f"{address} is not one of this recording's devices ({', '.join(self.devices)}); "
                             "list every device when creating the RecordingWriter") from None

    def add_samples(self, address: str, sensor: str, epoch: int, t_host_s: np.ndarray, t_device_s: np.ndarray,
                    acc_mps2: np.ndarray | None = None, gyro_rads: np.ndarray | None = None,
                    mag_uT: np.ndarray | None = None) -> None:
        """Buffer one block of samples of one sensor stream of one device (host-aligned times)."""
        self._device(address)
        n = len(t_host_s)
        if n == 0:
            return
        arrays = {"t_host_s": np.asarray(t_host_s, np.float64), "t_device_s": np.asarray(t_device_s, np.float64)}
        for name, v in zip(VALUE_FIELDS, (acc_mps2, gyro_rads, mag_uT), strict=True):
            if v is not None:
                arrays[name] = np.asarray(v, dtype=np.float64).reshape(n, 3)
        if len(arrays["t_device_s"]) != n:
            raise ValueError(f"t_device_s has {len(arrays['t_device_s'])} samples, t_host_s {n}: pass one per sample")
        key = (address, sensor, int(epoch))
        pend = self._pending.get(key)
        if pend is not None and pend.parts and set(pend.parts[0]) != set(arrays):
            self._flush(key)  # the fields changed (e.g. mag switched on): start a new chunk
            pend = None
        if pend is None:
            pend = self._pending[key] = _Pending(address, sensor, int(epoch), float(arrays["t_host_s"][0]))
        pend.parts.append(arrays)
        if float(arrays["t_host_s"][-1]) - pend.first_host_s >= self.chunk_s:
            self._flush(key)

    def _flush(self, key: tuple[str, str, int]) -> None:
        pend = self._pending.pop(key, None)
        if pend is None or not pend.parts:
            return
        arrays = {k: np.concatenate([p[k] for p in pend.parts]) for k in pend.parts[0]}
        meta = {"kind": "samples", "address": pend.address, "sensor": pend.sensor, "epoch": pend.epoch,
                "n": len(arrays["t_host_s"])}
        self._write(_encode_chunk(meta, arrays))
        self.samples_written[pend.address] = self.samples_written.get(pend.address, 0) + meta["n"]

    def flush_due(self, now_host_s: float | None = None) -> None:
        """Flush every buffer whose first sample is at least ``chunk_s`` old."""
        now = time.time() if now_host_s is None else now_host_s
        for key in [k for k, p in self._pending.items() if now - p.first_host_s >= self.chunk_s]:
            self._flush(key)

    def flush(self) -> None:
        for key in list(self._pending):
            self._flush(key)

    def add_clock(self, address: str, epoch: int, t_device0_s: float, t_host0_s: float, rate: float,
                  offset_ms: float, drift_ppm: float) -> None:
        """The mapping ``t_host = t_host0_s + rate * (t_device - t_device0_s)`` of one epoch (latest wins)."""
        self._device(address)
        self._write(_encode_chunk({"kind": "clock", "address": address, "epoch": int(epoch),
                                   "t_device0_s": float(t_device0_s), "t_host0_s": float(t_host0_s),
                                   "rate": float(rate), "offset_ms": _finite_or_none(offset_ms),
                                   "drift_ppm": _finite_or_none(drift_ppm)}, {}))

    def add_event(self, address: str, event: str, t_host_s: float, **info) -> None:
        """A connection event (connected, disconnected, gap, ...) with JSON-able details."""
        self._device(address)
        self._write(_encode_chunk({"kind": "event", "address": address, "event": event, "t_host_s": t_host_s,
                                   **info}, {}))

    def abort(self) -> None:
        """Close without writing what is buffered (after a write failed): the file keeps its complete chunks."""
        self._pending.clear()
        with contextlib.suppress(OSError):
            self._f.close()

    def close(self) -> None:
        if self._f.closed:
            return
        try:
            self.flush()
        finally:
            self._f.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --- reading -------------------------------------------------------------------------------------


@dataclass
class RecordingHeader:
    version: int
    created_unix_s: float
    devices: list[DeviceMeta]
    data_offset: int  # where the first chunk starts


def read_header(path: str | Path) -> RecordingHeader:
    path = Path(path)
    with open(path, "rb") as f:
        line = f.readline(1 << 20)
    try:
        head = json.loads(line)
        if not isinstance(head, dict) or head.get("format") != FORMAT:
            raise ValueError
    except ValueError:
        raise RecordingError(f"{path} is not an AnyMo bridge recording (no '{FORMAT}' header line); "
                             "record one with `anymo stream --record FILE`") from None
    if head.get("version") != VERSION:
        raise RecordingError(f"{path} is recording format version {head.get('version')}, this reader knows "
                             f"version {VERSION}; update anymo-edge")
    devices = [DeviceMeta(**{k: d[k] for k in ("address", "device_type", "placement", "name") if k in d})
               for d in head.get("devices", [])]
    return RecordingHeader(VERSION, float(head.get("created_unix_s", 0.0)), devices, len(line))


def iter_chunks(path: str | Path, on_corrupt: str = "raise") -> Iterator[Chunk]:
    """Chunks in file order. A truncated or half-written last chunk (a crash) ends the iteration quietly.

    A corrupt chunk before the end raises ``RecordingError`` naming the file and byte offset
    (``on_corrupt="stop"``: end there instead; ``"skip"``: resynchronise on the next chunk marker).
    """
    if on_corrupt not in ("raise", "stop", "skip"):
        raise ValueError(f"on_corrupt must be 'raise', 'stop' or 'skip', got {on_corrupt!r}")
    path = Path(path)
    header = read_header(path)
    data = path.read_bytes()
    off = header.data_offset
    while off < len(data):
        problem = None
        if len(data) - off < CHUNK_HEAD.size:
            log.warning("%s: truncated chunk header at byte %d (the recording ended mid-write)", path, off)
            return
        magic, length, crc = CHUNK_HEAD.unpack_from(data, off)
        end = off + CHUNK_HEAD.size + length
        if magic != MAGIC:
            problem = "no chunk marker"
        elif length > MAX_PAYLOAD:
            problem = f"chunk length {length} too large"
        elif end > len(data):
            log.warning("%s: truncated chunk at byte %d (%d of %d bytes; the recording ended mid-write)",
                        path, off, len(data) - off - CHUNK_HEAD.size, length)
            return
        elif zlib.crc32(data[off + CHUNK_HEAD.size:end]) != crc:
            if end == len(data):  # the last chunk, half written when the writer died
                log.warning("%s: last chunk at byte %d is incomplete (CRC mismatch); ignoring it", path, off)
                return
            problem = "CRC mismatch"
        if problem is not None:
            if on_corrupt == "raise":
                raise RecordingError(f"{path}: corrupt chunk at byte offset {off} ({problem}); the data before it "
                                     "is intact: read it with on_corrupt='stop' (or 'skip' to resynchronise)")
            log.warning("%s: corrupt chunk at byte offset %d (%s)", path, off, problem)
            if on_corrupt == "stop":
                return
            nxt = data.find(MAGIC, off + 1)
            if nxt < 0:
                return
            off = nxt
            continue
        yield _decode_payload(data[off + CHUNK_HEAD.size:end], off, path)
        off = end


def _decode_payload(payload: bytes, offset: int, path: Path) -> Chunk:
    (meta_len,) = META_LEN.unpack_from(payload)
    meta = json.loads(payload[META_LEN.size:META_LEN.size + meta_len])
    pos = META_LEN.size + meta_len
    arrays = {}
    for name, dtype, shape in meta.pop("fields", []):
        count = int(np.prod(shape)) if shape else 1
        nbytes = count * np.dtype(dtype).itemsize
        if pos + nbytes > len(payload):
            raise RecordingError(f"{path}: chunk at byte offset {offset} declares more array data than it holds")
        arrays[name] = np.frombuffer(payload, dtype=dtype, count=count, offset=pos).reshape(shape).astype(np.float64)
        pos += nbytes
    return Chunk(meta.pop("kind"), offset, meta, arrays)


@dataclass
class DeviceStreams:
    """Everything one device recorded: per sensor stream, the concatenated sample arrays (file order)."""

    meta: DeviceMeta
    streams: dict[str, dict[str, np.ndarray]]
    clocks: dict[int, dict]  # epoch -> last clock chunk meta
    events: list[dict]


def read_streams(path: str | Path, on_corrupt: str = "raise") -> list[DeviceStreams]:
    """Per device and sensor stream, every recorded sample (raw, as streamed), plus clocks and events."""
    header = read_header(path)
    parts: dict[str, dict[str, list[dict]]] = {d.address: {} for d in header.devices}
    clocks: dict[str, dict[int, dict]] = {d.address: {} for d in header.devices}
    events: dict[str, list[dict]] = {d.address: [] for d in header.devices}
    for ch in iter_chunks(path, on_corrupt):
        addr = ch.address
        if addr not in parts:
            continue
        if ch.kind == "samples":
            arrays = dict(ch.arrays)
            arrays["epoch"] = np.full(len(arrays["t_host_s"]), ch.meta.get("epoch", 0), dtype=np.float64)
            parts[addr].setdefault(ch.meta.get("sensor", "imu"), []).append(arrays)
        elif ch.kind == "clock":
            clocks[addr][int(ch.meta["epoch"])] = ch.meta
        elif ch.kind == "event":
            events[addr].append(ch.meta)
    out = []
    for d in header.devices:
        streams = {}
        for sensor, chunks in parts[d.address].items():
            keys = set.intersection(*(set(c) for c in chunks))
            streams[sensor] = {k: np.concatenate([c[k] for c in chunks]) for k in sorted(keys)}
        out.append(DeviceStreams(d, streams, clocks[d.address], events[d.address]))
    return out


def _host_times(s: dict[str, np.ndarray], clocks: dict[int, dict], remap: bool) -> np.ndarray:
    t = s["t_host_s"].copy()
    if remap:
        for epoch, c in clocks.items():
            sel = s["epoch"] == epoch
            t[sel] = c["t_host0_s"] + c["rate"] * (s["t_device_s"][sel] - c["t_device0_s"])
    return t


def _attach(t: np.ndarray, other_t: np.ndarray, other_v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values of a second stream at times ``t`` (linear interpolation) and where that is valid: inside the
    other stream's span and not across one of its gaps (> 1.5 of its median period)."""
    if len(other_t) < 2:
        return np.zeros((len(t), 3)), np.zeros(len(t), bool)
    period = float(np.median(np.diff(other_t)))
    j = np.clip(np.searchsorted(other_t, t), 1, len(other_t) - 1)
    exact = (np.abs(other_t[j] - t) < 1e-6) | (np.abs(other_t[j - 1] - t) < 1e-6)
    ok = exact | ((t >= other_t[0]) & (t <= other_t[-1]) & (other_t[j] - other_t[j - 1] <= 1.5 * period + 1e-9))
    vals = np.stack([np.interp(t, other_t, other_v[:, k]) for k in range(3)], axis=1)
    return vals, ok


def _sorted_unique(t: np.ndarray, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    order = np.argsort(t, kind="stable")
    t = t[order]
    keep = np.concatenate([[True], np.diff(t) > 0]) if len(t) else np.zeros(0, bool)
    return (t[keep], *(a[order][keep] for a in arrays))


def read_recording(path: str | Path, remap_clock: bool = True, on_corrupt: str = "raise") -> list[Recording]:
    """One ``Recording`` per device that recorded samples; ``t_s`` are host-aligned times.

    ``remap_clock``: re-map device times through the last (best) clock fit of each epoch instead of the
    mapping known when the samples arrived. Separate acc/gyro/mag streams (Polar) are joined on the
    accelerometer's times; samples where a joined stream has a gap are left out.
    """
    out = []
    for dev in read_streams(path, on_corrupt):
        primary = next((s for name in ("imu", "acc") if (s := dev.streams.get(name)) is not None
                        and "acc_mps2" in s), None)
        if primary is None:
            log.info("%s: device %s recorded no accelerometer samples", path, dev.meta.address)
            continue
        t = _host_times(primary, dev.clocks, remap_clock)
        acc = primary["acc_mps2"]
        cols: dict[str, np.ndarray] = {}
        keep = np.ones(len(t), bool)
        for name in ("gyro_rads", "mag_uT"):
            if name in primary:
                cols[name] = primary[name]
                continue
            src = next((s for s in dev.streams.values() if name in s and s is not primary), None)
            if src is not None:
                ts, vs = _sorted_unique(_host_times(src, dev.clocks, remap_clock), src[name])
                cols[name], ok = _attach(t, ts, vs)
                keep &= ok
        if not keep.all():
            log.info("%s: %s: %d of %d samples left out (gaps in a joined sensor stream)", path, dev.meta.address,
                     int((~keep).sum()), len(keep))
        names = list(cols)
        t, acc, *vals = _sorted_unique(t[keep], acc[keep], *(cols[n][keep] for n in names))
        cols = dict(zip(names, vals, strict=True))
        rate = estimate_rate_hz(t, min_samples=3)  # t is sorted and unique here
        out.append(Recording(acc_mps2=acc, t_s=t, rate_hz=rate, gyro_rads=cols.get("gyro_rads"),
                             mag_uT=cols.get("mag_uT"), placement=dev.meta.placement, device=dev.meta.device_type,
                             dataset="anymo-bridge", source=str(path)))
    return out
