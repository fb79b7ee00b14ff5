"""Captioner benchmark: parity (llama.cpp vs PyTorch), caption quality (synthetic held-out + real recordings)
against a label-template baseline, and speed. Writes results/caption_parity.json, results/caption_quality.json,
results/caption_speed.json.

    python benchmarks/caption_quality.py --captioner models/anymo-edge-small/captioner \\
        --pairs /work/cap/pairs_untrained.npz --checkpoint models/anymo-edge-small/checkpoint

* parity: on held-out pairs, greedy captions of the device path (llama.cpp, Q4_1 weights, embeddings through
  the batch API) and of PyTorch (the same GGUF dequantised to float32, `anymo.caption.llama`); the share of
  identical captions and the first next-token logits' difference (max |d|, and relative to the logits' spread);
* quality: BERTScore-F1 (all-MiniLM-L6-v2 as in `anymo.eval.metrics`), ROUGE-L (rouge-score, best over the
  references) and corpus BLEU-4 (sacrebleu, multi-reference) of the captioner and of the template baseline
  "A person is {top-1 label}." on (a) held-out synthetic windows (references: the window's own faithful caption
  plus the simulator's phrasings of its activity; procedural units and held-out mocap clips reported apart)
  and (b) real recordings of every labelled dataset (references derived from the label: the simulator's
  phrasings of the label); each with the prompt's labels from the tokenizer's zero-shot ranking and, as an
  upper bound, with the true label first;
* speed: `edge.captioner.bench_captioner` at 1 and 2 threads.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anymo.caption.pairs import CaptionPairs, target_caption
from edge.captioner import Captioner

RESULTS = ROOT / "results"


def template(label: str) -> str:
    return f"A person is {label}."


def references_for(label: str, own: str | None = None) -> list[str]:
    from anymo.sim.captions import activity_captions

    refs = [own] if own else []
    refs += [target_caption(c) for c in activity_captions(label)]
    return list(dict.fromkeys(refs)) or [template(label)]


def scores(cands: list[str], refs: list[list[str]]) -> dict:
    import sacrebleu
    from rouge_score import rouge_scorer

    from anymo.eval.metrics import bertscore_f1

    rs = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    rouge = [max(rs.score(r, c)["rougeL"].fmeasure for r in rr) for c, rr in zip(cands, refs, strict=True)]
    k = max(len(r) for r in refs)
    streams = [[rr[i] if i < len(rr) else rr[0] for rr in refs] for i in range(k)]  # pad with a duplicate: no effect
    bleu = sacrebleu.corpus_bleu(cands, streams)
    return {
        "n": len(cands),
        "bertscore_f1_minilm": float(np.mean(bertscore_f1(cands, refs))),
        "rouge_l": float(np.mean(rouge)),
        "bleu_4": float(bleu.score / 100.0),
        "with_digits": float(np.mean([any(ch.isdigit() for ch in c) for c in cands])),
        "mean_words": float(np.mean([len(c.split()) for c in cands])),
    }


def parity(cap: Captioner, pairs: CaptionPairs, n: int) -> dict:
    import torch

    from anymo.caption.llama import load_gguf_llama
    from anymo.caption.prompt import build_prompt
    from anymo.caption.train import Encoded, greedy_torch
    from edge.captioner import base_model_path

    torch.set_num_threads(2)
    lm = load_gguf_llama(base_model_path())
    same, dmax, drel, top1, rows = 0, [], [], 0, []
    for i in range(n):
        labels, places = pairs.top_labels[i], pairs.placements[i]
        ids_cpp = cap.caption_ids(pairs.token_ids[i], labels, places)
        logit_cpp = cap.next_token_logits(pairs.token_ids[i], labels, places)
        p = build_prompt(labels, places)
        e = Encoded(cap._tokens(p.before), pairs.token_ids[i], cap._tokens(p.after), [])
        ids_pt, logit_pt = greedy_torch(lm, cap.projector, e, cap.max_new_tokens, cap.stop_ids, cap.banned)
        same += ids_cpp == ids_pt
        d = np.abs(logit_cpp - logit_pt)
        dmax.append(float(d.max()))
        drel.append(float(d.max() / logit_pt.std()))
        top1 += int(np.argmax(logit_cpp) == np.argmax(logit_pt))
        rows.append({"llama_cpp": cap.runner.detokenize(ids_cpp), "pytorch": cap.runner.detokenize(ids_pt), "max_abs_logit_diff": dmax[-1]})
    return {
        "n": n, "identical_captions": same / n,
        "first_token_top1_agreement": top1 / n,
        "logit_max_abs_diff": {"median": float(np.median(dmax)), "p95": float(np.percentile(dmax, 95)), "max": float(np.max(dmax))},
        "logit_max_abs_diff_over_std": {"median": float(np.median(drel)), "max": float(np.max(drel))},
        "note": "llama.cpp runs Q4_1 weights with 8-bit quantised activations in its matrix products; PyTorch the same "
                "weights dequantised to float32 with float32 activations, so logits differ by that rounding",
        "examples": rows[:10],
    }


def synthetic_quality(cap: Captioner, pairs: CaptionPairs, n: int) -> dict:
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(pairs))[:n]
    out: dict = {}
    rows = []
    for variant in ("zero_shot_labels", "true_label_first"):
        cands, base, refs, mocap = [], [], [], []
        for i in idx:
            labels = list(pairs.top_labels[i])
            if variant == "true_label_first":
                labels = [pairs.activity[i]] + [lab for lab in labels if lab != pairs.activity[i]][:2]
            cands.append(cap.caption(pairs.token_ids[i], labels, pairs.placements[i]))
            base.append(template(labels[0]))
            refs.append(references_for(pairs.activity[i], pairs.caption[i]))
            mocap.append(not pairs.source[i].startswith("procedural"))
            if variant == "zero_shot_labels" and len(rows) < 15:
                rows.append({"activity": pairs.activity[i], "prompt_labels": labels, "placements": pairs.placements[i],
                             "caption": cands[-1], "baseline": base[-1], "reference": pairs.caption[i]})
        mocap = np.array(mocap)
        res = {"captioner": scores(cands, refs), "template_baseline": scores(base, refs)}
        if mocap.any() and (~mocap).any():
            for name, m in (("procedural", ~mocap), ("heldout_mocap_clips", mocap)):
                sel = np.flatnonzero(m)
                res[name] = {"captioner": scores([cands[j] for j in sel], [refs[j] for j in sel]),
                             "template_baseline": scores([base[j] for j in sel], [refs[j] for j in sel])}
        out[variant] = res
    out["examples"] = rows
    return out


def tokenizer_model(checkpoint: str):
    """The checkpoint as a zero-shot model. A checkpoint written before `ModelConfig.conv_norm` existed has
    group-norm convolutions (the default then); its config lacks the field, so it is loaded as such."""
    import torch

    from anymo.model.checkpoint import CheckpointError
    from anymo.model.zero_shot import TorchMotionTextModel

    try:
        return TorchMotionTextModel(checkpoint, threads=2), None
    except CheckpointError as exc:
        if "running_mean" not in str(exc):
            raise
        from safetensors.torch import load_file

        from anymo.model.config import ModelConfig
        from anymo.model.network import AnyMoModel

        cfg = json.loads((Path(checkpoint) / "config.json").read_text())["config"]
        net = AnyMoModel(ModelConfig.from_dict({**cfg, "conv_norm": "group"}))
        net.load_state_dict(load_file(str(Path(checkpoint) / "model.safetensors")))
        m = object.__new__(TorchMotionTextModel)
        m.model, m.config, m.meta, m.ensemble, m.name = net.eval(), net.config, {}, True, "checkpoint"
        torch.set_num_threads(2)
        return m, f"loaded with conv_norm='group' (the checkpoint predates the field; load_checkpoint says: {exc})"


def real_quality(cap: Captioner, checkpoint: str, per_dataset: int) -> dict:
    from anymo.data.datasets import DATASETS, DatasetNotFoundError, load_dataset
    from anymo.preprocess.model_input import placement_name_of
    from anymo.preprocess.windows import make_windows
    from edge.caption_cli import windows_input

    model, note = tokenizer_model(checkpoint)
    out_note = {"tokenizer_load": note} if note else {}
    out: dict = dict(out_note)
    all_c: dict[str, list] = {"zero_shot_labels": [[], [], []], "true_label_first": [[], [], []]}
    for name, info in DATASETS.items():
        if not info.labelled:
            continue
        try:
            win = make_windows(load_dataset(name))
        except DatasetNotFoundError:
            out[name] = {"skipped": "dataset not in the data directory"}
            continue
        keep = np.flatnonzero([lab is not None for lab in win.meta.label])
        keep = keep[np.linspace(0, len(keep) - 1, min(per_dataset, len(keep))).astype(int)] if len(keep) else keep
        win = win.subset(keep)
        x = windows_input(win)
        vocab = list(info.labels)
        emb = model.embed_imu(x)
        tok = model.tokens(x)
        ranks = np.argsort(-(emb @ model.embed_text(vocab).T), axis=1)
        res = {}
        for variant, acc_lists in all_c.items():
            cands, base, refs = [], [], []
            for i in range(len(win)):
                labels = [vocab[j] for j in ranks[i, :3]]
                if variant == "true_label_first":
                    labels = [win.meta.label[i]] + [lab for lab in labels if lab != win.meta.label[i]][:2]
                cands.append(cap.caption(tok[i], labels, [placement_name_of(p) for p, m in zip(x.placement_id[i], x.sensor_mask[i]) if m]))
                base.append(template(labels[0]))
                refs.append(references_for(win.meta.label[i]))
            res[variant] = {"captioner": scores(cands, refs), "template_baseline": scores(base, refs),
                            "zero_shot_top1_accuracy": float(np.mean([vocab[r[0]] == lab for r, lab in zip(ranks, win.meta.label, strict=True)])),
                            "examples": [{"label": win.meta.label[i], "caption": cands[i], "baseline": base[i]} for i in range(min(3, len(win)))]}
            for acc, v in zip(acc_lists, (cands, base, refs), strict=True):
                acc += v
        out[name] = res
    out["all"] = {v: {"captioner": scores(c[0], c[2]), "template_baseline": scores(c[1], c[2])} for v, c in all_c.items() if c[0]}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--captioner", default=str(ROOT / "models/anymo-edge-small/captioner"), help="a captioner folder or a bundle")
    ap.add_argument("--pairs", required=True, help="CaptionPairs .npz (anymo.caption.pairs) with the held-out split")
    ap.add_argument("--checkpoint", default=str(ROOT / "models/anymo-edge-small/checkpoint"), help="the tokenizer (real recordings)")
    ap.add_argument("--parity", type=int, default=60)
    ap.add_argument("--synthetic", type=int, default=150)
    ap.add_argument("--real-per-dataset", type=int, default=30)
    ap.add_argument("--only", nargs="*", default=["parity", "quality", "speed"])
    ap.add_argument("--threads", type=int, default=2, help="llama.cpp threads for parity and quality (speed: 1 and 2)")
    ap.add_argument("--speed-threads", default="1,2")
    a = ap.parse_args()
    RESULTS.mkdir(exist_ok=True)
    cap = Captioner.from_dir(a.captioner, threads=a.threads)
    held = CaptionPairs.load(a.pairs)
    held = held.subset(held.heldout)
    meta = {"captioner": a.captioner, "trained_on": cap.config.get("training", {}).get("tokenizer", {}),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform()}, "command": " ".join(sys.argv)}
    if "parity" in a.only:
        t = time.time()
        res = {**meta, **parity(cap, held, min(a.parity, len(held))), "seconds": time.time() - t}
        (RESULTS / "caption_parity.json").write_text(json.dumps(res, indent=1) + "\n")
        print(json.dumps({k: v for k, v in res.items() if k != "examples"}, indent=1))
    if "quality" in a.only:
        t = time.time()
        res = {**meta, "synthetic_heldout": synthetic_quality(cap, held, min(a.synthetic, len(held))),
               "real": real_quality(cap, a.checkpoint, a.real_per_dataset), "seconds": time.time() - t}
        (RESULTS / "caption_quality.json").write_text(json.dumps(res, indent=1) + "\n")
        print(json.dumps({"synthetic": {k: v for k, v in res["synthetic_heldout"].items() if k != "examples"},
                          "real_all": res["real"].get("all")}, indent=1))
    if "speed" in a.only:
        from edge.captioner import bench_captioner

        res = {**meta, **bench_captioner(a.captioner, threads=[int(t) for t in a.speed_threads.split(",")], n_windows=3)}
        (RESULTS / "caption_speed.json").write_text(json.dumps(res, indent=1) + "\n")
        print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
