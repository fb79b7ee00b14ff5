"""The live runtime: bridge samples in, smoothed activity labels and captions out (numpy + the engine; no torch).

    StreamBlocks (the bridge's ``on_samples``, or a recording replayed as a stream)
      -> SessionWriter (raw samples as they arrive, committed at least every 0.5 s)
      -> LiveWindower (every device on one host-time grid, 60 Hz, 5 s windows, hop 1 s)
      -> Engine.run: embedding + motion tokens per window -> Engine.score against the label vocabulary
      -> LabelSmoother (EMA + hysteresis, "uncertain" below a threshold) -> LabelEvent to the listeners
      -> every ``caption_every`` windows: Captioner.caption in a background thread -> CaptionEvent

Windows are cut by host time: ``poll()`` (called on every block and by the ``run_timer`` task every
10 ms) cuts a window ``cut_wait_s`` after its end even when a device's last packet is still in flight
(its missing tail is edge-held; a device below ``min_coverage`` is masked out). So a sample waits at most
one hop plus ``cut_wait_s`` plus the inference for the first label that includes it; that end-to-end
latency (arrival of each block to the first label including it) is measured and kept in
``latencies_ms``.

Everything runs on the caller's thread (the bridge's event loop) except captioning, so labels never wait
for a caption: a caption request is dropped, not queued, while the previous one is still running.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from anymo.preprocess.model_input import ModelInput
from edge.labels import UNCERTAIN, LabelSmoother, LabelVocabulary
from edge.live_windows import LiveWindower

log = logging.getLogger(__name__)


class EngineLike(Protocol):
    """What the runtime needs of `edge.engine.Engine`."""

    def run(self, x: ModelInput) -> Any: ...  # -> .embedding [B, D], .token_ids [B, C, N]

    def embed_labels(self, texts: list[str]) -> np.ndarray: ...

    def score(self, embedding: np.ndarray, label_emb: np.ndarray) -> np.ndarray: ...


@dataclass
class RuntimeConfig:
    window_s: float = 5.0
    hop_s: float = 1.0
    cut_wait_s: float = 0.03  # a window is cut this long after its end (host clock), late packets or not
    min_coverage: float = 0.8  # a device covering less of a window is masked out of it
    ema_alpha: float = 0.5
    uncertain_below: float | None = None  # None: follows the vocabulary size (edge.labels.LabelSmoother)
    certain_above: float | None = None
    switch_margin: float = 0.06
    caption_every: int = 5  # windows between caption requests (0: no captions)
    top_k: int = 3
    poll_every_s: float = 0.01

    def __post_init__(self) -> None:
        if not (self.window_s > 0 and self.hop_s > 0):
            raise ValueError(f"window_s and hop_s must be positive seconds, got {self.window_s}, {self.hop_s}")
        if self.hop_s > self.window_s:
            raise ValueError(f"hop_s {self.hop_s} is longer than the window {self.window_s}: samples would be skipped")
        if self.cut_wait_s < 0 or self.caption_every < 0:
            raise ValueError("cut_wait_s and caption_every must be >= 0")


@dataclass
class Sensor:
    """One worn device: its bridge address, where it is worn, what it is, the rate it was asked for."""

    address: str
    placement: str
    device_type: str = "unknown"
    rate_hz: float = 100.0


@dataclass
class LabelEvent:
    window_index: int
    t_start_s: float
    t_end_s: float
    t_emitted_s: float
    label: str  # the shown (smoothed) label or "uncertain"
    confidence: float
    top: list[tuple[str, float]]
    raw_label: str
    raw_confidence: float
    changed: bool
    sensors: list[str]  # placements present in the window
    inference_ms: float
    scores: dict[str, float] = field(default_factory=dict)  # every label's smoothed probability
    kind: str = "label"

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class CaptionEvent:
    window_index: int
    t_end_s: float
    t_emitted_s: float
    text: str
    labels: list[str]
    elapsed_ms: float
    kind: str = "caption"

    def to_json(self) -> dict:
        return asdict(self)


Listener = Callable[[LabelEvent | CaptionEvent], None]


def percentile_ms(values: list[float] | np.ndarray, q: float) -> float | None:
    v = np.asarray(values, dtype=np.float64)
    return float(np.percentile(v, q)) if len(v) else None


@dataclass
class _Pending:
    """Blocks pushed into the windower that no label includes yet: (arrival, first sample time) per device."""

    items: deque = field(default_factory=deque)


def embed_labels_into(engine: EngineLike, texts: list[str], cache: dict[str, np.ndarray]) -> None:
    """Add the embeddings of the ``texts`` not yet in ``cache`` (the text encoder may take a while: use a thread)."""
    missing = [t for t in dict.fromkeys(texts) if t not in cache]
    if missing:
        emb = np.asarray(engine.embed_labels(missing), dtype=np.float32)
        if emb.shape[0] != len(missing):
            raise RuntimeError(f"the engine embedded {emb.shape[0]} of {len(missing)} labels")
        for t, e in zip(missing, emb, strict=True):
            cache[t] = e


class LiveRuntime:
    """Labels (and captions) for a fixed set of worn sensors; feed it ``on_samples(address, block)``."""

    def __init__(self, engine: EngineLike, sensors: list[Sensor], vocabulary: LabelVocabulary, *,
                 captioner: Any = None, store: Any = None, config: RuntimeConfig | None = None,
                 clock: Callable[[], float] = time.time, label_cache: dict[str, np.ndarray] | None = None) -> None:
        if not sensors:
            raise ValueError("the runtime needs at least one sensor (pair a wearable first: `anymo pair ...`)")
        self.config = config or RuntimeConfig()
        self.engine = engine
        self.sensors = {s.address: s for s in sensors}
        self.vocabulary = vocabulary
        self.captioner = captioner
        self.store = store
        self.clock = clock
        cfg = self.config
        self.windower = LiveWindower({s.address: float(np.clip(s.rate_hz, 1.0, 2000.0)) for s in sensors},
                                     window_s=cfg.window_s, hop_s=cfg.hop_s, min_coverage=cfg.min_coverage,
                                     max_wait_s=cfg.cut_wait_s,
                                     placements={s.address: s.placement for s in sensors})
        self.smoother = LabelSmoother(cfg.ema_alpha, cfg.uncertain_below, cfg.certain_above, cfg.switch_margin, cfg.top_k)
        self._listeners: list[Listener] = []
        self._pending = {a: _Pending() for a in self.sensors}
        # label text -> joint-space embedding; share one cache between runtimes (`embed_labels_into`)
        self._label_cache: dict[str, np.ndarray] = {} if label_cache is None else label_cache
        self._labels: list[str] = []
        self._label_emb: np.ndarray | None = None
        self._vocab_version = -1
        self._caption_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="anymo-caption") \
            if captioner is not None and cfg.caption_every > 0 else None
        self._caption_busy = threading.Event()
        self._captions_ready: deque[CaptionEvent] = deque()  # finished in the caption thread, not yet delivered
        self._loop: asyncio.AbstractEventLoop | None = None
        self.latencies_ms: list[float] = []  # per block: arrival -> first label that includes it
        self.inference_ms: list[float] = []
        self.labels_emitted = 0
        self.captions_emitted = 0
        self.captions_skipped = 0  # requests dropped because the previous caption was still running
        self.label_changes = 0
        self.last_label: LabelEvent | None = None
        self.captions: deque[CaptionEvent] = deque(maxlen=20)
        self.samples_in = 0
        self._closed = False
        self.refresh_labels()

    # -- listeners and labels ---------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every LabelEvent and CaptionEvent (on the runtime's thread); returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, event: LabelEvent | CaptionEvent) -> None:
        for fn in list(self._listeners):
            try:
                fn(event)
            except Exception:  # a broken listener (a closed WebSocket) must not stop the labels
                log.exception("runtime listener %r failed", fn)

    def refresh_labels(self) -> None:
        """Score the vocabulary as it is now (new labels embedded once; cached by their text)."""
        labels = self.vocabulary.labels
        embed_labels_into(self.engine, labels, self._label_cache)
        self._labels = labels
        self._label_emb = np.stack([self._label_cache[t] for t in labels])
        self._vocab_version = self.vocabulary.version

    def prepare_labels(self, texts: list[str]) -> None:
        """Embed labels ahead of use (call from a worker thread so the live loop never waits for the text encoder)."""
        embed_labels_into(self.engine, texts, self._label_cache)

    # -- samples in ---------------------------------------------------------------------------------

    def on_samples(self, address: str, block) -> None:
        """The bridge consumer: store the block, push it into the windows, label every window now due."""
        if self._closed or address not in self.sensors or len(block) == 0:
            return
        if self.store is not None:
            self.store.add_samples(address, block)
        t = np.asarray(block.t_host_s, dtype=np.float64)
        if block.sensor == "mag":
            return
        self.windower.push_block(block)  # acc (+ gyro), or a gyroscope in frames of its own (Polar PMD)
        if block.acc_mps2 is not None:
            self.samples_in += len(t)
            self._pending[address].items.append((float(block.t_arrival_s or self.clock()), float(t[0])))
        self.poll()

    def poll(self, now: float | None = None) -> list[LabelEvent]:
        """Cut and label every window that is due at host time ``now`` (default: the clock)."""
        now = self.clock() if now is None else now
        if self._closed:
            return []
        self._deliver_captions()
        if self.store is not None:
            self.store.tick()
        out = []
        for win in self.windower.pop_windows(now_host_s=now):
            ev = self._label_window(win)
            if ev is not None:
                out.append(ev)
        return out

    async def run_timer(self) -> None:
        """Poll every ``poll_every_s`` so windows are cut on time when no packet happens to arrive (a task)."""
        self._loop = asyncio.get_running_loop()
        while not self._closed:
            self.poll()
            await asyncio.sleep(self.config.poll_every_s)

    # -- one window ---------------------------------------------------------------------------------

    def _model_input(self, x: ModelInput) -> tuple[ModelInput, float, float, list[str]]:
        """A one-window ModelInput from the windower -> (it, start, end, placements present)."""
        info = x.stats  # LiveWindowInfo: device ids, host-time grid, coverage
        # a device replaying accelerometer-only data sends an all-zero gyroscope: that is no gyroscope
        gyro_live = np.any(x.signals[0, :, :, 3:] != 0.0, axis=(1, 2))
        x.has_gyro = x.has_gyro & gyro_live[None]
        present = [self.sensors[a].placement for a, m in zip(info.devices, x.sensor_mask[0], strict=True) if m]
        return x, info.start_s, info.end_s, present

    def _label_window(self, win) -> LabelEvent | None:
        x, start, end, present = self._model_input(win)
        index = self.labels_emitted
        if not x.sensor_mask.any():
            self._release_pending(end, None)  # nobody covered it: no label includes these samples
            if self.store is not None:
                self.store.add_event("window_empty", window_index=index, t_end_s=end)
            return None
        if self.vocabulary.version != self._vocab_version:
            self.refresh_labels()
        t0 = time.perf_counter()
        out = self.engine.run(x)
        probs = np.asarray(self.engine.score(out.embedding, self._label_emb))[0]
        inference_ms = 1000 * (time.perf_counter() - t0)
        smoothed = self.smoother.update(self._labels, probs)
        t_emit = self.clock()
        ev = LabelEvent(index, start, end, t_emit, smoothed.label, round(smoothed.confidence, 4), smoothed.top,
                        smoothed.raw_label, round(smoothed.raw_confidence, 4), smoothed.changed, present,
                        round(inference_ms, 2), smoothed.scores)
        self.labels_emitted += 1
        self.label_changes += int(smoothed.changed)
        self.inference_ms.append(inference_ms)
        self.last_label = ev
        # the first window holds everything since the start: those samples waited for 5 s of data, not for a hop
        self._release_pending(end, t_emit if index > 0 else None)
        if self.store is not None:
            self.store.add_label(index, start, end, t_emit, ev.label, ev.confidence, ev.raw_label, ev.raw_confidence,
                                 ev.top, present)
        self._emit(ev)
        if self._caption_pool is not None and index % self.config.caption_every == self.config.caption_every - 1:
            self._request_caption(ev, np.asarray(out.token_ids)[0], present)
        return ev

    def _release_pending(self, end_s: float, t_emit: float | None) -> None:
        """Blocks whose first sample lies before ``end_s`` are in this window: their latency ends now."""
        for pend in self._pending.values():
            q = pend.items
            while q and q[0][1] < end_s:
                t_arr, _ = q.popleft()
                if t_emit is not None:
                    self.latencies_ms.append(1000.0 * (t_emit - t_arr))

    # -- captions -----------------------------------------------------------------------------------

    def _request_caption(self, ev: LabelEvent, token_ids: np.ndarray, placements: list[str]) -> None:
        if self._caption_busy.is_set():
            self.captions_skipped += 1
            return
        self._caption_busy.set()
        labels = [t for t, _ in ev.top] if ev.label == UNCERTAIN else [ev.label] + [t for t, _ in ev.top if t != ev.label]
        labels = labels[:self.config.top_k]
        self._caption_pool.submit(self._caption_job, ev, token_ids, labels, placements)

    def _caption_job(self, ev: LabelEvent, token_ids: np.ndarray, labels: list[str], placements: list[str]) -> None:
        try:
            t0 = time.perf_counter()
            text = str(self.captioner.caption(token_ids, labels, placements)).strip()
            cap = CaptionEvent(ev.window_index, ev.t_end_s, self.clock(), text, labels,
                               round(1000 * (time.perf_counter() - t0), 1))
        except Exception:
            log.exception("captioning window %d failed", ev.window_index)
            self._caption_busy.clear()
            return
        self._captions_ready.append(cap)  # delivered by poll() on the runtime's own thread (store, listeners)
        self._caption_busy.clear()

    def _deliver_captions(self) -> None:
        while self._captions_ready:
            self._deliver_caption(self._captions_ready.popleft())

    def _deliver_caption(self, cap: CaptionEvent) -> None:
        if not cap.text:
            return
        self.captions_emitted += 1
        self.captions.append(cap)
        if self.store is not None:
            self.store.add_caption(cap.window_index, cap.t_end_s, cap.t_emitted_s, cap.text, cap.elapsed_ms)
        self._emit(cap)

    # -- end ----------------------------------------------------------------------------------------

    def summary(self) -> dict:
        lat = self.latencies_ms
        return {
            "labels_emitted": self.labels_emitted, "captions_emitted": self.captions_emitted,
            "captions_skipped_busy": self.captions_skipped, "label_changes": self.label_changes,
            "latency_p50_ms": percentile_ms(lat, 50), "latency_p99_ms": percentile_ms(lat, 99),
            "latency_max_ms": percentile_ms(lat, 100), "latency_samples": len(lat),
            "inference_p50_ms": percentile_ms(self.inference_ms, 50),
            "inference_p99_ms": percentile_ms(self.inference_ms, 99),
            "hop_s": self.config.hop_s, "window_s": self.config.window_s, "cut_wait_s": self.config.cut_wait_s,
        }

    def close(self, wait_caption_s: float = 0.0) -> None:
        """Stop labelling; wait up to ``wait_caption_s`` for a caption in flight."""
        if self._caption_pool is not None:
            deadline = time.monotonic() + wait_caption_s
            while self._caption_busy.is_set() and time.monotonic() < deadline:
                time.sleep(0.01)
            self._caption_pool.shutdown(wait=False, cancel_futures=True)
            self._deliver_captions()
        self._closed = True
