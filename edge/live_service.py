"""`LiveService`: the public API of the live runtime for front ends (the companion app, `anymo live`, the demo).

It owns, for one process: the model (`edge.engine.Engine`, the captioner when the bundle has one), the
label vocabulary, the pairing store, the session database, and while devices are paired, one streaming
run — a bridge `Session` over every paired device feeding a `LiveRuntime` and a `SessionWriter`. Pairing
or forgetting a device restarts the run with the new set (a new stored session).

Front ends subscribe to events (plain JSON-able dicts):

* ``{"type": "label", ...LabelEvent}``, ``{"type": "caption", ...CaptionEvent}``;
* ``{"type": "signal", "t_s", "series": {placement: {"acc_g": [...], "gyro_rads": [...]}}}`` every 0.1 s,
  |acc| and |gyro| decimated to 25 Hz, for a live plot;
* ``{"type": "devices", "devices": [...]}`` every second: paired devices with their live statistics;
* ``{"type": "session", "state": "streaming"|"stopped"|"error", ...}``; ``{"type": "labels", ...vocabulary}``.

Everything runs on one asyncio loop; blocking work (the text encoder for a new label, scans) is awaited.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from anymo.constants import STANDARD_GRAVITY_MPS2
from edge.labels import LabelVocabulary, labels_path
from edge.runtime import (
    CaptionEvent,
    LabelEvent,
    LiveRuntime,
    RuntimeConfig,
    Sensor,
    embed_labels_into,
)
from edge.session_store import SessionWriter, default_sessions_path

log = logging.getLogger(__name__)

PLOT_RATE_HZ = 25.0
STATS_EVERY_S = 5.0  # device statistics into the session database


@dataclass
class ServiceOptions:
    bundle: Path | None = None  # None: $ANYMO_BUNDLE, else edge.bundle.DEFAULT_BUNDLE
    backend: str = "onnxruntime"
    precision: str = "int8"
    threads: int = 1
    captions: bool = True
    caption_threads: int = 1  # captions run beside the labels on a small device: one core is plenty every 5 s
    sessions_db: Path | None = None
    labels_file: Path | None | bool = None  # None: the config folder's labels.json; False: in memory only
    pairing_file: Path | None = None  # None: the default pairing store
    adapter: str | None = None
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    session_name: str = ""


class ModelUnavailable(RuntimeError):
    """No usable model bundle; the message says how to get one."""


def load_model(options: ServiceOptions):
    """(engine, captioner or None, bundle dir). Raises ModelUnavailable naming the fix."""
    from edge.bundle import DEFAULT_BUNDLE, BundleError

    bundle = Path(options.bundle or os.environ.get("ANYMO_BUNDLE") or DEFAULT_BUNDLE)
    try:
        from edge.engine import Engine
    except ImportError as exc:
        raise ModelUnavailable(f"the engine cannot be imported ({exc}); install the device extra: "
                               "pip install 'anymo-edge[device]'") from None
    try:
        engine = Engine.load(bundle, backend=options.backend, precision=options.precision, threads=options.threads)
    except BundleError as exc:
        raise ModelUnavailable(str(exc)) from None
    except ImportError as exc:
        raise ModelUnavailable(f"the {options.backend} backend is not installed ({exc}); install the device extra: "
                               "pip install 'anymo-edge[device]'") from None
    captioner = None
    if options.captions and (bundle / "captioner").is_dir():
        try:
            from edge.captioner import Captioner

            captioner = Captioner.load(bundle, threads=options.caption_threads)
        except Exception as exc:  # noqa: BLE001 - labels work without captions; say why there are none
            log.warning("captions off: the bundle's captioner could not be loaded (%s)", exc)
    return engine, captioner, bundle


class LiveService:
    """See the module docstring. ``await service.start()``; ``await service.close()``."""

    def __init__(self, engine, captioner=None, options: ServiceOptions | None = None, *,
                 vocabulary: LabelVocabulary | None = None) -> None:
        from firmware_bridge.pairing import PairingStore

        self.options = options or ServiceOptions()
        self.engine = engine
        self.captioner = captioner
        if vocabulary is None:
            builtin = list(getattr(engine, "label_vocabulary", None) or [])
            path = None if self.options.labels_file is False else (self.options.labels_file or labels_path())
            vocabulary = LabelVocabulary(builtin, path) if builtin else LabelVocabulary(path=path)
        self.vocabulary = vocabulary
        self.pairing = PairingStore(self.options.pairing_file)
        self.sessions_db = Path(self.options.sessions_db or default_sessions_path())
        self._listeners: list[Callable[[dict], None]] = []
        self.runtime: LiveRuntime | None = None
        self.writer: SessionWriter | None = None
        self._session = None
        self._task: asyncio.Task | None = None
        self._aux: list[asyncio.Task] = []
        self.state = "stopped"
        self.error: str | None = None
        self.session_id: int | None = None
        self.timeline: list[dict] = []
        self._plot: dict[str, list[np.ndarray]] = {}
        self._plot_next: dict[str, float] = {}
        self._last_stats_store = 0.0
        self.last_stats: dict = {}  # the bridge statistics of the last run, once it ended
        self.closed = False
        self.label_cache: dict[str, np.ndarray] = {}  # shared by every run's runtime
        self._embed_lock = asyncio.Lock()  # one text-encoder job at a time (a pair during start-up waits for it)

    async def _embed(self, texts: list[str]) -> None:
        """Embed labels off the event loop (the text encoder can take a while for new ones)."""
        async with self._embed_lock:
            if any(t not in self.label_cache for t in texts):
                await asyncio.get_running_loop().run_in_executor(None, embed_labels_into, self.engine, texts,
                                                                 self.label_cache)

    # -- events -------------------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[dict], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, event: dict) -> None:
        for fn in list(self._listeners):
            try:
                fn(event)
            except Exception:
                log.exception("service listener failed")

    def _on_runtime_event(self, ev: LabelEvent | CaptionEvent) -> None:
        d = ev.to_json()
        d["type"] = d.pop("kind")
        if isinstance(ev, LabelEvent):
            seg = self.timeline[-1] if self.timeline else None
            if seg is not None and seg["label"] == ev.label and ev.t_end_s - seg["end_s"] < 3.0:
                seg["end_s"] = ev.t_end_s
            else:
                self.timeline.append({"label": ev.label, "start_s": ev.t_end_s - self.options.runtime.hop_s if seg
                                      else ev.t_start_s, "end_s": ev.t_end_s})
                del self.timeline[:-500]
        self._emit(d)

    def snapshot(self) -> dict:
        """Everything a new front end needs to draw the current state."""
        rt = self.runtime
        return {"type": "snapshot", "state": self.state, "error": self.error, "session_id": self.session_id,
                "label": rt.last_label.to_json() if rt and rt.last_label else None,
                "captions": [c.to_json() for c in rt.captions] if rt else [],
                "timeline": list(self.timeline), "devices": self.devices(), "labels": self.vocabulary.to_json(),
                "captioner": self.captioner is not None, "hop_s": self.options.runtime.hop_s}

    # -- devices ------------------------------------------------------------------------------------

    def devices(self) -> list[dict]:
        """Paired devices with their live statistics (connection, rate, loss, clock drift, battery if reported)."""
        live = self._session.stats if self._session is not None else self.last_stats
        out = []
        for d in self.pairing.list():
            s = live.get(d.address)
            st = s.to_json() if s is not None else {}
            received, lost = st.get("packets_received", 0), st.get("packets_lost", 0)
            out.append({"address": d.address, "device_type": d.device_type, "placement": d.placement,
                        "name": d.name, "streaming": s is not None, "connected": bool(st.get("connected")),
                        "samples": st.get("samples_received", 0), "rate_hz": st.get("rate_hz"),
                        "packets_received": received, "packets_lost": lost,
                        "loss_pct": round(100.0 * lost / (received + lost), 2) if received + lost else None,
                        "reconnects": st.get("reconnects", 0), "clock_drift_ppm": st.get("clock_drift_ppm"),
                        "clock_drift_ci_ppm": st.get("clock_drift_ci_ppm"), "battery_pct": st.get("battery_pct"),
                        "last_error": st.get("last_error") or None, "stats": st})
        return out

    async def scan(self, timeout_s: float = 4.0) -> list[dict]:
        from firmware_bridge.scan import scan

        paired = {d.address for d in self.pairing.list()}
        found = await scan(timeout_s)
        return [{**f.to_json(), "paired": f.address in paired} for f in found]

    async def pair(self, address: str, placement: str, device_type: str | None = None, name: str | None = None) -> dict:
        """Remember a device at ``placement`` (type from its advertisement unless given) and restart streaming."""
        from firmware_bridge.pairing import PairedDevice, normalize_address

        address = normalize_address(address)
        if device_type is None:
            from firmware_bridge.scan import find_device

            _, found = await find_device(address, 5.0, self.options.adapter)
            if found is None or found.device_type is None:
                raise ValueError(f"{address} is not advertising as a supported wearable; bring it close, switch it "
                                 "on, or give its device type")
            device_type, name = found.device_type, name or found.name
        dev = PairedDevice(address, device_type, placement, name=name)
        self.pairing.add(dev)
        await self.restart()
        return dev.to_json()

    async def forget(self, address: str) -> None:
        self.pairing.remove(address)
        await self.restart()

    async def set_placement(self, address: str, placement: str) -> dict:
        dev = self.pairing.get(address)
        from firmware_bridge.pairing import PairedDevice

        new = PairedDevice(dev.address, dev.device_type, placement, name=dev.name, calibration=dev.calibration,
                           paired_at=dev.paired_at, settings=dev.settings)
        self.pairing.add(new)
        await self.restart()
        return new.to_json()

    # -- labels -------------------------------------------------------------------------------------

    async def add_label(self, text: str) -> dict:
        from edge.labels import check_label

        await self._embed([check_label(text)])
        self.vocabulary.add(text)
        return self._labels_changed()

    async def rename_label(self, old: str, new: str) -> dict:
        from edge.labels import check_label

        await self._embed([check_label(new)])
        self.vocabulary.rename(old, new)
        return self._labels_changed()

    async def remove_label(self, text: str) -> dict:
        self.vocabulary.remove(text)
        return self._labels_changed()

    def _labels_changed(self) -> dict:
        doc = self.vocabulary.to_json()
        self._emit({"type": "labels", **doc})
        return doc

    # -- streaming ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start streaming from every paired device (nothing to do without any)."""
        if self._task is not None and not self._task.done():
            return
        await self._embed(self.vocabulary.labels)  # off the loop, once: pairing later starts at once
        devices = self.pairing.list()
        if not devices:
            self.state = "stopped"
            self._emit({"type": "session", "state": "stopped", "reason": "no paired devices"})
            return
        self._task = asyncio.ensure_future(self._run(devices))
        await asyncio.sleep(0)

    async def stop(self) -> None:
        if self._session is not None:
            self._session.stop()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
        self._task = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def close(self) -> None:
        await self.stop()
        self.closed = True

    async def _run(self, devices) -> None:
        from firmware_bridge.scan import BluetoothUnavailable
        from firmware_bridge.session import Session, SessionConfig

        try:
            sensors = [Sensor(d.address, d.placement, d.device_type, d.stream_settings().rate_hz) for d in devices]
            self.writer = SessionWriter(self.sessions_db, name=self.options.session_name,
                                        meta={"hop_s": self.options.runtime.hop_s, "window_s": self.options.runtime.window_s,
                                              "labels": self.vocabulary.labels},
                                        devices=[(d.address, d.device_type, d.placement) for d in devices])
            self.session_id = self.writer.session_id
            self.runtime = LiveRuntime(self.engine, sensors, self.vocabulary, captioner=self.captioner,
                                       store=self.writer, config=self.options.runtime, label_cache=self.label_cache)
            self.runtime.subscribe(self._on_runtime_event)
            self._session = Session(devices, on_samples=self._on_samples,
                                    config=SessionConfig(adapter=self.options.adapter))
        except Exception as exc:  # noqa: BLE001 - the session database, a device entry: say so, keep the app up
            log.exception("cannot start streaming")
            if self.writer is not None and not self.writer.closed:
                self.writer.close()
            self.state, self.error, self._session = "error", f"cannot start streaming: {exc}", None
            self._emit({"type": "session", "state": self.state, "error": self.error})
            return
        self.timeline = []
        self.state, self.error = "streaming", None
        self._emit({"type": "session", "state": "streaming", "session_id": self.session_id,
                    "devices": [d.to_json() for d in devices]})
        self._aux = [asyncio.ensure_future(self.runtime.run_timer()), asyncio.ensure_future(self._tick())]
        try:
            await self._session.run(None)
            self.state = "stopped"
        except BluetoothUnavailable as exc:
            self.state, self.error = "error", str(exc)
        except Exception as exc:  # noqa: BLE001 - report, keep the app alive
            log.exception("streaming failed")
            self.state, self.error = "error", f"{type(exc).__name__}: {exc}"
        finally:
            for t in self._aux:
                t.cancel()
            await asyncio.gather(*self._aux, return_exceptions=True)
            self._store_stats()
            self.last_stats = self._session.stats
            self.runtime.close()
            self.writer.close(meta={"summary": self.runtime.summary()})
            self._session = None
            self._emit({"type": "session", "state": self.state, "error": self.error, "session_id": self.session_id})

    def _on_samples(self, address: str, block) -> None:
        self.runtime.on_samples(address, block)
        if block.acc_mps2 is None and block.gyro_rads is None:
            return
        # the live plot: |acc| in g and |gyro|, decimated to PLOT_RATE_HZ
        t = np.asarray(block.t_host_s)
        nxt = self._plot_next.get(address, -np.inf)
        keep = []
        for i, ti in enumerate(t):
            if ti >= nxt:
                keep.append(i)
                nxt = ti + 1.0 / PLOT_RATE_HZ
        self._plot_next[address] = nxt
        if not keep:
            return
        idx = np.asarray(keep)
        acc = np.linalg.norm(block.acc_mps2[idx], axis=1) / STANDARD_GRAVITY_MPS2 if block.acc_mps2 is not None else None
        gyro = np.linalg.norm(block.gyro_rads[idx], axis=1) if block.gyro_rads is not None else None
        self._plot.setdefault(address, []).append((t[idx], acc, gyro))

    async def _tick(self) -> None:
        """Plot batches every 0.1 s, device statistics every second (and into the database every 5 s)."""
        n = 0
        while True:
            await asyncio.sleep(0.1)
            n += 1
            if self._plot:
                placements = {s.address: s.placement for s in self.runtime.sensors.values()}
                series = {}
                for addr, parts in self._plot.items():
                    acc = [a for _, a, _ in parts if a is not None]
                    gyro = [g for _, _, g in parts if g is not None]
                    series[placements.get(addr, addr)] = {
                        "acc_g": np.round(np.concatenate(acc), 3).tolist() if acc else [],
                        "gyro_rads": np.round(np.concatenate(gyro), 3).tolist() if gyro else []}
                self._plot.clear()
                self._emit({"type": "signal", "t_s": time.time(), "series": series})
            if n % 10 == 0:
                self._emit({"type": "devices", "devices": self.devices()})
                if time.monotonic() - self._last_stats_store >= STATS_EVERY_S:
                    self._store_stats()

    def _store_stats(self) -> None:
        if self._session is None or self.writer is None or self.writer.closed:
            return
        self._last_stats_store = time.monotonic()
        for a, s in self._session.stats.items():
            self.writer.add_device_stats(a, s.to_json())
