"""The pairing store: round trips, validation, atomic writes, corrupt files, concurrent writers."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge import pairing
from firmware_bridge.devices.base import StreamSettings
from firmware_bridge.pairing import Calibration, PairedDevice, PairingStore, normalize_address


def _dev(address: str = "aa:bb:cc:dd:ee:01", **kw) -> PairedDevice:
    kw.setdefault("device_type", "anymo-imu")
    kw.setdefault("placement", "left_wrist")
    return PairedDevice(address=address, **kw)


def test_round_trip_keeps_every_field(tmp_path):
    store = PairingStore(tmp_path / "cfg" / "devices.json")
    assert store.list() == []  # no file yet, no folder yet
    cal = Calibration(acc_bias_mps2=[0.1, -0.2, 0.05], acc_scale=[1.01, 0.99, 1.0], gyro_bias_rads=[0.001, 0, -0.002],
                      mount_rotation=[0.0, 0.0, 0.0, 1.0])  # quaternion: 180 deg about z
    a = store.add(_dev("aa-bb-cc-dd-ee-01", name="left band", calibration=cal, settings={"rate_hz": 200}))
    b = store.add(_dev("AABBCCDDEE02", device_type="polar-verity", placement="Right Ankle"))
    again = PairingStore(store.path)
    assert [d.address for d in again.list()] == ["AA:BB:CC:DD:EE:01", "AA:BB:CC:DD:EE:02"]
    assert again.get("aa:bb:cc:dd:ee:01") == a and again.get("AA:BB:CC:DD:EE:02") == b
    assert again.get("AA:BB:CC:DD:EE:02").placement == "right_ankle"
    np.testing.assert_allclose(a.calibration.mount_rotation, np.diag([-1.0, -1.0, 1.0]), atol=1e-12)
    doc = json.loads(store.path.read_text())
    assert doc["schema_version"] == pairing.SCHEMA_VERSION and len(doc["devices"]) == 2
    assert a.stream_settings() == StreamSettings(rate_hz=200.0)


def test_replace_remove_and_unknown_address_errors(tmp_path):
    store = PairingStore(tmp_path / "devices.json")
    store.add(_dev(placement="left_wrist"))
    store.add(_dev(placement="chest"))  # replace=True by default: re-pairing moves the device
    assert [d.placement for d in store.list()] == ["chest"]
    with pytest.raises(ValueError, match="already paired"):
        store.add(_dev(placement="waist"), replace=False)
    with pytest.raises(KeyError, match="AA:BB:CC:DD:EE:01"):  # names the known addresses
        store.remove("11:22:33:44:55:66")
    assert store.remove("aa:bb:cc:dd:ee:01").placement == "chest"
    assert store.list() == []
    with pytest.raises(KeyError, match="none"):
        store.get("aa:bb:cc:dd:ee:01")


def test_calibration_applies_bias_scale_then_mount_rotation():
    cal = Calibration(acc_bias_mps2=[0.5, 0, 0], acc_scale=[2.0, 1.0, 1.0], gyro_bias_rads=[0, 0.1, 0],
                      mount_rotation=[[0, -1, 0], [1, 0, 0], [0, 0, 1]])  # +90 deg about z
    acc, gyro = cal.apply(np.array([[1.5, 0.0, 9.8]]), np.array([[0.0, 1.1, 0.0]]))
    np.testing.assert_allclose(acc, [[0.0, 2.0, 9.8]])  # (1.5 - 0.5) * 2 = 2 along sensor x -> placement y
    np.testing.assert_allclose(gyro, [[-1.0, 0.0, 0.0]])  # sensor y -> placement -x
    q = [math.cos(math.pi / 4), 0, 0, math.sin(math.pi / 4)]  # same rotation as a quaternion (w, x, y, z)
    np.testing.assert_allclose(Calibration(mount_rotation=q).mount_rotation, cal.mount_rotation, atol=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    ({"address": "AA:BB:CC:DD:EE"}, "six hex bytes"),
    ({"address": "GG:BB:CC:DD:EE:FF"}, "six hex bytes"),
    ({"placement": "left_elbow_pit"}, "valid placements are"),
    ({"device_type": "fitbit-9000"}, "valid types: .*anymo-imu"),
    ({"paired_at": "yesterday"}, "ISO 8601"),
    ({"settings": {"rate_hz": float("nan")}}, "JSON"),
    ({"settings": {"when": object()}}, "JSON"),
    ({"calibration": {"acc_scale": [1, 1, 0]}}, "positive"),
    ({"calibration": {"acc_bias_mps2": [0, 0]}}, "3 finite numbers"),
    ({"calibration": {"mount_rotation": [[1, 0, 0], [0, 1, 0], [0, 0, -1]]}}, "not a rotation"),
    ({"calibration": {"mount_rotation": [1, 0, 0, 1]}}, "unit length"),
    ({"calibration": {"gain": 2}}, "unknown fields"),
])
def test_validation_errors_name_the_problem(kwargs, message):
    base = {"address": "AA:BB:CC:DD:EE:01", "device_type": "anymo-imu", "placement": "left_wrist"}
    with pytest.raises(ValueError, match=message):
        PairedDevice(**(base | kwargs))


def test_address_forms_normalise_to_one_key():
    forms = ["aa:bb:cc:dd:ee:ff", "AA-BB-CC-DD-EE-FF", "aabbccddeeff", " AA:BB:CC:DD:EE:FF "]
    assert {normalize_address(f) for f in forms} == {"AA:BB:CC:DD:EE:FF"}
    uuid = "0d8f6b34-5c1e-4a8b-9a3e-1f2e3d4c5b6a"  # macOS CoreBluetooth identifier
    assert normalize_address(uuid) == uuid.upper()


def test_crash_mid_write_leaves_old_file_intact(tmp_path, monkeypatch):
    store = PairingStore(tmp_path / "devices.json")
    store.add(_dev("aa:bb:cc:dd:ee:01"))
    before = store.path.read_bytes()
    real_fsync = os.fsync

    def dying_fsync(fd):  # the new content is in the temp file, the process dies before the rename
        raise OSError("simulated power loss")

    monkeypatch.setattr(pairing.os, "fsync", dying_fsync)
    with pytest.raises(OSError, match="power loss"):
        store.add(_dev("aa:bb:cc:dd:ee:02"))
    monkeypatch.setattr(pairing.os, "fsync", real_fsync)
    assert store.path.read_bytes() == before
    assert [d.address for d in store.list()] == ["AA:BB:CC:DD:EE:01"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["devices.json", "devices.json.lock"]  # no temp left


def test_crash_while_writing_the_bytes(tmp_path, monkeypatch):
    store = PairingStore(tmp_path / "devices.json")
    store.add(_dev("aa:bb:cc:dd:ee:01"))
    before = store.path.read_bytes()

    def half_dump(obj, **kw):
        raise KeyboardInterrupt  # interrupted while serialising: nothing may change

    monkeypatch.setattr(pairing.json, "dumps", half_dump)
    with pytest.raises(KeyboardInterrupt):
        store.remove("aa:bb:cc:dd:ee:01")
    assert store.path.read_bytes() == before


@pytest.mark.parametrize("content, message", [
    (b"{not json", "invalid JSON"),
    (b'{"devices": {}}', "schema_version"),
    (b'[1, 2]', "expected an object"),
    (b'{"schema_version": 1, "devices": [{"address": "x", "device_type": "anymo-imu", "placement": "chest"}]}',
     "device #0"),
    (b'\xff\xfe garbage', "UTF-8"),
])
def test_corrupt_file_is_reported_and_never_overwritten(tmp_path, content, message):
    path = tmp_path / "devices.json"
    path.write_bytes(content)
    store = PairingStore(path)
    with pytest.raises(ValueError, match=message) as err:
        store.list()
    assert str(path) in str(err.value) and ".bak" in str(err.value)  # names the file and the fix
    with pytest.raises(ValueError, match="unreadable"):
        store.add(_dev())
    with pytest.raises(ValueError, match="unreadable"):
        store.remove("aa:bb:cc:dd:ee:01")
    assert path.read_bytes() == content


def test_newer_schema_asks_for_an_upgrade(tmp_path):
    path = tmp_path / "devices.json"
    path.write_text(json.dumps({"schema_version": pairing.SCHEMA_VERSION + 1, "devices": []}))
    with pytest.raises(ValueError, match="upgrade"):
        PairingStore(path).list()


def test_default_path_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ANYMO_CONFIG_DIR", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "x"))
    assert PairingStore().path == tmp_path / "a" / "devices.json"
    monkeypatch.delenv("ANYMO_CONFIG_DIR")
    assert PairingStore().path == tmp_path / "x" / "anymo" / "devices.json"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert PairingStore().path == tmp_path / "home" / ".config" / "anymo" / "devices.json"


def _pair_many(path: str, worker: int, count: int) -> None:
    store = PairingStore(path)
    for i in range(count):
        store.add(_dev(f"AA:BB:CC:DD:{worker:02X}:{i:02X}", placement="chest"))


def test_concurrent_writers_lose_nothing(tmp_path):
    path = str(tmp_path / "devices.json")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_pair_many, args=(path, w, 10)) for w in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * 6
    addresses = {d.address for d in PairingStore(path).list()}
    assert addresses == {f"AA:BB:CC:DD:{w:02X}:{i:02X}" for w in range(6) for i in range(10)}
    assert Path(path).with_name("devices.json.lock").exists()
