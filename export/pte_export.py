"""Encoder + tokenizer -> ExecuTorch `.pte` with the XNNPACK delegate, fp32 or int8 (PT2E + XNNPACKQuantizer).

The program takes one window per call (batch 1: XNNPACK reshapes allow a single dynamic dimension)
and a dynamic sensor count 1..`MAX_SENSORS`; the engine loops over a batch.

int8 = XNNPACK's dynamic quantisation: per-channel int8 weights of the linear layers, their input
activations quantised per call from their own range (no calibration ranges to miss), convolutions in
fp32. Static int8 of the whole encoder kept only 37.5 % of the motion tokens of the 3500-step model
(one range per tensor, calibrated on synthetic windows, does not fit both one quiet sensor and eight
moving ones), and XNNPACK 1.5.1 refused to lower static programs with the early convolutions kept in
fp32 ("Weight and Input should both be quantized"); dynamic int8 kept 98.1 % with cosine >= 0.9998 at
0.87x the fp32 program's latency. The sensitive tail stays fp32 as on the ONNX path: the linear layers
nearest the token search and the embedding output (`sensitive_linears`) are left unannotated, and so
are integer-valued ops (the placement row ``placement_id + 1``), which the stock quantizer would turn
into float.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from anymo.preprocess.model_input import ModelInput
from export.onnx_export import torch_inputs

MAX_SENSORS = 32
log = logging.getLogger(__name__)


def _single(x: ModelInput, i: int) -> tuple[torch.Tensor, ...]:
    return torch_inputs(x.subset(np.array([i])))


def _export(model: torch.nn.Module, example: ModelInput) -> torch.export.ExportedProgram:
    sensors = torch.export.Dim("sensors", min=1, max=MAX_SENSORS)
    dyn = {name: {1: sensors} for name in ("signals", "placement_id", "sensor_mask", "has_gyro")}
    if not isinstance(model, torch.fx.GraphModule):
        model = model.eval()
    return torch.export.export(model, _single(example, 0), dynamic_shapes=dyn, strict=False)


def sensitive_linears(ep: torch.export.ExportedProgram, depth: int = 1) -> list[str]:
    """Module paths of the ``depth`` linear layers nearest each output (walking producers backwards)."""
    graph = ep.graph
    out_node = next(n for n in graph.nodes if n.op == "output")
    found: list[str] = []
    for root in out_node.args[0]:
        frontier, seen, hits = [root], set(), 0
        while frontier and hits < depth:
            nxt = []
            for n in frontier:
                if not isinstance(n, torch.fx.Node) or n in seen:
                    continue
                seen.add(n)
                if n.op == "call_function" and "linear" in str(n.target):
                    stack = n.meta.get("nn_module_stack") or {}
                    if stack:
                        found.append(list(stack.values())[-1][0])
                    hits += 1
                    continue
                nxt += [a for a in n.all_input_nodes]
            frontier = nxt
    return sorted(set(found))


def _quantizer(skip_modules: Sequence[str]):
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )

    class _Quantizer(XNNPACKQuantizer):
        def transform_for_annotation(self, model):  # the stock pass turns `int + 1` into `int + tensor(1.0)`
            return model

        def annotate(self, model):
            from executorch.backends.xnnpack.quantizer.xnnpack_quantizer_utils import (
                propagate_annotation,
            )
            from torchao.quantization.pt2e.quantizer import SharedQuantizationSpec

            model = self._annotate_for_quantization_config(model)
            dropped: set = set()
            for n in model.graph.nodes:
                if "quantization_annotation" not in n.meta:
                    continue
                v = n.meta.get("val")
                integer = isinstance(v, torch.Tensor) and not v.dtype.is_floating_point
                paths = [p for p, _ in (n.meta.get("nn_module_stack") or {}).values()]
                if integer or any(p in skip for p in paths):
                    del n.meta["quantization_annotation"]
                    dropped.add(n)

            def refers_to_dropped(a) -> bool:
                specs = [*a.input_qspec_map.values(), a.output_qspec]
                for q in specs:
                    if isinstance(q, SharedQuantizationSpec):
                        e = q.edge_or_node
                        if (e in dropped) or (isinstance(e, tuple) and any(x in dropped for x in e)):
                            return True
                return False

            changed = True
            while changed:  # ops sharing a dropped op's quantisation parameters go unquantised too
                changed = False
                for n in model.graph.nodes:
                    a = n.meta.get("quantization_annotation")
                    if a is not None and refers_to_dropped(a):
                        del n.meta["quantization_annotation"]
                        dropped.add(n)
                        changed = True
            propagate_annotation(model)
            return model

    skip = set(skip_modules)
    return _Quantizer().set_global(get_symmetric_quantization_config(is_per_channel=True, is_dynamic=True))


def export_pte(model: torch.nn.Module, path: str | Path, precision: str, calib: Sequence[ModelInput] = (),
               skip_modules: Sequence[str] | None = None, tail_depth: int = 1) -> dict:
    """Write the `.pte`; returns {"skipped_modules": [...]} (int8) for the manifest."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import (
        XnnpackPartitioner,
    )
    from executorch.exir import to_edge_transform_and_lower
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    if precision not in ("fp32", "int8"):
        raise ValueError(f"precision must be fp32 or int8, got {precision!r}")
    example = max(calib, key=lambda b: b.n_sensors) if calib else None  # >= 2 sensors, or torch specialises S=1
    if example is None or example.n_sensors < 2:
        raise ValueError("export_pte needs calibration batches, one of them with >= 2 sensors (the example input)")
    info: dict = {}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        ep = _export(model, example)
        if precision == "int8":
            skip = list(skip_modules) if skip_modules is not None else sensitive_linears(ep, tail_depth)
            prepared = prepare_pt2e(ep.module(), _quantizer(skip))
            prepared(*_single(example, 0))  # dynamic ranges: one pass only to trace the observers
            ep = _export(convert_pt2e(prepared), example)
            info["skipped_modules"] = skip
        prog = to_edge_transform_and_lower(ep, partitioner=[XnnpackPartitioner()]).to_executorch()
    Path(path).write_bytes(prog.buffer)
    return info
