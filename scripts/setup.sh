#!/usr/bin/env bash
# Create .venv (if needed) and install anymo-edge with the given extras. Idempotent; used by the
# README's two commands. System packages the tests need (dbus-daemon for the fake BlueZ, gcc for
# the firmware byte test, chromium for the companion's browser tests) are installed with apt-get when
# missing and we are root.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-bridge,sim}"
PY="${PYTHON:-python3}"

if ! command -v dbus-daemon >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing the Debian package dbus (dbus-daemon for the BLE tests)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dbus >/dev/null
  else
    echo "setup: dbus-daemon is missing; install your distribution's 'dbus' package" >&2
  fi
fi

# The companion's browser tests drive Debian's chromium through Playwright (no browser download).
if [[ ",$extras," == *",dev,"* ]] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing the Debian package chromium (headless browser for the companion tests)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "setup: /usr/bin/chromium is missing; install your distribution's 'chromium' package for the browser tests" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=".venv/.anymo-installed-$(cat pyproject.toml | sha1sum | cut -c1-12)-${extras//,/_}"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # torch is pinned to 2.13.0 (CPU build): install it first so nothing resolves a CUDA build.
  if [[ ",$extras," == *",eval,"* || ",$extras," == *",train,"* ]]; then
    .venv/bin/python -m pip install -q "torch==2.13.0"
  fi
  # llama-cpp-python (device extra) compiles llama.cpp from source, minutes on 2 cores: build its wheel once
  # into a cache outside the clone (ANYMO_WHEEL_CACHE, default ~/.cache/anymo-wheels) and install from there.
  wheels="${ANYMO_WHEEL_CACHE:-$HOME/.cache/anymo-wheels}"
  mkdir -p "$wheels"
  if [[ ",$extras," == *",device,"* ]]; then
    if ! ls "$wheels"/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1; then
      echo "setup: building llama-cpp-python 0.3.36 once into $wheels (a few minutes)" >&2
      .venv/bin/python -m pip wheel -q --no-deps "llama-cpp-python==0.3.36" -w "$wheels"
    fi
  fi
  .venv/bin/python -m pip install -q --find-links "$wheels" -e ".[${extras}]"
  touch "$stamp"
fi
