"""`anymo export`: a checkpoint -> a device bundle (ONNX / ExecuTorch, int8 / fp32, labels, text tower, parity)."""

from __future__ import annotations

import argparse
import logging
import sys

import onnx  # noqa: F401  (the train extra: fail before doing anything when it is missing)
import torch  # noqa: F401

from edge.bundle import BundleError
from export.exporter import FORMATS, PRECISIONS, ExportOptions, export_bundle, summary


def _choices(text: str, allowed: tuple[str, ...], flag: str) -> tuple[str, ...]:
    items = tuple(x.strip() for x in text.split(",") if x.strip())
    bad = [x for x in items if x not in allowed]
    if bad or not items:
        raise argparse.ArgumentTypeError(f"{flag}: {bad or text!r} not among {','.join(allowed)}")
    return items


def main(argv: list[str], prog: str = "anymo export") -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__)
    p.add_argument("--checkpoint", required=True, help="checkpoint folder (or a model folder holding checkpoint/)")
    p.add_argument("--out", required=True, help="bundle folder to write")
    p.add_argument("--format", default="onnx,pte", help="comma list of onnx,pte (default both)")
    p.add_argument("--quantize", default="int8,fp32", help="comma list of int8,fp32 (default both)")
    p.add_argument("--no-text", action="store_true", help="skip the text projection (the device can then only score the bundled vocabulary)")
    p.add_argument("--calib-units", type=int, default=16, help="simulated 60 s units (12 windows each) to calibrate int8 on")
    p.add_argument("--parity-units", type=int, default=8, help="held-out simulated units for parity.json")
    p.add_argument("--sim-cache", default=None, help="folder to keep the simulated calibration/parity windows in for the next export")
    p.add_argument("--no-real-parity", action="store_true", help="skip the zero-shot parity on the real datasets")
    p.add_argument("--data", default=None, help="real data folder for parity (default: ANYMO_DATA or ../shared/data)")
    p.add_argument("--threads", type=int, default=2, help="threads of the parity runs")
    p.add_argument("--jobs", type=int, default=1, help="processes (3: both ExecuTorch programs lower while ONNX exports)")
    p.add_argument("--captioner", default=None, help="a trained captioner folder to add to the bundle (export.captioner.add_captioner)")
    p.add_argument("--resume", action="store_true", help="keep the encoder files an interrupted export of the same checkpoint left in --out")
    p.add_argument("--overwrite", action="store_true", help="replace an existing bundle in --out")
    p.add_argument("-q", "--quiet", action="store_true")
    a = p.parse_args(argv)
    try:
        formats = _choices(a.format, FORMATS, "--format")
        precisions = _choices(a.quantize, PRECISIONS, "--quantize")
    except argparse.ArgumentTypeError as exc:
        p.error(str(exc))
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for h in logging.getLogger().handlers:  # onnxruntime.quantization's advice to pre-process, once per model
        h.addFilter(lambda r: not str(r.msg).startswith("Please consider"))
    logging.getLogger("export").setLevel(logging.WARNING if a.quiet else logging.INFO)
    from anymo.model.checkpoint import CheckpointError, checkpoint_dir, load_checkpoint

    try:
        ckpt = checkpoint_dir(a.checkpoint)
        model, _, meta = load_checkpoint(ckpt)
    except CheckpointError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    meta = {**meta, "checkpoint": str(ckpt)}
    meta.setdefault("name", ckpt.parent.name if ckpt.name == "checkpoint" else ckpt.name)
    from anymo.model.checkpoint import read_config

    meta["checkpoint_weights_sha256"] = read_config(ckpt)["weights_sha256"]
    opts = ExportOptions(formats=formats, precisions=precisions, text=not a.no_text,
                         calib_units=a.calib_units, parity_units=a.parity_units, real_parity=not a.no_real_parity,
                         data_dir=a.data, threads=a.threads, sim_cache=a.sim_cache, jobs=a.jobs, resume=a.resume)
    try:
        manifest = export_bundle(model, a.out, opts, meta, overwrite=a.overwrite)
    except BundleError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    import json
    from pathlib import Path

    if a.captioner:
        from edge.captioner import CaptionerError
        from export.captioner import add_captioner

        try:
            add_captioner(a.out, a.captioner)
        except CaptionerError as exc:
            print(f"{prog}: captioner not added: {exc}", file=sys.stderr)
            return 2
        manifest = json.loads((Path(a.out) / "manifest.json").read_text())

    parity = json.loads((Path(a.out) / "parity.json").read_text())
    sizes = {rel: e["bytes"] for rel, e in manifest["files"].items()}
    print(f"bundle {a.out}: {len(sizes)} files, {sum(sizes.values()) / 1e6:.1f} MB")
    for rel, b in sizes.items():
        print(f"  {rel:<32} {b / 1e6:8.2f} MB")
    print("parity vs PyTorch fp32:")
    print(summary(parity))
    return 0
