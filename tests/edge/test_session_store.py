"""Sessions in SQLite: round trip, timeline, export, and a kill -9 mid-session loses at most the last second."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from edge.session_store import SessionReader, SessionStoreError, SessionWriter
from firmware_bridge.stream import StreamBlock

ROOT = Path(__file__).resolve().parents[2]


def _block(addr, t, sensor="imu", gyro=True):
    acc = np.stack([np.sin(t), np.cos(t), 9.8 + 0 * t], axis=1)
    return StreamBlock(addr, "anymo-imu", "left_wrist", sensor, t, t - 1000.0, acc, acc * 0.1 if gyro else None,
                       None, 0, float(t[-1]) + 0.004)


def test_samples_labels_captions_and_stats_round_trip_and_export(tmp_path):
    db = tmp_path / "s.sqlite"
    w = SessionWriter(db, name="test", devices=[("AA:00:00:00:00:01", "anymo-imu", "left_wrist"),
                                                ("AA:00:00:00:00:02", "polar-h10", "chest")])
    t = 1.7e9 + np.arange(0, 10, 0.01)
    for k in range(0, len(t), 10):
        w.add_samples("AA:00:00:00:00:01", _block("AA:00:00:00:00:01", t[k:k + 10]))
        w.add_samples("AA:00:00:00:00:02", _block("AA:00:00:00:00:02", t[k:k + 10], "acc", gyro=False))
    for i, lab in enumerate(["walking"] * 3 + ["sitting"] * 2):
        w.add_label(i, t[0] + i, t[0] + 5 + i, t[0] + 5.03 + i, lab, 0.8, lab, 0.9, [[lab, 0.8]], ["left_wrist"])
    w.add_caption(4, t[0] + 9, t[0] + 9.4, "a person sits down, then rests", 380.0)
    w.add_device_stats("AA:00:00:00:00:01", {"packets_lost": 2, "rate_hz": 100.0})
    w.close(meta={"summary": {"labels_emitted": 5}})
    with SessionReader(db) as r:
        s = r.session(w.session_id)
        assert s.n_samples == 2000 and s.n_labels == 5 and s.n_captions == 1 and s.meta["summary"]["labels_emitted"] == 5
        got = r.samples(w.session_id, "AA:00:00:00:00:01")
        assert np.array_equal(got["t_host_s"], t) and np.allclose(got["acc_mps2"][:, 0], np.sin(t), atol=1e-6)
        assert np.isnan(r.samples(w.session_id, "AA:00:00:00:00:02")["gyro_rads"]).all()  # acc-only device
        assert [(seg["label"], seg["n"]) for seg in r.timeline(w.session_id)] == [("walking", 3), ("sitting", 2)]
        assert r.device_stats(w.session_id)[0]["stats"]["packets_lost"] == 2
        files = r.export_csv(w.session_id, tmp_path / "csv")
        doc = json.loads(r.export_json(w.session_id, tmp_path / "s.json", include_samples=True).read_text())
    rows = list(csv.DictReader((tmp_path / "csv" / "labels.csv").open()))
    assert [row["label"] for row in rows] == ["walking"] * 3 + ["sitting"] * 2
    samples = list(csv.DictReader((tmp_path / "csv" / "samples-AA0000000001.csv").open()))
    assert len(samples) == 1000 and float(samples[5]["t_host_s"]) == pytest.approx(t[5], abs=1e-6)
    assert float(samples[5]["acc_x_mps2"]) == pytest.approx(np.sin(t[5]), abs=1e-5)
    assert len(files) == 4
    assert doc["captions"][0]["text"] == "a person sits down, then rests"
    assert len(doc["samples"]["AA:00:00:00:00:02"]["t_host_s"]) == 1000


def test_a_file_that_is_not_a_session_database_is_a_clear_error(tmp_path):
    bad = tmp_path / "s.sqlite"
    bad.write_text("hello, not sqlite" * 100)
    with pytest.raises(SessionStoreError, match="not a usable session database"):
        SessionWriter(bad)
    with pytest.raises(SessionStoreError, match="no session database"):
        SessionReader(tmp_path / "missing.sqlite")


CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np
    from edge.session_store import SessionWriter
    from firmware_bridge.stream import StreamBlock
    w = SessionWriter(sys.argv[1], devices=[(f"AA:00:00:00:00:0{i}", "anymo-imu", "left_wrist") for i in range(4)])
    print(w.session_id, flush=True)
    k = 0
    while True:  # 4 devices x 100 Hz in packets of 4 samples, in real time, as the bridge delivers them
        now = time.time()
        t = now - 0.03 + np.arange(4) * 0.01
        for i in range(4):
            acc = np.tile([0.0, 0.0, 9.8], (4, 1))
            w.add_samples(f"AA:00:00:00:00:0{i}", StreamBlock(f"AA:00:00:00:00:0{i}", "anymo-imu", "left_wrist", "imu",
                                                            t, t, acc, acc, None, 0, now))
        print(repr(now), flush=True)
        k += 1
        time.sleep(max(0.0, 0.04 - (time.time() - now)))
""")


def test_kill_9_mid_session_loses_at_most_the_last_second_and_the_file_stays_readable(tmp_path):
    db = tmp_path / "s.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(db)], stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    session_id = int(proc.stdout.readline())
    t_end = time.monotonic() + 3.2
    last_written = None
    while time.monotonic() < t_end:
        last_written = float(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with SessionReader(db) as r:
        s = r.session(session_id)
        assert s.ended_at_s is None  # never closed ...
        assert r.con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"  # ... yet intact
        lost_s = last_written - s.last_data_s
        assert 0.0 <= lost_s <= 1.0, f"lost {lost_s:.2f} s"
        for i in range(4):
            t = r.samples(session_id, f"AA:00:00:00:00:0{i}")["t_host_s"]
            assert len(t) >= 4 * 25 * 2  # >= 2 s of 100 Hz survived
            assert np.all(np.diff(t) > 0)  # whole blocks, in order


def test_anymo_live_lists_and_exports_stored_sessions(tmp_path, capsys):
    from edge.live_cli import main

    db = tmp_path / "s.sqlite"
    w = SessionWriter(db, devices=[("AA:00:00:00:00:01", "anymo-imu", "left_wrist")])
    t = 1.7e9 + np.arange(0, 2, 0.01)
    w.add_samples("AA:00:00:00:00:01", _block("AA:00:00:00:00:01", t))
    w.add_label(0, t[0], t[0] + 5, t[0] + 5.02, "walking", 0.7, "walking", 0.8, [["walking", 0.7]], ["left_wrist"])
    w.commit()  # not closed: as after a crash
    assert main(["sessions", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert f"{w.session_id:>5}" in out and "200 samples" in out and "not closed" in out
    assert main(["export", str(w.session_id), "--db", str(db), "--csv", str(tmp_path / "x"),
                 "--json", str(tmp_path / "x.json")]) == 0
    assert [r["label"] for r in csv.DictReader((tmp_path / "x" / "labels.csv").open())] == ["walking"]
    assert json.loads((tmp_path / "x.json").read_text())["timeline"][0]["label"] == "walking"
    assert main(["export", "99", "--db", str(db), "--json", str(tmp_path / "y.json")]) == 1
    assert "no session 99" in capsys.readouterr().err
