"""`anymo placements`: the listing, one region, the JSON table, errors."""

from __future__ import annotations

import json

import numpy as np

from anymo.body.cli import main
from anymo.body.named_placements import canonical_placement, placement_ids_for
from anymo.body.placement_names import NAMED_PLACEMENTS
from anymo.body.surface import N_PLACEMENTS


def test_lists_every_named_placement_with_segment_and_count(capsys) -> None:
    assert main([], prog="anymo placements") == 0
    out = capsys.readouterr().out
    assert f"{N_PLACEMENTS} candidate placements" in out
    for name in NAMED_PLACEMENTS:
        line = next(ln for ln in out.splitlines() if ln.startswith(name + " "))
        assert f" {len(placement_ids_for(name))} " in line and str(canonical_placement(name)) in line
    assert "LeftForeArm" in out and "RightUpperLeg" in out


def test_name_shows_its_region(capsys) -> None:
    assert main(["--name", "left_wrist"], prog="anymo placements") == 0
    out = capsys.readouterr().out
    assert "LeftForeArm" in out and "dorsal" in out
    assert f"canonical id {canonical_placement('left_wrist')}" in out


def test_unknown_name_is_an_error_listing_the_valid_ones(capsys) -> None:
    assert main(["--name", "left_elbow"], prog="anymo placements") == 2
    err = capsys.readouterr().err
    assert all(n in err for n in NAMED_PLACEMENTS)


def test_json_writes_the_full_table(tmp_path, capsys) -> None:
    path = tmp_path / "out" / "placements.json"
    assert main(["--json", str(path), "--height-m", "1.6", "--sex", "female"], prog="anymo placements") == 0
    doc = json.loads(path.read_text())
    assert doc["n_placements"] == len(doc["placements"]) == N_PLACEMENTS
    assert doc["body_shape"] == {"height_m": 1.6, "sex": "female", "build": 1.0}
    frames = np.array([p["frame"] for p in doc["placements"]])
    np.testing.assert_allclose(np.linalg.det(frames), 1.0, atol=1e-7)
    row = doc["placements"][canonical_placement("left_wrist")]
    assert row["segment"] == "LeftForeArm" and row["frame"][1][2] > 0.5  # normal (column 2) points +y
    assert set(doc["named"]) == set(NAMED_PLACEMENTS)
