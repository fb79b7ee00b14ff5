"""(motion tokens, prompt labels, placements, caption) pairs from simulated shards, for the captioner.

Each simulated window (16 sensors) becomes one pair the way the device sees a window: a random subset
of 1-3 of its sensors, preferring those at named placements (a watch, a phone in a pocket), with the
gyroscope dropped from some (acc-only wearables); the tokenizer (`AnyMoModel`) turns it into motion
token ids [C, N]. The prompt carries the zero-shot top labels, either ranked by the checkpoint itself
("model": what the device will see) or a noisy oracle ("noisy-oracle": the true label first with
probability 0.6, second 0.25, third 0.15, the others drawn from the vocabulary) for tokenizers that
are not trained yet. Targets are the simulator's captions made faithful (`faithful_caption`: no
numbers, no gender). The split is by work unit (a continuous motion), so held-out windows come from
motions never seen in training, and whole mocap clips are held out (the mocap subjects).
"""

from __future__ import annotations

import functools
import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anymo.body.placement_names import NAMED_PLACEMENTS
from anymo.caption.prompt import MAX_LABELS, faithful_caption

LABEL_SOURCES = ("model", "noisy-oracle")
NOISY_ORACLE_RANK_P = (0.6, 0.25, 0.15)
HELDOUT_FRACTION = 0.1


@dataclass
class CaptionPairs:
    """Aligned arrays/lists of length M (one pair per simulated window)."""

    token_ids: np.ndarray  # [M, C, N] int64
    top_labels: list[list[str]]  # zero-shot labels shown in the prompt, best first
    placements: list[list[str]]  # named placements of the chosen sensors
    activity: list[str]
    caption: list[str]  # faithful target caption
    heldout: np.ndarray  # [M] bool
    source: list[str]
    tokenizer: dict | None = None  # the checkpoint whose tokens these are: path, weights_sha256, label source

    def __len__(self) -> int:
        return int(self.token_ids.shape[0])

    def subset(self, idx: np.ndarray) -> CaptionPairs:
        idx = np.flatnonzero(idx) if np.asarray(idx).dtype == bool else np.asarray(idx)
        pick = lambda seq: [seq[i] for i in idx]
        return CaptionPairs(self.token_ids[idx], pick(self.top_labels), pick(self.placements), pick(self.activity),
                            pick(self.caption), self.heldout[idx], pick(self.source), self.tokenizer)

    def save(self, path: str | Path) -> None:
        """npz without pickles (lists of lists as JSON)."""
        np.savez_compressed(
            path, token_ids=self.token_ids, heldout=self.heldout,
            text=np.array(json.dumps({"top_labels": self.top_labels, "placements": self.placements,
                                      "activity": self.activity, "caption": self.caption, "source": self.source,
                                      "tokenizer": self.tokenizer})),
        )

    @classmethod
    def load(cls, path: str | Path) -> CaptionPairs:
        z = np.load(path, allow_pickle=False)
        t = json.loads(str(z["text"]))
        return cls(z["token_ids"], t["top_labels"], t["placements"], t["activity"], t["caption"], z["heldout"], t["source"],
                   t.get("tokenizer"))


_GENDERED = re.compile(r"^(A man|A woman)\b")


def target_caption(caption: str) -> str:
    """The simulator caption without what a motion sensor cannot tell: numbers and the wearer's gender."""
    return faithful_caption(_GENDERED.sub("A person", caption.strip()))


@functools.lru_cache(maxsize=1)
def _named_of_placement() -> dict[int, str]:
    """placement id -> the most specific (smallest) named region holding it."""
    from anymo.body.named_placements import region_mask

    masks = {name: region_mask(name) for name in NAMED_PLACEMENTS}
    out: dict[int, str] = {}
    for name in sorted(masks, key=lambda n: masks[n].sum(), reverse=True):  # smaller regions overwrite larger
        for pid in np.flatnonzero(masks[name]):
            out[int(pid)] = name
    return out


def _is_heldout(source: str, unit: int) -> bool:
    """Whole mocap clips (by name) and whole work units are held out, deterministically."""
    key = source if not source.startswith("procedural") else f"{source}:{unit}"
    return (zlib.crc32(key.encode()) % 1000) < HELDOUT_FRACTION * 1000


def choose_sensors(rng: np.random.Generator, placement_id: np.ndarray, max_sensors: int = 3) -> np.ndarray:
    """Indices of 1..max_sensors sensors of a window, named placements first (as people wear devices)."""
    named = _named_of_placement()
    k = int(rng.integers(1, max_sensors + 1))
    is_named = np.array([int(p) in named for p in placement_id])
    pool = rng.permutation(np.flatnonzero(is_named))
    rest = rng.permutation(np.flatnonzero(~is_named))
    return np.concatenate([pool, rest])[:k]


def noisy_oracle_labels(rng: np.random.Generator, activity: str, vocabulary: list[str]) -> list[str]:
    others = [v for v in vocabulary if v != activity]
    picks = [others[i] for i in rng.choice(len(others), MAX_LABELS - 1, replace=False)]
    rank = int(rng.choice(MAX_LABELS, p=NOISY_ORACLE_RANK_P))
    picks.insert(rank, activity)
    return picks


def build_pairs(shard_dirs: list[str | Path], checkpoint: str | Path, labels: str = "noisy-oracle", seed: int = 0,
                max_windows: int | None = None, gyro_drop_p: float = 0.3, batch: int = 128) -> CaptionPairs:
    """One pair per simulated window (see the module docstring); token ids from ``checkpoint``."""
    import torch

    from anymo.model.checkpoint import load_checkpoint
    from anymo.model.data import load_sim
    from anymo.model.zero_shot import text_embeddings

    if labels not in LABEL_SOURCES:
        raise ValueError(f"labels must be one of {LABEL_SOURCES}, got {labels!r}")
    sim = load_sim([Path(d) for d in shard_dirs], max_windows=max_windows)
    model, _config, _ = load_checkpoint(checkpoint)
    model.eval()
    rng = np.random.default_rng(seed)
    named = _named_of_placement()
    vocab = sorted(set(sim.activity))
    text_emb = text_embeddings(model, vocab) if labels == "model" else None
    m = len(sim)
    k_max = 3
    sig = np.zeros((m, k_max, sim.signals.shape[2], 6), np.float32)
    pid = np.full((m, k_max), -1, np.int64)
    mask = np.zeros((m, k_max), bool)
    gyro = np.zeros((m, k_max), bool)
    places: list[list[str]] = []
    for i in range(m):
        sel = choose_sensors(rng, sim.placement_id[i], k_max)
        k = len(sel)
        sig[i, :k] = sim.signals[i, sel].astype(np.float32)
        pid[i, :k] = sim.placement_id[i, sel]
        mask[i, :k] = True
        gyro[i, :k] = rng.random() >= gyro_drop_p
        sig[i, :k, :, 3:] *= gyro[i, :k, None, None]
        places.append(sorted({named[int(p)] for p in pid[i, :k] if int(p) in named}))
    toks, embs = [], []
    with torch.no_grad():
        for a in range(0, m, batch):
            e, t = model(torch.from_numpy(sig[a : a + batch]), torch.from_numpy(pid[a : a + batch]),
                         torch.from_numpy(mask[a : a + batch]), torch.from_numpy(gyro[a : a + batch]))
            toks.append(t.numpy())
            embs.append(e.numpy())
    token_ids = np.concatenate(toks).astype(np.int64)
    if labels == "model":
        scores = np.concatenate(embs) @ text_emb.T
        top = [[vocab[j] for j in np.argsort(-s)[:MAX_LABELS]] for s in scores]
    else:
        top = [noisy_oracle_labels(rng, a, vocab) for a in sim.activity]
    held = np.array([_is_heldout(s, int(u)) for s, u in zip(sim.source, sim.unit)])
    return CaptionPairs(token_ids, top, places, list(sim.activity), [target_caption(c) for c in sim.caption], held,
                        list(sim.source), tokenizer_record(checkpoint, labels))


def tokenizer_record(checkpoint: str | Path, labels: str) -> dict:
    """What the captioner's config records of the tokenizer whose codes it learned (the bundle refuses a
    projector whose ``weights_sha256`` is not its encoder's)."""
    import hashlib

    ck = Path(checkpoint) / "config.json"
    doc = json.loads(ck.read_text())
    return {"checkpoint": str(checkpoint), "labels": labels, "checkpoint_config_sha256": hashlib.sha256(ck.read_bytes()).hexdigest(),
            "checkpoint_meta": doc.get("meta", {}), "weights_sha256": doc.get("weights_sha256")}
