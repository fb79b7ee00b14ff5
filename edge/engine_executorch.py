"""The ExecuTorch backend of `edge.engine.Engine`: a `.pte` with the XNNPACK delegate run by the
ExecuTorch Python runtime (which takes torch tensors, so this backend needs torch + executorch; on a
phone the same `.pte` runs in the ExecuTorch C++/Java runtime). Imported only when asked for."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class ExecuTorchBackend:
    """The program takes one window per call (batch 1, dynamic sensor count); batches are looped."""

    max_batch: int | None = 1

    def __init__(self, path: Path, threads: int = 1) -> None:
        try:
            import torch
            from executorch.extension.pybindings import portable_lib
            from executorch.runtime import Runtime
        except ImportError as exc:
            raise ImportError("the executorch backend needs executorch (and torch): pip install 'anymo-edge[train]'; "
                              "on a device without them use backend='onnxruntime'") from exc
        self._torch = torch
        portable_lib._unsafe_reset_threadpool(max(1, int(threads)))  # XNNPACK's thread pool (process-wide)
        self.method = Runtime.get().load_program(Path(path)).load_method("forward")
        from executorch.version import __version__

        self.version = __version__

    def run(self, signals: np.ndarray, placement_id: np.ndarray, sensor_mask: np.ndarray, has_gyro: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = self._torch.from_numpy
        embs, toks = [], []
        for i in range(signals.shape[0]):
            e, k = self.method.execute([t(signals[i : i + 1]), t(placement_id[i : i + 1]), t(sensor_mask[i : i + 1]), t(has_gyro[i : i + 1])])
            embs.append(e.numpy())
            toks.append(k.numpy())
        return np.concatenate(embs), np.concatenate(toks)
