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


# --- the sketch itself, run on the host against stand-ins for Arduino and ArduinoBLE ----------------

HOST_DIR = HERE / "arduino_host"


def _build_sketch(tmp_path_factory, imu_define: str):
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ not found: install a C++ compiler (e.g. `apt-get install g++`) to run the sketch on the host")
    exe = tmp_path_factory.mktemp("sketch") / "sketch_host"
    proc = subprocess.run([gxx, "-std=c++11", "-Wall", "-Wextra", "-Werror", f"-D{imu_define}", f"-I{HOST_DIR}",
                           f"-I{FIRMWARE_DIR}", "-o", str(exe), str(HOST_DIR / "sketch_host.cpp")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"anymo_imu.ino does not build against the ArduinoBLE stand-in:\n{proc.stderr}"

    def run(script: list[str]) -> list[tuple[str, str, bytes]]:
        out = subprocess.run([str(exe)], input="\n".join(script) + "\n", capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        rows = []
        for line in out.stdout.splitlines():
            kind, what, value = line.split(" ", 2)
            rows.append((kind, what, value if kind == "advertising" else bytes.fromhex(value)))
        return rows

    return run


@pytest.fixture(scope="module")
def sketch(tmp_path_factory):
    """The sketch built with its synthetic IMU (a device turning at 0.5 rad/s about x)."""
    return _build_sketch(tmp_path_factory, "ANYMO_IMU_SYNTHETIC")


@pytest.fixture(scope="module")
def sketch_lsm6ds3(tmp_path_factory):
    """The sketch built with its LSM6DS3 register driver, talking to a fake LSM6DS3TR-C on the fake I2C bus."""
    return _build_sketch(tmp_path_factory, "ANYMO_IMU_LSM6DS3")


START = BY_NAME["start_acc_gyro_100hz"].data


def _notes(rows, uuid: str) -> list[bytes]:
    return [v for k, u, v in rows if k == "notify" and u == uuid]


def test_sketch_advertises_and_describes_itself_per_spec(sketch):
    rows = sketch(["adv", "read info", "read config"])
    assert rows[0] == ("advertising", "1", f"AnyMo IMU {am.SERVICE_UUID}")
    info = am.DeviceInfo.unpack(rows[1][2])
    doc_info = am.DeviceInfo.unpack(BY_NAME["info_reference_lsm6ds3"].data)
    assert info == am.DeviceInfo(doc_info.protocol_version, doc_info.firmware_version, 0,  # synthetic shim: id 0
                                 doc_info.sensors, doc_info.acc_ranges_g, doc_info.gyro_ranges_dps, doc_info.rates_hz)
    assert rows[2][2] == bytes.fromhex("00") + am.start_command(3, 100, 8, 2000, 0)[1:]  # defaults, not streaming


def test_sketch_streams_what_the_python_decoder_reads(sketch):
    """3 s at 100 Hz through the real sketch code, across the micros() wrap: contiguous seq, exact times, physics."""
    rows = sketch(["connect", "subscribe config", "subscribe data", f"write {START.hex()}", "run 3000000",
                   f"write {am.stop_command().hex()}", "run 200000", "read config"])
    replies = [r for r in _notes(rows, am.CONFIG_UUID) if r[0] == am.REPLY_MARKER]
    info = am.DeviceInfo.unpack(BY_NAME["info_reference_lsm6ds3"].data)
    twin = am.AnymoImuPeripheral(mtu=am.HEADER.size + 3 + 166, info=info)  # the sketch's 182-byte payload bound
    assert replies == [twin.on_write(am.CONFIG_UUID, START)[0][1], twin.on_write(am.CONFIG_UUID, am.stop_command())[0][1]]
    assert replies[0][-1] == 13  # (182 - 16) // 12 samples per packet
    packets = _notes(rows, am.DATA_UUID)
    dec = am.AnymoImuDecoder()
    got = [s for p in packets for s in dec.decode(am.DATA_UUID, p)]
    assert dec.stats.bad_packets == 0 and dec.stats.packets_lost == 0 and dec.stats.duplicates == 0
    assert [s.seq for s in got] == list(range(len(packets))) and all(len(p) <= 182 for p in packets)
    t = np.concatenate([s.t_device_s for s in got])
    assert abs(len(t) - 300) <= 13
    np.testing.assert_allclose(np.diff(t), 0.01, atol=1e-9)  # one ideal timeline, no jitter, no drift
    t_first = [am.HEADER.unpack_from(p)[3] for p in packets]
    assert any(b < a for a, b in zip(t_first, t_first[1:])), "the run should cross the 2**32 µs wrap"
    acc = np.concatenate([s.acc_mps2 for s in got])
    gyro = np.concatenate([s.gyro_rads for s in got])
    lsb_acc, lsb_gyro = am.acc_lsb_mps2(8), am.gyro_lsb_rads(2000)
    np.testing.assert_allclose(np.linalg.norm(acc, axis=1), am.G0_MPS2, atol=2 * lsb_acc)  # gravity only
    np.testing.assert_allclose(gyro, np.tile([0.5, 0.0, 0.0], (len(gyro), 1)), atol=lsb_gyro)  # turning about x
    angle = np.unwrap(np.arctan2(acc[:, 1], acc[:, 2]))
    rate = np.polyfit(t, angle, 1)[0]
    assert rate == pytest.approx(0.5, rel=1e-3)  # gravity turns at the rate the gyro reports
    assert rows[-1][2][0] == 0  # config read after STOP: not streaming


def test_sketch_stops_on_unsubscribe_and_disconnect_and_restarts_at_seq_0(sketch):
    rows = sketch(["connect", "subscribe config", "subscribe data", f"write {START.hex()}", "run 500000",
                   "unsubscribe data", "run 500000", "adv",
                   "subscribe data", f"write {START.hex()}", "run 500000", "disconnect", "run 500000", "adv",
                   "connect", f"write {START.hex()}", "run 300000"])
    marks = [i for i, r in enumerate(rows) if r[0] == "advertising"]
    first, second, third = rows[:marks[0]], rows[marks[0]:marks[1]], rows[marks[1]:]
    for part in (first, second, third):
        seqs = [am.HEADER.unpack_from(p)[2] for p in _notes(part, am.DATA_UUID)]
        assert seqs and seqs == list(range(len(seqs)))  # every stream starts at seq 0, nothing after the stop
        assert len(seqs) <= 500000 // 10000 // 13 + 1
    assert rows[marks[0]][2].startswith("AnyMo IMU") and rows[marks[1]][1] == "1"  # advertising again after the drop


def test_sketch_with_lsm6ds3_converts_datasheet_units_to_the_profile_scale(sketch_lsm6ds3):
    """The chip's native LSB (0.244 mg, 70 mdps at +-8 g / +-2000 dps) is not range/32768: the sketch rescales."""
    chip_raw = np.array([-8, 0, 16384, 1000, -1000, 0])  # acc x, y, z then gyro x, y, z as the sketch reads them
    regs = np.concatenate([chip_raw[3:], chip_raw[:3]]).astype("<i2").tobytes().hex()  # OUTX_L_G (0x22) first
    rows = sketch_lsm6ds3(["read info", "connect", "subscribe config", "subscribe data", f"imu 22 {regs}",
                           f"write {START.hex()}", "run 200000"])
    (info,) = [v for k, w, v in rows if k == "read"]
    assert info == BY_NAME["info_reference_lsm6ds3"].data  # the document's info example, byte for byte
    writes = {int(w, 16): v for k, w, v in rows if k == "i2c"}
    assert writes[0x10] == bytes([0x6C]) and writes[0x11] == bytes([0x6C])  # 416 Hz, +-8 g / +-2000 dps
    got = [s for p in _notes(rows, am.DATA_UUID) for s in am.AnymoImuDecoder().decode(am.DATA_UUID, p)]
    acc, gyro = np.concatenate([s.acc_mps2 for s in got]), np.concatenate([s.gyro_rads for s in got])
    want_acc = chip_raw[:3] * 0.244e-3 * am.G0_MPS2
    want_gyro = np.deg2rad(chip_raw[3:] * 70e-3)
    np.testing.assert_allclose(acc, np.tile(want_acc, (len(acc), 1)), atol=am.acc_lsb_mps2(8) / 2 + 1e-12)
    np.testing.assert_allclose(gyro, np.tile(want_gyro, (len(gyro), 1)), atol=am.gyro_lsb_rads(2000) / 2 + 1e-12)
