"""The live runtime on a simulated clock: blocks in, labels out when the activity changes, latency, storage.

The model here is a tiny transparent scorer (the runtime's behaviour is under test, not a model's
accuracy): its embedding is the windows' |acc| spread, so "walking" wins while the sensors move and
"sitting" while they are still. The runtime against the real exported engine is tested in
``test_runtime_engine.py``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import pytest

from anymo.preprocess.model_input import ModelInput
from edge.labels import LabelVocabulary
from edge.runtime import LiveRuntime, RuntimeConfig, Sensor
from edge.session_store import SessionReader, SessionWriter
from firmware_bridge.stream import StreamBlock

G = 9.80665


@dataclass
class _Out:
    embedding: np.ndarray
    token_ids: np.ndarray


class SpreadEngine:
    """embedding = normalise([spread of |acc| in g over the present sensors, 0.05]); labels on fixed axes."""

    AXES = {"walking": [1.0, 0.0], "sitting": [0.0, 1.0]}

    def __init__(self) -> None:
        self.seen: list[ModelInput] = []
        self.embedded: list[str] = []

    def run(self, x: ModelInput) -> _Out:
        self.seen.append(x)
        acc = np.linalg.norm(x.signals[0, :, :, :3], axis=-1)[x.sensor_mask[0]]
        e = np.array([[float(acc.std(axis=1).mean()) * 5, 0.05]])
        return _Out(e / np.linalg.norm(e, axis=1, keepdims=True), np.zeros((1, 2, 8), np.int64))

    def embed_labels(self, texts):
        self.embedded += list(texts)
        out = []
        for t in texts:
            v = np.asarray(self.AXES.get(t, [0.7, 0.7]))
            out.append(v / np.linalg.norm(v))
        return np.array(out)

    def score(self, emb, lab):
        z = 12.0 * emb @ lab.T
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)


def _feed(runtime, seconds: float, moving_until_s: float, t0: float, clock, rate_hz=100.0, per_packet=5,
          addresses=("AA:00:00:00:00:01", "AA:00:00:00:00:02")):
    """Packets of ``per_packet`` samples per device, arriving 5 ms after their last sample; the runtime's timer
    polls every 10 ms. Walking (1.8 Hz bounce) until ``moving_until_s``, then still."""
    n = int(seconds * rate_hz)
    step = 1.0 / rate_hz
    next_poll = t0
    for k in range(0, n, per_packet):
        t = t0 + (k + np.arange(per_packet)) * step
        rel = t - t0
        bounce = np.where(rel < moving_until_s, 0.35 * G * np.sin(2 * np.pi * 1.8 * rel), 0.0)
        acc = np.stack([np.zeros_like(t), np.zeros_like(t), G + bounce], axis=1)
        arrival = t[-1] + 0.005
        while next_poll < arrival:
            clock[0] = next_poll
            runtime.poll()
            next_poll += 0.01
        clock[0] = arrival
        for i, a in enumerate(addresses):
            runtime.on_samples(a, StreamBlock(a, "anymo-imu", "x", "imu", t + 1e-4 * i, t, acc, np.zeros_like(acc),
                                              None, 0, arrival, rate_hz))


def _runtime(tmp_path, clock, captioner=None, **cfg):
    sensors = [Sensor("AA:00:00:00:00:01", "right_wrist"), Sensor("AA:00:00:00:00:02", "right_thigh")]
    store = SessionWriter(tmp_path / "s.sqlite", devices=[(s.address, "anymo-imu", s.placement) for s in sensors])
    engine = SpreadEngine()
    rt = LiveRuntime(engine, sensors, LabelVocabulary(["walking", "sitting"], None), captioner=captioner, store=store,
                     config=RuntimeConfig(**cfg), clock=lambda: clock[0])
    return rt, engine, store


def test_labels_follow_the_activity_with_bounded_latency_and_everything_is_stored(tmp_path):
    clock = [0.0]
    rt, engine, store = _runtime(tmp_path, clock)
    events = []
    rt.subscribe(events.append)
    t0 = 1_000_000.0
    _feed(rt, 30.0, 15.0, t0, clock)
    store.close()
    labels = [e for e in events if e.kind == "label"]
    assert len(labels) == pytest.approx(26, abs=1)  # 5 s to the first window, then one per 1 s hop
    shown = [(e.t_end_s - t0, e.label) for e in labels]
    assert all(lab == "walking" for t, lab in shown if t <= 15.0)
    first_sitting = min(t for t, lab in shown if lab == "sitting")
    # this scorer says "sitting" only for a window that is still throughout (the first ends at 15 + 5 s);
    # with the EMA and the switch margin the shown label follows within two windows of it
    assert 20.0 <= first_sitting <= 20.0 + 2.0
    assert all(lab == "sitting" for t, lab in shown if t >= first_sitting)  # no flicker back
    assert sum(e.changed for e in labels) == 2  # uncertain -> walking -> sitting
    # every sensor present, the engine saw both placements' ids and a real gyroscope flag (all-zero gyro: none)
    x = engine.seen[-1]
    assert x.sensor_mask.all() and (x.placement_id >= 0).all() and not x.has_gyro.any()
    # latency: arrival of a block -> first label including it <= one hop + the cut wait + the 10 ms poll
    s = rt.summary()
    assert s["latency_samples"] > 900  # 2 x 600 blocks, less the first window's and the last second's
    assert s["latency_max_ms"] <= 1000 + 30 + 10 + 1
    assert 400 <= s["latency_p50_ms"] <= 600  # arrivals are uniform over the hop
    with SessionReader(tmp_path / "s.sqlite") as r:
        sess = r.sessions()[0]
        assert sess.n_labels == len(labels) and sess.ended_at_s is not None
        got = r.samples(sess.id, "AA:00:00:00:00:01")
        assert len(got["t_host_s"]) == 3000  # every sample of 30 s at 100 Hz
        assert np.allclose(got["acc_mps2"][:, 2], G + np.where(got["t_device_s"] - t0 < 15.0, 0.35 * G * np.sin(
            2 * np.pi * 1.8 * (got["t_device_s"] - t0)), 0.0), atol=1e-4)
        timeline = r.timeline(sess.id)
        assert [seg["label"] for seg in timeline] == ["walking", "sitting"]


def test_a_device_that_drops_out_is_masked_and_labelling_goes_on(tmp_path):
    clock = [0.0]
    rt, engine, store = _runtime(tmp_path, clock)
    t0 = 2_000_000.0
    _feed(rt, 8.0, 99.0, t0, clock)
    # only the first device from now on: windows wait at most cut_wait_s for the silent one, then mask it
    _feed(rt, 6.0, 99.0, t0 + 8.0, clock, addresses=("AA:00:00:00:00:01",))
    store.close()
    masks = [x.sensor_mask[0].tolist() for x in engine.seen]
    assert masks[0] == [True, True] and masks[-1] == [True, False]
    assert rt.summary()["latency_max_ms"] <= 1000 + 30 + 10 + 1


def test_a_custom_label_is_scored_from_the_next_window(tmp_path):
    clock = [0.0]
    rt, engine, store = _runtime(tmp_path, clock)
    events = []
    rt.subscribe(events.append)
    t0 = 3_000_000.0
    _feed(rt, 7.0, 99.0, t0, clock)
    assert "physio: shoulder abduction" not in events[-1].scores
    rt.vocabulary.add("physio: shoulder abduction")
    _feed(rt, 1.5, 99.0, t0 + 7.0, clock)
    store.close()
    assert "physio: shoulder abduction" in events[-1].scores
    assert engine.embedded.count("physio: shoulder abduction") == 1  # embedded once, then cached


class SlowCaptioner:
    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.calls = 0
        self.threads = set()
        self.busy: list[tuple[float, float]] = []  # wall-clock spans of each caption call

    def caption(self, token_ids, top_labels, placement):
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        t = time.perf_counter()
        time.sleep(self.delay_s)
        self.busy.append((t, time.perf_counter()))
        return f"a person {top_labels[0]} with sensors on the {' and '.join(placement)}"


def test_captions_run_in_the_background_and_never_hold_labels_back(tmp_path):
    clock = [0.0]
    cap = SlowCaptioner(0.3)
    rt, engine, store = _runtime(tmp_path, clock, captioner=cap, caption_every=2)
    t0 = 4_000_000.0
    label_wall = []
    rt.subscribe(lambda ev: label_wall.append(time.perf_counter()) if ev.kind == "label" else None)
    _feed(rt, 12.0, 99.0, t0, clock)  # 7 labels (windows ending at 5..11 s), a caption request every 2nd: 3
    rt.close(wait_caption_s=2.0)
    store.close()
    assert rt.labels_emitted == 7
    assert cap.calls >= 1 and all(name.startswith("anymo-caption") for name in cap.threads)
    assert rt.captions_emitted + rt.captions_skipped == 3
    # labels kept coming while a caption was being written (the feed runs on simulated time, as fast as it can)
    assert any(a < t < b for t in label_wall for a, b in cap.busy)
    assert rt.summary()["latency_max_ms"] <= 1000 + 30 + 10 + 1
    with SessionReader(tmp_path / "s.sqlite") as r:
        caps = r.captions(r.sessions()[0].id)
    assert [c["text"] for c in caps] == [c.text for c in rt.captions]
    assert all("right wrist" in c["text"] or "right_wrist" in c["text"] for c in caps)


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="hop_s"):
        RuntimeConfig(hop_s=6.0)
    with pytest.raises(ValueError, match="at least one sensor"):
        LiveRuntime(SpreadEngine(), [], LabelVocabulary(["walking"], None))
