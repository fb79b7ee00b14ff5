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
    assert "no window: every recording is shorter than --min-pad-s 3 s" in capsys.readouterr().err


def test_short_recordings_are_counted_and_the_protocol_is_named(tmp_path: Path, capsys) -> None:
    """Recordings shorter than --min-pad-s are dropped and counted in the table and the JSON (a 4 s one is
    padded, a 2 s one dropped); --min-pad-s 1.5 keeps both; without a subject column the supervised
    reference says it used 5-fold by recording."""
    rows = ["file,placement,rate_hz,acc_unit,gyro_unit,label"]
    for i, (label, secs) in enumerate([("walking", 30), ("walking", 30), ("walking", 4), ("brushing teeth", 30),
                                       ("brushing teeth", 30), ("brushing teeth", 2)]):
        _recording(tmp_path / f"r{i}.csv", 1.0 if label == "walking" else 3.0, seconds=secs)
        rows.append(f"r{i}.csv,left_wrist,50,g,deg/s,{label}")
    (tmp_path / "recordings.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "r.json"
    assert main(["--model", "supervised", "--data", str(tmp_path), "--no-bertscore", "--json", str(out)], prog="anymo eval") == 0
    table = capsys.readouterr().out
    user = json.loads(out.read_text())["datasets"]["user"]
    assert user["recordings_dropped_short"] == 1 and user["padded_windows"] == 1
    assert user["dropped_short_per_label"] == {"brushing teeth": 1}
    assert user["cv_protocol"] == "5-fold by recording"
    line = next(ln for ln in table.splitlines() if ln.startswith("user"))
    assert line.split()[2:4] == ["1", "1"] and line.split()[-1] == "5f-rec"
    assert main(["--model", "random", "--data", str(tmp_path), "--no-bertscore", "--json", str(out), "--min-pad-s", "1.5",
                 "--hop-s", "5"], prog="anymo eval") == 0
    user2 = json.loads(out.read_text())["datasets"]["user"]
    assert user2["recordings_dropped_short"] == 0 and user2["padded_windows"] == 2
    assert user2["n_windows"] == 4 * 5 + 2  # 30 s (1799 samples at 60 Hz) at hop 5 s: 5 whole windows each, + 2 padded
    assert main(["--model", "random", "--data", str(tmp_path), "--no-bertscore", "--min-pad-s", "9"], prog="anymo eval") == 2
    assert "min_pad_s must be between 0 and window_s" in capsys.readouterr().err
