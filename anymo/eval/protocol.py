"""`MotionTextModel`: what a model must offer to be evaluated (apart from the model loaders in
`anymo.eval.models`, so the harness needs no loader and a loader may use the harness)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from anymo.preprocess.model_input import ModelInput


@runtime_checkable
class MotionTextModel(Protocol):
    """A zero-shot motion-text model. ``caption`` is optional (check with ``hasattr``)."""

    name: str

    def embed_imu(self, x: ModelInput) -> np.ndarray:
        """[B, D] embeddings of the B windows of ``x`` (each window: S sensor slots, 60 Hz, 5 s;
        see anymo.preprocess.model_input)."""
        ...

    def embed_text(self, texts: list[str]) -> np.ndarray:
        """[M, D] embeddings of ``texts`` in the same space."""
        ...


def can_caption(model: object) -> bool:
    return callable(getattr(model, "caption", None))
