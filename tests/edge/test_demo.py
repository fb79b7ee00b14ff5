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
