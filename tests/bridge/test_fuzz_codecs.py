"""Hypothesis fuzzing of every registered driver's decoder (and the emulated peripherals' command parsers).

For random bytes, valid packets with corrupted bytes, truncated or extended valid packets, and reordered or
duplicated packet sequences, every
decoder must: never raise; account for every notification exactly once (samples, bad, duplicate, out of order,
ignored, or held waiting for a continuation); emit one ImuSamples per good packet; keep each sensor's sample
times strictly increasing; emit only finite values in [n, 3] arrays.
"""

from __future__ import annotations

import asyncio
import copy
import functools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge.devices import DRIVERS, PERIPHERALS, get_driver
from firmware_bridge.devices.base import PacketDecoder, StreamSettings
from firmware_bridge.devices.loopback import LoopbackGattClient

DEVICE_TYPES = sorted(DRIVERS)
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
# Packets whose length is fixed by the format (header length field, fixed size): a cut one can never decode.
# (WitMotion is not among them: its notifications are one byte stream, a cut packet waits for the rest.)
LENGTH_CHECKED = {"anymo-imu", "metamotion", "thingy52"}
# Packets carry a sequence number or device timestamp: replays and reordering must not add samples.
ORDERED = {"anymo-imu", "movesense", "polar-h10", "polar-oh1", "polar-verity"}


@functools.cache
def _rig(device_type: str) -> tuple[PacketDecoder, tuple[tuple[str, bytes], ...]]:
    """A decoder configured by the real start procedure, and valid notifications from the peripheral."""
    periph = PERIPHERALS[device_type]()
    client = LoopbackGattClient(periph)
    dec = asyncio.run(get_driver(device_type).start(client, StreamSettings(rate_hz=100, sensors=("acc", "gyro", "mag")),
                                                     lambda u, d: None))
    rng = np.random.default_rng(0)
    n = 96
    t = 1000.0 + np.arange(n) / periph.rate_hz()
    acc, gyro, mag = rng.normal(0, 12, (n, 3)) + [0, 0, 9.8], rng.normal(0, 3, (n, 3)), rng.normal(0, 40, (n, 3))
    notes = []
    for i in range(0, n, 6):  # blocks as a streaming timer hands them over: several notifications each
        notes += periph.encode(t[i:i + 6], acc[i:i + 6], gyro[i:i + 6], mag[i:i + 6])
    assert len(notes) >= 8, device_type
    return dec, tuple((u, bytes(d)) for u, d in notes)


def _check(dec: PacketDecoder, notes: list[tuple[str, bytes]]) -> list[list]:
    """Feed ``notes``; assert the invariants; return the per-notification outputs."""
    outs, last_t = [], {}
    for uuid, data in notes:
        out = dec.decode(uuid, data)
        assert len(out) <= 2  # 2: a measurement held to see whether it continued, and the next one (Movesense)
        for s in out:
            n = len(s)
            assert n > 0 and s.t_device_s.shape == (n,)
            for arr in (s.acc_mps2, s.gyro_rads, s.mag_uT):
                assert arr is None or (arr.shape == (n, 3) and np.all(np.isfinite(arr)))
            assert np.all(np.isfinite(s.t_device_s)) and np.all(np.diff(s.t_device_s) > 0)
            if s.sensor in last_t:
                assert s.t_device_s[0] > last_t[s.sensor], "sample time went backwards"
            last_t[s.sensor] = s.t_device_s[-1]
        outs.append(out)
    stats = dec.stats
    accounted = stats.packets_ok + stats.bad_packets + stats.duplicates + stats.out_of_order + stats.ignored \
        + getattr(dec, "held_parts", 0)
    assert accounted == len(notes), stats
    assert sum(len(o) for o in outs) == stats.packets_ok
    return outs


@functools.cache
def _clean_sample_count(device_type: str) -> int:
    dec, notes = _rig(device_type)
    return sum(len(s) for o in _check(copy.deepcopy(dec), list(notes)) for s in o)


def _fresh(device_type: str) -> tuple[PacketDecoder, tuple[tuple[str, bytes], ...]]:
    dec, notes = _rig(device_type)
    return copy.deepcopy(dec), notes


@pytest.mark.parametrize("device_type", DEVICE_TYPES)
def test_valid_stream_decodes_cleanly(device_type):
    dec, notes = _fresh(device_type)
    outs = _check(dec, list(notes))
    assert dec.stats.bad_packets == 0 and dec.stats.packets_lost == 0
    assert sum(len(s) for o in outs for s in o) > 0


@pytest.mark.parametrize("device_type", DEVICE_TYPES)
@FUZZ
@given(data=st.data())
def test_random_bytes_never_break_a_decoder(device_type, data):
    dec, notes = _fresh(device_type)
    uuids = sorted({u for u, _ in notes})
    valid_prefix = st.builds(lambda i, k, tail: notes[i][1][:k] + tail, st.integers(0, len(notes) - 1),
                             st.integers(0, 24), st.binary(max_size=260))
    packets = data.draw(st.lists(st.tuples(st.sampled_from(uuids), st.binary(max_size=300) | valid_prefix),
                                 min_size=1, max_size=16))
    _check(dec, packets)


def _corrupt(raw: bytes, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(raw)
    for pos, value in edits:
        out[pos % len(out)] = value
    return bytes(out)


@pytest.mark.parametrize("device_type", DEVICE_TYPES)
@FUZZ
@given(data=st.data())
def test_corrupted_bytes_in_valid_packets(device_type, data):
    dec, notes = _fresh(device_type)
    plan = data.draw(st.lists(st.tuples(st.integers(0, len(notes) - 1),
                                        st.lists(st.tuples(st.integers(0, 300), st.integers(0, 255)), max_size=3)),
                              min_size=1, max_size=16))
    _check(dec, [(notes[i][0], _corrupt(notes[i][1], edits)) for i, edits in sorted(plan, key=lambda p: p[0])])


@pytest.mark.parametrize("device_type", DEVICE_TYPES)
@FUZZ
@given(data=st.data())
def test_truncated_and_extended_packets(device_type, data):
    dec, notes = _fresh(device_type)
    plan = data.draw(st.lists(st.tuples(st.integers(0, len(notes) - 1), st.sampled_from(["keep", "cut", "extend"]),
                                        st.integers(0, 400), st.binary(min_size=1, max_size=40)),
                              min_size=1, max_size=20))
    packets, kinds = [], []
    for i, kind, k, extra in plan:
        uuid, raw = notes[i]
        packets.append((uuid, raw if kind == "keep" else raw[:k % len(raw)] if kind == "cut" else raw + extra))
        kinds.append(kind)
    outs = _check(dec, packets)
    if device_type in LENGTH_CHECKED:
        assert all(not o for o, kind in zip(outs, kinds, strict=True) if kind == "cut")
        assert dec.stats.bad_packets >= kinds.count("cut")


@pytest.mark.parametrize("device_type", DEVICE_TYPES)
@FUZZ
@given(data=st.data())
def test_reordered_and_duplicated_sequences(device_type, data):
    dec, notes = _fresh(device_type)
    order = data.draw(st.lists(st.integers(0, len(notes) - 1), min_size=1, max_size=30))
    outs = _check(dec, [notes[i] for i in order])
    if device_type in ORDERED:
        produced = sum(len(s) for o in outs for s in o)
        assert produced <= _clean_sample_count(device_type)  # replays and late packets never add samples
        if order == sorted(set(order)):  # in order, maybe with gaps: nothing is dropped as a duplicate
            assert dec.stats.duplicates == dec.stats.out_of_order == 0


@pytest.mark.parametrize("device_type", DEVICE_TYPES)
@settings(max_examples=50, deadline=None, derandomize=True)
@given(data=st.data())
def test_peripherals_survive_garbage_writes(device_type, data):
    periph = PERIPHERALS[device_type]()
    writable = [ch.uuid for svc in periph.services for ch in svc.characteristics
                if {"write", "write-without-response"} & set(ch.flags)]
    for uuid, payload in data.draw(st.lists(st.tuples(st.sampled_from(writable), st.binary(max_size=64)), max_size=12)):
        replies = periph.on_write(uuid, payload)
        assert all(isinstance(d, bytes) for _, d in replies)
    periph.rate_hz()
    periph.streaming()
