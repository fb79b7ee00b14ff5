"""The interface a model must offer to be evaluated, and the built-in references.

`MotionTextModel` (defined in `anymo.eval.protocol`, re-exported here) is what the AnyMo encoder implements: IMU windows and texts into one
embedding space (cosine similarity = match), optionally a captioner. `load_model` resolves the
``--model`` argument: ``random``, ``supervised`` (handled by the harness: it is fitted per fold,
see `anymo.eval.supervised`) or a path to a bundle.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from anymo.eval.protocol import MotionTextModel, can_caption
from anymo.preprocess.model_input import ModelInput

__all__ = ["MotionTextModel", "can_caption", "RandomModel", "load_model", "BUILTIN"]


class RandomModel:
    """Random embeddings: IMU windows get seeded Gaussian vectors, a text always the same vector
    (seeded by its CRC32). Captions are random labels from ``vocabulary``. Must land near chance."""

    name = "random"

    def __init__(self, dim: int = 64, seed: int = 0, vocabulary: list[str] | None = None) -> None:
        self.dim, self.seed = dim, seed
        self.vocabulary = list(vocabulary or ["walking"])
        self._rng = np.random.default_rng(seed)

    def embed_imu(self, x: ModelInput) -> np.ndarray:
        return self._rng.standard_normal((len(x), self.dim))

    def embed_text(self, texts: list[str]) -> np.ndarray:
        return np.stack(
            [np.random.default_rng([self.seed, zlib.crc32(t.encode())]).standard_normal(self.dim) for t in texts]
        )

    def caption(self, x: ModelInput) -> list[str]:
        return [self.vocabulary[i] for i in self._rng.integers(0, len(self.vocabulary), len(x))]


BUILTIN = ("random", "supervised", "simfeatures")


def load_model(spec: str, seed: int = 0, vocabulary: list[str] | None = None) -> MotionTextModel | str:
    """``random`` -> RandomModel; ``supervised`` -> the string "supervised" (the harness fits it);
    a folder with ``config.json`` or ``checkpoint/config.json`` -> the AnyMo checkpoint (`TorchMotionTextModel`)."""
    if spec == "random":
        return RandomModel(seed=seed, vocabulary=vocabulary)
    if spec == "simfeatures":  # features + logistic regression trained on simulated windows only
        from anymo.eval.simfeatures import SimFeaturesModel

        return SimFeaturesModel()
    if spec == "supervised":
        return "supervised"
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(f"model {spec!r}: no such file or folder; use 'random', 'simfeatures', 'supervised', a checkpoint "
                                "folder (anymo train's OUT or OUT/checkpoint) or an exported bundle (anymo export)")
    if (path / "manifest.json").is_file():  # an exported bundle: evaluated through the device engine (edge.engine)
        from edge.engine import EngineMotionTextModel

        return EngineMotionTextModel(path)
    if (path / "config.json").is_file() or (path / "checkpoint" / "config.json").is_file():
        from anymo.model.zero_shot import TorchMotionTextModel  # a trained AnyMo checkpoint (needs torch)

        return TorchMotionTextModel(path)
    raise NotImplementedError(
        f"model {spec!r}: neither a checkpoint (no config.json or checkpoint/config.json) nor an exported bundle (no "
        "manifest.json); pass anymo train's OUT folder or an anymo export bundle. From Python, any object implementing "
        "anymo.eval.models.MotionTextModel (embed_imu, embed_text, optional caption) goes to anymo.eval.harness.evaluate"
    )
