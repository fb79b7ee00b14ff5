"""The live runtime on the real exported engine (the shipped bundle, or ANYMO_BUNDLE): what the app relies on."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from edge.labels import LabelVocabulary
from edge.runtime import LiveRuntime, RuntimeConfig, Sensor
from firmware_bridge.stream import StreamBlock

G = 9.80665


@pytest.fixture(scope="module")
def engine():
    from edge.bundle import DEFAULT_BUNDLE

    try:
        from edge.engine import Engine
    except ImportError as exc:
        pytest.skip(f"the engine cannot be imported ({exc})")
    bundle = Path(os.environ.get("ANYMO_BUNDLE") or DEFAULT_BUNDLE)
    if not (bundle / "manifest.json").is_file():
        pytest.skip(f"no model bundle at {bundle}: export one with `anymo export` (or set ANYMO_BUNDLE)")
    return Engine.load(bundle)


def _feed(rt, clock, seconds, t0, sensors):
    """Three sensors at 100 Hz (Polar-like 52 Hz for one), packets of 5, a 1.8 Hz gait bounce with gyro."""
    for k in range(int(seconds * 100) // 5):
        t = t0 + (k * 5 + np.arange(5)) / 100.0
        clock[0] = t[-1] + 0.005
        for i, s in enumerate(sensors):
            ph = 2 * np.pi * 1.8 * (t - t0) + i
            acc = np.stack([0.2 * G * np.sin(ph), 0.1 * G * np.cos(ph), G + 0.3 * G * np.sin(2 * ph)], axis=1)
            gyro = np.stack([np.sin(ph), 0.5 * np.cos(ph), 0.2 * np.sin(2 * ph)], axis=1)
            rt.on_samples(s.address, StreamBlock(s.address, s.device_type, s.placement, "imu", t, t - 50.0, acc, gyro,
                                                 None, 0, clock[0], 100.0))


def test_labels_from_the_exported_engine_score_the_bundle_vocabulary_and_a_new_label(engine, tmp_path):
    sensors = [Sensor("AA:00:00:00:00:01", "right_wrist", "anymo-imu"), Sensor("AA:00:00:00:00:02", "right_thigh", "movesense"),
               Sensor("AA:00:00:00:00:03", "lower_back", "polar-h10")]
    vocab = LabelVocabulary(engine.label_vocabulary, None)
    clock = [0.0]
    rt = LiveRuntime(engine, sensors, vocab, config=RuntimeConfig(), clock=lambda: clock[0])
    events = []
    rt.subscribe(events.append)
    t0 = 1.8e9
    _feed(rt, clock, 8.0, t0, sensors)
    assert len(events) == 3  # windows ending at 5, 6, 7 s (each cut 30 ms after its end; 8 s is not yet)
    ev = events[-1]
    assert set(ev.scores) == set(engine.label_vocabulary)
    assert sum(ev.scores.values()) == pytest.approx(1.0, abs=1e-3)  # smoothed probabilities stay a distribution
    assert ev.sensors == ["right_wrist", "right_thigh", "lower_back"]
    assert ev.label in (*engine.label_vocabulary, "uncertain")
    vocab.add("physio: shoulder abduction with a band")  # not in the bundled table: the on-device text tower
    _feed(rt, clock, 1.0, t0 + 8.0, sensors)
    assert "physio: shoulder abduction with a band" in events[-1].scores
    assert rt.summary()["inference_p50_ms"] < 200


def test_anymo_live_replays_a_bridge_recording_into_labels_and_a_stored_session(engine, tmp_path, capsys, monkeypatch):
    from edge.live_cli import main
    from edge.session_store import SessionReader
    from firmware_bridge.record import DeviceMeta, RecordingWriter

    monkeypatch.setenv("ANYMO_CONFIG_DIR", str(tmp_path / "config"))
    rec = tmp_path / "walk.anymorec"
    devices = [DeviceMeta("AA:00:00:00:00:01", "anymo-imu", "right_wrist", ""),
               DeviceMeta("AA:00:00:00:00:02", "polar-h10", "lower_back", "")]
    w = RecordingWriter(rec, devices, fsync=False)
    t0 = 1.8e9
    for k in range(0, 1000, 10):  # 10 s at 100 Hz, in blocks of 10
        t = t0 + (k + np.arange(10)) / 100.0
        ph = 2 * np.pi * 1.8 * (t - t0)
        acc = np.stack([0.2 * G * np.sin(ph), 0 * ph, G + 0.3 * G * np.sin(2 * ph)], axis=1)
        w.add_samples("AA:00:00:00:00:01", "imu", 0, t, t - 5.0, acc, np.stack([np.sin(ph)] * 3, axis=1), None)
        w.add_samples("AA:00:00:00:00:02", "acc", 0, t, t - 7.0, acc, None, None)
    w.close()
    db = tmp_path / "s.sqlite"
    assert main(["--replay", str(rec), "--speed", "0", "--plain", "--no-captions", "--db", str(db),
                 "--bundle", str(engine.bundle.dir)]) == 0
    out = capsys.readouterr()
    lines = [ln for ln in out.out.splitlines() if "sensors," in ln]
    assert len(lines) == 6  # windows ending at 5 ... 10 s of the recording
    assert all("2 sensors" in ln for ln in lines)
    with SessionReader(db) as r:
        s = r.sessions()[0]
        assert s.n_labels == 6 and s.n_samples == 2000 and s.ended_at_s is not None
        assert [d["placement"] for d in s.devices] == ["right_wrist", "lower_back"]
