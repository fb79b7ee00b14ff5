"""Label texts -> joint-space embeddings on the device, without torch: the `tokenizers` package reads the
MiniLM tokenizer.json copied into the bundle, onnxruntime runs the exported text tower (MiniLM, mean
pooling over real tokens, L2 norm, the model's text projection, L2 norm), and prompts are ensembled
exactly as in training (`anymo.model.text.PROMPT_TEMPLATES`, recorded in the manifest)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / (np.linalg.norm(x, axis=-1, keepdims=True) + 1e-12)


class TextEncoder:
    """``encode(texts) -> f32[M, D]`` joint-space embeddings of single texts; ``embed_labels`` ensembles prompts."""

    def __init__(self, tokenizer_json: Path, model_onnx: Path, max_tokens: int, templates: list[str], threads: int = 1) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError("custom label texts need the `tokenizers` package: pip install 'anymo-edge[device]'") from exc
        import onnxruntime as ort

        self.tokenizer = Tokenizer.from_file(str(tokenizer_json))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=int(max_tokens))
        so = ort.SessionOptions()
        so.intra_op_num_threads = max(1, int(threads))
        so.log_severity_level = 3
        self.session = ort.InferenceSession(str(model_onnx), so, providers=["CPUExecutionProvider"])
        self.templates = list(templates)

    def encode(self, texts: list[str], batch: int = 64) -> np.ndarray:
        out = []
        for i in range(0, len(texts), batch):
            enc = self.tokenizer.encode_batch([str(t) for t in texts[i : i + batch]])
            n = max(len(e.ids) for e in enc)
            ids = np.zeros((len(enc), n), np.int64)
            mask = np.zeros((len(enc), n), np.int64)
            for j, e in enumerate(enc):
                ids[j, : len(e.ids)] = e.ids
                mask[j, : len(e.ids)] = 1
            out.append(self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0])
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 0), np.float32)

    def prompts(self, label: str) -> list[str]:
        label = str(label).strip()
        if not label:
            raise ValueError("a label text must not be empty")
        return [t.format(label=label) for t in self.templates]

    def embed_labels(self, labels: list[str]) -> np.ndarray:
        """[M, D]: per label the normalised mean of its projected prompt embeddings (as in training)."""
        prompts = [self.prompts(lab) for lab in labels]
        flat = self.encode([p for ps in prompts for p in ps])
        out, i = [], 0
        for ps in prompts:
            out.append(flat[i : i + len(ps)].mean(axis=0))
            i += len(ps)
        return unit_rows(np.stack(out)) if out else np.zeros((0, flat.shape[1] if flat.size else 0), np.float32)
