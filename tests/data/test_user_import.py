from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from anymo.data.loaders import DataFormatError, load_file
from anymo.data.user_import import load_user_folder


def _write(folder: Path, index: str, files: dict[str, str]) -> None:
    (folder / "recordings.csv").write_text(index)
    for name, text in files.items():
        (folder / name).write_text(text)


def test_user_folder_converts_g_and_deg_per_s(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "file,placement,rate_hz,acc_unit,gyro_unit,label,subject\n"
        "a.csv,Left Wrist,50,g,deg/s,brushing teeth,alice\n"
        "b.csv,lower_back,100,mg,,,bob\n",
        {
            "a.csv": "acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z\n0,0,1,180,0,-90\n0,1,0,0,0,0\n",
            "b.csv": "acc_x,acc_y,acc_z\n0,0,1000\n0,0,-500\n1,2,3\n",
        },
    )
    a, b = load_user_folder(tmp_path)
    assert a.placement == "left_wrist" and a.rate_hz == 50.0 and a.subject == "alice"
    assert a.acc_mps2[0].tolist() == pytest.approx([0, 0, 9.80665])
    assert a.gyro_rads[0].tolist() == pytest.approx([np.pi, 0, -np.pi / 2])
    assert a.label_at(0.0) == "brushing teeth"
    assert b.gyro_rads is None and b.labels == [] and b.n_samples == 3
    assert b.acc_mps2[:, 2].tolist() == pytest.approx([9.80665, -4.903325, 0.02941995])
    # load_file on one listed CSV picks its row of recordings.csv; on recordings.csv, the whole folder
    (a2,) = load_file(tmp_path / "a.csv")
    assert np.array_equal(a2.acc_mps2, a.acc_mps2)
    assert len(load_file(tmp_path / "recordings.csv")) == 2


def test_user_errors_name_the_problem(tmp_path: Path) -> None:
    _write(tmp_path, "file,placement,rate_hz,acc_unit\na.csv,elbow,50,g\n", {"a.csv": "acc_x,acc_y,acc_z\n0,0,1\n"})
    with pytest.raises(DataFormatError, match="a.csv: unknown placement 'elbow'; valid placements are: head"):
        load_user_folder(tmp_path)
    _write(tmp_path, "file,placement,rate_hz,acc_unit\na.csv,head,50,furlong\n", {})
    with pytest.raises(DataFormatError, match="unknown accelerometer unit 'furlong'"):
        load_user_folder(tmp_path)
    _write(tmp_path, "file,placement\na.csv,head\n", {})
    with pytest.raises(DataFormatError, match=r"missing column\(s\) \['rate_hz', 'acc_unit'\]"):
        load_user_folder(tmp_path)
    _write(tmp_path, "file,placement,rate_hz,acc_unit\nmissing.csv,head,50,g\n", {})
    with pytest.raises(FileNotFoundError, match="lists 'missing.csv'"):
        load_user_folder(tmp_path)
    loose = tmp_path / "sub"
    loose.mkdir()
    (loose / "c.csv").write_text("acc_x,acc_y,acc_z\n0,0,1\n")
    with pytest.raises(DataFormatError, match="no sampling rate"):
        load_file(loose / "c.csv")
    (loose / "d.csv").write_text("acc_x,acc_y,acc_z,t_s\n0,0,9.8,0.0\n0,0,9.8,0.01\n0,0,9.8,0.02\n")
    (d,) = load_file(loose / "d.csv")
    assert d.rate_hz == pytest.approx(100.0) and d.t_s.tolist() == pytest.approx([0, 0.01, 0.02])
