"""The reference firmware's packet core (anymo_imu_packet.h), compiled with gcc, produces the profile
document's bytes and answers the control point exactly like the Python emulator."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from anymo_profile_examples import FIRMWARE_DIR, Example, load_examples

from firmware_bridge.devices import anymo_imu as am

HERE = Path(__file__).resolve().parent
HEADER = FIRMWARE_DIR / "anymo_imu_packet.h"
EXAMPLES = load_examples()
BY_NAME = {e.name: e for e in EXAMPLES}
STRICT = ["-Wall", "-Wextra", "-Werror", "-pedantic"]


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not found: install a C compiler (e.g. `apt-get install gcc`) to check the firmware's packet core")
    exe = tmp_path_factory.mktemp("harness") / "anymo_imu_packet_harness"
    proc = subprocess.run([gcc, "-std=c99", *STRICT, "-O1", f"-I{FIRMWARE_DIR}", "-o", str(exe),
                           str(HERE / "anymo_imu_packet_harness.c")], capture_output=True, text=True)
    assert proc.returncode == 0, f"anymo_imu_packet.h does not compile as C99:\n{proc.stderr}"

    def run(lines: list[str]) -> list[str]:
        out = subprocess.run([str(exe)], input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        result = out.stdout.splitlines()
        assert len(result) == len(lines) and not any(r.startswith("error") for r in result), result
        return result

    return run


def test_header_compiles_as_cxx11_like_the_sketch(tmp_path):
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ not found: install a C++ compiler (e.g. `apt-get install g++`) to check the header builds as C++")
    src = tmp_path / "use.cpp"
    src.write_text('#include "anymo_imu_packet.h"\nint main() { anymo_state_t s = {}; return s.streaming; }\n')
    proc = subprocess.run([gxx, "-std=c++11", *STRICT, f"-I{FIRMWARE_DIR}", "-fsyntax-only", str(src)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def _mask(values, table) -> int:
    return sum(1 << table.index(v) for v in values)


def _command(ex: Example) -> str | None:
    """The harness line that makes the C core produce ``ex`` from its decoded values (None: device never sends it)."""
    d = ex.decoded
    if ex.kind == "start":
        return f"start {d['sensors']} {d['rate_hz']} {d['acc_range_g']} {d['gyro_range_dps']} {d['samples_per_packet']}"
    if ex.kind == "reply":
        a = d["applied"]
        tail = "" if a is None else \
            f" {a['sensors']} {a['rate_hz']} {a['acc_range_g']} {a['gyro_range_dps']} {a['samples_per_packet']}"
        return f"reply {d['opcode']} {d['status']}{tail}"
    if ex.kind == "info":
        major, minor, patch = d["firmware_version"]
        return (f"info {major} {minor} {patch} {d['sensor_id']} {d['sensors']} "
                f"{_mask(d['acc_ranges_g'], am.ACC_RANGES_G)} {_mask(d['gyro_ranges_dps'], am.GYRO_RANGES_DPS)} "
                + " ".join(map(str, d["rates_hz"])))
    if ex.kind == "data":
        blocks = [(flag, np.asarray(d[key])) for flag, key in ((am.FLAG_ACC, "acc_raw"), (am.FLAG_GYRO, "gyro_raw"),
                                                               (am.FLAG_MAG, "mag_raw")) if d[key] is not None]
        flags = sum(f for f, _ in blocks)
        raw = np.concatenate([b for _, b in blocks], axis=1)  # sample-major: acc xyz, gyro xyz, mag xyz
        return (f"data {flags} {d['seq']} {d['t_first_us']} {d['period_us']} {d['acc_range_g']} {d['gyro_range_dps']} "
                f"{len(raw)} " + " ".join(map(str, raw.ravel().tolist())))
    return None


DEVICE_SIDE = [e for e in EXAMPLES if _command(e) is not None]


def test_every_kind_the_device_or_central_packs_is_covered():
    assert {e.kind for e in DEVICE_SIDE} >= {"start", "reply", "info", "data"}
    assert len([e for e in DEVICE_SIDE if e.kind == "data"]) >= 4


@pytest.mark.parametrize("ex", DEVICE_SIDE, ids=lambda e: e.name)
def test_c_core_packs_the_document_examples(harness, ex):
    (got,) = harness([_command(ex)])
    assert bytes.fromhex(got) == ex.data


def test_c_core_and_python_codec_pack_identical_random_packets(harness):
    rng = np.random.default_rng(7)
    lines, want = [], []
    for _ in range(200):
        flags = int(rng.integers(1, 8))
        n = int(rng.integers(1, 20))
        seq, t0, period = int(rng.integers(0, 2**16)), int(rng.integers(0, 2**32)), int(rng.integers(1, 10**6))
        acc_r, gyro_r = int(rng.choice(am.ACC_RANGES_G)), int(rng.choice(am.GYRO_RANGES_DPS))
        blocks = [rng.integers(-32768, 32768, (n, 3)) if flags & f else None for f in (1, 2, 4)]
        raw = np.concatenate([b for b in blocks if b is not None], axis=1)
        lines.append(f"data {flags} {seq} {t0} {period} {acc_r} {gyro_r} {n} " + " ".join(map(str, raw.ravel())))
        want.append(am.pack_packet(seq, t0, period, acc_r, gyro_r, *blocks))
    assert [bytes.fromhex(h) for h in harness(lines)] == want


def test_c_core_refuses_packets_the_spec_forbids(harness):
    assert harness(["data 0 0 0 10000 8 2000 1", "data 8 0 0 10000 8 2000 1 1 2 3", "data 1 0 0 10000 8 2000 0"]) == \
        ["-", "-", "-"]  # no sensor, a reserved flag bit, n = 0


def test_c_core_quantises_like_the_emulator(harness):
    """SI -> int16 in the firmware equals the emulator's encoder (round half to even, saturate, never wrap)."""
    rng = np.random.default_rng(3)
    acc_range, gyro_range = 4, 500
    acc_lsb, gyro_lsb = am.acc_lsb_mps2(acc_range), am.gyro_lsb_rads(gyro_range)
    acc = rng.uniform(-1.3, 1.3, (300, 3)) * acc_range * am.G0_MPS2  # 30% beyond full scale both ways
    gyro = rng.uniform(-1.3, 1.3, (300, 3)) * np.deg2rad(gyro_range)
    acc[:10] = (rng.integers(-200, 200, (10, 3)) + 0.5) * acc_lsb  # ties
    periph = am.AnymoImuPeripheral()
    periph.on_write(am.CONFIG_UUID, am.start_command(am.FLAG_ACC | am.FLAG_GYRO, 100, acc_range, gyro_range, 10))
    notes = periph.encode(np.arange(300) / 100.0, acc, gyro, None)
    raw = np.concatenate([np.frombuffer(d, "<i2", offset=16).reshape(-1, 6) for _, d in notes])
    lines = [f"qacc {acc_range} {v!r}" for v in acc.ravel().tolist()] + \
        [f"qgyro {gyro_range} {v!r}" for v in gyro.ravel().tolist()]
    got = np.array(harness(lines), dtype=np.int64)
    np.testing.assert_array_equal(got[:900].reshape(-1, 3), raw[:, :3])
    np.testing.assert_array_equal(got[900:].reshape(-1, 3), raw[:, 3:])
    assert got.max() == 32767 and got.min() == -32768  # saturated, not wrapped


def _random_write(rng, info: am.DeviceInfo) -> bytes:
    kind = rng.integers(0, 10)
    pick = (lambda seq, other: int(rng.choice(seq)) if rng.random() < 0.8 else int(other))
    if kind <= 5:  # START, mostly valid values
        return am.start_command(int(rng.integers(0, 9)) if rng.random() < 0.3 else int(rng.integers(1, 8)) & info.sensors
                                or 1, pick(info.rates_hz, rng.integers(0, 1000)), pick(am.ACC_RANGES_G, rng.integers(0, 40)),
                                pick(am.GYRO_RANGES_DPS, rng.integers(0, 4000)), int(rng.choice([0, 1, 5, 19, 40, 255])))
    if kind == 6:
        return am.stop_command()
    if kind == 7:
        return bytes([1]) + rng.integers(0, 256, int(rng.integers(0, 12))).astype(np.uint8).tobytes()  # bad length
    if kind == 8:
        return bytes([2, 0]) if rng.random() < 0.5 else b""
    return bytes([int(rng.integers(3, 256))]) + rng.integers(0, 256, int(rng.integers(0, 8))).astype(np.uint8).tobytes()


@pytest.mark.parametrize("mtu, info", [
    (247, am.DeviceInfo.unpack(BY_NAME["info_reference_lsm6ds3"].data)),
    (185, am.DeviceInfo(sensor_id=2, sensors=am.FLAG_ACC, acc_ranges_g=(4, 16), gyro_ranges_dps=(),
                        rates_hz=(50, 100))),
    (40, am.DeviceInfo(sensor_id=0xFF, sensors=7, gyro_ranges_dps=(250, 2000), rates_hz=(12, 26, 52, 104, 208))),
])
def test_c_control_point_answers_like_the_emulator(harness, mtu, info):
    """Random command sequences: the C core and the Python emulator give the same reply and config after each."""
    rng = np.random.default_rng(mtu)
    periph = am.AnymoImuPeripheral(mtu=mtu, info=info)
    defaults = periph.read(am.CONFIG_UUID)[1:]
    _, *cfg = am.START.unpack(bytes([1]) + defaults)
    acc_mask, gyro_mask = _mask(info.acc_ranges_g, am.ACC_RANGES_G), _mask(info.gyro_ranges_dps, am.GYRO_RANGES_DPS)
    lines = [f"info 1 0 0 {info.sensor_id} {info.sensors} {acc_mask} {gyro_mask} " + " ".join(map(str, info.rates_hz)),
             f"session {mtu - 3} " + " ".join(map(str, cfg))]
    want = []
    for _ in range(400):
        data = _random_write(rng, info)
        lines.append(f"write {data.hex() or '-'}")
        notes = periph.on_write(am.CONFIG_UUID, data)
        assert len(notes) <= 1
        want.append((notes[0][1].hex() if notes else "-", periph.read(am.CONFIG_UUID).hex()))
    out = harness(lines)
    assert bytes.fromhex(out[0]) == info.pack()
    got = [tuple(line.split()[:2]) for line in out[2:]]
    statuses = {bytes.fromhex(r)[2] for r, _ in want if r != "-"}
    assert statuses >= {am.STATUS_OK, am.STATUS_BAD_LENGTH, am.STATUS_UNSUPPORTED, am.STATUS_UNKNOWN_OPCODE}
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"write #{i} {lines[i + 2]}: C replied {g}, emulator {w}"
    assert all(line.split()[2] == "0" for line in out[2:])  # no packet sent yet: seq still 0 after every START
