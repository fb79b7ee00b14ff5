"""The motion capture source: index, subject split, labels and captions, mirroring, loading summary,
clip sequences, and `anymo simulate --sources ...,mocap`."""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from anymo.body.skeleton import SEGMENT_INDEX as I
from anymo.body.skeleton import BodyShape
from anymo.motion.mocap import (
    HELDOUT_SUBJECTS,
    MocapSource,
    mirror_motion,
    mirror_text,
    mocap_activity,
    mocap_captions,
    mocap_split,
    read_mocap_index,
)

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("ANYMO_DATA", REPO.parent / "shared" / "data"))
MOCAP = DATA / "mocap"


def _need_data() -> None:
    if not (MOCAP / "index.csv").is_file():
        pytest.skip(f"real data absent: {MOCAP}/index.csv (set ANYMO_DATA to the shared data folder)")


# ---- words (no data needed) ---------------------------------------------------------------------


def test_captions_are_sentences_that_tell_every_part_of_the_description_in_order() -> None:
    caps = mocap_captions("walk, veer left")
    assert caps[0] == "A person walks and veers left." and len(set(caps)) >= 3
    assert all(re.fullmatch(r"[A-Z][^/]*\.", c) and " - " not in c for c in caps)
    # a clip doing several things is captioned as a whole, each part in the order given
    for cap in mocap_captions("jumping jacks, jog, squats, side twists, stretches"):
        low = cap.lower()
        first = low.find("jumping jacks") if "jumping jacks" in low else low.find("star jumps")
        pos = [first] + [low.find(w) for w in ("jog", "squat", "twist", "stretch")]
        assert min(pos) >= 0 and pos == sorted(pos), cap
    assert "on a playground" in mocap_captions("playground - climb, pull up, dangle, sit, lower self to ground")[0]
    assert mocap_captions("dance - small jetes, pirouette")[0] == "A person dances with small jetes and a pirouette."


def test_activity_labels_are_short_plain_words() -> None:
    assert mocap_activity("walk, 90-degree right turn") == "walking"
    assert mocap_activity("run/jog, sudden stop") == "jogging"
    assert mocap_activity("basketball - forward dribble") == "dribbling a basketball"
    assert mocap_activity("dance - sideways arabesque, turn step, folding arms") == "dancing"
    assert mocap_activity("one squat") == "squatting"
    assert mocap_activity("jumping jacks, side twists, squats, jog") == "exercise routine"


def test_mirrored_words_swap_sides_and_turning_direction_only() -> None:
    assert mirror_text("A person walks and veers left.") == "A person walks and veers right."
    assert mirror_text("Left elbow first, then the right knee; clockwise") == "Right elbow first, then the left knee; counterclockwise"
    assert mirror_text("makes a right-angle turn to the right") == "makes a right-angle turn to the left"
    assert mirror_text(mirror_text("jogs along a left-turning circle")) == "jogs along a left-turning circle"


# ---- the shared clips ---------------------------------------------------------------------------


@pytest.mark.needs_data
def test_split_is_by_subject_and_every_heldout_activity_is_also_trained() -> None:
    _need_data()
    clips = read_mocap_index(DATA)
    assert len(clips) == 466
    by_split: dict[str, set[str]] = {"train": set(), "heldout": set()}
    acts: dict[str, set[str]] = {"train": set(), "heldout": set()}
    for c in clips:
        by_split[mocap_split(c)].add(c.subject)
        acts[mocap_split(c)].add(c.activity)
    assert not (by_split["train"] & by_split["heldout"]) and by_split["heldout"] == set(HELDOUT_SUBJECTS)
    frac = sum(mocap_split(c) == "heldout" for c in clips) / len(clips)
    assert 0.1 <= frac <= 0.3
    assert acts["heldout"] <= acts["train"], acts["heldout"] - acts["train"]
    # every distinct description gets captions
    for text in {c.text for c in clips}:
        caps = mocap_captions(text)
        assert len(caps) >= 2 and all(c.endswith(".") for c in caps), text


def _subset_folder(tmp_path: Path, ids: list[str], extra_rows: list[dict]) -> Path:
    root = tmp_path / "data"
    (root / "mocap").mkdir(parents=True)
    for sub in ("cmu", "hdm05"):
        (root / "mocap" / sub).symlink_to(MOCAP / sub)
    with (MOCAP / "index.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["id"] in ids]
    fields = list(rows[0])
    with (root / "mocap" / "index.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fields)
        w.writeheader()
        w.writerows(rows + [{**rows[0], **e} for e in extra_rows])
    return root


@pytest.mark.needs_data
def test_loading_summary_counts_every_clip_loaded_or_skipped_with_its_reason(tmp_path: Path) -> None:
    _need_data()
    ids = ["cmu_02_01", "cmu_12_01", "cmu_16_15", "hdm05_bd_squat1Reps_001", "hdm05_bk_hopBothLegs1hops_020"]
    (tmp_path / "broken.bvh").write_text("HIERARCHY\nROOT Hips\n{\n")
    root = _subset_folder(tmp_path, ids, [
        {"id": "cmu_99_01", "file": "cmu/bvh/cmu_99_01.bvh", "format": "bvh"},
        {"id": "cmu_98_01", "file": str(tmp_path / "broken.bvh"), "format": "bvh"},
    ])  # fmt: skip
    src = MocapSource(root, split="all")
    s = src.summary()
    assert s["clips"] == 7 and s["loaded"] + s["skipped"] == 7
    assert s["loaded"] == 4 and s["loaded_by_kind"] == {"CMU amc": 1, "CMU bvh": 2, "HDM05 amc": 1}
    assert "file missing" in s["skipped_clips"]["cmu_99_01"]
    assert "no MOTION section" in s["skipped_clips"]["cmu_98_01"]
    assert "too short" in s["skipped_clips"]["hdm05_bk_hopBothLegs1hops_020"]
    assert sum(s["skipped_by_reason"].values()) == 3 and s["hours"] > 0


@pytest.mark.needs_data
def test_a_mirrored_clip_is_the_mirror_image_and_its_caption_says_so() -> None:
    _need_data()
    src = MocapSource(DATA, split="all")
    clip = next(c for c in src.clips if c.id == "cmu_16_11")  # "walk, veer left"
    m = src.clip_motion(clip, BodyShape(height_m=1.7), 60.0)
    mm = src.clip_motion(clip, BodyShape(height_m=1.7), 60.0, mirror=True)
    # positions: reflected across the sagittal plane, left and right swapped
    flip = np.array([1.0, -1.0, 1.0])
    np.testing.assert_allclose(mm.pos_m[:, I["LeftHand"]], m.pos_m[:, I["RightHand"]] * flip, atol=1e-6)
    np.testing.assert_allclose(mm.pos_m[:, I["RightFoot"]], m.pos_m[:, I["LeftFoot"]] * flip, atol=1e-6)
    # the walk veers left (heading grows); the mirror veers right, and its captions say right
    def heading_change(motion) -> float:
        p = motion.pos_m[:, 0, :2]
        d1, d2 = p[len(p) // 2] - p[0], p[-1] - p[len(p) // 2]
        return float(np.angle(np.exp(1j * (np.arctan2(d2[1], d2[0]) - np.arctan2(d1[1], d1[0])))))

    assert heading_change(m) > 0.1 and heading_change(mm) < -0.1
    assert all("left" in c for c in m.captions) and all("right" in c and "left" not in c for c in mm.captions)
    assert m.labels[0].captions == tuple(m.captions) and mm.labels[0].captions == tuple(mm.captions)
    # mirror_motion of a motion is the same mirror image; twice is the original
    again = mirror_motion(m)
    np.testing.assert_allclose(again.pos_m, mm.pos_m, atol=1e-6)
    np.testing.assert_allclose(mirror_motion(again).pos_m, m.pos_m, atol=1e-6)


@pytest.mark.needs_data
def test_a_sequence_of_clips_covers_the_duration_with_labels_of_its_clips() -> None:
    _need_data()
    src = MocapSource(DATA, split="heldout", mirror_prob=0.5)
    shape = BodyShape(height_m=1.6, sex="female")
    m = src.motion(np.random.default_rng(5), 30.0, shape, 60.0)
    assert m.duration_s == pytest.approx(30.0) and m.skeleton.shape == shape and m.source.startswith("mocap:")
    assert m.labels[0].start_s == 0.0 and m.labels[-1].end_s == pytest.approx(30.0)
    assert all(a.end_s == pytest.approx(b.start_s) for a, b in zip(m.labels[:-1], m.labels[1:]))
    ids = m.source.removeprefix("mocap:").split("+")
    assert len(ids) >= len(m.labels) >= 2
    by_id = {c.id: c for c in src.clips}
    for seg, ident in zip(m.labels, ids):
        clip = by_id[ident.split("~")[0]]
        assert mocap_split(clip) == "heldout"
        caps = mocap_captions(clip.text, "female")  # the body is a woman's: one phrasing says so
        want = [mirror_text(c) for c in caps] if ident.endswith("~mirrored") else caps
        assert list(seg.captions) == want and want[-1].startswith("A woman ")
    # the body is on its feet and the clips join without jumps: no segment over 30 m/s between frames
    v = np.linalg.norm(np.diff(m.pos_m, axis=0), axis=-1) * m.rate_hz
    assert v.max() < 30.0
    # the same generator seed gives the same motion
    again = src.motion(np.random.default_rng(5), 30.0, shape, 60.0)
    assert again.source == m.source and np.array_equal(again.pos_m, m.pos_m)


@pytest.mark.needs_data
def test_anymo_simulate_writes_mocap_windows_with_their_captions(tmp_path: Path) -> None:
    _need_data()
    from anymo.sim.cli import main
    from anymo.sim.shards import MANIFEST_NAME

    out = tmp_path / "sim"
    rc = main(["--hours", "0.02", "--out", str(out), "--sources", "procedural,mocap", "--source-shares", "1,3",
               "--data", str(DATA), "--workers", "1", "--unit-s", "10", "--seed", "4", "-q"])  # fmt: skip
    assert rc == 0
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert manifest["sources"]["mocap"]["split"] == "train"
    per = manifest["counts"]["per_source"]
    assert per.get("mocap", 0) > 0 and per.get("procedural", 0) > 0
    known = {
        x for c in read_mocap_index(DATA) for sex in ("neutral", "female", "male")
        for cap in mocap_captions(c.text, sex) for x in (cap, mirror_text(cap))
    }
    n = 0
    for shard in sorted(out.glob("shard-*.npz")):
        d = np.load(shard)
        for src, cap in zip(d["source"], d["caption"]):
            if src != "mocap":
                continue
            n += 1
            # a clip's own caption, or "A person <one clip>, then <the next>." at a change of clip
            assert cap in known or cap.startswith("A person ") and ", then " in cap, cap
    assert n == per["mocap"]


@pytest.mark.needs_data
def test_foot_strikes_follow_the_steps_and_add_heel_strike_shocks_at_the_shank() -> None:
    _need_data()
    from scipy.signal import welch

    from anymo.body.named_placements import canonical_placement
    from anymo.motion.mocap import foot_strikes
    from anymo.sim.simulate import SimConfig, simulate_imu

    src = MocapSource(DATA, split="all")
    by_id = {c.id: c for c in src.clips}
    walk = src.clip_motion(by_id["cmu_16_15"], BodyShape(height_m=1.75), 240.0)
    t, side, v = foot_strikes(walk)
    # a walk: right and left alternate, one step every 0.5-0.75 s (80-120 steps/min), at walking speed
    assert len(t) >= 5 and np.all(side[1:] != side[:-1]) and np.all(side < 2)
    assert np.all((np.diff(t) > 0.5) & (np.diff(t) < 0.75)) and np.all((v > 0.8) & (v < 1.8))
    # no strikes while standing still: a squat; a two-footed landing for a hop
    assert foot_strikes(src.clip_motion(by_id["hdm05_bd_squat1Reps_001"], BodyShape(), 120.0))[0].size == 0
    assert list(foot_strikes(src.clip_motion(by_id["hdm05_bd_hopBothLegs1hops_002"], BodyShape(), 120.0))[1]) == [2]
    # the shocks: 8-20 Hz power at the shank rises well above the smooth (low-passed) mocap's
    shocked = src.clip_motion(by_id["cmu_16_15"], BodyShape(height_m=1.75), 240.0, rng=np.random.default_rng(0))
    ids = np.array([canonical_placement("right_shank")])

    def band_8_20(m) -> float:
        a = np.linalg.norm(simulate_imu(m, ids, SimConfig(rate_hz=120.0), np.random.default_rng(1)).acc_mps2[0], axis=1)
        f, pw = welch(a - a.mean(), fs=120.0, nperseg=256)
        return float(pw[(f >= 8) & (f < 20)].sum() / pw[f < 20].sum())

    assert band_8_20(shocked) > 3 * band_8_20(walk) and band_8_20(shocked) > 0.05


@pytest.mark.needs_data
def test_cleaned_clips_are_kept_on_disk_and_recomputed_when_the_file_changes(tmp_path: Path, monkeypatch) -> None:
    _need_data()
    import shutil

    from anymo.motion.mocap import disk_cache_dir

    monkeypatch.setenv("ANYMO_CACHE", str(tmp_path / "cache"))
    root = _subset_folder(tmp_path, ["cmu_02_01"], [])
    (root / "mocap" / "cmu").unlink()
    (root / "mocap" / "cmu" / "bvh").mkdir(parents=True)
    shutil.copy(MOCAP / "cmu" / "bvh" / "cmu_02_01.bvh", root / "mocap" / "cmu" / "bvh" / "cmu_02_01.bvh")
    first = MocapSource(root, split="all")
    m1 = first.clip_motion(first.clips[0], BodyShape(), 60.0)
    files = list(disk_cache_dir().glob("cmu_02_01-*.npz"))
    assert len(files) == 1
    second = MocapSource(root, split="all")  # a new process would start like this: read from disk
    m2 = second.clip_motion(second.clips[0], BodyShape(), 60.0)
    np.testing.assert_allclose(m2.pos_m, m1.pos_m, atol=1e-5)
    # an edited file gets a new key: a second cache entry, the motion recomputed from the new file
    p = root / "mocap" / "cmu" / "bvh" / "cmu_02_01.bvh"
    text = p.read_text().splitlines()
    p.write_text("\n".join(text[:-40]).replace(f"Frames: {len(text) - text.index('MOTION') - 3}", f"Frames: {len(text) - text.index('MOTION') - 43}") + "\n")
    third = MocapSource(root, split="all")
    m3 = third.clip_motion(third.clips[0], BodyShape(), 60.0)
    assert len(list(disk_cache_dir().glob("cmu_02_01-*.npz"))) == 2 and m3.n_frames < m1.n_frames
    monkeypatch.setenv("ANYMO_CACHE", "")
    assert disk_cache_dir() is None


def test_anymo_simulate_without_the_mocap_folder_says_how_to_give_it(tmp_path: Path, capsys) -> None:
    from anymo.sim.cli import main

    rc = main(["--hours", "0.01", "--out", str(tmp_path / "out"), "--sources", "procedural,mocap", "--data", str(tmp_path / "none"), "--seed", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and "mocap: no motion capture index" in err and "--source-dir mocap=DIR" in err
    assert not (tmp_path / "out").exists()
