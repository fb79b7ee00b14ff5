"""Polar PMD codec: every frame in polar_pmd.json (from polar-ble-sdk unit tests), control point, round trips."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from anymo.data.datasets import default_data_dir  # the one data-folder rule (tests/conftest.py)
from firmware_bridge.devices import PERIPHERALS, get_driver
from firmware_bridge.devices import polar as pl
from firmware_bridge.devices.base import ImuSamples, StreamSettings
from firmware_bridge.devices.common import DEG2RAD, G0_MPS2
from firmware_bridge.devices.loopback import LoopbackGattClient

ROOT = Path(__file__).resolve().parents[2]
DATA = default_data_dir()
VECTORS = DATA / "ble_vectors" / "polar_pmd.json"


def _vectors() -> dict[str, dict]:
    if not VECTORS.is_file():
        pytest.skip(f"Polar PMD vectors not found at {VECTORS} (set ANYMO_DATA to the shared data folder)")
    return {v["name"]: v for v in json.loads(VECTORS.read_text())}


def _decode_vector(v: dict) -> ImuSamples:
    frame = bytes.fromhex(v["frame_hex"])
    mtype = frame[0]
    dec = pl.PolarPmdDecoder({mtype: pl.PolarStreamState(factor=v["factor"], rate_hz=v["sample_rate_hz"],
                                                         prev_ns=v["previous_timestamp_ns"])})
    out = dec.decode(pl.PMD_DATA_UUID, frame)
    assert dec.stats.bad_packets == 0, dec.stats.reasons
    assert len(out) == 1
    return out[0]


def test_all_vectors_are_covered():
    names = set(_vectors())
    assert len(names) == 7


def test_acc_raw_type1_h10():
    v = _vectors()["ACC raw type 0x01 (H10-style int16 mG)"]
    s = _decode_vector(v)
    exp = v["expected"]
    mG = s.acc_mps2 / (1e-3 * G0_MPS2)
    assert len(s) == exp["n_samples"] == 36
    np.testing.assert_allclose(mG[0], exp["sample0"], atol=1e-9)
    np.testing.assert_allclose(mG[1], exp["sample1"], atol=1e-9)
    t_ns = np.round(s.t_device_s * 1e9)
    assert t_ns[-1] == exp["last_timestamp_ns"]
    # no previous frame: spaced 1/52 s back from the frame timestamp
    np.testing.assert_allclose(np.diff(s.t_device_s), 1 / 52, atol=1e-9)


def test_acc_compressed_type0_with_factor():
    v = _vectors()["ACC compressed type 0x80 (factor 2.44e-4, G->mG)"]
    s = _decode_vector(v)
    exp = v["expected"]
    assert len(s) == exp["n_samples"] == 57
    f32 = np.float32(v["factor"])
    raw = s.acc_mps2 / (float(f32) * G0_MPS2)
    np.testing.assert_allclose(raw[0], exp["raw_sample0"], atol=1e-6)
    np.testing.assert_allclose(raw[1], exp["raw_sample1"], atol=1e-6)
    # the SDK's integer mG: int(f32(f32(factor*1000) * raw)); ours is the untruncated value
    sdk_mG = [int(np.float32(np.float32(f32 * np.float32(1000)) * np.float32(r))) for r in exp["raw_sample1"]]
    assert np.all(np.abs(s.acc_mps2[1] / (1e-3 * G0_MPS2) - sdk_mG) < 1.0)
    t_ns = [int(round(x)) for x in s.t_device_s * 1e9]
    assert t_ns[-1] == exp["last_timestamp_ns"]
    # SDK: first = previous + (ts - previous)/n
    assert abs(t_ns[0] - (100 + (2_000_000_000 - 100) / 57)) < 1


def test_acc_compressed_type1_timestamps_exact():
    v = _vectors()["ACC compressed type 0x81"]
    s = _decode_vector(v)
    exp = v["expected"]
    np.testing.assert_allclose(s.acc_mps2 / (1e-3 * G0_MPS2), exp["samples"], atol=1e-9)
    assert pl.sample_timestamps_ns(100, 101, 2, 0) == exp["timestamps_ns"]  # half-to-even like Kotlin round
    np.testing.assert_allclose(s.t_device_s * 1e9, exp["timestamps_ns"], atol=1e-6)


def test_gyro_compressed_type0():
    v = _vectors()["GYRO compressed type 0x80"]
    s = _decode_vector(v)
    np.testing.assert_allclose(s.gyro_rads / DEG2RAD, v["expected"]["samples"], atol=1e-9)
    assert s.sensor == "gyro"


def test_gyro_compressed_type1_float_bits():
    v = _vectors()["GYRO compressed type 0x81 (float32 bit-deltas)"]
    s = _decode_vector(v)
    exp = v["expected"]
    for row, bits in ((0, exp["sample0_f32_bits"]), (1, exp["sample1_f32_bits"])):
        want = np.array([int(b, 16) for b in bits], dtype=np.uint32).view(np.float32).astype(np.float64)
        np.testing.assert_allclose(s.gyro_rads[row] / DEG2RAD, want, rtol=1e-12)


def test_mag_compressed_type0():
    v = _vectors()["MAG compressed type 0x80"]
    s = _decode_vector(v)
    np.testing.assert_allclose(s.mag_uT / pl.MAG_UT_PER_GAUSS, v["expected"]["samples"], atol=1e-9)


def test_mag_compressed_type1_mgauss_and_status():
    v = _vectors()["MAG compressed type 0x81 (mGauss + calib status)"]
    frame = bytes.fromhex(v["frame_hex"])
    dec = pl.PolarPmdDecoder({pl.MAG: pl.PolarStreamState(1.0, 0, 100)})
    (s,) = dec.decode(pl.PMD_DATA_UUID, frame)
    exp = np.array(v["expected"]["samples"])
    np.testing.assert_allclose(s.mag_uT / pl.MAG_UT_PER_GAUSS, exp[:, :3], atol=1e-9)
    assert dec.calibration_status.tolist() == exp[:, 3].tolist()


# --- control point -----------------------------------------------------------------------------


def test_settings_tlv_round_trip_and_start_response_factor():
    tlv = pl.pack_settings({pl.SAMPLE_RATE: [52], pl.RESOLUTION: [16], pl.RANGE: [8], pl.CHANNELS: [3]})
    assert tlv == bytes.fromhex("00013400" "01011000" "02010800" "040103")
    assert pl.parse_settings(tlv) == {0: [52], 1: [16], 2: [8], 4: [3]}
    resp = pl.CpResponse.parse(bytes.fromhex("f0020200000501") + np.float32(2.44e-4).tobytes())
    assert (resp.op, resp.measurement_type, resp.status, resp.more) == (2, 2, 0, False)
    assert pl.parse_settings(resp.params)[pl.FACTOR][0] == pytest.approx(2.44e-4, rel=1e-6)
    with pytest.raises(ValueError):
        pl.parse_settings(b"\x00\x02\x34")


def _start(device_type: str, settings: StreamSettings):
    periph = PERIPHERALS[device_type]()
    client = LoopbackGattClient(periph)
    got: list[ImuSamples] = []
    box = {}
    box["dec"] = asyncio.run(get_driver(device_type).start(client, settings, lambda u, d: got.extend(box["dec"].decode(u, d))))
    return periph, client, box["dec"], got


def test_verity_start_procedure_writes_documented_commands():
    periph, client, dec, _ = _start("polar-verity", StreamSettings(rate_hz=50, gyro_range_dps=500, sensors=("acc", "gyro", "mag")))
    writes = [d.hex() for op, u, d in client.log if op == "write"]
    assert writes == [
        "0102", "0202" "00013400" "01011000" "02010800" "040103",
        "0105", "0205" "00013400" "01011000" "0201f401" "040103",
        "0106", "0206" "00013200" "01011000" "02013200" "040103",
    ]
    assert [op for op, _, _ in client.log[:3]] == ["start_notify", "start_notify", "read"]
    assert dec.streams[pl.GYRO].factor == pytest.approx(500 / 32768, rel=1e-6)
    assert dec.streams[pl.MAG].rate_hz == 50
    asyncio.run(get_driver("polar-verity").stop(client))
    assert [d.hex() for op, u, d in client.log if op == "write"][-3:] == ["0302", "0305", "0306"]
    assert not periph.streaming()


@pytest.mark.parametrize("device_type,rate", [("polar-h10", 100), ("polar-oh1", 50), ("polar-verity", 52)])
def test_acc_round_trip(device_type, rate):
    rng = np.random.default_rng(1)
    periph, client, dec, got = _start(device_type, StreamSettings(rate_hz=rate, acc_range_g=8, sensors=("acc",)))
    assert periph.rate_hz() == rate
    n = 300
    t = 7.0e8 + np.arange(n) / rate  # ~2022 in the Polar epoch
    acc = rng.uniform(-70, 70, (n, 3))
    for i in range(0, n, 50):  # the emulator pushes blocks
        client.push(t[i:i + 50], acc[i:i + 50], None, None)
    ts = np.concatenate([s.t_device_s for s in got])
    a = np.concatenate([s.acc_mps2 for s in got])
    assert len(ts) == n and dec.stats.bad_packets == 0 and dec.stats.packets_lost == 0
    np.testing.assert_allclose(ts, t, atol=2e-7)  # float64 seconds at 7e8 s: ~1.2e-7 s resolution
    np.testing.assert_allclose(a, acc, atol=0.5e-3 * G0_MPS2 + 1e-9)  # 1 mG steps


def test_verity_gyro_and_mag_round_trip():
    rng = np.random.default_rng(2)
    periph, client, dec, got = _start("polar-verity", StreamSettings(rate_hz=52, gyro_range_dps=2000, sensors=("acc", "gyro", "mag")))
    n = 260
    t = 5.0e8 + np.arange(n) / 52
    gyro = np.cumsum(rng.normal(0, 0.05, (n, 3)), axis=0)
    mag = 40 * np.sin(np.arange(n)[:, None] / 30 + np.arange(3))
    client.push(t, np.zeros((n, 3)), gyro, mag)
    g = [s for s in got if s.sensor == "gyro"]
    m = [s for s in got if s.sensor == "mag"]
    gt = np.concatenate([s.t_device_s for s in g])
    np.testing.assert_allclose(gt, t, atol=2e-7)
    step = 2000 / 32768 * DEG2RAD
    np.testing.assert_allclose(np.concatenate([s.gyro_rads for s in g]), gyro, atol=step / 2 * 1.0001)
    mt = np.concatenate([s.t_device_s for s in m])
    mv = np.concatenate([s.mag_uT for s in m])
    np.testing.assert_allclose(np.diff(mt), 1 / 50, atol=2e-7)  # MAG on its own 50 Hz grid
    truth = np.stack([np.interp(mt, t, mag[:, j]) for j in range(3)], axis=1)
    np.testing.assert_allclose(mv, truth, atol=50 / 32768 * 100 / 2 * 1.0001)
    assert dec.stats.bad_packets == 0


def test_duplicate_reordered_and_lost_frames_are_counted():
    periph = pl.PolarPmdPeripheral("polar-h10", samples_per_frame=10)
    periph.on_write(pl.PMD_CP_UUID, bytes([pl.OP_START, pl.ACC]) + pl.pack_settings({pl.SAMPLE_RATE: [50], pl.RANGE: [8]}))
    frames = periph.encode(1e8 + np.arange(100) / 50, np.zeros((100, 3)), None, None)
    assert len(frames) == 10
    dec = pl.PolarPmdDecoder({pl.ACC: pl.PolarStreamState(1.0, 50.0)})
    order = [0, 1, 1, 3, 2, 4, 7, 8]
    out = []
    for i in order:
        out += dec.decode(*frames[i])
    assert (dec.stats.duplicates, dec.stats.out_of_order, dec.stats.packets_lost) == (1, 1, 3)  # 2 (gap 1->3), 5, 6
    assert dec.stats.packets_ok == 6
    # after a gap the frame is timed from the rate, not spread over the gap
    t = np.concatenate([s.t_device_s for s in out])
    np.testing.assert_allclose(np.diff(t[-20:]), 1 / 50, atol=2e-7)


def test_delta_pack_parse_inverse_with_large_steps():
    rng = np.random.default_rng(3)
    x = np.clip(np.cumsum(rng.integers(-40000, 40000, (700, 3)), axis=0), -32768, 32767)
    np.testing.assert_array_equal(pl.parse_delta_frames(pl.pack_delta_frames(x, 16), 3, 16), x)


def test_bad_frames_are_counted():
    dec = pl.PolarPmdDecoder({pl.ACC: pl.PolarStreamState(1.0, 50.0)})
    good = pl.pack_frame(pl.ACC, 10**9, 0x81, pl.pack_delta_frames(np.arange(30).reshape(10, 3), 16))
    bads = [b"", good[:10], good[:-1], good + b"\x05", b"\x09" + good[1:], good[:9] + b"\x87" + good[10:],
            pl.pack_frame(pl.ACC, 10**9, 0x01, b"\x00" * 7)]
    for b in bads:
        assert dec.decode(pl.PMD_DATA_UUID, b) == []
    assert dec.stats.bad_packets == len(bads) and dec.stats.packets_ok == 0
    assert len(dec.decode(pl.PMD_DATA_UUID, good)) == 1
