"""`anymo eval --data FOLDER` on the user's own recordings (docs/user_data.md): no bundled data needed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from anymo.eval.cli import main


def _recording(path: Path, freq_hz: float, seconds: float = 30.0, rate_hz: float = 50.0) -> None:
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    acc_g = np.stack([0.3 * np.sin(2 * np.pi * freq_hz * t), 0.1 * np.cos(2 * np.pi * freq_hz * t), 1.0 + 0.0 * t], 1)
    gyro_dps = np.stack([90 * np.sin(2 * np.pi * freq_hz * t), 0 * t, 0 * t], 1)
    rows = np.hstack([acc_g, gyro_dps])
    path.write_text("acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z\n" + "\n".join(",".join(f"{v:.5g}" for v in r) for r in rows))


def test_eval_reads_a_user_folder_as_one_dataset(tmp_path: Path, capsys) -> None:
    (tmp_path / "recordings.csv").write_text(
        "file,placement,rate_hz,acc_unit,gyro_unit,label,subject\n"
        "walk.csv,left_wrist,50,g,deg/s,walking,alice\n"
        "teeth.csv,left_wrist,50,g,deg/s,brushing teeth,bob\n"
    )
    _recording(tmp_path / "walk.csv", 1.0)
    _recording(tmp_path / "teeth.csv", 4.0)
    out = tmp_path / "r.json"
    assert main(["--model", "random", "--data", str(tmp_path), "--json", str(out), "--no-bertscore"], prog="anymo eval") == 0
    rep = json.loads(out.read_text())
    assert list(rep["datasets"]) == ["user"]
    user = rep["datasets"]["user"]
    # 1500 samples (0..29.98 s), 5 s windows at a 2.5 s hop: starts 0..22.5 s = 10 per recording; both labels scored
    assert user["n_windows"] == 20 and user["n_classes"] == 2 and user["vocabulary"] == ["brushing teeth", "walking"]
    assert "user" in capsys.readouterr().out


def test_eval_on_a_bad_user_folder_names_the_file_and_the_fix(tmp_path: Path, capsys) -> None:
    (tmp_path / "recordings.csv").write_text("file,placement,rate_hz,acc_unit\nwalk.csv,left_wrist,50,m/s2\n")
    _recording(tmp_path / "walk.csv", 1.0)  # written in g, declared m/s2
    assert main(["--model", "random", "--data", str(tmp_path), "--no-bertscore"], prog="anymo eval") == 2
    err = capsys.readouterr().err
    assert "walk.csv" in err and "look like 'g'" in err
    _recording(tmp_path / "walk.csv", 1.0, seconds=1.0)
    (tmp_path / "recordings.csv").write_text("file,placement,rate_hz,acc_unit,gyro_unit\nwalk.csv,left_wrist,50,g,deg/s\n")
    assert main(["--model", "random", "--data", str(tmp_path), "--no-bertscore"], prog="anymo eval") == 2
    assert "no 5 s window" in capsys.readouterr().err
