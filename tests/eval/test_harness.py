"""The harness on the real datasets: `random` lands near chance, `supervised` well above it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from anymo.eval.cli import main
from anymo.eval.harness import POOLED_VOCABULARY, evaluate
from anymo.eval.models import RandomModel, load_model

pytestmark = pytest.mark.needs_data  # data_dir: the root conftest's fixture


@pytest.fixture(autouse=True)
def _datasets(need) -> None:
    need("hmp_adl")


def test_random_is_near_chance_everywhere(data_dir: Path) -> None:
    names = ["basicmotions", "watch_exercises", "hmp_adl", "daphnet", "lowerback_walking", "sit2stand_lumbar"]
    rep = evaluate(RandomModel(seed=0, vocabulary=POOLED_VOCABULARY), names, data_dir, with_bertscore=False)
    for name in names[:5]:
        r = rep["datasets"][name]
        assert abs(r["accuracy"] - r["chance_accuracy"]) < 0.06, (name, r["accuracy"], r["chance_accuracy"])
    for name in names[:3]:
        r, ch = rep["datasets"][name], rep["datasets"][name]["chance"]["pool100"]
        assert abs(r["mrr_text_to_imu"] - ch["mrr_text_to_imu"]) < 0.03, name
        assert abs(r["mrr_imu_to_text"] - ch["mrr_imu_to_text"]) < 0.06, name
    hmp = rep["datasets"]["hmp_adl"]
    assert hmp["n_classes"] == 14 and hmp["chance_accuracy"] == pytest.approx(1 / 14)
    assert rep["datasets"]["daphnet"]["vocabulary_kind"] == "pooled" and rep["datasets"]["daphnet"]["r_at_1"] is None
    s2s = rep["datasets"]["sit2stand_lumbar"]
    assert s2s["n_windows"] == 0 and s2s["n_windows_unlabelled"] == 35 and s2s["accuracy"] is None


def test_supervised_is_well_above_chance(data_dir: Path) -> None:
    rep = evaluate("supervised", ["basicmotions", "watch_exercises", "hmp_adl", "xsens_walking"], data_dir,
                   with_bertscore=False)
    for name in ("basicmotions", "watch_exercises", "hmp_adl"):
        r = rep["datasets"][name]
        assert r["accuracy"] > r["chance_accuracy"] + 0.3, (name, r["accuracy"])
        assert r["mrr_text_to_imu"] > r["chance"]["pool100"]["mrr_text_to_imu"] + 0.2
    assert rep["datasets"]["hmp_adl"]["cv_protocol"] == "leave-one-subject-out"
    assert rep["datasets"]["basicmotions"]["cv_protocol"] == "5-fold by recording"
    assert rep["datasets"]["xsens_walking"]["accuracy"] is None  # one label: nothing to train


def test_cli_writes_json_and_refuses_unknown_models(data_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "r.json"
    rc = main(["--model", "random", "--data", str(data_dir), "--datasets", "basicmotions", "--json", str(out),
               "--no-bertscore"], prog="anymo eval")
    assert rc == 0
    rep = json.loads(out.read_text())
    r = rep["datasets"]["basicmotions"]
    for key in ("n_windows", "n_classes", "chance_accuracy", "accuracy", "macro_f1", "r_at_2", "mrr_imu_to_text",
                "mrr_text_to_imu", "r_at_1", "r_at_5", "r_at_1_full", "r_at_5_full"):
        assert key in r
    assert r["n_windows"] == 160 and r["n_classes"] == 4 and r["gravity_removed"] is True
    assert "basicmotions" in capsys.readouterr().out
    assert main(["--model", str(tmp_path / "nope.pt"), "--datasets", "basicmotions"], prog="anymo eval") == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(NotImplementedError, match="neither a checkpoint .* nor an exported bundle"):
        load_model(str(out))
    assert main(["--model", "random", "--datasets", "nope"], prog="anymo eval") == 2
