"""Encoder + tokenizer -> ONNX (fp32, opset >= 17, dynamic batch and sensor count) and int8 static QDQ.

int8 can flip nearest-codebook choices, so part of the graph stays fp32: always the *sensitive tail*
(every node between an output and the last weighted layer before it: the codebook search and the
projection into it, the last embedding projection), then the first k weighted layers (Conv/MatMul/
Gemm with a constant weight; the per-sensor convolutions first: measured on the trained model, they
see the raw signal and carry most of the flips). `quantize_int8` grows k until the token agreement
with the fp32 graph reaches a target on held-out simulated windows (measured, not assumed).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch

from anymo.preprocess.model_input import ModelInput

INPUT_NAMES = ("signals", "placement_id", "sensor_mask", "has_gyro")
OUTPUT_NAMES = ("joint_embedding", "motion_tokens")  # not "embedding": the exporter names a node so
OPSET = 18
WEIGHTED_OPS = ("MatMul", "Gemm", "Conv")
QUANTIZED_OPS = ["Conv", "MatMul", "Gemm"]  # the rest (norms, softmax, adds) stays fp32: no Q/DQ churn

log = logging.getLogger(__name__)


def torch_inputs(x: ModelInput) -> tuple[torch.Tensor, ...]:
    return (torch.from_numpy(np.ascontiguousarray(x.signals)), torch.from_numpy(x.placement_id.astype(np.int64)),
            torch.from_numpy(x.sensor_mask.copy()), torch.from_numpy(x.has_gyro.copy()))


def feeds(x: ModelInput) -> dict[str, np.ndarray]:
    """The ONNX input feed of a batch (the engine builds the same one)."""
    return {"signals": np.ascontiguousarray(x.signals, np.float32), "placement_id": x.placement_id.astype(np.int64),
            "sensor_mask": np.ascontiguousarray(x.sensor_mask), "has_gyro": np.ascontiguousarray(x.has_gyro)}


def export_fp32(model: torch.nn.Module, path: str | Path, example: ModelInput, opset: int = OPSET) -> Path:
    """torch.onnx (dynamo) export with dynamic batch and sensor axes; one self-contained file."""
    path = Path(path)
    batch = torch.export.Dim("batch", min=1, max=4096)
    sensors = torch.export.Dim("sensors", min=1, max=64)
    dyn = {name: {0: batch, 1: sensors} for name in INPUT_NAMES}
    model = model.eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(model, torch_inputs(example), dynamo=True, input_names=list(INPUT_NAMES),
                                 output_names=list(OUTPUT_NAMES), dynamic_shapes=dyn, opset_version=opset,
                                 external_data=False, verbose=False)
        prog.optimize()
        prog.save(str(path), external_data=False)
    m = onnx.load(str(path))
    _name_nodes(m)
    onnx.checker.check_model(m)
    onnx.save(m, str(path))
    return path


def _name_nodes(m: onnx.ModelProto) -> None:
    seen: set[str] = set()
    for i, node in enumerate(m.graph.node):
        if not node.name or node.name in seen:
            node.name = f"{node.op_type}_{i}"
        seen.add(node.name)


def sensitive_tail(m: onnx.ModelProto, output: str, depth: int) -> list[str]:
    """Names of the nodes between graph output ``output`` and the ``depth``-th weighted layer before it
    (inclusive) along every path: the part whose int8 error reaches the output unattenuated."""
    producer = {o: n for n in m.graph.node for o in n.output}
    consts = {i.name for i in m.graph.initializer} | {o for n in m.graph.node if n.op_type == "Constant" for o in n.output}
    best: dict[str, int] = {}  # node name -> fewest weighted layers passed to reach it
    stack = [(producer[output], 0)] if output in producer else []
    while stack:
        node, passed = stack.pop()
        weighted = node.op_type in WEIGHTED_OPS and any(i in consts for i in node.input[1:2])
        passed_here = passed + int(weighted)
        if passed_here > depth or best.get(node.name, depth + 1) <= passed_here:
            continue
        best[node.name] = passed_here
        if weighted and passed_here == depth:
            continue
        stack += [(producer[i], passed_here) for i in node.input if i in producer]
    return sorted(best)


class _Reader:
    """onnxruntime.quantization CalibrationDataReader over `ModelInput` batches."""

    def __init__(self, batches: Sequence[ModelInput]) -> None:
        self._it = iter([feeds(b) for b in batches])

    def get_next(self):
        return next(self._it, None)


@dataclass
class Int8Result:
    path: Path
    token_depth: int  # leading weighted layers kept in fp32 (besides the tail)
    embed_depth: int
    excluded_nodes: list[str]
    token_agreement: float  # vs the fp32 ONNX graph on the held-out windows
    embedding_cosine_min: float
    label_agreement: float | None = None  # top-1 zero-shot label vs the fp32 graph on the held-out windows


def run_onnx(path: str | Path, batches: Sequence[ModelInput], threads: int = 2) -> tuple[np.ndarray, np.ndarray]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    outs = [sess.run(None, feeds(b)) for b in batches]
    return np.concatenate([o[0] for o in outs]), np.concatenate([o[1].reshape(len(o[1]), -1) for o in outs])


def _quantize(fp32: Path, out: Path, calib: Sequence[ModelInput], exclude: list[str]) -> None:
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    quantize_static(
        str(fp32), str(out), _Reader(calib), quant_format=QuantFormat.QDQ, op_types_to_quantize=QUANTIZED_OPS,
        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        nodes_to_exclude=exclude, calibrate_method=CalibrationMethod.MinMax,
        extra_options={"QDQOpTypePerChannelSupportToAxis": {"MatMul": 1}},
    )


def weighted_nodes(m: onnx.ModelProto) -> list[str]:
    """Conv/MatMul/Gemm nodes with a constant weight: the convolutions first, then the rest in graph order."""
    consts = {i.name for i in m.graph.initializer} | {o for n in m.graph.node if n.op_type == "Constant" for o in n.output}
    w = [n for n in m.graph.node if n.op_type in WEIGHTED_OPS and any(i in consts for i in n.input[1:2])]
    return [n.name for n in w if n.op_type == "Conv"] + [n.name for n in w if n.op_type != "Conv"]


def exclusion_stages(m: onnx.ModelProto) -> list[int]:
    """How many leading weighted layers to keep in fp32 at each step of the search: none, the
    per-sensor convolutions (measured on the trained model: they carry most of the int8 token flips,
    they see the raw signal), then a quarter more of the remaining layers at a time."""
    w = weighted_nodes(m)
    n_conv = sum(1 for n in m.graph.node if n.name in set(w) and n.op_type == "Conv")
    step = max(1, -(-(len(w) - n_conv) // 4))
    return sorted({0, n_conv, *range(n_conv + step, len(w), step), len(w)})


def quantize_int8(fp32_path: str | Path, out_path: str | Path, calib: Sequence[ModelInput], held_out: Sequence[ModelInput],
                  token_target: float = 0.95, label_embeddings: np.ndarray | None = None, label_target: float = 0.97) -> Int8Result:
    """Static QDQ int8 (per-channel weights, uint8 activations, MinMax calibration on ``calib``) with the
    sensitive tail in fp32, plus the first k weighted layers; k grows (`exclusion_stages`) until the
    token agreement with the fp32 graph on ``held_out`` reaches ``token_target`` and, with
    ``label_embeddings`` [L, D] (the bundle's label table), the top-1 zero-shot label agrees on at least
    ``label_target`` of the windows (the last stage keeps every weighted layer in fp32: then only the
    int8 weights of nothing remain, and the log says so). Both criteria are measured on simulated
    windows only: the real datasets are for the parity report, not for choosing the quantisation."""
    fp32_path, out_path = Path(fp32_path), Path(out_path)
    m = onnx.load(str(fp32_path))
    ref_e, ref_t = run_onnx(fp32_path, held_out)
    tail = sorted(set(sensitive_tail(m, OUTPUT_NAMES[1], 1)) | set(sensitive_tail(m, OUTPUT_NAMES[0], 1)))
    weighted = weighted_nodes(m)
    act_act = [n.name for n in m.graph.node if n.op_type == "MatMul" and n.name not in set(weighted)]
    result = None
    stages = exclusion_stages(m)
    # activation x activation products (attention scores and mixing, over <= 32 sensors or 10 steps) stay fp32:
    # measured on the 6000-step model, quantising them alone flipped 2.1 % of the zero-shot labels of the
    # held-out windows with every weighted layer in fp32, for a negligible share of the FLOPs
    for k in stages:
        exclude = sorted(set(tail) | set(weighted[:k]) | set(act_act))
        _quantize(fp32_path, out_path, calib, exclude)
        e, t = run_onnx(out_path, held_out)
        agree = float(np.mean(t == ref_t))
        lab = None if label_embeddings is None else float(np.mean(np.argmax(e @ label_embeddings.T, 1) == np.argmax(ref_e @ label_embeddings.T, 1)))
        cos = float(np.min(np.sum(e * ref_e, axis=1) / (np.linalg.norm(e, axis=1) * np.linalg.norm(ref_e, axis=1) + 1e-12)))
        n_int8 = len([w for w in weighted if w not in set(exclude)])
        log.info("onnx int8: first %d of %d weighted layers + the tail in fp32 (%d int8): token agreement %.4f, "
                 "embedding cosine min %.4f, zero-shot label agreement %s", k, len(weighted), n_int8, agree, cos, lab)
        result = Int8Result(out_path, min(k, len(weighted)), 1, exclude, agree, cos, lab)
        if agree >= token_target and (lab is None or lab >= label_target):
            break
    assert result is not None
    return result
