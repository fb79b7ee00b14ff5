"""The AnyMo motion model (PyTorch): setup-agnostic sensor-graph encoder, motion tokenizer, text alignment.

* `config` — `ModelConfig`, the plain dataclass every size/shape setting lives in;
* `geometry` — the placement geometry tables the encoder holds as buffers (numpy, from `anymo.body`);
* `network` — `AnyMoModel`: `ModelInput` arrays -> (joint-space embedding, motion token ids);
* `text` — frozen MiniLM sentence embeddings (offline) and prompt templates;
* `checkpoint` — safetensors checkpoints with a checked `config.json`;
* `zero_shot` — `TorchMotionTextModel`, the evaluator's `MotionTextModel` over a checkpoint;
* `train` / `train_cli` — the training recipe and `anymo train`.
"""
