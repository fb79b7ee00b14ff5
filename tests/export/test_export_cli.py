"""`anymo export` argument and checkpoint errors are one clear line (no export work is started)."""

from __future__ import annotations

import pytest

from export.cli import main


def test_missing_checkpoint_is_a_clear_error(tmp_path, capsys):
    assert main(["--checkpoint", str(tmp_path / "nope"), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "config.json" in err and "anymo train --out" in err
    assert not (tmp_path / "b").exists()


def test_unknown_format_or_precision_is_rejected(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--checkpoint", str(tmp_path), "--out", str(tmp_path / "b"), "--format", "onnx,tflite"])
    assert "tflite" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--checkpoint", str(tmp_path), "--out", str(tmp_path / "b"), "--quantize", "int4"])
    assert "int4" in capsys.readouterr().err


def test_a_non_bundle_folder_is_never_overwritten(tmp_path):
    from edge.bundle import BundleError
    from export.exporter import _prepare_out

    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("x")
    with pytest.raises(BundleError, match="not empty"):
        _prepare_out(out, overwrite=False)
    with pytest.raises(BundleError, match="holds no bundle manifest"):
        _prepare_out(out, overwrite=True)
    assert (out / "thesis.tex").read_text() == "x"
