"""`anymo caption --bundle BUNDLE_DIR RECORDING [--json]`: a caption per 5 s window of a recording (no torch).

RECORDING is a recording file in any format `anymo.data.loaders.load_file` reads, a folder of such files,
or a registered dataset sample ``DATASET[:INDEX]`` (e.g. ``hmp_adl:3``; `anymo datasets` lists them). Each window goes through
the bundle's encoder/tokenizer (`edge.engine.Engine`): its zero-shot top labels (the bundle's label
vocabulary) and motion tokens are the captioner's prompt (`edge.captioner.Captioner`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from anymo.preprocess.model_input import ModelInput, WindowMeta, placement_id_of, placement_name_of
from edge.captioner import Captioner, CaptionerError

TOP_K = 3


def load_recordings(spec: str):
    """A file path, a folder of recording files (every file but hidden ones and ``index.csv``, sorted), or
    ``DATASET[:INDEX]`` of the registered real datasets."""
    from anymo.data.datasets import DATASETS, load_dataset
    from anymo.data.loaders import load_file

    path = Path(spec)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".") and p.name != "index.csv")
        if not files:
            raise FileNotFoundError(f"{path}: the folder holds no recording files")
        return [r for f in files for r in load_file(f)], str(path)
    if path.exists():
        return load_file(path), str(path)
    name, _, index = spec.partition(":")
    if name in DATASETS:
        recs = load_dataset(name)
        if not index:
            return recs, name
        i = int(index)
        if not 0 <= i < len(recs):
            raise ValueError(f"{name} has {len(recs)} recordings; index {i} is out of range")
        return [recs[i]], f"{name}:{i}"
    raise FileNotFoundError(f"{spec}: no such file, and not a dataset sample DATASET[:INDEX] (datasets: {', '.join(DATASETS)})")


def windows_input(windows) -> ModelInput:
    """The windows of `make_windows` as the one model input: a `ModelInput` as it is (what make_windows
    gives since issue 7); an old single-sensor `Windows` batch converted with the one normalisation."""
    if isinstance(windows, ModelInput):
        return windows
    n = len(windows)
    pid = np.array([[placement_id_of(p)] for p in windows.placement], np.int32).reshape(n, 1)
    meta = WindowMeta(list(windows.label), [()] * n, list(windows.subject), list(windows.dataset),
                      np.asarray(windows.recording), np.asarray(windows.start_s), np.asarray(windows.padded))
    return ModelInput.from_arrays(windows.acc_mps2[:, None], windows.gyro_rads[:, None], pid,
                                  has_gyro=np.asarray(windows.has_gyro, bool)[:, None],
                                  gravity_removed=np.asarray(windows.gravity_removed, bool)[:, None], meta=meta,
                                  rate_hz=windows.rate_hz)


def caption_recording(bundle: str | Path, spec: str, threads: int = 2, max_windows: int | None = None,
                      engine=None, captioner: Captioner | None = None) -> list[dict]:
    """One dict per window: start_s, end_s, placement, true label (if any), top labels with probabilities,
    motion token ids and the caption."""
    from anymo.preprocess.windows import make_windows
    from edge.engine import Engine

    recs, _ = load_recordings(spec)
    win = make_windows(recs)
    if max_windows is not None:
        win = win.subset(np.arange(min(len(win), max_windows)))
    if not len(win):
        raise ValueError(f"{spec}: no 5 s window could be cut (recordings shorter than 3 s?)")
    engine = engine or Engine.load(bundle, threads=threads)
    captioner = captioner or Captioner.load(bundle, threads=threads)
    vocab = list(engine.label_vocabulary)
    label_emb = engine.embed_labels(vocab)
    x = windows_input(win)
    out = []
    for i in range(len(x)):
        res = engine.run(x.subset([i]))
        probs = np.asarray(engine.score(res.embedding, label_emb))[0]
        top = np.argsort(-probs)[:TOP_K]
        labels = [vocab[j] for j in top]
        tokens = np.asarray(res.token_ids)[0]
        worn = [placement_name_of(p) for p, m in zip(x.placement_id[i], x.sensor_mask[i]) if m]  # every sensor of the window
        text = captioner.caption(tokens, labels, worn)
        start = float(x.meta.start_s[i])
        out.append({
            "recording": int(x.meta.recording[i]), "start_s": round(start, 3),
            "end_s": round(start + 5.0, 3), "placement": ", ".join(worn), "label": x.meta.label[i],
            "top_labels": [{"label": vocab[j], "p": round(float(probs[j]), 4)} for j in top],
            "token_ids": tokens.tolist(), "caption": text, "caption_ms": round(1000 * captioner.last_timing.total_s, 1),
        })
    return out


def main(argv: list[str], prog: str = "anymo caption") -> int:
    ap = argparse.ArgumentParser(prog=prog, description="caption every 5 s window of a recording with the bundle's captioner")
    ap.add_argument("recording", help="a recording file, a folder of them, or DATASET[:INDEX] (see `anymo datasets`)")
    ap.add_argument("--bundle", default=None, help="model bundle folder (default: the shipped bundle)")
    ap.add_argument("--json", action="store_true", help="print one JSON object per window")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-windows", type=int, default=None)
    a = ap.parse_args(argv)
    from edge.bundle import DEFAULT_BUNDLE, BundleError

    bundle = Path(a.bundle) if a.bundle else DEFAULT_BUNDLE
    try:
        rows = caption_recording(bundle, a.recording, a.threads, a.max_windows)
    except (CaptionerError, BundleError, FileNotFoundError, ValueError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    for r in rows:
        if a.json:
            print(json.dumps(r))
        else:
            top = ", ".join(f"{t['label']} {t['p']:.2f}" for t in r["top_labels"])
            truth = f" (labelled: {r['label']})" if r["label"] else ""
            print(f"{r['start_s']:8.1f}-{r['end_s']:.1f} s  {r['placement']}{truth}  [{top}]  {r['caption']}")
    return 0
