"""Activity labels in plain language: the editable vocabulary and the temporal smoothing of its scores.

`LabelVocabulary` is the bundle's default set plus the user's own labels ("brushing teeth",
"physio: shoulder abduction"), kept in ``labels.json`` next to the pairing store so they survive a
restart; every change bumps ``version`` so the runtime scores the new set from its next window on.

`LabelSmoother` turns per-window zero-shot probabilities into a steady label: an exponential moving
average over each label's probability (keyed by the label text, so adding or removing a label keeps the
others' history), a switch only when the challenger leads the current label by ``switch_margin``, and an
"uncertain" state entered below ``uncertain_below`` and left only above ``certain_above`` (hysteresis on
both, so a label near a threshold does not flicker). By default the thresholds follow the vocabulary's
size, since a softmax over 44 labels spreads thinner than one over 5: uncertain below 6x chance (6 / M,
kept within 0.15..0.40), certain again above 1.3x that.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

UNCERTAIN = "uncertain"
MAX_LABEL_CHARS = 80

# Used when a bundle carries no vocabulary of its own: everyday activities and common exercises.
DEFAULT_LABELS = (
    "walking", "running", "standing still", "sitting", "lying down", "sitting down", "standing up",
    "climbing stairs", "going down stairs", "cycling", "jumping", "brushing teeth", "eating", "drinking",
    "typing", "arm exercise", "shoulder abduction", "squats",
)


def labels_path() -> Path:
    """``labels.json`` in the anymo config folder (``$ANYMO_CONFIG_DIR``, ``$XDG_CONFIG_HOME/anymo``, ``~/.config/anymo``)."""
    if os.environ.get("ANYMO_CONFIG_DIR"):
        return Path(os.environ["ANYMO_CONFIG_DIR"]).expanduser() / "labels.json"
    if os.environ.get("XDG_CONFIG_HOME"):
        return Path(os.environ["XDG_CONFIG_HOME"]).expanduser() / "anymo" / "labels.json"
    return Path.home() / ".config" / "anymo" / "labels.json"


def check_label(text: object) -> str:
    """A label as stored: stripped, single spaces, 1..80 printable characters; ValueError naming the fix."""
    if not isinstance(text, str):
        raise ValueError(f"a label must be text, got {type(text).__name__}")
    clean = " ".join(text.split())
    if not clean:
        raise ValueError("a label cannot be empty: describe the activity in a few words, e.g. 'brushing teeth'")
    if len(clean) > MAX_LABEL_CHARS:
        raise ValueError(f"a label has at most {MAX_LABEL_CHARS} characters (got {len(clean)}); shorten it")
    if not clean.isprintable():
        raise ValueError("a label must be printable text (no control characters)")
    if clean.lower() == UNCERTAIN:
        raise ValueError(f"'{UNCERTAIN}' is reserved for low-confidence windows; choose another label")
    return clean


class LabelVocabulary:
    """The default labels plus the user's custom ones (thread-safe; custom labels persisted to ``path``).

    ``path=None`` keeps custom labels in memory only (tests, a demo that must not touch the user's files).
    """

    def __init__(self, builtin: Iterable[str] = DEFAULT_LABELS, path: Path | str | None = None) -> None:
        self.builtin = [check_label(t) for t in builtin]
        if not self.builtin:
            raise ValueError("the label vocabulary needs at least one default label")
        self.path = Path(path) if path is not None else None
        self.custom: list[str] = []
        self.version = 0
        self._lock = threading.Lock()
        if self.path is not None and self.path.exists():
            self.custom = self._read()

    def _read(self) -> list[str]:
        assert self.path is not None
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            items = doc["custom"] if isinstance(doc, dict) else None
            if not isinstance(items, list):
                raise ValueError('expected {"custom": ["label", ...]}')
            out: list[str] = []
            for t in items:
                t = check_label(t)
                if t.lower() not in {x.lower() for x in out}:
                    out.append(t)
            return out
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            raise ValueError(f"custom labels file {self.path} is unreadable ({exc}); fix it or move it away "
                             "(your custom labels are the only thing in it)") from None

    def _save(self) -> None:
        if self.path is None:
            return
        from firmware_bridge.pairing import (
            atomic_write_text,  # atomic + fsync, shared with the pairing store
        )

        atomic_write_text(self.path, json.dumps({"custom": self.custom}, indent=2) + "\n")

    @property
    def labels(self) -> list[str]:
        """Every label scored: the defaults, then the custom ones (a custom label equal to a default is not repeated)."""
        with self._lock:
            seen = {t.lower() for t in self.builtin}
            return self.builtin + [t for t in self.custom if t.lower() not in seen]

    def to_json(self) -> dict:
        with self._lock:
            return {"builtin": list(self.builtin), "custom": list(self.custom), "version": self.version}

    def _find(self, text: str) -> int:
        key = text.lower()
        for i, t in enumerate(self.custom):
            if t.lower() == key:
                return i
        raise KeyError(f"no custom label {text!r}; custom labels: {', '.join(self.custom) or 'none'}")

    def add(self, text: str) -> str:
        label = check_label(text)
        with self._lock:
            if label.lower() in {t.lower() for t in self.builtin + self.custom}:
                raise ValueError(f"the label {label!r} is already in the vocabulary")
            self.custom.append(label)
            self.version += 1
            self._save()
        return label

    def rename(self, old: str, new: str) -> str:
        label = check_label(new)
        with self._lock:
            i = self._find(check_label(old))
            others = {t.lower() for j, t in enumerate(self.builtin + self.custom) if j != len(self.builtin) + i}
            if label.lower() in others:
                raise ValueError(f"the label {label!r} is already in the vocabulary")
            self.custom[i] = label
            self.version += 1
            self._save()
        return label

    def remove(self, text: str) -> str:
        with self._lock:
            label = check_label(text)
            if label.lower() in {t.lower() for t in self.builtin} and label.lower() not in {t.lower() for t in self.custom}:
                raise ValueError(f"{label!r} is a default label of the model; only custom labels can be removed")
            i = self._find(label)
            removed = self.custom.pop(i)
            self.version += 1
            self._save()
        return removed


@dataclass
class SmoothedLabel:
    """The label shown for one window."""

    label: str  # a vocabulary label or UNCERTAIN
    confidence: float  # smoothed probability of the top label (also when uncertain)
    top: list[tuple[str, float]]  # smoothed, best first
    raw_label: str  # this window's own argmax
    raw_confidence: float
    changed: bool  # the shown label differs from the previous window's
    scores: dict[str, float]  # every label's smoothed probability


@dataclass
class LabelSmoother:
    """EMA over probabilities + switch margin + uncertain hysteresis (see the module docstring)."""

    alpha: float = 0.5  # weight of the newest window (hop 1 s: ~1.5 s time constant)
    uncertain_below: float | None = None  # None: 6 / n_labels within 0.15..0.40
    certain_above: float | None = None  # None: 1.3 x uncertain_below
    switch_margin: float = 0.06
    top_k: int = 3
    _ema: dict[str, float] = field(default_factory=dict)
    _current: str = UNCERTAIN

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        lo, hi = self.thresholds(10)
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError("need 0 <= uncertain_below <= certain_above <= 1")

    def thresholds(self, n_labels: int) -> tuple[float, float]:
        """(uncertain_below, certain_above) for a vocabulary of ``n_labels``."""
        lo = self.uncertain_below if self.uncertain_below is not None else min(0.40, max(0.15, 6.0 / max(1, n_labels)))
        hi = self.certain_above if self.certain_above is not None else min(1.0, 1.3 * lo)
        return lo, hi

    def reset(self) -> None:
        self._ema.clear()
        self._current = UNCERTAIN

    def update(self, labels: list[str], probs: np.ndarray) -> SmoothedLabel:
        probs = np.asarray(probs, dtype=np.float64).reshape(-1)
        if len(labels) != len(probs) or not len(labels):
            raise ValueError(f"{len(labels)} labels for {len(probs)} probabilities")
        first = not self._ema
        ema = {}
        for t, p in zip(labels, probs, strict=True):
            prev = self._ema.get(t)
            # a label new to the vocabulary starts from this window's value (no history to blend with)
            ema[t] = float(p) if prev is None or first else self.alpha * float(p) + (1 - self.alpha) * prev
        self._ema = ema  # removed labels are forgotten
        order = sorted(ema, key=ema.get, reverse=True)
        best, p_best = order[0], ema[order[0]]
        raw_i = int(np.argmax(probs))
        before = self._current
        lo, hi = self.thresholds(len(labels))
        if self._current == UNCERTAIN or self._current not in ema:
            if p_best >= (hi if self._current == UNCERTAIN else lo):
                self._current = best
            else:
                self._current = UNCERTAIN
        elif p_best < lo:
            self._current = UNCERTAIN
        elif best != self._current and p_best >= ema[self._current] + self.switch_margin:
            self._current = best
        conf = ema[self._current] if self._current != UNCERTAIN else p_best
        return SmoothedLabel(self._current, float(conf), [(t, round(ema[t], 4)) for t in order[:self.top_k]],
                             labels[raw_i], float(probs[raw_i]), self._current != before,
                             {t: round(ema[t], 4) for t in labels})
