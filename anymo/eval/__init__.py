"""Evaluation on real recordings: the model interface, metrics, the supervised reference and the harness.

Numpy only at import; BERTScore imports torch/transformers inside its function.
"""
