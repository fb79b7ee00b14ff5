#!/usr/bin/env bash
# The test command: set up .venv with the bridge, simulator, evaluation, device, train (export), cluster (dask) and test extras, then run
# the suite (benchmarks excluded; run them with `.venv/bin/python -m pytest -m benchmark`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh bridge,sim,eval,dev,device,train,cluster
export ANYMO_DATA="${ANYMO_DATA:-$(cd .. && pwd)/shared/data}"
.venv/bin/ruff check .  # lint first (rules: [tool.ruff] in pyproject.toml)
exec .venv/bin/python -m pytest -m "not benchmark" "$@"
