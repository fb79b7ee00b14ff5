"""`anymo scan | pair | devices | stream` as a user runs them: subprocesses against an `anymo emulate` process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge.bluez_fake import find_dbus_daemon
from firmware_bridge.cli import main, table
from firmware_bridge.emulator import WearableSpec
from firmware_bridge.record import read_recording, read_streams

ROOT = Path(__file__).resolve().parents[2]
STAT_KEYS = {"samples_received", "packets_lost", "reconnects", "clock_offset_ms", "clock_drift_ppm", "rate_hz"}


def anymo(args: list[str], env: dict, timeout_s: float = 60.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout_s)


@pytest.fixture
def emulated(tmp_path: Path):
    """An `anymo emulate` process with two wearables; yields the environment pointing the CLI at it."""
    if find_dbus_daemon() is None:
        pytest.skip("dbus-daemon is not installed (apt-get install dbus); fake-BlueZ tests skipped")
    env = {**os.environ, "ANYMO_CONFIG_DIR": str(tmp_path / "config"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "edge.cli", "emulate", "--device", "anymo-imu", "--placement",
                             "left_wrist", "--device", "polar-verity", "--placement", "right_thigh", "--drop", "0.02",
                             "--drift-ppm", "120"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("DBUS_SYSTEM_BUS_ADDRESS=unix:path="), f"anymo emulate said {line!r}"
        env["DBUS_SYSTEM_BUS_ADDRESS"] = line.split("=", 1)[1]
        yield env
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_scan_pair_stream_record(emulated: dict, tmp_path: Path) -> None:
    env = emulated
    scan = anymo(["scan", "--timeout", "2", "--json"], env)
    assert scan.returncode == 0, scan.stderr
    found = {d["address"]: d["device_type"] for d in json.loads(scan.stdout)}
    assert found == {"AA:4D:00:00:00:01": "anymo-imu", "AA:4D:00:00:00:02": "polar-verity"}
    table_out = anymo(["scan", "--timeout", "1.5"], env)
    assert "AA:4D:00:00:00:02  polar-verity" in table_out.stdout

    # type detected from the advertisement; and given explicitly
    pair = anymo(["pair", "aa:4d:00:00:00:01", "--placement", "left_wrist"], env)
    assert pair.returncode == 0, pair.stderr
    assert "paired AA:4D:00:00:00:01 (AnyMo IMU" in pair.stdout
    # --device is checked against what the device advertises when it is in range
    wrong = anymo(["pair", "AA:4D:00:00:00:02", "--placement", "right_thigh", "--device", "anymo-imu"], env)
    assert wrong.returncode == 2, wrong.stderr
    assert "is a Polar Verity Sense (polar-verity" in wrong.stderr and "--device polar-verity" in wrong.stderr
    away = anymo(["pair", "AA:4D:00:00:00:07", "--placement", "left_ankle", "--device", "movesense", "--timeout", "1"],
                 env)
    assert away.returncode == 0 and "not in range: its type was not checked" in away.stderr
    assert anymo(["devices", "remove", "AA:4D:00:00:00:07"], env).returncode == 0
    pair = anymo(["pair", "AA:4D:00:00:00:02", "--placement", "right_thigh", "--device", "polar-verity"], env)
    assert pair.returncode == 0, pair.stderr
    listed = json.loads(anymo(["devices", "--json"], env).stdout)
    assert [(d["address"], d["device_type"], d["placement"]) for d in listed] == [
        ("AA:4D:00:00:00:01", "anymo-imu", "left_wrist"), ("AA:4D:00:00:00:02", "polar-verity", "right_thigh")]

    rec, out = tmp_path / "walk.anymorec", tmp_path / "stats.json"
    stream = anymo(["stream", "--seconds", "5", "--record", str(rec), "--json", str(out)], env)
    assert stream.returncode == 0, stream.stderr
    assert "Traceback" not in stream.stderr
    stats = json.loads(out.read_text())["devices"]
    assert set(stats) == set(found)
    for addr, s in stats.items():
        assert STAT_KEYS <= set(s)
        assert s["reconnects"] == 0 and s["samples_received"] > 0
    assert stats["AA:4D:00:00:00:01"]["rate_hz"] == pytest.approx(100.0, abs=0.5)
    assert stats["AA:4D:00:00:00:02"]["rate_hz"] == pytest.approx(52.0, abs=0.5)  # Verity's only ACC/GYRO rate
    # the recording holds exactly what was streamed, one Recording per device, placements from the store
    recs = {r.placement: r for r in read_recording(rec)}
    assert recs["left_wrist"].n_samples == stats["AA:4D:00:00:00:01"]["samples_received"]
    assert recs["left_wrist"].gyro_rads is not None and recs["right_thigh"].gyro_rads is not None
    assert np.all(np.abs(np.linalg.norm(recs["left_wrist"].acc_mps2, axis=1) - 9.81) < 5.0)  # gravity is in it
    raw = {d.meta.address: d for d in read_streams(rec)}
    assert len(raw["AA:4D:00:00:00:02"].streams["acc"]["t_host_s"]) == stats["AA:4D:00:00:00:02"]["samples_received"]

    removed = anymo(["devices", "remove", "AA:4D:00:00:00:02"], env)
    assert removed.returncode == 0 and "removed AA:4D:00:00:00:02" in removed.stdout
    assert "AA:4D:00:00:00:02" not in anymo(["devices"], env).stdout
    again = anymo(["stream", "--seconds", "1", "--record", str(rec)], env)  # never overwrites a recording
    assert again.returncode == 2 and "never overwritten" in again.stderr


def test_ctrl_c_stops_cleanly_and_kill_9_loses_at_most_the_last_second(emulated: dict, tmp_path: Path) -> None:
    import time

    env = emulated
    assert anymo(["pair", "AA:4D:00:00:00:01", "--placement", "left_wrist", "--device", "anymo-imu"], env).returncode == 0
    rec, out = tmp_path / "ctrl_c.anymorec", tmp_path / "ctrl_c.json"
    proc = subprocess.Popen([sys.executable, "-m", "edge.cli", "stream", "--record", str(rec), "--json", str(out)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3.0)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    stats = json.loads(out.read_text())["devices"]["AA:4D:00:00:00:01"]
    (r,) = read_recording(rec)
    assert r.n_samples == stats["samples_received"] > 100  # everything streamed before Ctrl-C is in the file

    crash = tmp_path / "crash.anymorec"
    proc = subprocess.Popen([sys.executable, "-m", "edge.cli", "stream", "--record", str(crash)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not crash.exists() or crash.stat().st_size < 20_000):
        time.sleep(0.1)
    time.sleep(1.0)
    proc.kill()
    killed_at = time.time()
    proc.wait()
    (r,) = read_recording(crash)  # the tail may be cut mid-chunk: everything before it reads back
    assert r.n_samples > 100
    print(f"kill -9: last recorded sample {killed_at - r.t_s[-1]:.3f} s before the kill")
    assert killed_at - r.t_s[-1] < 1.0 + 0.3  # chunks of <= 0.5 s, flushed every 0.25 s, one packet (0.19 s) late


def test_usage_errors_are_one_line_with_the_fix(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("ANYMO_CONFIG_DIR", str(tmp_path))
    assert main(["stream", "--seconds", "1"], "anymo stream") == 2
    assert "no paired devices" in capsys.readouterr().err
    assert main(["pair", "not-an-address", "--placement", "left_wrist", "--device", "anymo-imu"], "anymo pair") == 2
    assert "invalid Bluetooth address" in capsys.readouterr().err
    assert main(["pair", "AA:4D:00:00:00:01", "--placement", "left_elbowish", "--device", "anymo-imu"], "anymo pair") == 2
    assert "left_elbowish" in capsys.readouterr().err
    assert main(["devices", "remove", "AA:4D:00:00:00:09"], "anymo devices") == 1
    assert "no paired device AA:4D:00:00:00:09" in capsys.readouterr().err
    cal = tmp_path / "cal.json"
    cal.write_text(json.dumps({"acc_bias_mps2": [0.1, 0, 0], "mount_rotation": [1, 0, 0, 0], "gyro_bias": [0, 0, 0]}))
    assert main(["pair", "AA:4D:00:00:00:01", "--placement", "left_wrist", "--device", "anymo-imu",
                 "--calibration", str(cal)], "anymo pair") == 2
    assert "unknown fields ['gyro_bias']" in capsys.readouterr().err
    cal.write_text(json.dumps({"acc_bias_mps2": [0.1, 0, 0], "mount_rotation": [0, 0, 0, 1]}))  # 180 deg about z
    assert main(["pair", "AA:4D:00:00:00:01", "--placement", "left_wrist", "--device", "anymo-imu", "--rate-hz", "50",
                 "--calibration", str(cal)], "anymo pair") == 0
    from firmware_bridge.pairing import PairingStore

    stored = PairingStore().get("AA:4D:00:00:00:01").calibration
    np.testing.assert_allclose(stored.apply(np.array([[1.1, 2.0, 9.8]]))[0], [[-1.0, -2.0, 9.8]], atol=1e-12)
    capsys.readouterr()
    assert main(["devices"], "anymo devices") == 0
    out = capsys.readouterr().out
    assert "AA:4D:00:00:00:01  anymo-imu  left_wrist" in out and "50" in out


def test_adapter_powered_off_is_a_clear_error_not_a_traceback(emulate, tmp_path: Path) -> None:
    """`anymo scan` in a subprocess while the (fake) adapter is off."""
    async def body(em):
        await em.set_powered(False)
        env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": em.bus_address, "ANYMO_CONFIG_DIR": str(tmp_path)}
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "edge.cli", "scan", "--timeout", "1",
                                                    cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        return proc.returncode, err.decode()

    code, err = emulate([WearableSpec("anymo-imu")], body)
    assert code == 1
    assert "powered off" in err and "bluetoothctl power on" in err and "Traceback" not in err


def test_table_aligns_columns() -> None:
    out = table([["a", "1"], ["long", "22"]], ["NAME", "N"]).splitlines()
    assert out == ["NAME  N", "----  --", "a     1", "long  22"]


def test_output_paths_that_cannot_be_written_fail_before_streaming(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("ANYMO_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path / 'no_bus'}")  # never reached
    assert main(["pair", "AA:4D:00:00:00:01", "--placement", "left_wrist", "--device", "anymo-imu"], "anymo pair") == 0
    capsys.readouterr()
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    for flag in ("--record", "--json"):
        assert main(["stream", "--seconds", "1", flag, str(a_file / "out.x")], "anymo stream") == 2
        err = capsys.readouterr().err
        assert f"cannot write the {'recording' if flag == '--record' else 'statistics file'}" in err, err
        assert str(a_file) in err and "choose another path" in err


def test_stream_says_which_device_gave_nothing_or_was_lost_and_exits_1(tmp_path: Path) -> None:
    """One paired wearable is not there at all; the emulator of the other is killed mid-stream: the stream still
    ends on time, keeps the recording, names both problems in words (no traceback) and exits 1."""
    import time

    if find_dbus_daemon() is None:
        pytest.skip("dbus-daemon is not installed (apt-get install dbus); fake-BlueZ tests skipped")
    env = {**os.environ, "ANYMO_CONFIG_DIR": str(tmp_path / "config"), "PYTHONUNBUFFERED": "1"}
    emu = subprocess.Popen([sys.executable, "-m", "edge.cli", "emulate", "--device", "anymo-imu"], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = emu.stdout.readline().strip()
        assert line.startswith("DBUS_SYSTEM_BUS_ADDRESS="), line
        env["DBUS_SYSTEM_BUS_ADDRESS"] = line.split("=", 1)[1]
        for address, placement in (("AA:4D:00:00:00:01", "left_wrist"), ("AA:4D:00:00:00:09", "right_wrist")):
            assert anymo(["pair", address, "--placement", placement, "--device", "anymo-imu"], env).returncode == 0
        rec, out = tmp_path / "walk.anymorec", tmp_path / "stats.json"
        proc = subprocess.Popen([sys.executable, "-m", "edge.cli", "stream", "--seconds", "4", "--record", str(rec),
                                 "--json", str(out), "--status-every", "0"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (not rec.exists() or rec.stat().st_size < 5_000):
            time.sleep(0.05)
    finally:
        emu.kill()  # the wearable (and its BlueZ) vanish mid-stream
        emu.wait()
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr, stderr
    assert "AA:4D:00:00:00:09 (anymo-imu, right_wrist): no data" in stderr
    assert "AA:4D:00:00:00:01 (anymo-imu, left_wrist): the link was lost and not re-established" in stderr
    assert f"{rec} holds what arrived until then" in stderr
    stats = json.loads(out.read_text())["devices"]
    assert stats["AA:4D:00:00:00:01"]["connected_at_end"] is False and stats["AA:4D:00:00:00:09"]["samples_received"] == 0
    (r,) = read_recording(rec)
    assert r.n_samples == stats["AA:4D:00:00:00:01"]["samples_received"] > 50


def test_bad_stream_arguments_are_refused_before_connecting(tmp_path: Path, monkeypatch, capsys) -> None:
    """--seconds nan / inf / 0 and a --json that is a folder are usage errors (exit 2) found before any Bluetooth
    is touched (was: nan accepted, and --json DIR failing only after the whole session)."""
    import time

    monkeypatch.setenv("ANYMO_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")  # any connection would fail
    assert main(["pair", "AA:4D:00:00:00:01", "--placement", "left_wrist", "--device", "anymo-imu", "--no-check"],
                "anymo pair") == 0
    capsys.readouterr()
    for seconds in ("nan", "inf", "0", "-3"):
        assert main(["stream", "--seconds", seconds], "anymo stream") == 2
        assert "--seconds must be a positive number" in capsys.readouterr().err
    t0 = time.monotonic()
    assert main(["stream", "--seconds", "30", "--json", str(tmp_path)], "anymo stream") == 2
    assert time.monotonic() - t0 < 5.0
    err = capsys.readouterr().err
    assert f"--json {tmp_path} is a folder" in err and "stats.json" in err
    assert main(["scan", "--timeout", "nan"], "anymo scan") == 2
    assert main(["pair", "AA:4D:00:00:00:02", "--placement", "left_wrist", "--rate-hz", "nan", "--device",
                 "anymo-imu"], "anymo pair") == 2
    assert "--rate-hz must be a positive number" in capsys.readouterr().err


def test_a_folder_where_the_pairing_store_should_be_is_a_clear_error(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("ANYMO_CONFIG_DIR", str(tmp_path))
    (tmp_path / "devices.json").mkdir()
    for argv in (["devices"], ["stream", "--seconds", "1"], ["devices", "remove", "AA:4D:00:00:00:01"],
                 ["pair", "AA:4D:00:00:00:01", "--placement", "left_wrist", "--device", "anymo-imu", "--no-check"]):
        assert main(argv, f"anymo {argv[0]}") == 2, argv
        err = capsys.readouterr().err
        assert f"the pairing store {tmp_path / 'devices.json'} is a folder, not a file" in err, err
        assert "Traceback" not in err and "ANYMO_CONFIG_DIR" in err
