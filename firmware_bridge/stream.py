"""One device's sample pipeline, without any radio: notification bytes in, host-aligned ``StreamBlock``s out.

``DeviceStream.on_notify(char_uuid, data, t_arrival_s)`` decodes with the driver's decoder, accounts for lost
packets (the decoder's sequence/timestamp tracking, losses at a connection's start, and for count-timed
protocols without either, persistent late arrival: see ``_infer_count_losses``), feeds the
device's ``ClockSync`` and maps every sample to host time, keeps the per-device statistics and hands each
block to the consumers. ``firmware_bridge.session`` runs one per connected wearable over bleak; tests run it
over ``LoopbackGattClient``. ``replay_recording`` plays a recording back as the same blocks.

The consumer API (what the edge runtime uses): a callback ``on_samples(address, block)`` or the async
iterator ``Session.blocks()``; both receive ``StreamBlock``s.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from anymo.preprocess.resample import estimate_rate_hz

from .clock import ClockSync, ClockSyncConfig
from .devices import get_driver
from .devices.base import DecodeStats, ImuSamples, PacketDecoder
from .record import RecordingWriter, iter_chunks, read_header

log = logging.getLogger(__name__)

SEQ_CONTINUITY_MAX = 1024  # a sequence jump at a connection's start up to this is counted as lost packets
COUNT_LOSS_WINDOW_S = 0.3  # count-timed loss inference: the recent window and the history it is compared with
COUNT_LOSS_HISTORY_S = 3.0


@dataclass
class StreamBlock:
    """Samples of one notification of one device: device clock and host-aligned times, SI units, sensor frame."""

    address: str
    device_type: str
    placement: str
    sensor: str  # "imu" (acc/gyro/mag together) or one stream: "acc", "gyro", "mag"
    t_host_s: np.ndarray  # [n] host Unix time of each sample (device time through the clock sync)
    t_device_s: np.ndarray  # [n] device clock, seconds
    acc_mps2: np.ndarray | None = None  # [n, 3]
    gyro_rads: np.ndarray | None = None  # [n, 3]
    mag_uT: np.ndarray | None = None  # [n, 3]
    epoch: int = 0  # device clock epoch (increments when the device clock restarts)
    t_arrival_s: float = 0.0  # host time the notification arrived
    # the stream's sample rate on the host clock: its recent device-clock sample spacing
    # (`anymo.preprocess.resample.estimate_rate_hz`) through the clock sync's rate; None until 8 samples
    rate_hz: float | None = None

    def __len__(self) -> int:
        return int(len(self.t_host_s))


SamplesCallback = Callable[[str, StreamBlock], None]


@dataclass
class DeviceStats:
    """What one device delivered, over the whole session (all connections)."""

    address: str
    device_type: str
    placement: str = "unknown"
    samples_received: int = 0  # samples of the primary stream ("imu", else "acc"): one per sample instant
    packets_received: int = 0
    packets_lost: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    bad_packets: int = 0
    reconnects: int = 0
    connected: bool = False  # the link is up now
    connected_at_end: bool = False  # the link was up when the session ended (False: it was lost and not back)
    clock_offset_ms: float = float("nan")
    clock_drift_ppm: float = float("nan")  # NaN until 10 s of data
    clock_drift_ci_ppm: float = float("nan")  # half-width of a ~95 % interval of clock_drift_ppm (clock.py)
    clock_residual_ms: float = float("nan")
    clock_epochs: int = 0
    rate_hz: float = float("nan")
    last_error: str = ""
    battery_pct: int | None = None  # Battery Level (GATT 0x2A19) where the device reports it, else None
    samples_by_sensor: dict[str, int] = field(default_factory=dict)  # e.g. {"acc": n, "gyro": m} for Polar

    def to_json(self) -> dict:
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in asdict(self).items()}


@dataclass
class _Totals:
    """Decoder counters of the connections that already ended."""

    packets_ok: int = 0
    packets_lost: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    bad_packets: int = 0

    def add(self, s: DecodeStats) -> None:
        self.packets_ok += s.packets_ok
        self.packets_lost += s.packets_lost
        self.duplicates += s.duplicates
        self.out_of_order += s.out_of_order
        self.bad_packets += s.bad_packets


@dataclass
class DeviceStream:
    """The pipeline of one device across its connections (call ``new_connection`` after every (re)connect)."""

    address: str
    device_type: str
    placement: str = "unknown"
    consumers: list[SamplesCallback] = field(default_factory=list)
    recorder: RecordingWriter | None = None
    clock_config: ClockSyncConfig | None = None
    seq_bits: int = 16

    def __post_init__(self) -> None:
        self.clock = ClockSync(self.clock_config)
        self._stats = DeviceStats(self.address, self.device_type, self.placement)
        self.decoder: PacketDecoder | None = None
        self._done = _Totals()
        self._boundary_lost = 0  # packets lost across reconnects (sequence continuity)
        self._last_seq: int | None = None
        self._first_seq_of_connection = True
        self._connections = 0
        self._periods: deque[float] = deque(maxlen=512)  # recent device sample periods, primary stream
        self._last_t_dev: dict[str, float] = {}
        self._recent_t_dev: dict[str, deque[float]] = {}  # per stream, for StreamBlock.rate_hz
        self._rate_cache: dict[str, tuple[float, float | None]] = {}  # stream -> (arrival time, rate_hz)
        self._primary: str | None = None
        self._held: list[tuple[str, bytes, float]] | None = None  # notifications during the start procedure
        driver = get_driver(self.device_type)
        self.count_timed = driver.timing == "count"  # neither sequence numbers nor timestamps
        self.seq_restarts_on_start = driver.seq_restarts_on_start
        self._shift_s: dict[str, float] = {}  # count-timed: device time of the samples inferred lost, per sensor
        self._period_s: dict[str, float] = {}
        self._lateness: dict[str, deque[tuple[float, float]]] = {}
        self._loss_hold_until: dict[str, float] = {}
        self._inferred_lost = 0

    # -- connection lifecycle ------------------------------------------------------------------------

    def begin_connection(self) -> None:
        """A link is up and the start procedure is running: hold early data notifications until it returns."""
        self._held = []

    def new_connection(self, decoder: PacketDecoder) -> None:
        """A (re)connection finished its start procedure; ``decoder`` decodes this connection's packets."""
        held, self._held = self._held, None
        self.end_connection()
        self.decoder = decoder
        self._first_seq_of_connection = True
        self._last_t_dev.clear()
        self._shift_s.clear()
        self._lateness.clear()
        self._loss_hold_until.clear()
        if self._connections:
            self._stats.reconnects += 1
        self._connections += 1
        self._stats.connected = True
        self._event("connected", connection=self._connections)
        for uuid, data, t_arr in held or []:
            self.on_notify(uuid, data, t_arr)

    def end_connection(self, reason: str = "") -> None:
        """The link dropped or was closed: fold this connection's decoder counters into the totals."""
        self._held = None
        if self.decoder is not None:
            self._done.add(self.decoder.stats)
            self.decoder = None
            self._event("disconnected", reason=reason)
        self._stats.connected = False
        self._update_stats()

    # -- data path -----------------------------------------------------------------------------------

    def on_notify(self, char_uuid: str, data: bytes, t_arrival_s: float | None = None) -> list[StreamBlock]:
        """Decode one notification and deliver its samples; returns the blocks delivered."""
        t_arr = time.time() if t_arrival_s is None else float(t_arrival_s)
        if self.decoder is None:
            if self._held is not None:  # the start procedure is still running
                self._held.append((char_uuid, bytes(data), t_arr))
            else:
                log.debug("%s: notification outside a connection ignored", self.address)
            return []
        blocks = []
        for s in self.decoder.decode(char_uuid, data):
            if len(s) == 0:
                continue
            self._sequence(s)
            block = self._to_block(s, t_arr)
            blocks.append(block)
            if block.sensor == self._primary:
                self._stats.samples_received += len(block)
            self._stats.samples_by_sensor[block.sensor] = self._stats.samples_by_sensor.get(block.sensor, 0) + len(block)
            if self.recorder is not None:
                try:
                    self.recorder.add_samples(self.address, block.sensor, block.epoch, block.t_host_s,
                                              block.t_device_s, block.acc_mps2, block.gyro_rads, block.mag_uT)
                except OSError as exc:  # disk full, file system gone: keep streaming to the consumers, say so
                    self._stats.last_error = f"recording failed: {exc}"
                    log.error("%s: recording failed (%s); streaming continues without it", self.address, exc)
                    self.recorder = None
            for consume in self.consumers:
                try:
                    consume(self.address, block)
                except Exception:  # a broken consumer must not stop the stream (or the recording)
                    log.exception("%s: samples consumer %r failed", self.address, consume)
        self._update_counts()
        return blocks

    def _sequence(self, s: ImuSamples) -> None:
        """Losses the decoder cannot see: at the start of a connection (before its first packet arrived)."""
        if s.seq is None:
            return
        if self._first_seq_of_connection:
            if self.seq_restarts_on_start:  # the stream restarts at seq 0 on every START
                lost = s.seq if s.seq <= SEQ_CONTINUITY_MAX else 0
            elif self._last_seq is not None:  # the counter continues across connections
                jump = (s.seq - self._last_seq) % (1 << self.seq_bits)
                lost = jump - 1 if 1 < jump <= SEQ_CONTINUITY_MAX else 0
            else:
                lost = 0
            if lost:
                self._boundary_lost += lost
                self._event("gap", packets_lost=lost, at_connection_start=True)
        self._first_seq_of_connection = False
        self._last_seq = s.seq

    def _to_block(self, s: ImuSamples, t_arr: float) -> StreamBlock:
        t_dev = np.asarray(s.t_device_s, dtype=np.float64)
        if self.count_timed:
            t_dev = t_dev + self._shift_s.get(s.sensor, 0.0)
        reset = self.clock.add(float(t_dev[-1]), t_arr)
        if reset:
            self._event("clock_reset", epoch=self.clock.epoch)
            self._last_t_dev.clear()
            self._recent_t_dev.clear()
            self._rate_cache.clear()
            self._lateness.clear()
        if self._primary is None and (s.acc_mps2 is not None or s.gyro_rads is not None):
            self._primary = s.sensor
        prev = self._last_t_dev.get(s.sensor)
        d = np.diff(np.concatenate([[prev], t_dev]) if prev is not None else t_dev)
        d = d[d > 0]
        if s.sensor == self._primary:
            self._periods.extend(d[:64])
        if len(d):
            self._period_s[s.sensor] = min(self._period_s.get(s.sensor, np.inf), float(d.min()))
        self._last_t_dev[s.sensor] = float(t_dev[-1])
        block = StreamBlock(self.address, self.device_type, self.placement, s.sensor, self.clock.to_host(t_dev),
                            t_dev, s.acc_mps2, s.gyro_rads, s.mag_uT, self.clock.epoch, t_arr,
                            self._stream_rate_hz(s.sensor, t_dev, t_arr))
        if self.count_timed and not reset:
            self._infer_count_losses(s.sensor, len(t_dev), float(t_dev[-1]), t_arr)
        return block

    def _stream_rate_hz(self, sensor: str, t_dev: np.ndarray, t_arr: float) -> float | None:
        """The stream's rate on the host clock for `StreamBlock.rate_hz`: `estimate_rate_hz` of its last 128
        device times through the clock's rate, re-estimated at most twice a second (off the hot path)."""
        recent = self._recent_t_dev.setdefault(sensor, deque(maxlen=128))
        recent.extend(t_dev[-128:].tolist())
        cached = self._rate_cache.get(sensor)
        if cached is not None and cached[1] is not None and t_arr - cached[0] < 0.5:
            return cached[1]
        rate_dev = estimate_rate_hz(np.fromiter(recent, np.float64, len(recent)))
        rate = None if rate_dev is None else rate_dev / self.clock.rate
        self._rate_cache[sensor] = (t_arr, rate)
        return rate

    def _infer_count_losses(self, sensor: str, n: int, t_dev_last: float, t_arr: float) -> None:
        """A count-timed stream that lost k packets runs k packet-durations behind: from then on its packets
        arrive late by that much (a delay spike is not persistent). Compare the earliest arrival of the last
        ``COUNT_LOSS_WINDOW_S`` (relative to the device time) with the earliest of the ``COUNT_LOSS_HISTORY_S``
        before it; a step of whole packets is counted lost and the stream's device time moves on by them.
        Samples delivered before the step shows keep their (late-mapped) times."""
        period = self._period_s.get(sensor)
        if period is None or not np.isfinite(period):
            return
        w = COUNT_LOSS_WINDOW_S
        q = self._lateness.setdefault(sensor, deque())
        q.append((t_arr, t_arr - t_dev_last))  # raw clock difference: drift moves it < 1 ms over the history
        while q and q[0][0] < t_arr - COUNT_LOSS_HISTORY_S:
            q.popleft()
        if t_arr < self._loss_hold_until.get(sensor, -np.inf):  # the window after a correction is not full yet
            return
        recent = [r for t, r in q if t > t_arr - w]
        older = [r for t, r in q if t <= t_arr - w]
        if len(recent) < 3 or len(older) < 3:
            return
        packet_s = n * period
        ref = min(older)
        step = min(recent) - ref
        k = int(np.floor(step / packet_s + 0.5))
        if k >= 1 and step > (k - 0.25) * packet_s:  # margin for the jitter of the two minima
            self._shift_s[sensor] = self._shift_s.get(sensor, 0.0) + k * packet_s
            self._inferred_lost += k
            # keep the history up to the last packet that arrived on time (before the loss); what came after
            # it mixes late-but-complete and post-loss packets and is dropped
            items = list(q)
            last_ok = max(i for i, (_, r) in enumerate(items) if r < ref + 0.5 * packet_s)
            q.clear()
            q.extend(items[:last_ok + 1])
            self._loss_hold_until[sensor] = t_arr + w
            self._event("gap", packets_lost=k, sensor=sensor, inferred_from_arrival_times=True)

    # -- statistics ----------------------------------------------------------------------------------

    @property
    def stats(self) -> DeviceStats:
        """The statistics now. The counters follow every notification; the clock and rate fields are
        refreshed here (and when a connection ends), off the notification path."""
        self._update_stats()
        return self._stats

    def _update_counts(self) -> None:
        cur = self.decoder.stats if self.decoder is not None else DecodeStats()
        st = self._stats
        st.packets_received = self._done.packets_ok + cur.packets_ok
        st.packets_lost = self._done.packets_lost + cur.packets_lost + self._boundary_lost + self._inferred_lost
        st.duplicates = self._done.duplicates + cur.duplicates
        st.out_of_order = self._done.out_of_order + cur.out_of_order
        st.bad_packets = self._done.bad_packets + cur.bad_packets

    def _update_stats(self) -> None:
        self._update_counts()
        st = self._stats
        if self.clock.ready:
            est = self.clock.estimate()
            st.clock_offset_ms, st.clock_drift_ppm = est.offset_ms, est.drift_ppm
            st.clock_drift_ci_ppm = est.drift_ci_ppm
            st.clock_residual_ms, st.clock_epochs = est.residual_ms, est.epoch
        if self._periods:
            # nominal rate from the device's own sample spacing, converted to host seconds
            st.rate_hz = float(1.0 / (np.median(self._periods) * self.clock.rate))

    def set_battery(self, level_pct: int) -> None:
        """The device reported its battery level (percent)."""
        if level_pct != self._stats.battery_pct:
            self._stats.battery_pct = int(level_pct)
            self._event("battery", level_pct=int(level_pct))

    def write_clock(self) -> None:
        """Store the current clock mapping of this device in the recording (the reader re-times with it)."""
        if self.recorder is None or not self.clock.ready:
            return
        t_dev0, t_host0, rate = self.clock.mapping()
        est = self.clock.estimate()
        self.recorder.add_clock(self.address, self.clock.epoch, t_dev0, t_host0, rate, est.offset_ms, est.drift_ppm)

    def _event(self, event: str, **info) -> None:
        if self.recorder is not None:
            try:
                self.recorder.add_event(self.address, event, time.time(), **info)
            except OSError as exc:
                log.error("%s: recording an event failed (%s)", self.address, exc)


class SensorJoiner:
    """A consumer that turns a device's separate "acc" and "gyro" streams (Polar PMD) into "imu" blocks.

    Wrap the real consumer: ``session.add_consumer(SensorJoiner(windower_push))``. "imu" blocks pass through.
    Accelerometer samples are held until the gyroscope sample with the same device time arrives and are then
    delivered together; accelerometer samples whose gyroscope frame was lost (older than the newest gyroscope
    sample, unmatched) are delivered with NaN gyro when ``keep_unmatched`` else dropped. A device that sends no
    gyro blocks within ``max_hold_s`` passes its accelerometer through (gyro None). Magnetometer blocks are
    ignored.
    """

    def __init__(self, on_samples: SamplesCallback, tol_s: float = 1e-5, keep_unmatched: bool = False,
                 max_hold_s: float = 1.0) -> None:
        self.on_samples = on_samples
        self.tol_s = tol_s
        self.max_hold_s = max_hold_s  # an accelerometer sample waits at most this long for its gyroscope sample
        self.keep_unmatched = keep_unmatched
        self._acc: dict[str, list[StreamBlock]] = {}
        self._gyro: dict[str, list[StreamBlock]] = {}
        self._has_gyro: set[str] = set()
        self._acc_only: set[str] = set()

    def __call__(self, address: str, block: StreamBlock) -> None:
        if block.sensor == "imu":
            self.on_samples(address, block)
        elif block.sensor == "acc" and block.acc_mps2 is not None:
            if address in self._acc_only:
                self.on_samples(address, _as_imu(block))
                return
            self._acc.setdefault(address, []).append(block)
            if address in self._has_gyro:
                self._join(address)
                return
            a = _concat(self._acc[address])
            if a.t_host_s[-1] - a.t_host_s[0] > self.max_hold_s:  # no gyro stream after all: pass acc through
                self._acc_only.add(address)
                self._acc[address] = []
                self.on_samples(address, _as_imu(a))
        elif block.sensor == "gyro" and block.gyro_rads is not None:
            self._has_gyro.add(address)
            self._acc_only.discard(address)
            self._gyro.setdefault(address, []).append(block)
            self._join(address)

    def _join(self, address: str) -> None:
        accs, gyros = self._acc.get(address), self._gyro.get(address)
        if not accs or not gyros:
            return
        a = _concat(accs)
        g = _concat(gyros)
        if a.epoch != g.epoch:  # a device clock restart: nothing from the old epoch will match any more
            keep = a if a.epoch > g.epoch else g
            (self._acc if keep is a else self._gyro)[address] = [keep]
            (self._gyro if keep is a else self._acc)[address] = []
            return
        j = np.clip(np.searchsorted(g.t_device_s, a.t_device_s), 1, max(1, len(g) - 1)) if len(g) > 1 else \
            np.zeros(len(a), dtype=np.int64)
        if len(g) > 1:
            j = np.where(np.abs(g.t_device_s[j - 1] - a.t_device_s) < np.abs(g.t_device_s[j] - a.t_device_s), j - 1, j)
        matched = np.abs(g.t_device_s[j] - a.t_device_s) <= self.tol_s
        settled = matched | (a.t_device_s < g.t_device_s[-1] - self.tol_s)  # unmatched and older: gyro lost
        settled |= a.t_host_s < a.t_host_s[-1] - self.max_hold_s  # the gyro stream stalled
        n = int(np.argmin(settled)) if not settled.all() else len(a)  # deliver the settled prefix, in order
        if n:
            sel = slice(0, n)
            ok = matched[:n] if not self.keep_unmatched else np.ones(n, bool)
            if ok.any():
                gyro = np.where(matched[:n, None], g.gyro_rads[j[:n]], np.nan)[ok]
                self.on_samples(address, StreamBlock(
                    a.address, a.device_type, a.placement, "imu", a.t_host_s[sel][ok], a.t_device_s[sel][ok],
                    a.acc_mps2[sel][ok], gyro, None, a.epoch, a.t_arrival_s, a.rate_hz))
        self._acc[address] = [_slice(a, n)] if n < len(a) else []
        used = int(np.searchsorted(g.t_device_s, a.t_device_s[n - 1] + self.tol_s, side="right")) if n else 0
        self._gyro[address] = [_slice(g, used)] if used < len(g) else []


def _as_imu(b: StreamBlock) -> StreamBlock:
    return StreamBlock(b.address, b.device_type, b.placement, "imu", b.t_host_s, b.t_device_s, b.acc_mps2, None,
                       None, b.epoch, b.t_arrival_s, b.rate_hz)


def _concat(blocks: list[StreamBlock]) -> StreamBlock:
    if len(blocks) == 1:
        return blocks[0]
    b0 = blocks[-1]

    def cat(name: str):
        parts = [getattr(b, name) for b in blocks]
        return None if any(p is None for p in parts) else np.concatenate(parts)

    return StreamBlock(b0.address, b0.device_type, b0.placement, b0.sensor, cat("t_host_s"), cat("t_device_s"),
                       cat("acc_mps2"), cat("gyro_rads"), cat("mag_uT"), b0.epoch, b0.t_arrival_s, b0.rate_hz)


def _slice(b: StreamBlock, start: int) -> StreamBlock:
    def cut(x):
        return None if x is None else x[start:]

    return StreamBlock(b.address, b.device_type, b.placement, b.sensor, b.t_host_s[start:], b.t_device_s[start:],
                       cut(b.acc_mps2), cut(b.gyro_rads), cut(b.mag_uT), b.epoch, b.t_arrival_s, b.rate_hz)


async def replay_recording(path: str | Path, speed: float = 1.0, remap_clock: bool = False
                           ) -> AsyncIterator[StreamBlock]:
    """Play a bridge recording back as ``StreamBlock``s (one per recorded chunk), paced by its host times.

    ``speed`` 1 = real time, 2 = twice as fast, 0 = as fast as possible. ``remap_clock`` re-times the
    samples with each epoch's final clock fit (as ``read_recording`` does).
    """
    if speed < 0:
        raise ValueError(f"speed must be >= 0 (0 = as fast as possible), got {speed}")
    header = read_header(path)
    devices = {d.address: d for d in header.devices}
    clocks: dict[tuple[str, int], dict] = {}
    if remap_clock:
        for ch in iter_chunks(path):
            if ch.kind == "clock":
                clocks[(ch.address, int(ch.meta["epoch"]))] = ch.meta
    t0_rec: float | None = None
    t0_wall = time.monotonic()
    recent: dict[tuple[str, str], deque[float]] = {}
    for ch in iter_chunks(path):
        if ch.kind != "samples" or ch.address not in devices:
            continue
        d, a = devices[ch.address], ch.arrays
        epoch = int(ch.meta.get("epoch", 0))
        t_host = a["t_host_s"]
        c = clocks.get((ch.address, epoch))
        if c is not None:
            t_host = c["t_host0_s"] + c["rate"] * (a["t_device_s"] - c["t_device0_s"])
        if speed > 0:
            t0_rec = float(t_host[0]) if t0_rec is None else t0_rec
            wait = (float(t_host[-1]) - t0_rec) / speed - (time.monotonic() - t0_wall)
            if wait > 0:
                await asyncio.sleep(wait)
        sensor = ch.meta.get("sensor", "imu")
        stamps = recent.setdefault((d.address, sensor), deque(maxlen=128))
        stamps.extend(np.asarray(t_host[-128:], np.float64).tolist())  # host times: the recording's clock mapping
        yield StreamBlock(d.address, d.device_type, d.placement, sensor, t_host,
                          a["t_device_s"], a.get("acc_mps2"), a.get("gyro_rads"), a.get("mag_uT"), epoch,
                          float(t_host[-1]), estimate_rate_hz(np.fromiter(stamps, np.float64, len(stamps))))
