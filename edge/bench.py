"""`anymo bench`: latency, throughput, memory and size of a bundle on this device, in one run.

Per backend (onnxruntime, ExecuTorch, PyTorch eager when installed) x precision (fp32, int8) x threads
x sensors per window: latency per 5 s window (median, p95, p99 over ``--runs`` after ``--warmup``),
windows/s, peak RSS, model file size, and the FLOP floor (FLOPs per window / this machine's measured
fp32 matmul peak at that thread count). Each configuration runs in its own subprocess, so peak RSS is
that configuration's alone (interpreter and runtime included). The PyTorch eager rows need torch and
the checkpoint the bundle was exported from; the device install has neither (they are skipped).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime  # noqa: F401  (the engine extra: a missing install is named before anything runs)

from edge.bundle import DEFAULT_BUNDLE, Bundle, BundleError

BACKENDS = ("onnxruntime", "executorch", "torch")
ROOT = Path(__file__).resolve().parents[1]


def bench_window(n_sensors: int, seed: int = 0):
    """One 5 s window of ``n_sensors`` moving sensors (gravity + oscillation + noise) at 60 Hz."""
    from anymo.constants import STANDARD_GRAVITY_MPS2
    from anymo.preprocess.model_input import ModelInput

    rng = np.random.default_rng(seed)
    t = np.arange(300) / 60.0
    g = rng.normal(size=(1, n_sensors, 1, 3))
    acc = STANDARD_GRAVITY_MPS2 * g / np.linalg.norm(g, axis=-1, keepdims=True) + 3.0 * np.sin(2 * np.pi * 1.8 * t)[:, None] + rng.normal(0, 0.2, (1, n_sensors, 300, 3))
    gyro = 2.0 * np.cos(2 * np.pi * 1.8 * t)[:, None] + rng.normal(0, 0.05, (1, n_sensors, 300, 3))
    return ModelInput.from_arrays(acc, gyro, rng.integers(0, 2400, (1, n_sensors)))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _time_runs(fn, runs: int, warmup: int) -> np.ndarray:
    for _ in range(warmup):
        fn()
    out = np.empty(runs)
    for i in range(runs):
        t0 = time.perf_counter_ns()
        fn()
        out[i] = (time.perf_counter_ns() - t0) / 1e6
    return out


def worker(cfg: dict) -> dict:
    """Runs in a fresh process: load one configuration, time it, report (peak RSS of this process)."""
    rss0 = _rss_mb()
    x = bench_window(cfg["sensors"])
    t0 = time.perf_counter()
    if cfg["backend"] == "torch":
        from export.torch_bench import (
            torch_runner,  # training-side helper (torch); never on the device
        )

        fn, size = torch_runner(cfg["checkpoint"], x, cfg["threads"])
    else:
        from edge.engine import Engine

        eng = Engine.load(cfg["bundle"], cfg["backend"], cfg["precision"], cfg["threads"])
        size = int(eng.bundle.files[eng.encoder_file]["bytes"])
        fn = lambda: eng.run(x)
    load_s = time.perf_counter() - t0
    lat = _time_runs(fn, cfg["runs"], cfg["warmup"])
    return {"latency_ms_median": float(np.median(lat)), "latency_ms_p95": float(np.percentile(lat, 95)),
            "latency_ms_p99": float(np.percentile(lat, 99)), "latency_ms_min": float(lat.min()),
            "windows_per_s": float(1000.0 / np.median(lat)), "runs": int(cfg["runs"]), "load_s": load_s,
            "peak_rss_mb": _rss_mb(), "rss_before_load_mb": rss0, "model_bytes": size}


def peak_worker(threads: int) -> dict:
    """fp32 matmul GFLOP/s of numpy's BLAS at ``threads`` (the thread count is set by the parent's env)."""
    n = 768
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    b = a.T.copy()
    a @ b
    best = 0.0
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(4):
            a @ b
        best = max(best, 4 * 2 * n**3 / (time.perf_counter() - t0))
    return {"gflops": best / 1e9}


def _spawn(args: list[str], threads: int, timeout_s: float = 600) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    proc = subprocess.run([sys.executable, "-m", "edge.bench", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout_s, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        err = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": err}
    return json.loads(lines[-1])


def _machine() -> dict:
    cpu = platform.processor()
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}", "load_avg_start": list(os.getloadavg())}


def run_bench(bundle_dir: Path, backends: list[str], precisions: list[str], threads: list[int], sensors: list[int],
              runs: int, warmup: int, checkpoint: str | None, log=print) -> dict:
    bundle = Bundle(bundle_dir)
    manifest = bundle.manifest
    flops = {int(k): v for k, v in manifest.get("model", {}).get("flops_per_window", {}).items()}
    report = {"bundle": str(bundle_dir), "model": manifest.get("model", {}).get("name"), "machine": _machine(),
              "runs": runs, "warmup": warmup, "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "peak_gflops_fp32": {}, "rows": [], "skipped": []}
    for t in threads:
        report["peak_gflops_fp32"][str(t)] = _spawn(["--peak", str(t)], t).get("gflops")
    for backend in backends:
        precs = precisions
        if backend == "torch":
            if importlib.util.find_spec("torch") is None or not checkpoint or not Path(checkpoint).exists():
                report["skipped"].append({"backend": "torch", "why": "PyTorch or the checkpoint is not installed here"})
                continue
            precs = [p for p in precisions if p == "fp32"]
            if "int8" in precisions:
                report["skipped"].append({"backend": "torch", "precision": "int8", "why": "PyTorch eager runs the fp32 checkpoint (the reference)"})
        elif backend == "executorch" and importlib.util.find_spec("executorch") is None:
            report["skipped"].append({"backend": "executorch", "why": "the executorch runtime is not installed here"})
            continue
        for precision in precs:
            if backend != "torch":
                try:
                    bundle.encoder_file(backend, precision)
                except BundleError as exc:
                    report["skipped"].append({"backend": backend, "precision": precision, "why": str(exc)})
                    continue
            for t in threads:
                for s in sensors:
                    cfg = {"bundle": str(bundle_dir), "backend": backend, "precision": precision, "threads": t, "sensors": s,
                           "runs": runs, "warmup": warmup, "checkpoint": checkpoint}
                    res = _spawn(["--worker", json.dumps(cfg)], t)
                    row = {"backend": backend, "precision": precision, "threads": t, "sensors": s, **res}
                    peak = report["peak_gflops_fp32"].get(str(t))
                    if "error" not in res and s in flops and peak:
                        row["flops_per_window"] = flops[s]
                        row["flop_floor_ms"] = flops[s] / (peak * 1e9) * 1e3
                        row["flop_floor_fraction"] = row["flop_floor_ms"] / res["latency_ms_median"]
                    report["rows"].append(row)
                    log(_row_line(row))
    report["machine"]["load_avg_end"] = list(os.getloadavg())
    report["ratios"] = ratios(report["rows"])
    return report


def _find(rows: list[dict], backend: str, precision: str, threads: int, sensors: int) -> dict | None:
    return next((r for r in rows if (r["backend"], r["precision"], r["threads"], r["sensors"]) == (backend, precision, threads, sensors)
                 and "error" not in r), None)


def ratios(rows: list[dict], sensors: int = 4) -> dict:
    """The targets' numbers: int8 onnxruntime median at 4 sensors x 1 thread, ExecuTorch int8 / onnxruntime int8,
    PyTorch eager / each (per thread count)."""
    out = {}
    for t in sorted({r["threads"] for r in rows}):
        ort8, et8, pt = (_find(rows, b, p, t, sensors) for b, p in (("onnxruntime", "int8"), ("executorch", "int8"), ("torch", "fp32")))
        m = lambda r: None if r is None else r["latency_ms_median"]
        d = {"onnxruntime_int8_median_ms": m(ort8), "executorch_int8_median_ms": m(et8), "torch_eager_fp32_median_ms": m(pt)}
        if ort8 and et8:
            d["executorch_int8_over_onnxruntime_int8"] = m(et8) / m(ort8)
        if ort8 and pt:
            d["torch_eager_over_onnxruntime_int8"] = m(pt) / m(ort8)
        if et8 and pt:
            d["torch_eager_over_executorch_int8"] = m(pt) / m(et8)
        out[f"{sensors}_sensors_{t}_thread{'s' if t > 1 else ''}"] = d
    return out


def _row_line(r: dict) -> str:
    head = f"{r['backend']:<12} {r['precision']:<5} {r['threads']:>2} thr {r['sensors']:>2} sens"
    if "error" in r:
        return f"{head}  error: {r['error']}"
    floor = f"{r['flop_floor_ms']:6.3f}" if "flop_floor_ms" in r else "     -"
    return (f"{head}  median {r['latency_ms_median']:7.3f} ms  p95 {r['latency_ms_p95']:7.3f}  p99 {r['latency_ms_p99']:7.3f}  "
            f"{r['windows_per_s']:7.0f} win/s  RSS {r['peak_rss_mb']:6.0f} MB  file {r['model_bytes'] / 1e6:5.2f} MB  floor {floor} ms")


def plot(report: dict, path: str) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "plot skipped: matplotlib is not installed (pip install 'anymo-edge[bench-plot]'); the JSON has every number"
    threads = sorted({r["threads"] for r in report["rows"]})
    fig, axes = plt.subplots(1, len(threads), figsize=(5.5 * len(threads), 4), squeeze=False, sharey=True)
    for ax, t in zip(axes[0], threads):
        for key in sorted({(r["backend"], r["precision"]) for r in report["rows"]}):
            rows = sorted((r for r in report["rows"] if (r["backend"], r["precision"]) == key and r["threads"] == t and "error" not in r), key=lambda r: r["sensors"])
            if rows:
                s = [r["sensors"] for r in rows]
                med = np.array([r["latency_ms_median"] for r in rows])
                p95 = np.array([r["latency_ms_p95"] for r in rows])
                ax.errorbar(s, med, yerr=[np.zeros_like(med), p95 - med], marker="o", capsize=3, label=f"{key[0]} {key[1]}")
        ax.set_title(f"{t} thread{'s' if t > 1 else ''}")
        ax.set_xlabel("sensors per window")
        ax.set_xticks(sorted({r["sensors"] for r in report["rows"]}))
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("latency per 5 s window, ms (median, bar to p95)")
    axes[0][-1].legend(fontsize=8)
    fig.suptitle(f"anymo bench: {report.get('model')} on {report['machine']['cpu']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return f"plot written to {path}"


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv: list[str], prog: str = "anymo bench") -> int:
    if argv[:1] == ["--worker"]:
        print(json.dumps(worker(json.loads(argv[1]))))
        return 0
    if argv[:1] == ["--peak"]:
        print(json.dumps(peak_worker(int(argv[1]))))
        return 0
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--bundle", default=str(DEFAULT_BUNDLE), help=f"bundle folder (default {DEFAULT_BUNDLE})")
    p.add_argument("--json", dest="json_out", default=None, help="write the report as JSON here")
    p.add_argument("--plot", default=None, help="write a PNG of latency by backend and sensor count here (matplotlib)")
    p.add_argument("--backends", default=",".join(BACKENDS))
    p.add_argument("--precisions", default="fp32,int8")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--sensors", default="1,4,8")
    p.add_argument("--runs", type=int, default=500, help="timed runs per configuration (after the warm-up)")
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--checkpoint", default=None, help="PyTorch checkpoint for the eager rows (default: the one the bundle was exported from)")
    a = p.parse_args(argv)
    if a.runs < 1 or a.warmup < 0:
        p.error("--runs must be >= 1 and --warmup >= 0")
    bundle_dir = Path(a.bundle)
    try:
        manifest = Bundle(bundle_dir).manifest
    except BundleError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    ckpt = a.checkpoint or manifest.get("model", {}).get("meta", {}).get("checkpoint")
    if ckpt and not Path(ckpt).is_absolute() and not Path(ckpt).exists():
        ckpt = str(ROOT / ckpt)
    backends = [b for b in a.backends.split(",") if b]
    bad = [b for b in backends if b not in BACKENDS]
    if bad:
        p.error(f"--backends: {bad} not among {BACKENDS}")
    print(f"anymo bench: {bundle_dir} on {_machine()['cpu']} ({os.cpu_count()} cores), {a.runs} runs after {a.warmup} warm-up per row")
    report = run_bench(bundle_dir, backends, [x for x in a.precisions.split(",") if x], _ints(a.threads), _ints(a.sensors),
                       a.runs, a.warmup, ckpt)
    for s in report["skipped"]:
        print(f"skipped {s.get('backend')} {s.get('precision', '')}: {s['why']}")
    for key, r in report["ratios"].items():
        print(f"{key}: " + ", ".join(f"{k} {v:.3f}" for k, v in r.items() if v is not None))
    if (bundle_dir / "captioner" / "config.json").is_file():  # the captioner's timings (issue 11)
        from edge.captioner import CaptionerError, bench_captioner

        try:
            report["captioner"] = bench_captioner(bundle_dir, threads=_ints(a.threads))
            for th, r in report["captioner"]["threads"].items():
                print(f"captioner, {th} thread(s): full caption {1000 * r['caption_s_median']:.0f} ms median "
                      f"({1000 * r['cpu_time']['caption_cpu_s_median']:.0f} ms CPU), prefill {r['prefill_tokens_per_s']:.0f} tok/s, "
                      f"decode {r['decode_tokens_per_s']:.1f} tok/s, peak RSS {r['peak_rss_mib']:.0f} MiB")
        except CaptionerError as exc:
            report["captioner"] = {"skipped": str(exc)}
            print(f"captioner skipped: {exc}")
    la = report["machine"]
    print(f"load average {la['load_avg_start'][0]:.1f} -> {la['load_avg_end'][0]:.1f} (other processes share this machine)")
    if a.json_out:
        Path(a.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json_out).write_text(json.dumps(report, indent=2) + "\n")
        print(f"report written to {a.json_out}")
    if a.plot:
        print(plot(report, a.plot))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
