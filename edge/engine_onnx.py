"""The onnxruntime backend of `edge.engine.Engine` (numpy + onnxruntime only: what runs on a Pi)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class OnnxBackend:
    """One onnxruntime session over an exported encoder; any batch size and sensor count."""

    max_batch: int | None = None

    def __init__(self, path: Path, threads: int = 1) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ImportError("the onnxruntime backend needs onnxruntime: pip install 'anymo-edge[onnx-runtime]' (or [device])") from exc
        so = ort.SessionOptions()
        so.intra_op_num_threads = max(1, int(threads))
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.version = ort.__version__

    def run(self, signals: np.ndarray, placement_id: np.ndarray, sensor_mask: np.ndarray, has_gyro: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        emb, tok = self.session.run(None, dict(zip(self.input_names, (signals, placement_id, sensor_mask, has_gyro))))
        return emb, tok
