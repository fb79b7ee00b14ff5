"""The captioner's prompt, shared by training (PyTorch) and the device (llama.cpp): pure python.

A prompt is SmolLM2's chat format with the motion embeddings spliced into the user turn:

    <|im_start|>user\\nMotion:<MOTION x N>\\nLikely: walking, running.\\nWorn on: right wrist.<|im_end|>\\n
    <|im_start|>assistant\\n

``<MOTION x N>`` are N input embeddings (one per token step, the sum of its codebooks' learned
embeddings), never text. The likely activities are the zero-shot top labels (best first) and the
placements are where the sensors are worn: the only facts the caption may state beyond the signal.
The prompt is short on purpose (no instruction sentence: the projector is trained to this format):
every prompt token costs prefill time on the device and forward/backward time in training.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

MAX_LABELS = 3
MAX_PLACEMENTS = 3


@dataclass(frozen=True)
class PromptParts:
    """Text before the motion embeddings and text after them (llama.cpp parses the special tokens)."""

    before: str
    after: str

    def to_dict(self) -> dict:
        return asdict(self)


def placement_text(placement: str) -> str:
    """'right_front_pocket' -> 'right front pocket'."""
    return placement.replace("_", " ").strip()


def build_prompt(top_labels: Sequence[str], placements: Sequence[str]) -> PromptParts:
    """The prompt around the motion embeddings for the given zero-shot labels (best first) and placements."""
    labels = [lab.strip() for lab in top_labels if lab and lab.strip()][:MAX_LABELS]
    places = []
    for p in placements:
        t = placement_text(p)
        if t and t != "unknown" and t not in places:
            places.append(t)
    places = places[:MAX_PLACEMENTS]
    lines = [f"Likely: {', '.join(labels)}." if labels else "Likely: unknown."]
    lines.append(f"Worn on: {', '.join(places)}." if places else "Worn on: unknown.")
    return PromptParts(
        before="<|im_start|>user\nMotion:",
        after="\n" + "\n".join(lines) + "<|im_end|>\n<|im_start|>assistant\n",
    )


# Numbers the signal cannot support (cadence, repetitions, durations): the training captions lose them
# and the decoder may not emit a digit (see `banned_token_ids`).
_NUMERIC_CLAUSE = re.compile(r",?\s*(at )?(about |around |roughly )?\d+([.,]\d+)?\s*(steps|strides|reps|repetitions|times|beats|bpm|seconds|s|minutes|min|km/h|m/s|metres|meters|per minute)?( (per|a|each) (minute|second|hour))?", re.IGNORECASE)


def faithful_caption(caption: str) -> str:
    """The caption without numeric clauses ("..., at about 121 steps per minute." -> "...."), tidied."""
    out = _NUMERIC_CLAUSE.sub("", caption)
    out = re.sub(r"\s+([.,;])", r"\1", re.sub(r"\s{2,}", " ", out)).strip()
    out = re.sub(r",\.$", ".", out)
    return out if out.endswith(".") else out + "."


# Greedy decoding of a 135M model loops ("a person who is likely to be a person who is likely to be ...");
# the decoder may not complete an n-gram it has already generated. Only the caption's own tokens count, so
# restating the prompt's labels stays allowed.
NO_REPEAT_NGRAM = 3


def repeat_blocked(generated: Sequence[int], n: int) -> list[int]:
    """Token ids that would complete an ``n``-gram already present in ``generated`` (the caption so far);
    empty when ``n`` < 1. The same rule on the device (llama.cpp) and in PyTorch keeps their captions identical."""
    if n < 1 or len(generated) < n - 1:
        return []
    if n == 1:
        return list(dict.fromkeys(generated))
    prefix = list(generated[len(generated) - (n - 1):])
    return [generated[i + n - 1] for i in range(len(generated) - n + 1) if list(generated[i:i + n - 1]) == prefix]


def has_digit(piece: str) -> bool:
    return any(ch.isdigit() for ch in piece)
