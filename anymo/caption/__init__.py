"""Motion captioning, training side: motion tokens -> a small language model (SmolLM2-135M via llama.cpp).

`prompt` (pure python, shared with the device's `edge.captioner`), `llama` (PyTorch decoder read from the
GGUF), `pairs` ((motion tokens, caption) pairs from simulated shards), `train` (projector training).
"""
