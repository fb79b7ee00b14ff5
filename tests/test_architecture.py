"""Boundaries from DEVELOPERS.md, checked on the real import graph.

The device runtime (edge/) and the BLE bridge (firmware_bridge/) must run on a Pi with numpy,
onnxruntime and bleak only: importing any of their modules must not pull in torch (nor scipy,
which the device install does not have). Code shared by training and device (preprocessing,
placement geometry, the Recording type) is numpy-only.
"""

from __future__ import annotations

import ast
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
    from anymo_cli.commands import COMMANDS

    proc = subprocess.run([sys.executable, "-m", "anymo_cli", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0
    for name, command in COMMANDS.items():
        assert name in proc.stdout
        mod = __import__(command.module, fromlist=["main"])
        assert callable(getattr(mod, "main", None)), f"{command.module} has no main(argv, prog) for `anymo {name}`"
    alias = subprocess.run([sys.executable, "-m", "edge.cli", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert alias.returncode == 0 and alias.stdout == proc.stdout  # the old entry point is the same CLI


def test_cli_unknown_command_is_a_clear_error() -> None:
    proc = subprocess.run([sys.executable, "-m", "anymo_cli", "simulte"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert "unknown command 'simulte'" in proc.stderr and "simulate" in proc.stderr


# ---- the static import graph (every import statement, lazy ones too, and importlib by name) -----------

GRAPH_PACKAGES = ("anymo", "edge", "firmware_bridge")


def _module_files() -> dict[str, Path]:
    out = {}
    for pkg in GRAPH_PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts[:-1]) if rel.name == "__init__" else list(rel.parts)
            out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _string_module(text: str, modules: dict[str, Path]) -> str | None:
    """'pkg.mod' or 'pkg.mod:Attr' naming one of our modules (importlib tables: the CLI, the sources)."""
    name = text.split(":", 1)[0]
    return name if name in modules and "." in name else None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Our modules ``module`` imports: import statements anywhere (TYPE_CHECKING blocks aside), resolved to
    the module itself when ``from X import Y`` names a submodule; importlib.import_module / __import__ with
    a literal name; and, in a module that calls importlib.import_module, the string literals that name
    one of our modules ("pkg.mod" or "pkg.mod:Attr": a registry table it imports from)."""
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    uses_importlib = False

    def add(name: str) -> None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name and name != module:
            out.add(name)

    def visit(node: ast.AST) -> None:
        nonlocal uses_importlib
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for a in node.names:
                add(a.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_pkg else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                src = ".".join(base + ([node.module] if node.module else []))
            else:
                src = node.module or ""
            for a in node.names:
                full = f"{src}.{a.name}"
                add(full if full in modules else src)
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name in ("import_module", "__import__"):
                uses_importlib = True
                if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                    add(node.args[0].value)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    if uses_importlib:
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and (m := _string_module(node.value, modules)):
                add(m)
    return out


def import_graph() -> dict[str, set[str]]:
    modules = _module_files()
    return {m: imports_of(m, p, modules) for m, p in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        x = stack.pop()
                        on.discard(x)
                        comp.append(x)
                        if x == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
            elif w not in index:
                index[w] = low[w] = counter
                counter += 1
                stack.append(w)
                on.add(w)
                work.append((w, iter(sorted(graph.get(w, ())))))
            elif w in on:
                low[v] = min(low[v], index[w])
    return out


def test_no_import_cycles_among_anymo_edge_and_firmware_bridge() -> None:
    """Every import statement counts, lazy (inside a function) too: a loop that only works because one side
    imports late is still a loop (the three of issue 7: body.surface <-> body.named_placements,
    data.loaders <-> data.user_import, sim.hardware <-> sim.devices through a module __getattr__)."""
    cycles = _cycles(import_graph())
    assert not cycles, "import cycles (break each by moving the shared part into a module both import): " + "; ".join(
        " <-> ".join(c) for c in cycles)


def test_the_graph_walker_sees_lazy_and_importlib_imports(tmp_path: Path) -> None:
    """The walker itself: a function-level import, importlib.import_module('x.y'), a registry string
    'pkg.mod:Class' and a relative import are edges; a TYPE_CHECKING import is not."""
    pkg = tmp_path / "anymo"
    pkg.mkdir()
    files = {"anymo/__init__.py": "", "anymo/a.py": "def f():\n    from anymo import b\n",
             "anymo/b.py": "import importlib\nT = {'x': 'anymo.c:Thing'}\nimportlib.import_module('anymo.d')\n",
             "anymo/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from anymo import a\nfrom . import d\n",
             "anymo/d.py": ""}
    for rel, text in files.items():
        (tmp_path / rel).write_text(text)
    modules = {rel[:-3].replace("/__init__", "").replace("/", "."): tmp_path / rel for rel in files}
    got = {m: imports_of(m, p, modules) for m, p in modules.items()}
    assert got["anymo.a"] == {"anymo.b"} and got["anymo.b"] == {"anymo.c", "anymo.d"} and got["anymo.c"] == {"anymo.d"}
    assert _cycles({"x": {"y"}, "y": {"z"}, "z": {"x"}, "w": {"x"}}) == [["x", "y", "z"]]


def test_device_code_loads_no_training_package_through_importlib() -> None:
    """edge/ and firmware_bridge/ never importlib-load a training-only package by name (an import the
    subprocess test above cannot see until that code path runs)."""
    offenders = {}
    for m, path in _module_files().items():
        if not m.startswith(("edge", "firmware_bridge")):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                f = node.func
                if (f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")) in ("import_module", "__import__"):
                    if node.args[0].value.split(".")[0] in FORBIDDEN:
                        offenders.setdefault(m, []).append(node.args[0].value)
    assert not offenders, f"device-side modules load training-only packages by name: {offenders}"
