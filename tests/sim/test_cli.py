"""`anymo simulate`: a tiny run end to end, and clear errors for bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from anymo.sim.cli import main
from anymo.sim.shards import load_shards

PROG = "anymo simulate"


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args, PROG)
    out, err = capsys.readouterr()
    return code, out, err


def test_tiny_run_writes_a_readable_dataset(tmp_path, capsys) -> None:
    out = tmp_path / "ds"
    code, stdout, err = _run(["--out", str(out), "--hours", "0.005", "--seed", "3", "-k", "3", "--workers", "1", "--no-mocap"], capsys)
    assert code == 0, err
    assert "wrote 4 windows x 3 sensors x 300 samples" in stdout
    ds = load_shards(out)
    assert len(ds) == 4  # 0.005 h = 18 s -> 3.6 -> 4 windows of 5 s
    m = ds.manifest
    assert m["args"]["sensors_per_window"] == 3 and m["seed"] == 3 and m["command"].startswith(PROG)
    assert m["sources"] == {"procedural": {"share": 1.0}} and m["counts"]["per_source"] == {"procedural": 4}
    a = ds.shard(0, verify=True)
    assert a["acc_mps2"].shape == (4, 3, 300, 3)
    assert np.all(a["device_rate_hz"] > 0)
    # each window says the rate its device streamed at: the preset's supported rate nearest 60 Hz, as in the manifest
    for device, rate in zip(a["device"].tolist(), a["device_rate_hz"].tolist()):
        assert rate == pytest.approx(m["devices"][device]["stream_rate_hz"]) and rate in m["devices"][device]["supported_rates_hz"]


def test_rate_and_window_options_change_the_sample_count(tmp_path, capsys) -> None:
    out = tmp_path / "ds"
    args = ["--out", str(out), "--hours", "0.002", "--seed", "1", "-k", "2", "--rate-hz", "100", "--window-s", "2"]
    code, _, err = _run([*args, "--workers", "1", "--no-mocap", "-q", "--device", "ideal"], capsys)
    assert code == 0, err
    a = load_shards(out).shard(0)
    assert a["acc_mps2"].shape[1:] == (2, 200, 3) and float(a["rate_hz"]) == 100.0
    assert np.all(a["device_rate_hz"] == 100.0) and set(a["device"].tolist()) == {"ideal"}


@pytest.mark.needs_data
def test_mocap_clips_are_mixed_in_when_asked(tmp_path, capsys, need) -> None:
    clips = need("deepmimic_motions")
    out = tmp_path / "ds"
    args = ["--out", str(out), "--hours", "0.003", "--seed", "2", "-k", "2", "--mocap", str(clips), "--mocap-fraction", "1"]
    code, _, err = _run([*args, "--workers", "1", "-q"], capsys)
    assert code == 0, err
    m = json.loads((out / "manifest.json").read_text())
    clips = m["sources"]["deepmimic"]["clips"]
    assert "humanoid3d_walk.txt" in clips and "humanoid3d_kick.txt" not in clips  # kick does not loop
    assert all(k.startswith("deepmimic:") for k in m["counts"]["per_source"])


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--hours", "-1"], "hours must be a positive"),
        (["--hours", "1", "--rate-hz", "0"], "rate_hz must be a sampling rate"),
        (["--hours", "1", "--rate-hz", "-60"], "rate_hz must be a sampling rate"),
        (["--hours", "1", "--rate-hz", "1e6"], "rate_hz must be a sampling rate"),
        (["--hours", "1", "--sensors-per-window", "2401"], "between 1 and the number of placements (2400)"),
        (["--hours", "1", "--device", "fitbit-xyz"], "fitbit-xyz"),
        (["--hours", "1", "--workers", "0"], "--workers must be at least 1"),
        (["--hours", "1", "--mocap", "/no/such/folder"], "no folder of DeepMimic clips at /no/such/folder"),
        (["--hours", "1", "--sources", "procedural,nope"], "unknown motion source(s) ['nope']"),
        (["--hours", "1", "--sources", "procedural", "--source-shares", "x"], "--source-shares takes numbers"),
        (["--hours", "1", "--source-dir", "deepmimic"], "--source-dir takes NAME=DIR"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, capsys, extra, words) -> None:
    code, _, err = _run(["--out", str(tmp_path / "ds"), "--seed", "0", *extra], capsys)
    assert code == 2
    assert words in err and err.startswith(f"{PROG}: error:")
    assert not (tmp_path / "ds").exists()  # nothing created for a bad request


def test_unwritable_out_dir_is_a_clear_error(tmp_path, capsys) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    code, _, err = _run(["--out", str(blocker / "ds"), "--hours", "0.001", "--seed", "0"], capsys)
    assert code == 2 and "--out: cannot create" in err and "writable" in err
    code, _, err = _run(["--out", str(blocker), "--hours", "0.001", "--seed", "0"], capsys)
    assert code == 2 and "not a folder" in err


def test_existing_non_empty_out_dir_needs_overwrite(tmp_path, capsys) -> None:
    out = tmp_path / "ds"
    base = ["--out", str(out), "--hours", "0.002", "--seed", "0", "-k", "2", "--workers", "1", "--no-mocap", "-q"]
    assert _run(base, capsys)[0] == 0
    first = load_shards(out).manifest["shards"][0]["digest"]
    code, _, err = _run(base, capsys)
    assert code == 2 and "not empty" in err and "--overwrite" in err
    code, _, err = _run([*base[:5], "1", *base[6:], "--overwrite"], capsys)  # seed 1 replaces it
    assert code == 0, err
    assert load_shards(out).manifest["seed"] == 1 and load_shards(out).manifest["shards"][0]["digest"] != first
    (out / "notes.txt").write_text("mine")
    code, _, err = _run([*base, "--overwrite"], capsys)
    assert code == 2 and "notes.txt" in err  # --overwrite never deletes files that are not ours


def test_anymo_cli_dispatches_to_simulate(tmp_path, capsys) -> None:
    from edge.cli import main as anymo

    code = anymo(["simulate", "--out", str(tmp_path / "ds"), "--hours", "-2", "--seed", "0"])
    assert code == 2 and "hours must be a positive" in capsys.readouterr().err
