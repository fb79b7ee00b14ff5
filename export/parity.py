"""`parity.json`: every exported encoder of a bundle against the PyTorch fp32 model it came from.

Per backend x precision, on held-out simulated windows (1/2/4/8 sensors) and on the real datasets of
the evaluation harness (evaluation only: nothing is tuned on them): embedding cosine (median, min),
motion-token agreement (% of token ids equal), and zero-shot accuracy per labelled dataset (the same
bundled label table for both, so the delta is the encoder's) with its delta in points. The text tower
(the MiniLM package + the bundle's projection, as `edge.engine.Engine.text_encoder` runs it) is compared
with PyTorch (torch MiniLM + `project_text`) on the prompts of the bundle's label vocabulary, after the
projection and, when given, before it (MiniLM sentence embeddings). Targets (int8): tokens >= 95 %,
|delta| <= 1 point, text cosine >= 0.99.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from anymo.preprocess.model_input import ModelInput

TOKEN_TARGET_PCT = 95.0
ACCURACY_DELTA_TARGET_POINTS = 1.0
INT8_ENCODER_BYTES_MAX = 4_000_000
TEXT_COSINE_TARGET = 0.99
log = logging.getLogger(__name__)


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)


def compare(ref_emb: np.ndarray, ref_tok: np.ndarray, emb: np.ndarray, tok: np.ndarray) -> dict:
    c = _cos(ref_emb, emb)
    return {"n_windows": len(c), "embedding_cosine_median": float(np.median(c)) if len(c) else None,
            "embedding_cosine_min": float(np.min(c)) if len(c) else None,
            "token_agreement_pct": float(100.0 * np.mean(ref_tok == tok)) if len(c) else None}


def real_datasets(data_dir: str | Path | None) -> dict[str, tuple[ModelInput, list[str]]]:
    """{dataset: (labelled windows, label vocabulary)} as the harness scores them; {} without data."""
    from anymo.data.datasets import DATASETS, load_dataset
    from anymo.eval.harness import POOLED_VOCABULARY
    from anymo.preprocess.windows import WindowConfig, make_windows

    out = {}
    for name, spec in DATASETS.items():
        if not spec.labels:
            continue
        try:
            w = make_windows(load_dataset(name, data_dir), WindowConfig())
        except (FileNotFoundError, OSError) as exc:
            log.warning("parity: dataset %s not available (%s); skipped", name, exc)
            continue
        lab = np.array([x is not None for x in w.meta.label])
        if not lab.any():
            continue
        w = w.subset(lab)
        own = sorted({str(x) for x in w.meta.label})
        out[name] = (w, own if len(own) >= 2 else list(POOLED_VOCABULARY))
    return out


def _accuracy(emb: np.ndarray, labels: list[str], vocab: list[str], table: dict[str, np.ndarray]) -> float:
    lab_emb = np.stack([table[v] for v in vocab])
    pred = np.argmax(emb @ lab_emb.T, axis=1)
    y = np.array([vocab.index(str(x)) for x in labels])
    return float(np.mean(pred == y))


def _run_all(run, batches: Sequence[ModelInput]) -> tuple[np.ndarray, np.ndarray]:
    outs = [run(b) for b in batches]
    return np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs])


def compute_parity(model, bundle_dir: Path, synthetic: Sequence[ModelInput], real: dict, label_table: dict[str, np.ndarray],
                   text_reference: tuple | None, threads: int = 2) -> dict:
    """The parity report (see the module docstring) of every encoder listed in the bundle's manifest."""
    import torch

    from edge.engine import Engine
    from export.onnx_export import torch_inputs

    def torch_run(b: ModelInput):
        with torch.no_grad():
            e, t = model.eval()(*torch_inputs(b))
        return e.numpy(), t.numpy()

    batches = lambda w: [w.subset(np.arange(i, min(i + 64, len(w)))) for i in range(0, len(w), 64)]
    ref_syn = _run_all(torch_run, synthetic)
    ref_real = {name: _run_all(torch_run, batches(w)) for name, (w, _) in real.items()}
    acc_ref = {name: _accuracy(ref_real[name][0], w.meta.label, vocab, label_table) for name, (w, vocab) in real.items()}
    report: dict = {
        "reference": f"PyTorch {torch.__version__} fp32 eager",
        "synthetic_windows": {"n_windows": int(sum(len(b) for b in synthetic)), "sensor_counts": sorted({b.n_sensors for b in synthetic}),
                              "source": "anymo.sim (held-out seed, never used for calibration)"},
        "real_windows": {name: len(w) for name, (w, _) in real.items()},
        "targets": {"token_agreement_pct_min": TOKEN_TARGET_PCT, "zero_shot_accuracy_delta_points_max": ACCURACY_DELTA_TARGET_POINTS,
                    "int8_encoder_bytes_max": INT8_ENCODER_BYTES_MAX, "text_cosine_min": TEXT_COSINE_TARGET},
        "zero_shot_accuracy_torch": acc_ref,
        "encoders": {},
    }
    from edge.bundle import read_manifest

    manifest_encoders = read_manifest(bundle_dir)["encoders"]
    for backend, by_prec in manifest_encoders.items():
        for precision in by_prec:
            try:
                eng = Engine.load(bundle_dir, backend, precision, threads)
            except ImportError as exc:
                report["encoders"][f"{backend}/{precision}"] = {"skipped": str(exc)}
                continue
            def run(b: ModelInput, eng=eng) -> tuple[np.ndarray, np.ndarray]:
                o = eng.run(b)
                return o.embedding, o.token_ids

            syn = compare(*ref_syn, *_run_all(run, synthetic))
            rows, accs = {}, {}
            for name, (w, vocab) in real.items():
                e, t = _run_all(run, batches(w))
                rows[name] = compare(*ref_real[name], e, t)
                a = _accuracy(e, w.meta.label, vocab, label_table)
                accs[name] = {"accuracy_torch": acc_ref[name], "accuracy": a, "delta_points": 100.0 * (a - acc_ref[name])}
            all_real = [r for r in rows.values()]
            tok_real = (sum(r["token_agreement_pct"] * r["n_windows"] for r in all_real) / max(1, sum(r["n_windows"] for r in all_real))) if all_real else None
            worst_delta = max((abs(v["delta_points"]) for v in accs.values()), default=None)
            size = int(eng.bundle.files[eng.encoder_file]["bytes"])
            entry = {"file": eng.encoder_file, "bytes": size, "synthetic": syn, "real": rows, "real_token_agreement_pct": tok_real,
                     "zero_shot": accs, "zero_shot_delta_points_max_abs": worst_delta}
            if precision == "int8":
                entry["meets_targets"] = {
                    "token_agreement": bool(syn["token_agreement_pct"] >= TOKEN_TARGET_PCT and (tok_real is None or tok_real >= TOKEN_TARGET_PCT)),
                    "zero_shot_delta": None if worst_delta is None else bool(worst_delta <= ACCURACY_DELTA_TARGET_POINTS),
                    "size": bool(size <= INT8_ENCODER_BYTES_MAX),
                }
            report["encoders"][f"{backend}/{precision}"] = entry
            log.info("parity %s/%s: tokens %.2f %% (synthetic), %s %% (real), cosine min %.4f, worst zero-shot delta %s points",
                     backend, precision, syn["token_agreement_pct"], None if tok_real is None else round(tok_real, 2),
                     syn["embedding_cosine_min"], None if worst_delta is None else round(worst_delta, 2))
    if text_reference is not None:  # (prompts, projected torch embeddings[, torch MiniLM sentence embeddings])
        texts, ref = text_reference[0], text_reference[1]
        backend = "onnxruntime" if "onnxruntime" in manifest_encoders else next(iter(manifest_encoders))
        eng = Engine.load(bundle_dir, backend, max(manifest_encoders[backend]))
        t = eng.manifest.get("text")
        if t:
            enc = eng.text_encoder()
            c = _cos(ref, enc.encode(texts))
            report["text_encoder"] = {"file": t["projection_file"], "minilm": t["minilm"], "n_texts": len(texts),
                                      "reference": "torch all-MiniLM-L6-v2 (fp32) + the model's project_text",
                                      "cosine_median": float(np.median(c)), "cosine_min": float(np.min(c)),
                                      "meets_target": bool(np.min(c) >= TEXT_COSINE_TARGET)}
            if len(text_reference) > 2:
                cs = _cos(text_reference[2], enc.sentence_embeddings(texts))
                report["text_encoder"]["before_projection"] = {"cosine_median": float(np.median(cs)), "cosine_min": float(np.min(cs))}
            log.info("parity text tower: cosine median %.4f min %.4f over %d prompts", np.median(c), np.min(c), len(texts))
    return report

