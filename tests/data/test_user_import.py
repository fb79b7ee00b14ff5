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


def _walk_rows(n: int = 200, acc_scale: float = 1.0, gyro_scale: float = 1.0) -> str:
    """A wrist-like recording in g (|a| about 1) and deg/s (up to ~120), scaled to other units."""
    t = np.arange(n) / 50.0
    acc = np.stack([0.3 * np.sin(2 * np.pi * t), 0.1 * np.cos(2 * np.pi * t), 1.0 + 0.2 * np.sin(4 * np.pi * t)], 1)
    gyro = np.stack([120 * np.sin(2 * np.pi * t), 60 * np.cos(2 * np.pi * t), 10 * t], 1)
    rows = np.hstack([acc * acc_scale, gyro * gyro_scale])
    return "acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z\n" + "\n".join(",".join(f"{v:.6g}" for v in r) for r in rows) + "\n"


def test_user_units_that_contradict_the_data_are_refused(tmp_path: Path) -> None:
    head = "file,placement,rate_hz,acc_unit,gyro_unit\n"
    _write(tmp_path, head + "a.csv,left_wrist,50,g,deg/s\n", {"a.csv": _walk_rows()})
    (a,) = load_user_folder(tmp_path)  # consistent: |a| about 9.8 m/s², |w| up to ~2.3 rad/s
    assert np.median(np.linalg.norm(a.acc_mps2, axis=1)) == pytest.approx(9.8, abs=0.5)
    # data in g declared as m/s² (|a| ~ 1 "m/s²" is no worn IMU): the error names the likely unit
    _write(tmp_path, head + "a.csv,left_wrist,50,m/s2,deg/s\n", {})
    with pytest.raises(DataFormatError, match=r"a.csv: .*median \|acc\| is 1\.\d+ m/s².*look like 'g'"):
        load_user_folder(tmp_path)
    # data in m/s² declared as g, and in mg declared as g
    _write(tmp_path, head + "a.csv,left_wrist,50,g,deg/s\n", {"a.csv": _walk_rows(acc_scale=9.80665)})
    with pytest.raises(DataFormatError, match="look like 'm/s2'"):
        load_user_folder(tmp_path)
    _write(tmp_path, head + "a.csv,left_wrist,50,g,deg/s\n", {"a.csv": _walk_rows(acc_scale=1000.0)})
    with pytest.raises(DataFormatError, match="look like 'mg'"):
        load_user_folder(tmp_path)
    # deg/s declared as rad/s: 120 "rad/s" is beyond any wearable gyroscope's range
    _write(tmp_path, head + "a.csv,left_wrist,50,g,rad/s\n", {"a.csv": _walk_rows()})
    with pytest.raises(DataFormatError, match=r"a.csv: .*gyroscope.*look like 'deg/s'"):
        load_user_folder(tmp_path)


def test_user_gyro_nans_and_bad_rates_are_refused_by_name(tmp_path: Path) -> None:
    head = "file,placement,rate_hz,acc_unit,gyro_unit\n"
    rows = _walk_rows().splitlines()
    rows[10] = "0,0,1,nan,0,0"
    _write(tmp_path, head + "a.csv,left_wrist,50,g,deg/s\n", {"a.csv": "\n".join(rows) + "\n"})
    with pytest.raises(DataFormatError, match="a.csv: line 11: gyroscope is NaN/inf"):
        load_user_folder(tmp_path)
    _write(tmp_path, head + "a.csv,left_wrist,fifty,g,deg/s\n", {"a.csv": _walk_rows()})
    with pytest.raises(DataFormatError, match=r"a.csv: rate_hz 'fifty' is not a number"):
        load_user_folder(tmp_path)


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda rows: rows[:-1] + [rows[-1][: len(rows[-1]) // 2]], r"line 201 has \d values, the header has 6 .*truncated"),
        (lambda rows: rows[:50] + ["0,0,1,2,3"] + rows[51:], r"line 51 has 5 values, the header has 6 .*fix or delete"),
        (lambda rows: rows[:50] + ["0,0,1,2,3,4,5"] + rows[51:], r"line 51 has 7 values"),
        (lambda rows: rows[:30] + [",,,,,"] + rows[31:], r"line 31 is empty; without a t_s column"),
        (lambda rows: rows[:30] + [""] + rows[31:], r"line 31 is empty"),
        (lambda rows: rows[:30] + ["0,0,1,x,0,0"] + rows[31:], r"line 31: 'x' is not a number"),
        (lambda rows: [r.replace(",", ";") for r in rows], r"the values are separated by semicolons"),
    ],
)
def test_user_csv_rows_that_do_not_fit_are_named_by_line(tmp_path: Path, edit, words) -> None:
    """Short, long, empty, non-numeric rows and ';'-separated files: one DataFormatError naming the file
    and line (before: a numpy 'inhomogeneous shape' traceback, or a silently skipped row)."""
    rows = _walk_rows().splitlines()
    _write(tmp_path, "file,placement,rate_hz,acc_unit,gyro_unit\na.csv,left_wrist,50,g,deg/s\n",
           {"a.csv": "\n".join(edit(rows)) + "\n"})
    with pytest.raises(DataFormatError, match="a.csv: " + words):
        load_user_folder(tmp_path)


def test_empty_rows_with_t_s_and_trailing_blank_lines_are_fine(tmp_path: Path) -> None:
    """With a t_s column an empty row shifts nothing (the times place every sample); blank lines after
    the last sample are not rows."""
    body = "acc_x,acc_y,acc_z,t_s\n" + "\n".join(f"0,0,9.8,{k / 50:.2f}" for k in range(100))
    lines = body.splitlines()
    (tmp_path / "t.csv").write_text("\n".join(lines[:40] + [",,,"] + lines[40:]) + "\n\n\n")
    (rec,) = load_file(tmp_path / "t.csv")
    assert rec.n_samples == 100 and rec.t_s[-1] == pytest.approx(1.98)
