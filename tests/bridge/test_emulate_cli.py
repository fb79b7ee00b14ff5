"""`anymo emulate` as a separate process: ready line, real bleak scan against it, clean shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firmware_bridge.bluez_fake import find_dbus_daemon

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(find_dbus_daemon() is None,
                                reason="dbus-daemon is not installed (apt-get install dbus); emulate tests skipped")


def start_emulator(*args: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "firmware_bridge.emulate_cli", *args], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        ready = sel.select(30)
    line = proc.stdout.readline().strip() if ready else ""
    if not line.startswith("DBUS_SYSTEM_BUS_ADDRESS=unix:path="):
        proc.kill()
        raise AssertionError(f"no ready line (got {line!r}); stderr: {proc.stderr.read()}")
    return proc, line.split("=", 1)[1]


def daemons_listening_on(socket_path: str) -> list[int]:
    """PIDs of dbus-daemons whose config lives next to ``socket_path``."""
    folder = str(Path(socket_path).parent)
    pids = []
    for proc_dir in Path("/proc").iterdir():
        if proc_dir.name.isdigit():
            try:
                cmd = (proc_dir / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "dbus-daemon" in cmd and folder in cmd:
                pids.append(int(proc_dir.name))
    return pids


def scan(address: str) -> dict:
    async def main():
        from bleak import BleakScanner

        found = await BleakScanner.discover(timeout=0.6, return_adv=True)
        return {a: (d.name, adv.service_uuids) for a, (d, adv) in found.items()}

    env_before = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
    os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = address
    try:
        return asyncio.run(main())
    finally:
        if env_before is None:
            os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = env_before


def stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> int:
    proc.send_signal(sig)
    try:
        return proc.wait(15)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_emulate_replays_a_dataset_file_is_scannable_and_stops_cleanly(xsens_file):
    from firmware_bridge.devices.anymo_imu import SERVICE_UUID

    proc, address = start_emulator("--device", "anymo-imu", "--placement", "left_wrist", "--replay", str(xsens_file))
    socket_path = address.removeprefix("unix:path=")
    try:
        assert Path(socket_path).exists() and daemons_listening_on(socket_path)
        found = scan(address)
    finally:
        rc = stop(proc)
    assert found == {"AA:4D:00:00:00:01": ("AnyMo IMU", [SERVICE_UUID])}
    assert rc == 0, proc.stderr.read()
    assert proc.stdout.read() == ""  # exactly one line on stdout
    deadline = time.time() + 5
    while daemons_listening_on(socket_path) and time.time() < deadline:
        time.sleep(0.05)
    assert not daemons_listening_on(socket_path) and not Path(socket_path).exists()


def test_emulate_config_file_with_several_wearables_and_sigint(tmp_path):
    cfg = tmp_path / "wearables.json"
    cfg.write_text(json.dumps({"wearables": [
        {"device": "polar-verity", "placement": "right_wrist", "address": "AA:4D:00:00:01:01"},
        {"device": "anymo-imu", "placement": "left_ankle", "name": "AnyMo ankle", "faults": {"drop_prob": 0.1}},
    ]}))
    proc, address = start_emulator("--config", str(cfg))
    try:
        found = scan(address)
    finally:
        rc = stop(proc, signal.SIGINT)
    assert rc == 0
    assert found["AA:4D:00:00:01:01"][0].startswith("Polar Sense")
    assert found["AA:4D:00:00:00:02"][0] == "AnyMo ankle"


@pytest.mark.parametrize("args, message", [
    (["--device", "no-such-device"], "valid types"),
    (["--device", "anymo-imu", "--placement", "elbow"], "valid placements"),
    (["--device", "anymo-imu", "--device", "polar-verity", "--placement", "left_wrist"], "one per --device"),
    ([], "nothing to emulate"),
    (["--device", "movesense", "--mtu", "10"], "ATT_MTU must be 23..517"),
    (["--device", "thingy52", "--mtu", "100"], "fixed MTU"),
])
def test_emulate_bad_arguments_are_clear_errors(args, message):
    from firmware_bridge.emulate_cli import main

    proc = subprocess.run([sys.executable, "-m", "firmware_bridge.emulate_cli", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and message in proc.stderr and proc.stdout == ""
    assert main(args, prog="anymo emulate") == 2


def test_emulate_prints_the_truth_to_compare_with_the_stream_on_stop(tmp_path):
    """The drops the emulator made on purpose, printed when it stops, are what the bridge counted as lost
    (AnyMo IMU: sequence numbers, so exact)."""
    from firmware_bridge.pairing import PairedDevice
    from firmware_bridge.session import Session

    proc, address = start_emulator("--device", "anymo-imu", "--drop", "0.1", "--drift-ppm", "70", "--seed", "3")
    env_before = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
    os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = address
    try:
        stats = asyncio.run(Session([PairedDevice("AA:4D:00:00:00:01", "anymo-imu", "left_wrist")]).run(3.0))
    finally:
        if env_before is None:
            os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = env_before
        rc = stop(proc, signal.SIGINT)
    err = proc.stderr.read()
    assert rc == 0, err
    lines = err[err.index("# emulator truth"):].splitlines()
    head, row = lines[1].split(), lines[3].split()
    truth = dict(zip(head, row, strict=True))
    s = stats["AA:4D:00:00:00:01"]
    assert truth["ADDRESS"] == "AA:4D:00:00:00:01" and truth["DRIFT_PPM"] == "70" and truth["LINKS"] == "1"
    # drops after the last packet that arrived leave no trace in the sequence numbers (docs/streaming.md), and a
    # packet may be in flight when the session stops
    assert 0 <= int(truth["DROPPED"]) - s.packets_lost <= 2 and s.packets_lost > 0
    assert 0 <= int(truth["SENT"]) - s.packets_received <= 1
