"""The AnyMo IMU profile document and the Python codec agree, byte for byte, on the document's examples."""

from __future__ import annotations

import re

import numpy as np
import pytest
from anymo_profile_examples import PROFILE_DOC, Example, load_examples, parse_examples

from firmware_bridge.devices import anymo_imu as am

DOC = PROFILE_DOC.read_text(encoding="utf-8")
EXAMPLES = load_examples()
BY_NAME = {e.name: e for e in EXAMPLES}


def _by_kind(kind: str) -> list[Example]:
    return [e for e in EXAMPLES if e.kind == kind]


def _close(got, want) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64),
                               rtol=1e-11, atol=1e-12)


def test_document_has_the_required_examples():
    assert len(BY_NAME) == len(EXAMPLES), "example names must be unique"
    assert all(e.follows in BY_NAME for e in EXAMPLES if e.follows)
    assert {e.kind for e in EXAMPLES} >= {"start", "reply", "stop", "info", "data", "config_read"}
    assert any(e.decoded["status"] == 0 and e.decoded["applied"] for e in _by_kind("reply"))
    data = _by_kind("data")
    assert any(e.decoded["gyro_raw"] is None and e.decoded["mag_raw"] is None for e in data), "an acc-only packet"
    assert any(e.decoded["gyro_raw"] is not None and len(e.decoded["acc_raw"]) == 2
               and min(np.min(e.decoded["acc_raw"]), np.min(e.decoded["gyro_raw"])) < 0 for e in data), \
        "an acc+gyro packet with 2 samples incl. negative values"
    wraps = [(BY_NAME[e.follows], e) for e in data if e.follows]
    assert any(a.decoded["seq"] == 0xFFFF and b.decoded["seq"] == 0 for a, b in wraps), "a seq wrap"
    assert any(a.decoded["t_first_us"] + (len(a.decoded["acc_raw"]) - 1) * a.decoded["period_us"] >= 2**32
               or b.decoded["t_first_us"] < a.decoded["t_first_us"] for a, b in wraps), "a timestamp wrap"


def test_example_parser_rejects_malformed_blocks():
    block = "```anymo-example\nname: x\nkind: data\nhex: 01 0\ndecoded: {}\n```\n"
    with pytest.raises(ValueError, match="even number"):
        parse_examples(block)
    with pytest.raises(ValueError, match="lacks"):
        parse_examples("```anymo-example\nname: x\nhex: 01\n```\n")


def test_document_names_the_codes_uuids_and_scales_the_code_uses():
    for uuid in (am.SERVICE_UUID, am.INFO_UUID, am.CONFIG_UUID, am.DATA_UUID):
        assert f"`{uuid}`" in DOC
    for name in ("OK", "BAD_LENGTH", "UNSUPPORTED", "UNKNOWN_OPCODE", "SENSOR_ERROR"):
        assert re.search(rf"^\| {getattr(am, 'STATUS_' + name)} \| {name} \|", DOC, re.M), name
    assert "{2, 4, 8, 16}" in DOC and tuple(am.ACC_RANGES_G) == (2, 4, 8, 16)
    assert "{125, 250, 500, 1000, 2000}" in DOC and tuple(am.GYRO_RANGES_DPS) == (125, 250, 500, 1000, 2000)
    for sid, sensor in am.SENSOR_IDS.items():
        assert f"{sid} {sensor}" in DOC or (sid == 0xFF and "255 software emulator" in DOC)
    assert "acc_range_g × 9.80665 / 32768" in DOC and "gyro_range_dps × π / 180 / 32768" in DOC
    assert "`mag_uT = raw × 0.1`" in DOC and am.MAG_UT_PER_LSB == 0.1


@pytest.mark.parametrize("ex", _by_kind("start"), ids=lambda e: e.name)
def test_start_examples(ex):
    d = ex.decoded
    assert am.START.unpack(ex.data) == (d["opcode"], d["sensors"], d["rate_hz"], d["acc_range_g"],
                                        d["gyro_range_dps"], d["samples_per_packet"])
    assert am.start_command(d["sensors"], d["rate_hz"], d["acc_range_g"], d["gyro_range_dps"],
                            d["samples_per_packet"]) == ex.data


@pytest.mark.parametrize("ex", _by_kind("stop"), ids=lambda e: e.name)
def test_stop_examples(ex):
    assert ex.decoded == {"opcode": am.OP_STOP} and am.stop_command() == ex.data


def _config_body(cfg: dict) -> bytes:
    return am.START.pack(am.OP_START, cfg["sensors"], cfg["rate_hz"], cfg["acc_range_g"], cfg["gyro_range_dps"],
                         cfg["samples_per_packet"])[1:]


@pytest.mark.parametrize("ex", _by_kind("reply"), ids=lambda e: e.name)
def test_reply_examples(ex):
    d = ex.decoded
    assert ex.data[0] == am.REPLY_MARKER and ex.data[1] == d["opcode"] and ex.data[2] == d["status"]
    if d["applied"] is None:
        assert len(ex.data) == 3
    else:
        _, *cfg = am.START.unpack(bytes([am.OP_START]) + ex.data[3:])
        assert cfg == [d["applied"][k] for k in ("sensors", "rate_hz", "acc_range_g", "gyro_range_dps",
                                                 "samples_per_packet")]
    assert am.reply(d["opcode"], d["status"], _config_body(d["applied"]) if d["applied"] else b"") == ex.data


@pytest.mark.parametrize("ex", _by_kind("info"), ids=lambda e: e.name)
def test_info_examples(ex):
    d = ex.decoded
    info = am.DeviceInfo.unpack(ex.data)
    assert info == am.DeviceInfo(d["protocol_version"], tuple(d["firmware_version"]), d["sensor_id"], d["sensors"],
                                 tuple(d["acc_ranges_g"]), tuple(d["gyro_ranges_dps"]), tuple(d["rates_hz"]))
    assert info.sensor_name == d["sensor"] and info.pack() == ex.data
    assert am.DeviceInfo.unpack(ex.data + b"\x00\x01") == info  # bytes after the rates: reserved, ignored
    with pytest.raises(ValueError):
        am.DeviceInfo.unpack(ex.data[:-1])


def _raw(d: dict, key: str):
    return None if d[key] is None else np.asarray(d[key], dtype=np.int16)


def _decode_chain(ex: Example) -> tuple[am.AnymoImuDecoder, list]:
    chain = [ex]
    while chain[0].follows:
        chain.insert(0, BY_NAME[chain[0].follows])
    dec = am.AnymoImuDecoder()
    out = []
    for e in chain:
        out = dec.decode(am.DATA_UUID, e.data)
    return dec, out


@pytest.mark.parametrize("ex", _by_kind("data"), ids=lambda e: e.name)
def test_data_examples_decode_to_the_documented_values(ex):
    d = ex.decoded
    dec, out = _decode_chain(ex)
    assert len(out) == 1
    s = out[0]
    assert s.seq == d["seq"] and len(s) == len(d["acc_raw"] or d["gyro_raw"] or d["mag_raw"])
    _close(s.t_device_s, d["t_device_s"])
    for key in ("acc_mps2", "gyro_rads", "mag_uT"):
        if d[key] is None:
            assert getattr(s, key) is None, key
        else:
            _close(getattr(s, key), d[key])
    assert dec.stats.bad_packets == 0 and dec.stats.packets_lost == d.get("packets_lost", 0)
    header = am.HEADER.unpack_from(ex.data)
    flags = sum(f for f, k in ((am.FLAG_ACC, "acc_raw"), (am.FLAG_GYRO, "gyro_raw"), (am.FLAG_MAG, "mag_raw"))
                if d[k] is not None)
    assert header == (1, flags, d["seq"], d["t_first_us"], d["period_us"], len(s), d["acc_range_g"],
                      d["gyro_range_dps"])


@pytest.mark.parametrize("ex", _by_kind("data"), ids=lambda e: e.name)
def test_data_examples_encode_from_the_documented_raw_values(ex):
    d = ex.decoded
    assert am.pack_packet(d["seq"], d["t_first_us"], d["period_us"], d["acc_range_g"], d["gyro_range_dps"],
                          _raw(d, "acc_raw"), _raw(d, "gyro_raw"), _raw(d, "mag_raw")) == ex.data


def test_emulated_device_answers_the_documented_commands():
    """The emulator (the Python twin of the reference firmware) replies exactly as the document shows."""
    periph = am.AnymoImuPeripheral(mtu=247, info=am.DeviceInfo.unpack(BY_NAME["info_reference_lsm6ds3"].data))
    assert periph.on_write(am.CONFIG_UUID, BY_NAME["start_unsupported_rate"].data) == \
        [(am.CONFIG_UUID, BY_NAME["reply_start_unsupported"].data)]
    assert not periph.streaming()
    assert periph.on_write(am.CONFIG_UUID, BY_NAME["start_acc_gyro_100hz"].data) == \
        [(am.CONFIG_UUID, BY_NAME["reply_start_ok"].data)]
    assert periph.read(am.CONFIG_UUID) == BY_NAME["config_read_streaming"].data
    first = periph.encode(np.arange(3) / 100.0, np.zeros((3, 3)), np.zeros((3, 3)), None)
    assert am.HEADER.unpack_from(first[0][1])[2] == 0  # seq restarts at 0 with every START
    assert periph.on_write(am.CONFIG_UUID, BY_NAME["start_unsupported_rate"].data) == \
        [(am.CONFIG_UUID, BY_NAME["reply_start_unsupported"].data)]
    assert periph.streaming()  # a refused START leaves the running stream alone
    assert periph.on_write(am.CONFIG_UUID, BY_NAME["stop"].data) == [(am.CONFIG_UUID, BY_NAME["reply_stop_ok"].data)]
    assert not periph.streaming()


def test_applied_samples_per_packet_follows_the_mtu_rule():
    start = BY_NAME["start_acc_gyro_100hz"].data  # acc + gyro: 12 bytes per sample
    for mtu, spp in ((247, 19), (185, 13), (35, 1), (23 + 8, 1)):
        periph = am.AnymoImuPeripheral(mtu=mtu)
        (_, rep), = periph.on_write(am.CONFIG_UUID, start)
        assert rep[2] == am.STATUS_OK and rep[-1] == spp == (mtu - 3 - 16) // 12
    (_, rep), = am.AnymoImuPeripheral(mtu=30).on_write(am.CONFIG_UUID, start)  # 27 bytes: not one sample fits
    assert rep == am.reply(am.OP_START, am.STATUS_UNSUPPORTED)
    (_, rep), = am.AnymoImuPeripheral(mtu=247).on_write(am.CONFIG_UUID, am.start_command(3, 100, 8, 2000, 5))
    assert rep[-1] == 5  # an explicit smaller request is honoured
