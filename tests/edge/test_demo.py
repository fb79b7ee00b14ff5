"""`anymo demo` end to end: emulated wearables -> real bleak -> bridge -> live windows, plus a simulated set."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="dbus-daemon missing: install the Debian package 'dbus'")
def test_demo_streams_every_wearable_reports_losses_exactly_and_writes_windows(tmp_path):
    out = tmp_path / "demo"
    env = dict(os.environ, ANYMO_CONFIG_DIR=str(tmp_path / "config"))
    proc = subprocess.run([sys.executable, "-m", "edge.cli", "demo", "--seconds", "12", "--out", str(out),
                           "--drop", "0.05", "--sim-hours", "0.004", "--hop-s", "2"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["devices"]) == 3
    for dev in summary["devices"].values():
        bridge, emulator = dev["bridge"], dev["emulator"]
        assert bridge["samples_received"] > 0.5 * 12 * bridge["rate_hz"], dev
        if dev["device_type"] in ("anymo-imu", "polar-verity", "polar-h10"):  # sequence/timestamped protocols
            assert bridge["packets_lost"] == emulator["packets_dropped"], dev
    shank = next(d for d in summary["devices"].values() if d["placement"] == "right_shank")
    assert shank["bridge"]["reconnects"] == 1  # the forced disconnect at 9 s was recovered
    assert summary["windows"] >= 2 and "window " in proc.stdout
    assert Path(summary["record"]).stat().st_size > 0
    assert summary["simulated"]["windows"] > 0
    assert not (tmp_path / "config").exists()  # the demo never touches the user's pairing store


def test_a_data_folder_that_does_not_exist_is_a_usage_error(tmp_path, capsys):
    from edge.demo import main

    assert main(["--data", str(tmp_path / "nonexistent"), "--seconds", "0.5", "--sim-hours", "0",
                 "--out", str(tmp_path / "demo")]) == 2
    err = capsys.readouterr().err
    assert "nonexistent is not a folder" in err and "ANYMO_DATA" in err
    assert not (tmp_path / "demo").exists()  # nothing streamed, nothing written


def test_session_files_of_runs_in_the_same_second_do_not_collide(tmp_path, monkeypatch):
    from edge import demo

    monkeypatch.setattr(demo.time, "strftime", lambda fmt, *a: "20260101-120000")
    first = demo._new_session_path(tmp_path)
    first.write_bytes(b"")
    second = demo._new_session_path(tmp_path)
    assert second != first and second.name == "session-20260101-120000-2.anymorec"


@pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="dbus-daemon missing: install the Debian package 'dbus'")
def test_a_demo_shorter_than_a_window_says_so_and_the_replay_hint_names_every_wearable(tmp_path, monkeypatch, capsys):
    from edge.demo import DEFAULT_WEARABLES, main

    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unset")  # the demo points it at its private bus; restored after
    monkeypatch.setenv("ANYMO_CONFIG_DIR", str(tmp_path / "config"))
    assert main(["--seconds", "1.5", "--sim-hours", "0", "--out", str(tmp_path / "demo")]) == 0
    captured = capsys.readouterr()
    assert "shorter than one 5 s live window: no window will be cut" in captured.err
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert summary["windows"] == 0
    hint = captured.out.rsplit("anymo emulate", 1)[1]
    for w in DEFAULT_WEARABLES:
        assert f"--device {w.device_type} --placement {w.placement}" in hint
    assert summary["record"] in hint
