"""Stream every paired wearable at once through bleak: connect, start, reconnect with backoff, record, stop cleanly.

``Session(devices, record=..., on_samples=...)``; ``await session.run(seconds)`` streams until the time is
up or ``session.stop()`` (SIGINT) and returns the per-device ``DeviceStats``. Each device runs its own task:

    find (scan) -> establish_connection (bleak-retry-connector) -> driver.start(BleakGattClient, settings)
    -> notifications -> DeviceStream (decode, loss accounting, clock sync, consumers, recording)
    -> link lost? -> backoff (0.5 s doubling to 10 s, +-25 % jitter) -> find again ...

The consumer API is small: ``on_samples(address, StreamBlock)`` callbacks, or ``async for block in
session.blocks()``. Nothing recorded is lost on a stop: the stop procedure runs, the links close, every
device's final clock fit and all buffered samples are written and the file is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from bleak import BleakClient
from bleak_retry_connector import establish_connection

from .battery import watch_battery
from .bleak_gatt import BleakGattClient
from .devices import get_driver
from .devices.base import StreamSettings
from .pairing import PairedDevice
from .record import DeviceMeta, RecordingWriter
from .scan import (
    BluetoothUnavailable,
    DeviceFinder,
    explain_bluetooth_error,
    held_message,
    not_found_message,
)
from .stream import DeviceStats, DeviceStream, SamplesCallback, StreamBlock

log = logging.getLogger(__name__)


@dataclass
class SessionConfig:
    settings: StreamSettings | None = None  # default for devices without stored settings
    scan_timeout_s: float = 10.0  # how long to look for a device before backing off
    connect_attempts: int = 3  # bleak-retry-connector attempts per connect
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 10.0
    backoff_jitter: float = 0.25  # +- fraction
    start_timeout_s: float = 20.0  # the driver's start procedure
    chunk_s: float = 0.5  # recording chunk length (<= 1 s lost in a crash)
    flush_every_s: float = 0.25
    clock_every_s: float = 2.0  # how often the clock fits are written to the recording
    adapter: str | None = None  # e.g. "hci1"; None = the default adapter


def ignore_bus_eof(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """Event-loop exception handler: bleak's D-Bus reader may see the bus go away (BlueZ or the emulator
    stopped) and leave a 'Future exception was never retrieved ... EOFError' behind; bleak already logs it
    in words, so only that one is dropped. Install with ``loop.set_exception_handler(ignore_bus_eof)``."""
    if not isinstance(context.get("exception"), EOFError):
        loop.default_exception_handler(context)


def backoff_s(attempt: int, config: SessionConfig, rng: random.Random) -> float:
    """Delay before reconnect attempt ``attempt`` (0 = right after a link loss: immediately)."""
    if attempt <= 0:
        return 0.0
    base = min(config.backoff_max_s, config.backoff_initial_s * 2 ** (attempt - 1))
    return min(config.backoff_max_s, base * (1.0 + config.backoff_jitter * (2.0 * rng.random() - 1.0)))


@dataclass
class _Link:
    device: PairedDevice
    stream: DeviceStream
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    client: BleakClient | None = None
    last_warning: str | None = None  # a retry that fails the same way again is logged at INFO, not again at WARNING


class Session:
    """One streaming session over several paired wearables (``run`` it once)."""

    def __init__(self, devices: list[PairedDevice], *, record: str | Path | None = None,
                 on_samples: SamplesCallback | None = None, config: SessionConfig | None = None) -> None:
        if not devices:
            raise ValueError("no devices to stream from: pair one first (`anymo pair ADDRESS --placement ...`)")
        addresses = [d.address for d in devices]
        if len(set(addresses)) != len(addresses):
            raise ValueError(f"a device is listed twice: {addresses}")
        self.devices = list(devices)
        self.config = config or SessionConfig()
        self.record_path = Path(record) if record is not None else None
        self._consumers: list[SamplesCallback] = [on_samples] if on_samples else []
        self._queues: list[asyncio.Queue] = []
        self._stop = asyncio.Event()
        self._rng = random.Random()
        self._fatal: BaseException | None = None
        self.recorder: RecordingWriter | None = None
        self._finder: DeviceFinder | None = None
        self.links: dict[str, _Link] = {}
        for d in self.devices:
            get_driver(d.device_type)  # ValueError listing the valid types
            stream = DeviceStream(d.address, d.device_type, d.placement, consumers=[self._deliver])
            self.links[d.address] = _Link(d, stream)

    # -- consumer API ------------------------------------------------------------------------------

    def add_consumer(self, on_samples: SamplesCallback) -> None:
        """Call ``on_samples(address, block)`` for every block from every device."""
        self._consumers.append(on_samples)

    async def blocks(self, max_queue: int = 1000) -> AsyncIterator[StreamBlock]:
        """Every block from every device until the session ends (oldest dropped when a slow reader lags)."""
        q: asyncio.Queue = asyncio.Queue(max_queue)
        self._queues.append(q)
        try:
            while True:
                block = await q.get()
                if block is None:
                    return
                yield block
        finally:
            self._queues.remove(q)

    def _deliver(self, address: str, block: StreamBlock) -> None:
        for consume in self._consumers:
            consume(address, block)
        for q in self._queues:
            if q.full():
                q.get_nowait()
            q.put_nowait(block)

    @property
    def stats(self) -> dict[str, DeviceStats]:
        """Per-device statistics now (the live objects: they keep changing; ``snapshot()`` for copies)."""
        return {a: link.stream.stats for a, link in self.links.items()}

    def snapshot(self) -> dict[str, dict]:
        """Per-device statistics now as plain JSON values (``DeviceStats.to_json``; NaN -> None): safe to keep,
        send to a browser or store. Cheap enough to call every second (the clock fit is refreshed here)."""
        return {a: s.to_json() for a, s in self.stats.items()}

    # -- running -----------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the session to end (safe from a signal handler via ``loop.call_soon_threadsafe``)."""
        self._stop.set()

    async def run(self, seconds: float | None = None) -> dict[str, DeviceStats]:
        """Stream until ``seconds`` have passed (None: until ``stop()``); returns the per-device statistics.

        Raises ``BluetoothUnavailable`` (adapter off, no adapter, no BlueZ) with the fix in its message.
        """
        if seconds is not None and not (seconds > 0 and math.isfinite(seconds)):
            raise ValueError(f"seconds must be a positive, finite number (None: until stop()), got {seconds}")
        if self.record_path is not None:
            self.recorder = RecordingWriter(
                self.record_path, [DeviceMeta(d.address, d.device_type, d.placement, d.name or "")
                                   for d in self.devices], chunk_s=self.config.chunk_s)
            for link in self.links.values():
                link.stream.recorder = self.recorder
        self._finder = DeviceFinder(self.config.adapter)
        tasks = [asyncio.ensure_future(self._run_device(link)) for link in self.links.values()]
        flusher = asyncio.ensure_future(self._flush_loop())
        try:
            stop_wait = asyncio.ensure_future(self._stop.wait())
            done, _ = await asyncio.wait([stop_wait, *tasks], timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
            stop_wait.cancel()
            for t in done:  # a device task only ends early on a fatal error
                if t is not stop_wait and not t.cancelled() and t.exception() is not None:
                    self._fatal = self._fatal or t.exception()
        finally:
            for link in self.links.values():
                link.stream.stats.connected_at_end = link.stream.stats.connected
            self._stop.set()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.gather(*(self._close(link) for link in self.links.values()), return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._finder.close()
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)
            if self.recorder is not None:
                try:
                    for link in self.links.values():
                        link.stream.write_clock()
                    self.recorder.close()
                except OSError as exc:
                    log.error("finishing the recording %s failed: %s", self.record_path, exc)
                    self._stop_recording()
            for q in self._queues:  # end every blocks() iterator (making room in a full queue)
                if q.full():
                    q.get_nowait()
                q.put_nowait(None)
        if self._fatal is not None:
            raise self._fatal
        return self.stats

    def _stop_recording(self) -> None:
        recorder, self.recorder = self.recorder, None
        for link in self.links.values():
            link.stream.recorder = None
        if recorder is not None:
            recorder.abort()

    async def _flush_loop(self) -> None:
        last_clock = time.monotonic()
        while True:
            await asyncio.sleep(self.config.flush_every_s)
            if self.recorder is None:
                continue
            try:
                self.recorder.flush_due()
                if time.monotonic() - last_clock >= self.config.clock_every_s:
                    last_clock = time.monotonic()
                    for link in self.links.values():
                        link.stream.write_clock()
            except OSError as exc:  # disk full, file system gone: streaming goes on without the recording
                log.error("recording to %s failed (%s); streaming continues without it", self.record_path, exc)
                self._stop_recording()

    async def _run_device(self, link: _Link) -> None:
        cfg, dev = self.config, link.device
        driver = get_driver(dev.device_type)
        settings = dev.stream_settings(cfg.settings)
        attempt = 0
        ever_connected = False
        while not self._stop.is_set():
            delay = backoff_s(attempt, cfg, self._rng)
            if delay:
                log.info("%s: reconnecting in %.1f s (attempt %d)", dev.address, delay, attempt)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
                if self._stop.is_set():
                    return
            attempt += 1
            try:
                ble_device, found = await self._finder.find(dev.address, cfg.scan_timeout_s)
                if ble_device is None:
                    held = found is not None and found.held
                    link.stream.stats.last_error = held_message(dev.address) if held else \
                        not_found_message(dev.address, cfg.scan_timeout_s)
                    self._warn(link, link.stream.stats.last_error)
                    continue
                link.lost.clear()
                client = await establish_connection(
                    BleakClient, ble_device, dev.name or dev.address, disconnected_callback=lambda _c: link.lost.set(),
                    max_attempts=cfg.connect_attempts)
                link.client = client
                gatt = BleakGattClient(client)
                link.stream.begin_connection()
                decoder = await asyncio.wait_for(
                    driver.start(gatt, settings, lambda uuid, data: link.stream.on_notify(uuid, data, time.time())),
                    cfg.start_timeout_s)
                link.stream.new_connection(decoder)
                battery = asyncio.ensure_future(watch_battery(gatt, link.stream.set_battery))
                ever_connected, attempt = True, 0
                link.last_warning = None
                log.info("%s (%s, %s): streaming", dev.address, dev.device_type, dev.placement)
                stop_wait = asyncio.ensure_future(self._stop.wait())
                lost_wait = asyncio.ensure_future(link.lost.wait())
                try:
                    await asyncio.wait([stop_wait, lost_wait], return_when=asyncio.FIRST_COMPLETED)
                finally:
                    stop_wait.cancel()
                    lost_wait.cancel()
                    battery.cancel()
                    await asyncio.gather(battery, return_exceptions=True)
                if self._stop.is_set():
                    return  # _close runs the stop procedure
                link.stream.end_connection("link lost")
                link.client = None
                log.warning("%s: link lost; reconnecting", dev.address)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - every failure of one attempt is retried
                clear = explain_bluetooth_error(exc)
                link.stream.end_connection(f"error: {exc}")
                await self._drop_client(link)
                link.stream.stats.last_error = str(clear or exc) or type(exc).__name__
                if clear is not None and not ever_connected and not any(
                        other.stream.stats.packets_received for other in self.links.values()):
                    raise clear from exc  # e.g. the adapter is off: say so instead of retrying forever
                self._warn(link, link.stream.stats.last_error)

    @staticmethod
    def _warn(link: _Link, message: str) -> None:
        """Log a failed attempt; the same failure again (a retry every 10 s for hours) only at INFO."""
        repeat = message == link.last_warning
        link.last_warning = message
        log.log(logging.INFO if repeat else logging.WARNING, "%s: %s%s", link.device.address, message,
                " (again)" if repeat else "; retrying with backoff")

    async def _drop_client(self, link: _Link) -> None:
        client, link.client = link.client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), 5.0)

    async def _close(self, link: _Link) -> None:
        """Stop procedure (tolerates a dropped link), disconnect, fold the last counters in."""
        client = link.client
        if client is not None and client.is_connected:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(get_driver(link.device.device_type).stop(BleakGattClient(client)), 5.0)
        await self._drop_client(link)
        link.stream.end_connection("session stopped")


async def stream_devices(devices: list[PairedDevice], seconds: float | None = None, record: str | Path | None = None,
                         on_samples: SamplesCallback | None = None, config: SessionConfig | None = None
                         ) -> dict[str, DeviceStats]:
    """Convenience: one ``Session`` run."""
    return await Session(devices, record=record, on_samples=on_samples, config=config).run(seconds)


__all__ = ["BluetoothUnavailable", "Session", "SessionConfig", "backoff_s", "stream_devices"]
