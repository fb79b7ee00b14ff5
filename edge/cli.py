"""The one `anymo` command line: a table of subcommands, each owned by the module that does the work.

Every subcommand module exposes ``main(argv: list[str], prog: str) -> int`` and is imported only when
its subcommand runs, so `anymo scan` on a Pi never imports the simulator (or torch).
"""

from __future__ import annotations

import importlib
import sys

# name -> (module, one-line help). Keep alphabetical within each group.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    # the runtime (edge/)
    "demo": ("edge.demo", "the main job: emulated wearables -> BLE bridge -> live labels and captions + the companion app"),
    "live": ("edge.live_cli", "live activity labels and captions in the terminal from the paired wearables (or a recording)"),
    "app": ("companion_app.cli", "serve the phone/watch companion app (localhost; --lan with a pairing token)"),
    # the method (anymo/)
    "simulate": ("anymo.sim.cli", "write shards of simulated IMU windows (acc_mps2, gyro_rads) with captions"),
    "placements": ("anymo.body.cli", "list the body-surface placements and the named placements"),
    "eval": ("anymo.eval.cli", "evaluate a model on real recordings: recognition, retrieval, captioning"),
    "datasets": ("anymo.data.cli", "list the real datasets, where they are and what they hold"),
    # the BLE bridge (firmware_bridge/)
    "scan": ("firmware_bridge.cli", "list nearby wearables the bridge can stream from"),
    "pair": ("firmware_bridge.cli", "remember a wearable and where on the body it is worn"),
    "devices": ("firmware_bridge.cli", "list or remove paired wearables"),
    "stream": ("firmware_bridge.cli", "stream raw IMU from every paired wearable, optionally recording"),
    "emulate": ("firmware_bridge.emulate_cli", "start virtual BLE wearables replaying recorded IMU (no radio needed)"),
}


def _usage() -> str:
    width = max(len(n) for n in SUBCOMMANDS)
    lines = ["usage: anymo <command> [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in SUBCOMMANDS.items()]
    lines += ["", "Run `anymo <command> --help` for the options of one command."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if argv[0] in ("-V", "--version"):
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"anymo-edge {version('anymo-edge')}")
        except PackageNotFoundError:
            print("anymo-edge (not installed)")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"anymo: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, _ = SUBCOMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # a missing optional extra: say which one to install
        extra = {"anymo.sim": "sim", "anymo.eval": "eval", "firmware_bridge": "bridge"}
        hint = next((e for prefix, e in extra.items() if module_name.startswith(prefix)), None)
        fix = f"; install it with: pip install 'anymo-edge[{hint}]'" if hint else ""
        print(f"anymo {name}: a dependency is missing ({exc.name or exc}){fix}", file=sys.stderr)
        return 2
    return int(module.main([name, *rest] if module_name == "firmware_bridge.cli" else rest, prog=f"anymo {name}") or 0)


if __name__ == "__main__":
    sys.exit(main())
