"""`anymo <command> [options]`: dispatch to the command table, configure logging once, and turn a missing
optional extra or a closed stdout (`anymo placements | head`) into one line or a quiet exit."""

from __future__ import annotations

import importlib
import os
import sys

from anymo_cli.commands import COMMANDS, EXTRA_MODULES, Command
from anymo_cli.logs import set_verbosity


def usage() -> str:
    width = max(len(n) for n in COMMANDS)
    lines = ["usage: anymo [-v] <command> [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {c.help}" for name, c in COMMANDS.items()]
    lines += ["", "Run `anymo <command> --help` for the options of one command; -v logs progress (INFO), -vv debug detail."]
    return "\n".join(lines)


def missing_extra_message(name: str, command: Command, exc: ImportError) -> str:
    """One line: which optional extra the command needs and how to install it."""
    missing = (exc.name or "").split(".")[0]
    extra = command.extra
    owner = next((e for e, mods in EXTRA_MODULES.items() if missing in mods), None)
    if owner is not None and (extra is None or missing not in EXTRA_MODULES.get(extra, ())):
        extra = owner
    what = f"module {missing!r} is missing" if missing else str(exc)
    if extra is None:
        return f"anymo {name}: a dependency is missing ({what}); reinstall anymo-edge"
    return f"anymo {name}: needs the optional extra '{extra}' ({what}); install it with: pip install 'anymo-edge[{extra}]'"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"anymo-edge {version('anymo-edge')}"
    except PackageNotFoundError:
        return "anymo-edge (not installed)"


def _quiet_stdout() -> None:
    """After a BrokenPipeError (the reader went away): point stdout at /dev/null so the interpreter's
    final flush does not complain."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def main(argv: list[str] | None = None) -> int:
    """Run ``anymo argv`` (default: sys.argv[1:]); returns the exit code."""
    try:
        code = _run(list(sys.argv[1:] if argv is None else argv))
        sys.stdout.flush()
    except BrokenPipeError:  # `anymo placements | head`: the reader has what it wanted
        _quiet_stdout()
        return 0
    return code


def _run(argv: list[str]) -> int:
    verbosity = 0
    while argv and argv[0] in ("-v", "--verbose", "-vv"):
        verbosity, argv = verbosity + (2 if argv[0] == "-vv" else 1), argv[1:]
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if argv[0] in ("-V", "--version"):
        print(_version())
        return 0
    name, rest = argv[0], argv[1:]
    entry = COMMANDS.get(name)
    command = Command(*entry) if isinstance(entry, tuple) else entry  # (module, help) tuples work too
    if command is None:
        print(f"anymo: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    set_verbosity(verbosity)
    try:
        module = importlib.import_module(command.module)
    except ImportError as exc:
        print(missing_extra_message(name, command, exc), file=sys.stderr)
        return 2
    try:
        return int(module.main([name, *rest] if command.with_name else rest, prog=f"anymo {name}") or 0)
    except ModuleNotFoundError as exc:  # a module that imports an extra lazily, deeper down
        if not any((exc.name or "").split(".")[0] in mods for mods in EXTRA_MODULES.values()):
            raise
        print(missing_extra_message(name, command, exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
