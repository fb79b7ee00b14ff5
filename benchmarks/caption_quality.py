"""Captioner benchmark: parity (llama.cpp vs PyTorch), caption quality (synthetic held-out + real recordings)
against a label-template baseline, and speed. Writes results/caption_parity.json, results/caption_quality.json,
results/caption_speed.json.

    python benchmarks/caption_quality.py --captioner models/anymo-edge-small/captioner \\
        --pairs /work/cap/pairs_untrained.npz --checkpoint models/anymo-edge-small/checkpoint

* parity: on held-out pairs, greedy captions of the device path (llama.cpp, Q4_1 weights, embeddings through
  the batch API) and of PyTorch (`anymo.caption.llama`) with each of ``--numerics``: ``ggml`` (the PyTorch model
  of what llama.cpp computes: same quantised weights, activations quantised as ggml does, float16 KV cache and
  attention accumulator) and ``float32`` (the dequantised weights on float32 activations, the training model);
  the share of identical captions, the first next-token logits' difference (max and median |d|, max |d| relative
  to the logits' std), and at each divergence llama.cpp's own top-2 logit margin;
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
from anymo.caption.prompt import repeat_blocked
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


NUMERICS_NOTE = {
    "float32": "PyTorch runs the GGUF's weights dequantised to float32 on float32 activations (the training model); "
               "llama.cpp quantises activations to Q8_1/Q8_0 in its matrix products, keeps K/V in float16 and "
               "accumulates attention in float16, so logits differ by that rounding",
    "ggml": "PyTorch runs the model of what llama.cpp computes on CPU (anymo.caption.ggml_numerics): the same "
            "quantised weights, activations quantised to Q8_1 (Q8_0 for the tied output) as ggml does, float16 K/V, "
            "flash attention with a float16 accumulator, ggml's rope angles and rms_norm; what is left is float32 "
            "summation order inside ggml's kernels (and the roundings that order flips downstream)",
}


def _parity_stats(rows: list[dict], n: int) -> dict:
    dmax = np.array([r["max_abs_logit_diff"] for r in rows])
    drel = np.array([r["max_abs_logit_diff_over_std"] for r in rows])
    dmed = np.array([r["median_abs_logit_diff"] for r in rows])
    flips = [r for r in rows if r["first_divergence"] is not None]
    return {
        "identical_captions": sum(r["identical"] for r in rows) / n,
        "first_token_top1_agreement": sum(r["first_token_top1_agrees"] for r in rows) / n,
        "logit_max_abs_diff": {"median": float(np.median(dmax)), "p95": float(np.percentile(dmax, 95)), "max": float(dmax.max())},
        "logit_median_abs_diff": {"median": float(np.median(dmed)), "max": float(dmed.max())},
        "logit_max_abs_diff_over_std": {"median": float(np.median(drel)), "max": float(drel.max())},
        # where greedy decoding parted: the llama.cpp logit margin between its own top-2 at that step
        "divergences": [{"step": r["first_divergence"], "llama_cpp_top2_margin": r["llama_cpp_margin_at_divergence"]} for r in flips],
    }


def _cpp_step_logits(cap: Captioner, pairs: CaptionPairs, i: int, ids: list[int]) -> list[np.ndarray]:
    """llama.cpp's logits (banned tokens masked) at every step of teacher-forcing ``ids``."""
    before, motion, after = cap.prompt(pairs.token_ids[i], pairs.top_labels[i], pairs.placements[i])
    r = cap.runner
    lg = r.prompt_logits(before, motion, after)
    pos = len(before) + len(motion) + len(after)
    res = []
    for k, t in enumerate([*ids, None]):
        lg = lg.copy()
        lg[cap.banned] = -np.inf
        lg[repeat_blocked(ids[:k], cap.no_repeat_ngram)] = -np.inf
        res.append(lg)
        if t is None:
            break
        pos = r.feed_tokens([t], pos, want_logits=True)
        lg = r.last_logits()
    return res


def parity(cap: Captioner, pairs: CaptionPairs, n: int, numerics: list[str]) -> dict:
    """Greedy captions of llama.cpp vs the PyTorch model with each of ``numerics``; logits compared at the first
    caption token (max and median |difference| over the vocabulary, and max relative to the logits' std)."""
    import torch

    from anymo.caption.llama import load_gguf_llama
    from anymo.caption.prompt import build_prompt
    from anymo.caption.train import Encoded, greedy_torch
    from edge.captioner import base_model_path

    torch.set_num_threads(1)
    lm = load_gguf_llama(base_model_path(), numerics="ggml" if "ggml" in numerics else "float32")
    cpp = []
    for i in range(n):
        ids = cap.caption_ids(pairs.token_ids[i], pairs.top_labels[i], pairs.placements[i])
        cpp.append((ids, _cpp_step_logits(cap, pairs, i, ids)))
    from importlib.metadata import version

    cp = cap.runner.lc.llama_context_default_params()
    out: dict = {"n": n, "llama_cpp": {
        "llama_cpp_python": version("llama-cpp-python"), "threads": int(cap.runner.lc.llama_n_threads(cap.runner.ctx)),
        "n_ctx": cap.runner.n_ctx, "kv_cache_type_k_v": [int(cp.type_k), int(cp.type_v)],  # 1 = GGML_TYPE_F16
        "flash_attn_type": int(cp.flash_attn_type),  # -1 = auto: enabled on the CPU backend
        "prompt": "head, motion embeddings and tail fed as three batches (< 64 rows each: ggml's one-chunk attention)"}}
    for num in numerics:
        lm.set_numerics(num)
        rows = []
        for i in range(n):
            p = build_prompt(pairs.top_labels[i], pairs.placements[i])
            e = Encoded(cap._tokens(p.before), pairs.token_ids[i], cap._tokens(p.after), [])
            ids_pt, lg_pt = greedy_torch(lm, cap.projector, e, cap.max_new_tokens, cap.stop_ids, cap.banned, cap.no_repeat_ngram)
            ids_cpp, lg_cpp = cpp[i]
            a, b = lg_cpp[0], lg_pt[0]
            fin = np.isfinite(a) & np.isfinite(b)
            d = np.abs(a[fin] - b[fin])
            div = next((k for k, (x, y) in enumerate(zip(ids_cpp + [-1], ids_pt + [-1])) if x != y), None)
            margin = None
            if div is not None and div < len(lg_cpp):
                top2 = np.sort(lg_cpp[div][np.isfinite(lg_cpp[div])])[-2:]
                margin = float(top2[1] - top2[0])
            rows.append({"identical": ids_cpp == ids_pt, "first_token_top1_agrees": bool(np.argmax(a) == np.argmax(b)),
                         "max_abs_logit_diff": float(d.max()), "median_abs_logit_diff": float(np.median(d)),
                         "max_abs_logit_diff_over_std": float(d.max() / b[fin].std()),
                         "first_divergence": div, "llama_cpp_margin_at_divergence": margin,
                         "llama_cpp": cap.runner.detokenize(ids_cpp), "pytorch": cap.runner.detokenize(ids_pt)})
        out[num] = {"pytorch_numerics": NUMERICS_NOTE[num], **_parity_stats(rows, n),
                    "examples": [r for r in rows if not r["identical"]][:8] + [r for r in rows if r["identical"]][:3]}
    return out


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
    ap.add_argument("--numerics", nargs="+", default=["ggml", "float32"], choices=["ggml", "float32"],
                    help="PyTorch numerics the parity check compares llama.cpp with (anymo.caption.llama)")
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
        res = {**meta, **parity(cap, held, min(a.parity, len(held)), a.numerics), "seconds": time.time() - t}
        (RESULTS / "caption_parity.json").write_text(json.dumps(res, indent=1) + "\n")
        print(json.dumps({k: ({kk: vv for kk, vv in v.items() if kk != "examples"} if isinstance(v, dict) else v)
                          for k, v in res.items()}, indent=1))
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
