"""Simulated dataset generation: determinism, manifest/shard consistency, labels, physics, the reader."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from anymo.body.named_placements import placement_ids_for
from anymo.body.placement_names import NAMED_PLACEMENTS
from anymo.body.surface import N_PLACEMENTS, placement_table_from_json, reference_placements
from anymo.data.recording import LabelSegment
from anymo.preprocess.labels import label_cover as window_labels
from anymo.sim.captions import phrase_without_params, segment_captions, window_caption
from anymo.sim.config import DatasetConfig, unit_rng
from anymo.sim.dataset import generate_dataset
from anymo.sim.placement_draw import draw_placements
from anymo.sim.shards import SHARD_ARRAYS, ShardFormatError, arrays_digest, load_shards, read_shard

G = 9.80665
# 0.01 h = 36 s -> 7 windows of 5 s; units of 15 s -> 3 units (3, 3, 1 windows); 3 windows per shard
SMALL = dict(hours=0.01, sensors_per_window=4, unit_s=15.0, shard_windows=3)


def _arrays(directory: Path) -> list[dict[str, np.ndarray]]:
    return list(load_shards(directory).iter_shards(verify=True))


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("ds") / "seed5"
    return out, generate_dataset(DatasetConfig(seed=5, **SMALL), out, workers=1)


def test_same_seed_gives_identical_arrays_with_one_or_two_workers(small, tmp_path) -> None:
    out1, m1 = small
    m2 = generate_dataset(DatasetConfig(seed=5, **SMALL), tmp_path / "w2", workers=2)
    assert m2["workers"] == 2
    for a, b in zip(_arrays(out1), _arrays(tmp_path / "w2"), strict=True):
        for k in a:
            assert np.array_equal(a[k], b[k]), (k, a[k].ravel()[:4], b[k].ravel()[:4])
    assert [s["digest"] for s in m1["shards"]] == [s["digest"] for s in m2["shards"]]


def test_same_seed_twice_and_other_seed(small, tmp_path) -> None:
    out1, m1 = small
    again = generate_dataset(DatasetConfig(seed=5, **SMALL), tmp_path / "again", workers=1)
    assert [s["digest"] for s in again["shards"]] == [s["digest"] for s in m1["shards"]]
    other = generate_dataset(DatasetConfig(seed=6, **SMALL), tmp_path / "other", workers=1)
    a, b = _arrays(out1)[0], _arrays(tmp_path / "other")[0]
    assert not np.array_equal(a["acc_mps2"], b["acc_mps2"])
    assert not np.array_equal(a["placement_id"], b["placement_id"])
    assert other["seed"] == 6


def test_unit_generators_are_the_children_of_the_seed_sequence() -> None:
    children = np.random.SeedSequence(11).spawn(4)
    for u in range(4):
        assert unit_rng(11, u).random() == np.random.default_rng(children[u]).random()


def test_manifest_counts_match_the_files(small) -> None:
    out, m = small
    files = sorted(p.name for p in out.glob("shard-*.npz"))
    assert files == [s["file"] for s in m["shards"]] == ["shard-00000.npz", "shard-00001.npz", "shard-00002.npz"]
    arrays = _arrays(out)
    assert [a["acc_mps2"].shape[0] for a in arrays] == [3, 3, 1]
    assert m["counts"]["windows"] == 7 == sum(s["windows"] for s in m["shards"])
    acts = [str(x) for a in arrays for x in a["activity"]]
    assert m["counts"]["per_activity"] == {k: acts.count(k) for k in set(acts)}
    devs = [str(x) for a in arrays for x in a["device"]]
    assert m["counts"]["per_device"] == {k: devs.count(k) for k in set(devs)}
    assert sorted(m["devices"]) == sorted(set(devs))
    assert m["tremor"]["amplitude_g"] == [0.0015, 0.035]  # the motion's arm tremor is part of what the shards are
    for a in arrays:
        assert a["acc_mps2"].shape[1:] == (4, 300, 3) and a["acc_mps2"].dtype == np.float32
        assert float(a["rate_hz"]) == 60.0
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk["args"]["seed"] == 5 and on_disk["counts"] == m["counts"]


def test_shards_load_without_pickle_and_hold_every_documented_array(small) -> None:
    out, _ = small
    with np.load(out / "shard-00000.npz", allow_pickle=False) as z:
        assert set(z.files) == set(SHARD_ARRAYS) | {"rate_hz"}
        assert z["activity"].dtype.kind == "U" and z["caption"].dtype.kind == "U"


def test_every_window_has_a_known_activity_and_a_caption(small) -> None:
    from anymo.motion.procedural import ACTIVITIES, activity_text

    known = set(ACTIVITIES) | {activity_text(a) for a in ACTIVITIES}
    out, _ = small
    for w in load_shards(out).iter_windows():
        assert w.activity in known
        assert w.caption.strip()
        assert 0.5 - 1e-6 <= w.label_purity <= 1.0 + 1e-6


def test_placements_are_distinct_and_consistent_with_the_manifest_table(small) -> None:
    out, m = small
    table = placement_table_from_json(m["placement_table"])
    assert len(table) == N_PLACEMENTS
    for a in _arrays(out):
        for ids, segs in zip(a["placement_id"], a["segment_id"]):
            assert len(set(ids.tolist())) == ids.size
            assert np.array_equal(table.segment_id[table.index_of(ids)], segs)


def test_window_signals_are_physically_plausible(small) -> None:
    out, _ = small
    for w in load_shards(out).iter_windows():
        assert np.all(np.isfinite(w.acc_mps2)) and np.all(np.isfinite(w.gyro_rads))
        # |f| averages to about g over a window of everyday activity (1 g for still postures, more for
        # walking, running, and at the fist while punching: up to ~2-2.5 g); a 5 s mean near 0 g (free
        # fall) or above 3 g (a unit or discontinuity error) is not human motion
        mean_mag = np.linalg.norm(w.acc_mps2, axis=-1).mean(axis=1)
        assert np.all((mean_mag > 6.0) & (mean_mag < 3.0 * G)), (w.activity, mean_mag)
        # the mounting is a rotation
        r = w.device_rot.astype(np.float64)
        assert np.allclose(r @ r.transpose(0, 2, 1), np.eye(3), atol=1e-5)


def test_still_activities_read_gravity(tmp_path) -> None:
    """Standing still: |f| ~ g in every sample (sensor errors are a few percent at most), gyro ~ 0."""
    from anymo.motion import procedural

    still = [a for a in procedural.ACTIVITIES if a in ("standing", "standing_still", "sitting", "lying", "sitting_still")]
    if not still:
        pytest.skip(f"no still activity among {procedural.ACTIVITIES}")
    from anymo.sim.unit import simulate_unit

    cfg = DatasetConfig(hours=0.003, seed=1, sensors_per_window=6, unit_s=10.0)
    real_generate = procedural.generate_sequence
    try:  # one still activity for the whole unit
        procedural.generate_sequence = lambda _acts, d, rng, **kw: procedural.generate_activity(still[0], d, rng, **kw)
        res = simulate_unit(cfg, 0)
    finally:
        procedural.generate_sequence = real_generate
    acc = res.arrays["acc_mps2"].astype(np.float64)
    mag = np.linalg.norm(acc, axis=-1)
    assert abs(np.median(mag) - G) < 0.4
    assert np.percentile(np.linalg.norm(res.arrays["gyro_rads"], axis=-1), 50) < 0.2


def test_draw_placements_regions_and_uniform() -> None:
    rng = np.random.default_rng(0)
    named = draw_placements(rng, 10, named_fraction=1.0)
    assert len(set(named.tolist())) == 10
    regions = {n: set(placement_ids_for(n).tolist()) for n in NAMED_PLACEMENTS}
    assert all(any(int(i) in r for r in regions.values()) for i in named)
    # uniform draws: with 0 named, the ids spread over the whole lattice
    many = np.concatenate([draw_placements(rng, 50, 0.0) for _ in range(40)])
    counts = np.bincount(reference_placements().segment_id[many], minlength=23)
    assert (counts > 0).sum() >= 20
    with pytest.raises(ValueError):
        draw_placements(rng, N_PLACEMENTS + 1, 0.0)


def test_window_labels_majority_and_purity() -> None:
    labels = [LabelSegment("standing", 0.0, 6.0), LabelSegment("walking", 6.0, 20.0)]
    assert window_labels(labels, 0.0, 5.0) == [("standing", 1.0)]
    cover = window_labels(labels, 5.0, 10.0)
    assert cover[0][0] == "walking" and cover[0][1] == pytest.approx(0.8) and cover[1] == ("standing", pytest.approx(0.2))


@pytest.mark.parametrize(
    "kw, words",
    [
        (dict(hours=-1.0), "hours"),
        (dict(hours=0.0), "hours"),
        (dict(hours=1.0, rate_hz=0.0), "rate_hz"),
        (dict(hours=1.0, rate_hz=float("nan")), "rate_hz"),
        (dict(hours=1.0, rate_hz=5000.0), "rate_hz"),
        (dict(hours=1.0, sensors_per_window=N_PLACEMENTS + 1), "sensors_per_window"),
        (dict(hours=1.0, sensors_per_window=0), "sensors_per_window"),
        (dict(hours=1.0, rate_hz=50.0, window_s=5.01), "whole number"),
        (dict(hours=1.0, device="no-such-watch"), "no-such-watch"),
        (dict(hours=1.0, named_fraction=1.5), "named_fraction"),
        (dict(hours=1.0, sources=("procedural", "nope")), "unknown motion source"),
        (dict(hours=1.0, sources=("procedural", "deepmimic"), source_shares=(1.0,)), "one share per source"),
        (dict(hours=1.0, sources=("procedural",), source_shares=(-1.0,)), "non-negative"),
    ],
)
def test_config_rejects_impossible_settings(kw, words) -> None:
    with pytest.raises(ValueError, match=words):
        DatasetConfig(**kw)


def test_reader_rejects_damaged_datasets(small, tmp_path) -> None:
    out, m = small
    with pytest.raises(ShardFormatError, match="no manifest"):
        load_shards(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    for s in m["shards"]:
        (bad / s["file"]).write_bytes((out / s["file"]).read_bytes())
    wrong = dict(m, format_version=99)
    (bad / "manifest.json").write_text(json.dumps(wrong))
    with pytest.raises(ShardFormatError, match="format version"):
        load_shards(bad)
    (bad / "manifest.json").write_text(json.dumps(m))
    a = read_shard(bad / "shard-00001.npz")
    a["acc_mps2"] = a["acc_mps2"] + 1.0
    np.savez(bad / "shard-00001.npz", **a)
    ds = load_shards(bad)
    ds.shard(0, verify=True)
    assert arrays_digest(ds.shard(1)) != m["shards"][1]["digest"]
    with pytest.raises(ShardFormatError, match="digest"):
        ds.shard(1, verify=True)
    (bad / "shard-00002.npz").unlink()
    with pytest.raises(ShardFormatError, match="missing"):
        load_shards(bad)


def test_window_caption_comes_from_the_label_segment_in_the_window() -> None:
    labels = [
        LabelSegment("walking", 0.0, 10.0, captions=("Someone walks briskly.", "A person walks quickly.")),
        LabelSegment("standing", 10.0, 20.0, captions=("A person stands still.",)),
        LabelSegment("walking", 20.0, 30.0, captions=("Someone walks slowly.",)),
    ]
    motion = SimpleNamespace(labels=labels, captions=["A person walks briskly, then stands, then walks slowly."])
    rng = np.random.default_rng(0)
    for t0, words in ((2.0, "brisk quick"), (23.0, "slow"), (9.0, "brisk quick")):  # 9-14 s: walking 20 %, standing 80 %
        cover = window_labels(labels, t0, t0 + 5.0)
        cap = window_caption(rng, motion, cover, (t0, t0 + 5.0))
        if cover[0][0] == "walking":
            assert any(w in cap for w in words.split()), cap
        else:
            assert cap == "A person stands still."
    # a window overlapping both walking stretches takes the one it overlaps most
    assert segment_captions(motion, "walking", (8.0, 28.0)) == ["Someone walks slowly."]
    # without per-segment captions (e.g. motion capture): the phrases without parameters
    plain = SimpleNamespace(labels=[LabelSegment("walking", 0.0, 10.0), LabelSegment("standing", 10.0, 20.0)], captions=["x"])
    caps = segment_captions(plain, "walking", (0.0, 5.0))
    assert caps and not any(w in " ".join(caps) for w in ("slow", "brisk", "quick"))
    assert segment_captions(SimpleNamespace(labels=[LabelSegment("walking", 0.0, 10.0)], captions=["Own."]), "walking", (0.0, 5.0)) == ["Own."]


def test_transition_captions_follow_the_window_and_tell_the_two_parts_apart() -> None:
    labels = [
        LabelSegment("walking briskly", 0.0, 10.0, captions=("Someone walks briskly, arms swinging widely.", "A man walks briskly.")),
        LabelSegment("walking slowly", 10.0, 20.0, captions=("The subject walks slowly.",)),
        LabelSegment("walking briskly", 20.0, 30.0, captions=("An individual walks briskly.",)),
    ]
    motion = SimpleNamespace(labels=labels, captions=[])
    rng = np.random.default_rng(0)
    # 17-22 s: slow walking (3 s) comes first in the window, even though brisk walking started the sequence
    cover = window_labels(labels, 17.0, 22.0)
    assert [a for a, _ in cover] == ["walking slowly", "walking briskly"]
    assert window_caption(rng, motion, cover, (17.0, 22.0)) == "A person walks slowly, then walks briskly."
    # 8-13 s: the parameter-free phrases of both are "walks"; the segments' own captions tell them apart
    cover = window_labels(labels, 8.0, 13.0)
    assert window_caption(rng, motion, cover, (8.0, 13.0)) == "A person walks briskly, then walks slowly."


def test_parameter_free_phrases_keep_a_neutral_side() -> None:
    assert phrase_without_params("does lunges with the {side} leg forward") == "does lunges with one leg forward"
    assert phrase_without_params("raises the {side} hand and waves") == "raises one hand and waves"
    assert phrase_without_params("holds a phone to the {side} ear{posture}") == "holds a phone to the ear"


def test_shards_load_as_the_model_input(small) -> None:
    """A shard as `ModelInput`: acc in g and gyro in rad/s (clipped like every source), one slot per
    simulated sensor at its placement id, the activity as the label and the caption among the captions;
    device_rot and the rest stay in the shard's arrays, row for row."""
    from anymo.preprocess.normalise import ACC_CLIP_G
    from anymo.sim.shards import load_model_input

    ds = load_shards(small[0])
    a = ds.shard(0)
    x = ds.model_input(0)
    assert len(x) == a["acc_mps2"].shape[0] and x.n_sensors == 4 and x.rate_hz == 60.0
    np.testing.assert_allclose(x.signals[..., :3], np.clip(a["acc_mps2"] / G, -ACC_CLIP_G, ACC_CLIP_G), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(x.signals[..., 3:], np.clip(a["gyro_rads"], -35, 35).astype(np.float32))
    assert np.array_equal(x.placement_id, a["placement_id"]) and x.sensor_mask.all() and x.has_gyro.all()
    assert x.meta.label == a["activity"].tolist() and [c[0] for c in x.meta.captions] == a["caption"].tolist()
    assert x.meta.recording.tolist() == a["unit_id"].tolist() and not x.gravity_removed.any()
    assert np.array_equal(load_model_input(a).signals, x.signals)
