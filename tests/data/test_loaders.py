"""Loaders on the real files: sample counts, rates, units, placements and labels."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from anymo.body.placement_names import NAMED_PLACEMENTS
from anymo.data.datasets import DATASETS, DatasetNotFoundError, load_dataset
from anymo.data.loaders import DataFormatError, load_file, sniff_format

pytestmark = pytest.mark.needs_data
G = 9.80665


def _median_norm(acc: np.ndarray) -> float:
    return float(np.median(np.linalg.norm(acc, axis=1)))


def test_xsens_thigh_reads_mps2_rads_at_120_hz(need, data_dir) -> None:
    path = need("xsens_walking/walking_xsens_upperLeg.txt")
    (rec,) = load_file(path)
    n_rows = sum(1 for ln in path.read_text().splitlines()[5:] if ln.strip())
    assert rec.n_samples == n_rows == 3511
    assert rec.rate_hz == 120.0 and rec.t_s is None  # counter steps by 1 throughout
    assert rec.acc_mps2[0].tolist() == pytest.approx([-9.617241, -1.890491, -0.826315])
    assert rec.gyro_rads[0].tolist() == pytest.approx([-0.014048, 0.009609, -0.002849])
    assert np.linalg.norm(rec.acc_mps2[:60], axis=1).mean() == pytest.approx(G, abs=0.25)  # standing still first
    assert rec.mag_uT is None  # Xsens a.u., not µT: not loaded
    assert rec.placement == "right_thigh" and [s.activity for s in rec.labels] == ["walking"]
    assert rec.duration_s == pytest.approx(3510 / 120)


def test_hmp_codes_become_mps2_with_label_and_volunteer(need, data_dir) -> None:
    path = need("hmp_adl/Walk/Accelerometer-2011-03-24-09-51-07-walk-f1.txt")
    (rec,) = load_file(path)
    assert rec.n_samples == 1170 and rec.rate_hz == 32.0
    assert rec.acc_mps2[0].tolist() == pytest.approx([(-1.5 + 3 * c / 63) * G for c in (32, 47, 40)])
    assert rec.subject == "f1" and rec.placement == "right_wrist"
    assert rec.label_at(10.0) == "walking"


def test_hmp_dataset_counts_labels_and_subjects(need, data_dir) -> None:
    need("hmp_adl")
    recs = load_dataset("hmp_adl", data_dir)
    assert len(recs) == 839
    per_label = Counter(r.labels[0].activity for r in recs)
    assert per_label["brushing teeth"] == 12 and per_label["climbing stairs"] == 102 and per_label["eating soup"] == 3
    assert len(per_label) == 14
    assert set(per_label) == set(DATASETS["hmp_adl"].labels)
    assert len({r.subject for r in recs}) == 16 and sum(r.subject == "f1" for r in recs) == 347
    # coarse 6-bit codes and no per-device calibration: the median |a| is within ~10 % of 1 g
    assert _median_norm(np.concatenate([r.acc_mps2 for r in recs])) == pytest.approx(G, rel=0.1)


def test_watch_exercises_g_to_mps2_and_sides(need, data_dir) -> None:
    need("watch_exercises/watch_exercises.npz")
    recs = load_dataset("watch_exercises", data_dir)
    assert len(recs) == 140 and sum(r.n_samples for r in recs) == 244102
    assert all(r.rate_hz == 50.0 and r.gyro_rads is not None for r in recs)
    assert Counter(r.placement for r in recs) == {"left_wrist": 70, "right_wrist": 70}
    assert Counter(r.labels[0].activity for r in recs)["shoulder abduction"] == 20
    assert len({r.subject for r in recs}) == 10
    raw = np.load(data_dir / "watch_exercises/watch_exercises.npz")["samples"][0, :3]
    assert recs[0].acc_mps2[0].tolist() == pytest.approx((raw.astype(float) * G).tolist())
    assert _median_norm(np.concatenate([r.acc_mps2 for r in recs])) == pytest.approx(G, rel=0.15)


def test_daphnet_gives_three_placements_in_mps2(need, data_dir) -> None:
    path = need("daphnet_excerpt/S06R02E0.csv")
    recs = load_file(path)
    assert [r.placement for r in recs] == ["right_ankle", "right_thigh", "lower_back"]
    assert all(r.n_samples == 7040 and r.rate_hz == 64.0 and r.t_s is None for r in recs)
    trunk = recs[2]
    assert trunk.acc_mps2[0].tolist() == pytest.approx([330 * G / 1000, 942 * G / 1000, -145 * G / 1000])
    assert _median_norm(trunk.acc_mps2) == pytest.approx(G, abs=0.3)
    assert trunk.subject == "S06" and trunk.label_at(50.0) == "walking"


def test_geneactiv_lower_back_keeps_its_real_gap(need, data_dir) -> None:
    path = need("gaitpy_lowerback/demo_data.csv")
    (rec,) = load_file(path)
    assert rec.n_samples == 8400 and rec.rate_hz == 50.0 and rec.placement == "lower_back"
    gaps = np.diff(rec.t_s)
    assert np.sum(gaps > 0.03) == 1 and gaps.max() == pytest.approx(0.52, abs=1e-6)  # one 0.5 s hole
    assert rec.acc_mps2[0].tolist() == pytest.approx([-0.4264 * G, 0.7279 * G, 0.5089 * G])
    assert _median_norm(rec.acc_mps2) == pytest.approx(G, abs=0.3)


def test_sit2stand_unix_microseconds_128_hz_unlabelled(need, data_dir) -> None:
    path = need("sit2stand_lumbar/sample.csv")
    (rec,) = load_file(path)
    assert rec.n_samples == 11650 and rec.rate_hz == 128.0 and rec.t_s is None
    assert rec.labels == []  # transitions in the source are algorithmic: not turned into labels
    assert _median_norm(rec.acc_mps2[:128]) == pytest.approx(G, abs=0.2)


def test_basicmotions_is_flagged_gravity_removed(need, data_dir) -> None:
    need("basicmotions")
    recs = load_dataset("basicmotions", data_dir)
    assert len(recs) == 80 and all(r.n_samples == 100 and r.rate_hz == 10.0 for r in recs)
    assert all(r.gravity_removed for r in recs)
    assert Counter(r.labels[0].activity for r in recs) == {
        "standing": 20, "walking": 20, "running": 20, "playing badminton": 20
    }
    standing = np.concatenate([r.acc_mps2 for r in recs if r.labels[0].activity == "standing"])
    assert _median_norm(standing) < 1.0  # standing still reads ~0, not 1 g: gravity is not in it


def test_every_dataset_loads_with_named_placements(need, data_dir) -> None:
    need("")
    for name in DATASETS:
        recs = load_dataset(name, data_dir)
        assert recs, name
        assert all(r.placement in NAMED_PLACEMENTS for r in recs), name
        assert all(r.dataset == name for r in recs)


@pytest.mark.parametrize(
    ("rel", "fmt"),
    [
        ("basicmotions/BasicMotions_TEST.ts", "uea_ts"),
        ("watch_exercises/watch_exercises.npz", "watch_npz"),
        ("hmp_adl/Walk/Accelerometer-2011-03-24-09-51-07-walk-f1.txt", "hmp_txt"),
        ("daphnet_excerpt/S06R02E0.csv", "daphnet_csv"),
        ("xsens_walking/walking_xsens_lowerLeg.txt", "xsens_txt"),
        ("gaitpy_lowerback/demo_data.csv", "geneactiv_csv"),
        ("sit2stand_lumbar/sample.csv", "unix_acc_csv"),
    ],
)
def test_sniffing_recognises_each_format(rel: str, fmt: str, need, data_dir) -> None:
    assert sniff_format(need(rel)) == fmt


def test_corrupt_files_are_named(tmp_path: Path, need, data_dir) -> None:
    src = need("xsens_walking/walking_xsens_upperLeg.txt")
    lines = src.read_text().splitlines()
    bad = tmp_path / "walking_xsens_upperLeg.txt"
    bad.write_text("\n".join(lines[:10] + ["37340\tnot-a-number\t1\t2"] + lines[11:20]))
    with pytest.raises(DataFormatError, match=r"walking_xsens_upperLeg\.txt: line 11 is not numeric"):
        load_file(bad)
    hmp = tmp_path / "Walk" / "Accelerometer-x-walk-m1.txt"
    hmp.parent.mkdir()
    hmp.write_text("1 2 3\n4 99 6\n")
    with pytest.raises(DataFormatError, match=r"Accelerometer-x-walk-m1\.txt: .*0\.\.63"):
        load_file(hmp)
    junk = tmp_path / "x.csv"
    junk.write_text("hello,world\n")
    with pytest.raises(DataFormatError, match=r"x\.csv: unrecognised file format"):
        load_file(junk)


def test_missing_dataset_says_where_to_get_it(tmp_path: Path, need, data_dir) -> None:
    with pytest.raises(DatasetNotFoundError, match=r"'hmp_adl' not found.*Get it from: UCI"):
        load_dataset("hmp_adl", tmp_path)
    with pytest.raises(KeyError, match="known datasets: basicmotions"):
        load_dataset("nope", tmp_path)


def test_corrupt_file_inside_a_dataset_is_named(tmp_path: Path, need, data_dir) -> None:
    need("sit2stand_lumbar/sample.csv")
    (tmp_path / "sit2stand_lumbar").mkdir()
    shutil.copy(data_dir / "sit2stand_lumbar/sample.csv", tmp_path / "sit2stand_lumbar/sample.csv")
    assert len(load_dataset("sit2stand_lumbar", tmp_path)) == 1
    p = tmp_path / "sit2stand_lumbar/sample.csv"
    p.write_text(p.read_text().replace("\n", "\n1,2\n", 1))
    with pytest.raises(DataFormatError, match="sample.csv"):
        load_dataset("sit2stand_lumbar", tmp_path)
