"""`anymo caption RECORDING`: a file, a folder of files, or a dataset sample."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from anymo.data.datasets import dataset_files
from anymo.data.loaders import load_file
from edge.caption_cli import load_recordings


@pytest.mark.needs_data
def test_a_folder_gives_every_recording_of_its_files(tmp_path: Path) -> None:
    files = sorted(f for f in dataset_files("hmp_adl") if "Brush_teeth" in str(f))[:3]
    if len(files) < 3:
        pytest.skip("real data absent: hmp_adl (set ANYMO_DATA to the shared data folder)")
    for f in files:
        shutil.copy(f, tmp_path / Path(f).name)
    (tmp_path / ".hidden.txt").write_text("not a recording")
    recs, name = load_recordings(str(tmp_path))
    singles = [r for f in files for r in load_file(f)]
    assert name == str(tmp_path) and len(recs) == len(singles) == 3
    assert [len(r.acc_mps2) for r in recs] == [len(r.acc_mps2) for r in singles]


def test_an_empty_folder_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "index.csv").write_text("file,placement\n")
    with pytest.raises(FileNotFoundError, match="holds no recording files"):
        load_recordings(str(tmp_path))
