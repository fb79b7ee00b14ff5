#!/usr/bin/env bash
# The main job on the embedded default: set up .venv with the device install only (bridge + runtime:
# numpy, onnxruntime, bleak, llama.cpp, aiohttp; no torch, no simulator), then run `anymo demo`:
# emulated wearables replay real recordings -> BLE bridge (real bleak over D-Bus) -> live labels and
# captions in the terminal, and the companion app on http://127.0.0.1:8765. Extra arguments go to
# `anymo demo` (e.g. --headless --seconds 60 --json out/demo.json).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh device,bridge
export ANYMO_DATA="${ANYMO_DATA:-$(cd .. && pwd)/shared/data}"
exec .venv/bin/anymo demo "$@"
