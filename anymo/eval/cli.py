"""`anymo eval`: evaluate a model on the real datasets; prints a table, writes JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from anymo.data.datasets import DATASETS, DatasetNotFoundError, default_data_dir
from anymo.data.loaders import DataFormatError
from anymo.eval.harness import POOLED_VOCABULARY, USER_DATASET, evaluate, is_user_folder
from anymo.eval.models import load_model
from anymo.preprocess.windows import WindowConfig


def _f(x: float | None) -> str:
    return "   -" if x is None else f"{100 * x:5.1f}"


def format_table(report: dict) -> str:
    """A fixed-width table (percentages) of the flat metrics, chance in brackets."""
    hdr = (f"{'dataset':<18} {'win':>5} {'K':>3} {'chance':>6} {'acc':>5} {'F1':>5} {'R@2':>5} "
           f"{'MRRi>t':>6} {'MRRt>i':>6} {'R@1':>5} {'R@5':>5} {'(ch MRR)':>8} {'ROUGE-L':>7} {'BERTS':>5}")
    lines = [f"model: {report['model']}", hdr, "-" * len(hdr)]
    for name, r in report["datasets"].items():
        ch = (r.get("chance") or {}).get("pool100", {})
        cap = r.get("captioning") or {}
        k = r["n_classes"] if r["n_classes"] is None or r.get("vocabulary_kind") != "pooled" else f"1/{len(POOLED_VOCABULARY)}"
        lines.append(
            f"{name:<18} {r['n_windows']:>5} {k if k is not None else '-':>3} {_f(r['chance_accuracy']):>6} "
            f"{_f(r['accuracy'])} {_f(r['macro_f1'])} {_f(r['r_at_2'])} {_f(r['mrr_imu_to_text']):>6} "
            f"{_f(r['mrr_text_to_imu']):>6} {_f(r['r_at_1'])} {_f(r['r_at_5'])} {_f(ch.get('mrr_imu_to_text')):>8} "
            f"{_f(cap.get('rouge_l')):>7} {_f(cap.get('bertscore_f1_minilm')):>5}"
        )
    return "\n".join(lines)


def main(argv: list[str], prog: str) -> int:
    ap = argparse.ArgumentParser(prog=prog, description="Zero-shot recognition, retrieval and captioning on real IMU.")
    ap.add_argument("--model", required=True, help="'random', 'supervised' (LOSO reference), 'simfeatures' (features + logistic "
                    "regression trained on simulated windows only) or a model bundle path")
    ap.add_argument("--data", type=Path, default=None,
                    help="data directory (default: $ANYMO_DATA or ../shared/data), or your own recordings folder "
                         "with recordings.csv (docs/user_data.md), evaluated as one dataset 'user'")
    ap.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated dataset names (default: all)")
    ap.add_argument("--json", type=Path, default=None, help="write the full report here")
    ap.add_argument("--hop-s", type=float, default=2.5, help="window hop in seconds (windows are 5 s)")
    ap.add_argument("--label-rule", choices=("inside", "majority"), default="inside")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-bertscore", action="store_true", help="skip BERTScore (it needs torch + the MiniLM package)")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    if is_user_folder(args.data):
        names = [USER_DATASET]
    unknown = [n for n in names if n not in DATASETS and n != USER_DATASET]
    if unknown:
        print(f"{prog}: unknown dataset(s) {unknown}; known: {', '.join(DATASETS)}", file=sys.stderr)
        return 2
    try:
        model = load_model(args.model, seed=args.seed, vocabulary=POOLED_VOCABULARY)
        report = evaluate(model, names, args.data or default_data_dir(), WindowConfig(hop_s=args.hop_s,
                          label_rule=args.label_rule), args.seed, not args.no_bertscore)
    except (FileNotFoundError, NotImplementedError, DatasetNotFoundError, DataFormatError, ValueError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"{prog}: {exc} (or pass --no-bertscore)", file=sys.stderr)
        return 2
    user = report["datasets"].get(USER_DATASET)
    if user is not None and user["n_windows"] + user["n_windows_unlabelled"] == 0:
        print(f"{prog}: {args.data}: no 5 s window: every recording is shorter than {WindowConfig().min_pad_s:g} s "
              "(after splitting at gaps); record longer stretches", file=sys.stderr)
        return 2
    print(format_table(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}")
    return 0
