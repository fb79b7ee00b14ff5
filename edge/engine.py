"""The edge inference engine: an exported bundle -> embeddings, motion tokens and label scores, no torch.

    engine = Engine.load(DEFAULT_BUNDLE, backend="onnxruntime", precision="int8", threads=1)
    out = engine.run(x)                         # x: anymo.preprocess.model_input.ModelInput
    labels = ["walking", "swinging a racket"]   # any texts; known ones come from the bundled table
    probs = engine.score(out.embedding, engine.embed_labels(labels))   # [B, M], rows sum to 1

Backends: ``onnxruntime`` (numpy + onnxruntime only; `edge.engine_onnx`) and ``executorch`` (the `.pte`
with the XNNPACK delegate; `edge.engine_executorch`, needs the executorch runtime). Loading verifies the
manifest (format version, every file present with its recorded size, sha256 of each file used) and
refuses a bad bundle with `edge.bundle.BundleError`; a batch of the wrong layout gets an `InputError`
naming the expected one (`anymo.preprocess.model_input.LAYOUT`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anymo.preprocess.model_input import LAYOUT, N_CHANNELS, ModelInput
from edge.bundle import DEFAULT_BUNDLE, Bundle, BundleError
from edge.text_encoder import TextEncoder, minilm_onnx_path, unit_rows

__all__ = ["DEFAULT_BUNDLE", "BundleError", "Engine", "EngineMotionTextModel", "EngineOutput", "InputError"]


class InputError(ValueError):
    """A batch the exported model cannot take; the message names the expected layout."""


@dataclass
class EngineOutput:
    embedding: np.ndarray  # f32 [B, D], L2-normalised, in the joint IMU-text space
    token_ids: np.ndarray  # int64 [B, C, N]: C codebooks x N token steps per window


class Engine:
    """A loaded bundle on one backend x precision (see the module docstring)."""

    def __init__(self, bundle: Bundle, backend: str, precision: str, threads: int) -> None:
        self.bundle, self.backend, self.precision, self.threads = bundle, backend, precision, int(threads)
        self.manifest = bundle.manifest
        rel = bundle.encoder_file(backend, precision)
        path = bundle.path(rel)  # sha256-checked
        if backend == "onnxruntime":
            from edge.engine_onnx import OnnxBackend

            self._impl = OnnxBackend(path, self.threads)
        else:
            from edge.engine_executorch import ExecuTorchBackend

            self._impl = ExecuTorchBackend(path, self.threads)
        self.encoder_file = rel
        inp = self.manifest["input"]
        self.window_len = int(inp["window_len"])
        self.rate_hz = float(inp["rate_hz"])
        self.max_sensors = int(inp.get("max_sensors", {}).get(backend, 1 << 16))
        labels = self.manifest["labels"]
        with np.load(bundle.path(labels["file"]), allow_pickle=False) as z:
            self.label_vocabulary: list[str] = [str(s) for s in z["labels"]]
            self._label_table = np.asarray(z["embeddings"], np.float32)
        self._label_row = {lab: i for i, lab in enumerate(self.label_vocabulary)}
        self.logit_scale = float(self.manifest["scoring"]["logit_scale"])
        self._text: TextEncoder | None = None

    @classmethod
    def load(cls, bundle_dir: str | Path = DEFAULT_BUNDLE, backend: str = "onnxruntime", precision: str = "int8", threads: int = 1) -> Engine:
        """Open and verify ``bundle_dir``; `BundleError` if it is missing, tampered or lacks this encoder."""
        return cls(Bundle(bundle_dir), backend, precision, threads)

    # -- windows -> embeddings and tokens ------------------------------------------------------------
    def check_input(self, x: ModelInput) -> None:
        if not isinstance(x, ModelInput):
            raise InputError(f"Engine.run takes an anymo.preprocess.model_input.ModelInput, got {type(x).__name__}; expected {LAYOUT}")
        b, s, t, c = x.signals.shape
        if c != N_CHANNELS or t != self.window_len:
            raise InputError(f"signals have shape {x.signals.shape}: this model takes windows of {self.window_len} samples "
                             f"({self.window_len / self.rate_hz:g} s at {self.rate_hz:g} Hz) of {N_CHANNELS} channels; expected {LAYOUT}")
        if abs(float(x.rate_hz) - self.rate_hz) > 1e-6:
            raise InputError(f"windows at {x.rate_hz:g} Hz: resample to {self.rate_hz:g} Hz first (anymo.preprocess); expected {LAYOUT}")
        if b < 1 or s < 1:
            raise InputError(f"empty batch {x.signals.shape}: need at least one window of one sensor slot; expected {LAYOUT}")
        if s > self.max_sensors:
            raise InputError(f"{s} sensor slots: the {self.backend} program of this bundle takes at most {self.max_sensors}; expected {LAYOUT}")

    def run(self, x: ModelInput) -> EngineOutput:
        """Embeddings and motion tokens of every window of ``x``."""
        self.check_input(x)
        return self.run_arrays(x.signals, x.placement_id, x.sensor_mask, x.has_gyro)

    def run_arrays(self, signals: np.ndarray, placement_id: np.ndarray, sensor_mask: np.ndarray, has_gyro: np.ndarray) -> EngineOutput:
        """`run` on raw arrays already in the layout (no `ModelInput` checks; used by `anymo bench`)."""
        emb, tok = self._impl.run(np.ascontiguousarray(signals, np.float32), np.ascontiguousarray(placement_id, np.int64),
                                  np.ascontiguousarray(sensor_mask, bool), np.ascontiguousarray(has_gyro, bool))
        return EngineOutput(np.asarray(emb, np.float32), np.asarray(tok, np.int64))

    # -- labels ------------------------------------------------------------------------------------
    def text_encoder(self) -> TextEncoder:
        """The on-device text tower (loaded on first use: most runs only need the bundled table)."""
        if self._text is None:
            t = self.manifest.get("text")
            if not t:
                raise BundleError(f"bundle {self.bundle.dir} has no text encoder: only its vocabulary {self.label_vocabulary} can be scored; "
                                  "re-export it with `anymo export` to score other label texts")
            # MiniLM from its package (sha256 as exported) + the bundle's projection
            self._text = TextEncoder(self.bundle.path(t["tokenizer_file"]), minilm_onnx_path(t["minilm"]["sha256"]),
                                     self.bundle.path(t["projection_file"]), int(t["max_tokens"]), list(t["prompt_templates"]),
                                     self.threads)
        return self._text

    def embed_labels(self, texts: list[str]) -> np.ndarray:
        """f32 [M, D] unit rows: the bundled table for known labels, the text tower for the others."""
        texts = [str(t) for t in texts]
        out = np.zeros((len(texts), self._label_table.shape[1]), np.float32)
        new = [i for i, t in enumerate(texts) if t not in self._label_row]
        for i, t in enumerate(texts):
            if t in self._label_row:
                out[i] = self._label_table[self._label_row[t]]
        if new:
            out[new] = self.text_encoder().embed_labels([texts[i] for i in new])
        return out

    def score(self, embedding: np.ndarray, label_emb: np.ndarray) -> np.ndarray:
        """f32 [B, M]: softmax over the labels of logit_scale x cosine similarity."""
        logits = self.logit_scale * (unit_rows(np.atleast_2d(embedding)) @ unit_rows(np.atleast_2d(label_emb)).T)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


class EngineMotionTextModel:
    """A bundle as the evaluator's `anymo.eval.models.MotionTextModel` (``anymo eval --model BUNDLE_DIR``):
    the accuracy reported is the accuracy of the exported model a device runs."""

    def __init__(self, bundle_dir: str | Path, backend: str = "onnxruntime", precision: str = "int8", threads: int = 2, batch: int = 64) -> None:
        self.engine = Engine.load(bundle_dir, backend, precision, threads)
        self.batch = batch
        model = self.engine.manifest.get("model", {})
        self.name = f"{model.get('name', Path(bundle_dir).name)} ({backend} {precision})"

    def embed_imu(self, windows: ModelInput) -> np.ndarray:
        n = len(windows)
        if n == 0:
            return np.zeros((0, self.engine._label_table.shape[1]), np.float32)
        return np.concatenate([self.engine.run(windows.subset(np.arange(i, min(i + self.batch, n)))).embedding for i in range(0, n, self.batch)])

    def tokens(self, windows: ModelInput) -> np.ndarray:
        n = len(windows)
        return np.concatenate([self.engine.run(windows.subset(np.arange(i, min(i + self.batch, n)))).token_ids for i in range(0, n, self.batch)])

    def embed_text(self, texts: list[str]) -> np.ndarray:
        return self.engine.embed_labels(list(texts))
