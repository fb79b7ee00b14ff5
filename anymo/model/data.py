"""Simulated shards -> in-memory training windows, and the text table every window's texts index into.

`SimWindows` holds the one model input's normalisation of the shards (acc in g, gyro rad/s, clipped;
float16 in memory to halve it) with each window's activity and caption as indices into a `TextTable`
(unique texts, embedded once by the frozen MiniLM and cached on disk).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anymo.model.text import embed_sentences, label_prompts
from anymo.preprocess.model_input import MODEL_RATE_HZ
from anymo.preprocess.normalise import to_model_input
from anymo.sim.shards import load_shards


@dataclass
class SimWindows:
    """Windows of one or more simulated datasets, ready for training (see the module docstring)."""

    signals: np.ndarray  # [N, S, T, 6] float16, model-input units
    placement_id: np.ndarray  # [N, S] int64
    activity: list[str]
    caption: list[str]
    unit: np.ndarray  # [N] int64: (dataset, work unit), unique across the datasets loaded together
    source: list[str]
    start_s: np.ndarray | None = None  # [N] window start within its unit (s); None: unknown

    @property
    def next_index(self) -> np.ndarray:
        """[N] index of the window that continues each one in time (same unit, next start), -1 for none."""
        cache = self.__dict__.get("_next_index")
        if cache is None:
            cache = np.full(len(self), -1, np.int64)
            if self.start_s is not None and len(self) > 1:
                length_s = self.signals.shape[2] / MODEL_RATE_HZ
                follows = (self.unit[1:] == self.unit[:-1]) & np.isclose(self.start_s[1:] - self.start_s[:-1], length_s, atol=1e-3)
                cache[:-1][follows] = np.nonzero(follows)[0] + 1
            self.__dict__["_next_index"] = cache
        return cache

    def gravity_up_at(self, idx: np.ndarray) -> np.ndarray:
        """[len(idx), S, T, 3] float16 unit "up" per sample in each device frame (`anymo.model.augment.gravity_direction`)
        of windows ``idx``, filtered along each window's continuous run of windows. A run is computed on the first use
        of any of its windows and kept (all of 24 h of 16-sensor windows: ~50 s and 0.5 GB on 2 cores), so only the runs
        that hold replayed windows cost anything."""
        n, s, t, _ = self.signals.shape
        state = self.__dict__.get("_gravity_up")
        if state is None:
            nxt = self.next_index
            heads = np.setdiff1d(np.arange(n), nxt[nxt >= 0])
            run_of, runs = np.empty(n, np.int64), []
            for h in heads:
                run = [int(h)]
                while nxt[run[-1]] >= 0:
                    run.append(int(nxt[run[-1]]))
                run_of[run] = len(runs)
                runs.append(run)
            # zeros: the pages of runs never used are never touched
            state = self.__dict__["_gravity_up"] = (np.zeros((n, s, t, 3), np.float16), np.zeros(n, bool), run_of, runs)
        cache, done, run_of, runs = state
        idx = np.asarray(idx, dtype=np.int64)
        by_length: dict[int, list[list[int]]] = {}
        for r in np.unique(run_of[idx[~done[idx]]]):
            by_length.setdefault(len(runs[r]), []).append(runs[r])
        if by_length:
            from anymo.model.augment import gravity_direction  # torch-free numpy, imported late

            for length, group in by_length.items():
                for c0 in range(0, len(group), 32):  # 32 runs at a time: ~0.5 GB of float64 filter state
                    rows = np.array(group[c0 : c0 + 32])  # [c, length]
                    x = self.signals[rows].astype(np.float32)  # [c, length, S, T, 6]
                    x = x.transpose(0, 2, 1, 3, 4).reshape(len(rows) * s, length * t, 6)
                    up = gravity_direction(x, MODEL_RATE_HZ).reshape(len(rows), s, length, t, 3).transpose(0, 2, 1, 3, 4)
                    cache[rows.reshape(-1)] = up.reshape(-1, s, t, 3).astype(np.float16)
                    done[rows.reshape(-1)] = True
        return cache[idx]

    def __len__(self) -> int:
        return int(self.signals.shape[0])

    def take(self, idx: np.ndarray) -> SimWindows:
        """The windows ``idx`` (indices or a boolean mask), every per-window field alike."""
        idx = np.asarray(idx)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return SimWindows(self.signals[idx], self.placement_id[idx], [self.activity[i] for i in idx],
                          [self.caption[i] for i in idx], self.unit[idx], [self.source[i] for i in idx],
                          None if self.start_s is None else self.start_s[idx])

    @property
    def n_sensors(self) -> int:
        return int(self.signals.shape[1])


def load_sim(directories: list[str | Path], min_purity: float = 0.5, max_windows: int | None = None) -> SimWindows:
    """Every window of the shard folders with ``label_purity >= min_purity`` (all have the same K sensors)."""
    sig, pid, act, cap, unit, src, start = [], [], [], [], [], [], []
    unit_base = 0
    for d in directories:
        ds = load_shards(d)
        top = 0
        for a in ds.iter_shards():
            keep = a["label_purity"] >= min_purity
            n, s, t, _ = a["acc_mps2"][keep].shape
            x = to_model_input(a["acc_mps2"][keep].reshape(n * s, t, 3), a["gyro_rads"][keep].reshape(n * s, t, 3))
            sig.append(x.reshape(n, s, t, 6).astype(np.float16))
            pid.append(a["placement_id"][keep].astype(np.int64))
            act += [str(v) for v in a["activity"][keep]]
            cap += [str(v) for v in a["caption"][keep]]
            u = a["unit_id"][keep].astype(np.int64)
            unit.append(u + unit_base)
            top = max(top, int(u.max()) + 1 if len(u) else 0)
            src += [str(v) for v in a["source"][keep]]
            start.append(a["window_start_s"][keep].astype(np.float64))
            if max_windows is not None and sum(len(p) for p in pid) >= max_windows:
                break
        unit_base += top
    widths = {p.shape[1] for p in pid}
    if len(widths) > 1:
        raise ValueError(f"simulated datasets with different sensors per window {sorted(widths)} cannot be mixed; simulate them with the same --sensors-per-window")
    out = SimWindows(np.concatenate(sig), np.concatenate(pid), act, cap, np.concatenate(unit), src, np.concatenate(start))
    if max_windows is not None and len(out) > max_windows:
        out = out.take(np.arange(max_windows))
    return out


@dataclass
class TextTable:
    """Unique texts and their frozen MiniLM embeddings [M, 384]; ``index[text]`` = row."""

    texts: list[str]
    features: np.ndarray

    def __post_init__(self) -> None:
        self.index = {t: i for i, t in enumerate(self.texts)}

    def rows(self, texts: list[str]) -> np.ndarray:
        return np.array([self.index[t] for t in texts], np.int64)


def build_text_table(texts: list[str], cache: str | Path | None = None) -> TextTable:
    """Embed the unique ``texts`` once (cached in ``cache`` .npz keyed by their sha256)."""
    uniq = sorted(set(texts))
    key = hashlib.sha256(json.dumps(uniq).encode()).hexdigest()
    if cache is not None and Path(cache).is_file():
        with np.load(cache, allow_pickle=False) as z:
            if str(z["key"]) == key:
                return TextTable(uniq, z["features"])
    feats = embed_sentences(uniq)
    if cache is not None:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(f"{cache}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:  # atomic: runs may share one cache
            np.savez(f, key=np.array(key), features=feats)
        os.replace(tmp, cache)
    return TextTable(uniq, feats)


def caption_and_prompt_table(captions: list[str], labels: list[str], cache: str | Path | None = None) -> TextTable:
    """The text table zero-shot evaluation and retrieval look up: every caption and every prompt of ``labels``."""
    return build_text_table(sorted(set(captions) | {p for lab in labels for p in label_prompts(lab)}), cache)


def label_texts(labels: list[str]) -> dict[str, list[str]]:
    """label -> its prompt texts (`label_prompts`)."""
    return {lab: label_prompts(lab) for lab in labels}
