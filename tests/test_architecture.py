"""Boundaries from DEVELOPERS.md, checked on the real import graph.

The device runtime (edge/) and the BLE bridge (firmware_bridge/) must run on a Pi with numpy,
onnxruntime and bleak only: importing any of their modules must not pull in torch (nor scipy,
which the device install does not have). Code shared by training and device (preprocessing,
placement geometry, the Recording type) is numpy-only.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _modules_under(package: str) -> list[str]:
    pkg_dir = ROOT / package.replace(".", "/")
    if not pkg_dir.is_dir():
        return []
    names = [package]
    for info in pkgutil.walk_packages([str(pkg_dir)], prefix=package + "."):
        names.append(info.name)
    return names


FORBIDDEN = ("torch", "scipy", "executorch", "onnx", "transformers", "sentence_transformers")


def _heavy_imports_of(module: str) -> list[str]:
    """Import ``module`` in a fresh interpreter; return the forbidden top-level packages it loaded."""
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        f"print(json.dumps(sorted({{n.split('.')[0] for n in sys.modules}} & set({FORBIDDEN!r}))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, f"importing {module} failed:\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


DEVICE_PACKAGES = ["edge", "firmware_bridge"]
SHARED_NUMPY_ONLY = ["anymo.geometry", "anymo.body", "anymo.data", "anymo.preprocess"]


@pytest.mark.parametrize("package", DEVICE_PACKAGES + SHARED_NUMPY_ONLY)
def test_device_side_code_imports_no_torch_or_scipy(package: str) -> None:
    modules = [m for m in _modules_under(package) if ".tests" not in m]
    if not modules:
        pytest.skip(f"{package} has no modules yet")
    offenders = {m: heavy for m in modules if (heavy := _heavy_imports_of(m))}
    assert not offenders, f"device-side modules pull in training-only packages: {offenders}"


def test_cli_lists_every_subcommand_and_each_is_importable() -> None:
    from edge.cli import SUBCOMMANDS

    proc = subprocess.run([sys.executable, "-m", "edge.cli", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0
    for name, (module, _) in SUBCOMMANDS.items():
        assert name in proc.stdout
        mod = __import__(module, fromlist=["main"])
        assert callable(getattr(mod, "main", None)), f"{module} has no main(argv, prog) for `anymo {name}`"


def test_cli_unknown_command_is_a_clear_error() -> None:
    proc = subprocess.run([sys.executable, "-m", "edge.cli", "simulte"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert "unknown command 'simulte'" in proc.stderr and "simulate" in proc.stderr
