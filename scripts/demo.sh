#!/usr/bin/env bash
# The main job on the embedded default: set up .venv (device-side bridge + simulator), then run
# `anymo demo`: emulated wearables replay real recordings -> BLE bridge (real bleak over D-Bus) ->
# runtime, plus a small simulated dataset. Extra arguments go to `anymo demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh bridge,sim
export ANYMO_DATA="${ANYMO_DATA:-$(cd .. && pwd)/shared/data}"
exec .venv/bin/anymo demo "$@"
