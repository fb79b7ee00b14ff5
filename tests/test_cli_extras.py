"""The `anymo` CLI without its optional extras: each subcommand, run in a subprocess where the top-level
modules of its extra fail to import, prints one line naming the extra and how to install it (no
traceback, nothing created); and `anymo placements | head` exits quietly."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from anymo_cli.commands import COMMANDS, EXTRA_MODULES

ROOT = Path(__file__).resolve().parents[1]

# a meta-path finder that makes every module named on the command line fail to import, then the CLI
BLOCKED_RUN = """
import importlib.abc, sys
BLOCK = set(sys.argv[1].split(","))
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCK:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _Block())
from anymo_cli.main import main
sys.exit(main(sys.argv[2:]))
"""

# arguments that make each command do real work (so a lazily imported extra is reached too)
ARGS = {
    "simulate": ["--out", "{tmp}/ds", "--hours", "0.001", "--seed", "0"],
    "eval": ["--model", "random", "--datasets", "basicmotions"],
    "demo": ["--headless", "--seconds", "2", "--out", "{tmp}/demo"],
    "live": ["--seconds", "1"],
    "app": [],
    "scan": ["--timeout", "1"],
    "pair": ["AA:BB:CC:DD:EE:FF", "--device", "anymo-imu", "--placement", "left_wrist"],
    "devices": [],
    "stream": ["--seconds", "1"],
    "emulate": ["--device", "anymo-imu"],
    "caption": ["{tmp}/session.anymorec"],
}

# commands that look at their input (a recording) before they import their extra (lazily): given none,
# they stop at "no such file" first. The fix is in the command module (import the extra at its top);
# until then these are expected to fail here.
LAZY_EXTRA = {"caption"}


def _run_blocked(modules: tuple[str, ...], argv: list[str], tmp: Path) -> subprocess.CompletedProcess:
    argv = [a.replace("{tmp}", str(tmp)) for a in argv]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "ANYMO_DATA": str(tmp / "no-data"), "PYTHONPATH": str(ROOT),
           "XDG_CONFIG_HOME": str(tmp / "config")}
    return subprocess.run([sys.executable, "-c", BLOCKED_RUN, ",".join(modules), *argv], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120)


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(reason="checks its recording before importing its extra (lazy import)", strict=False))
    if n in LAZY_EXTRA else n for n, c in COMMANDS.items() if c.extra])
def test_each_command_names_its_missing_extra_in_one_line(name: str, tmp_path: Path) -> None:
    command = COMMANDS[name]
    proc = _run_blocked(EXTRA_MODULES[command.extra], [name, *ARGS.get(name, [])], tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0, proc.stdout[-500:]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert f"anymo {name}" in lines[0] and re.search(rf"\b{command.extra}\b", lines[0]), lines[0]
    assert f"anymo-edge[{command.extra}]" in lines[0], lines[0]
    assert not (tmp_path / "ds").exists()  # anymo simulate: nothing created before the error


def test_extra_modules_match_pyproject() -> None:
    """EXTRA_MODULES lists, per extra, modules of packages that extra installs (names normalised)."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]

    def packages(extra: str) -> set[str]:
        out = set()
        for req in extras[extra]:
            m = re.match(r"anymo-edge\[(\w+)\]", req)
            out |= packages(m.group(1)) if m else {re.split(r"[<>=\[ ;]", req)[0].lower().replace("-", "_")}
        return out

    pkg_of = {"llama_cpp": "llama_cpp_python"}
    for extra, mods in EXTRA_MODULES.items():
        assert extra in extras, f"EXTRA_MODULES names {extra!r}, not an extra of pyproject.toml"
        for mod in mods:
            assert pkg_of.get(mod, mod) in packages(extra), f"{mod} is not installed by the {extra!r} extra"
    for name, command in COMMANDS.items():
        assert command.extra is None or command.extra in EXTRA_MODULES, f"anymo {name}: unknown extra {command.extra!r}"


def test_closed_stdout_exits_quietly() -> None:
    """`anymo placements | head -1`: the reader goes away; no BrokenPipeError traceback, exit 0."""
    proc = subprocess.Popen([sys.executable, "-m", "anymo_cli", "placements"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0 and first.startswith(b"2400 candidate placements")
    assert err == ""
    out = subprocess.run(f"{sys.executable} -m anymo_cli --help | head -1", shell=True, cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.startswith("usage: anymo") and out.stderr == ""


def test_demo_runs_with_the_device_extras_alone(tmp_path: Path) -> None:
    """`anymo demo` with every module of the sim, eval and train extras that the device extra does not
    also bring made unimportable: it streams, labels and exits 0 (needs a model bundle and dbus-daemon)."""
    import os

    from edge.bundle import DEFAULT_BUNDLE
    from firmware_bridge.bluez_fake import find_dbus_daemon

    bundle = Path(os.environ.get("ANYMO_BUNDLE") or DEFAULT_BUNDLE)
    if not (bundle / "manifest.json").is_file() or find_dbus_daemon() is None:
        pytest.skip(f"needs a model bundle at {bundle} and dbus-daemon")
    blocked = sorted({m for e in ("sim", "eval", "train") for m in EXTRA_MODULES[e]} - set(EXTRA_MODULES["device"]))
    argv = ["demo", "--headless", "--seconds", "10", "--wearables", "1", "--no-captions", "--out", str(tmp_path / "demo")]
    env = dict(os.environ, PYTHONPATH=str(ROOT), ANYMO_CONFIG_DIR=str(tmp_path / "config"),
               ANYMO_SESSIONS_DB=str(tmp_path / "s.sqlite"), ANYMO_BUNDLE=str(bundle))
    proc = subprocess.run([sys.executable, "-c", BLOCKED_RUN, ",".join(blocked), *argv], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
