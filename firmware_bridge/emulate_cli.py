"""``anymo emulate``: virtual BLE wearables replaying recorded IMU, for use without hardware.

    anymo emulate --device polar-verity --placement right_wrist --replay ../shared/data/xsens_walking/walking_xsens_upperLeg.txt
    anymo emulate --device anymo-imu --placement left_wrist --device polar-verity --placement right_wrist
    anymo emulate --config wearables.json      # or .toml: a list of wearables (see --help)

Starts a private D-Bus with a fake BlueZ on it, prints ONE line ``DBUS_SYSTEM_BUS_ADDRESS=unix:path=...``
on stdout when ready and runs until Ctrl-C / SIGTERM, then prints on stderr what each wearable really did
(packets sent and dropped, the true drift) to compare with ``anymo stream``. With that variable exported,
``anymo scan``, ``anymo pair`` and ``anymo stream`` use the virtual wearables exactly like real ones.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

from anymo.body.placement_names import check_placement_name
from anymo_cli.logs import set_verbosity
from firmware_bridge.devices import PERIPHERALS

log = logging.getLogger("anymo.emulate")

CONFIG_HELP = """config file: JSON (a list, or {"wearables": [...]}) or TOML ([[wearable]] tables); each wearable has
"device" (required), and optionally "placement", "replay" (relative to the config file), "address", "name",
"rssi_dbm", "loop", "mtu", and "faults" {"drop_prob", "duplicate_prob", "clock_drift_ppm", "clock_offset_s",
"disconnect_after_s", "seed"}."""


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Start virtual BLE wearables on a private fake BlueZ.",
                                epilog=CONFIG_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", action="append", default=[], metavar="TYPE",
                   help=f"device type to emulate (repeat for several): {', '.join(sorted(PERIPHERALS))}")
    p.add_argument("--placement", action="append", default=[], metavar="NAME",
                   help="named placement of each --device, in the same order (e.g. left_wrist)")
    p.add_argument("--replay", action="append", default=[], metavar="FILE",
                   help="recording to replay: any dataset file the loaders read or an `anymo stream` recording; "
                        "one per --device, or one for all (the i-th device replays the file's i-th recording); "
                        "default: a synthetic signal")
    p.add_argument("--address", action="append", default=[], metavar="AA:BB:CC:DD:EE:FF",
                   help="Bluetooth address of each --device (default AA:4D:00:00:00:01, ...02, ...)")
    p.add_argument("--config", type=Path, help="JSON/TOML file listing the wearables (instead of --device ...)")
    p.add_argument("--drop", type=float, default=0.0, metavar="P", help="drop this fraction of data notifications")
    p.add_argument("--duplicate", type=float, default=0.0, metavar="P", help="send this fraction of them twice")
    p.add_argument("--drift-ppm", type=float, default=0.0, help="device clocks run fast by this many ppm")
    p.add_argument("--seed", type=int, default=0, help="seed of the drop/duplicate decisions")
    p.add_argument("--no-loop", action="store_true", help="stop streaming at the end of the replay")
    p.add_argument("--mtu", type=int, metavar="N", help="ATT_MTU of every link, 23..517 (AnyMo IMU, Polar, Movesense; "
                   "default: the device's own)")
    p.add_argument("--adapter", default="hci0", help="adapter name (default hci0)")
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="log on stderr what the wearables do (-vv: debug detail)")
    return p


def _per_device(values: list[str], n: int, what: str, allow_one: bool) -> list[str | None]:
    if not values:
        return [None] * n
    if len(values) == n:
        return list(values)
    if allow_one and len(values) == 1:
        return values * n
    raise ValueError(f"got {len(values)} --{what} for {n} --device; give one per --device"
                     + (" (or one for all)" if allow_one else ""))


def specs_from_args(args: argparse.Namespace):
    from firmware_bridge.emulator import FaultPlan, WearableSpec

    if args.config is not None:
        if args.device or args.placement or args.replay or args.address:
            raise ValueError("give either --config or --device/--placement/--replay/--address, not both")
        return specs_from_config(args.config, args)
    if not args.device:
        raise ValueError("nothing to emulate: give --device TYPE (e.g. --device anymo-imu) or --config FILE")
    n = len(args.device)
    placements = _per_device(args.placement, n, "placement", allow_one=False)
    replays = _per_device(args.replay, n, "replay", allow_one=True)
    addresses = _per_device(args.address, n, "address", allow_one=False)
    specs = []
    for i, device in enumerate(args.device):
        faults = FaultPlan(drop_prob=args.drop, duplicate_prob=args.duplicate, clock_drift_ppm=args.drift_ppm,
                           seed=args.seed + i)
        replay = replays[i]
        specs.append(WearableSpec(device, placement=check_placement_name(placements[i] or "unknown", allow_unknown=True),
                                  replay=_replay_path(replay, Path.cwd()) if replay else None,
                                  address=addresses[i], faults=faults, loop=not args.no_loop, mtu=args.mtu))
    return specs


def _replay_path(value: str, base: Path) -> Path:
    path = Path(value).expanduser()
    path = path if path.is_absolute() else base / path
    if not path.exists():
        raise ValueError(f"replay file {path} does not exist")
    return path


def specs_from_config(path: Path, args: argparse.Namespace):
    from firmware_bridge.emulator import FaultPlan, WearableSpec

    if not path.exists():
        raise ValueError(f"config file {path} does not exist")
    text = path.read_text()
    if path.suffix.lower() == ".toml":
        import tomllib

        data = tomllib.loads(text)
        items = data.get("wearable", data.get("wearables"))
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc}); use .toml for TOML") from None
        items = data.get("wearables") if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise ValueError(f"{path}: expected a non-empty list of wearables ({CONFIG_HELP})")
    specs = []
    allowed = {"device", "placement", "replay", "address", "name", "rssi_dbm", "loop", "faults", "mtu"}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or "device" not in item:
            raise ValueError(f"{path}: wearable {i} needs a \"device\" entry")
        unknown = set(item) - allowed
        if unknown:
            raise ValueError(f"{path}: wearable {i} has unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")
        fault_kw = {"drop_prob": args.drop, "duplicate_prob": args.duplicate, "clock_drift_ppm": args.drift_ppm,
                    "seed": args.seed + i, **item.get("faults", {})}
        try:
            faults = FaultPlan(**fault_kw)
        except TypeError as exc:
            raise ValueError(f"{path}: wearable {i} faults: {exc}") from None
        replay = item.get("replay")
        specs.append(WearableSpec(
            item["device"], placement=check_placement_name(item.get("placement", "unknown"), allow_unknown=True),
            replay=_replay_path(replay, path.parent) if replay else None, address=item.get("address"),
            name=item.get("name"), faults=faults, loop=bool(item.get("loop", not args.no_loop)),
            rssi_dbm=item.get("rssi_dbm"), mtu=item.get("mtu", args.mtu)))
    return specs


async def serve(specs, adapter: str) -> int:
    from firmware_bridge.emulator import Emulator

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Emulator(specs, adapter=adapter) as em:
        for addr, w in em.wearables.items():
            src = w.spec.replay if w.spec.replay is not None else "synthetic signal"
            log.info("%s  %-20s %-22s placement=%s replay=%s", addr, w.spec.device_type, w.name, w.placement, src)
        print(f"DBUS_SYSTEM_BUS_ADDRESS={em.bus_address}", flush=True)
        print(f"# {len(specs)} virtual wearable(s) ready; export the line above, then `anymo scan`. "
              "Ctrl-C stops.", file=sys.stderr, flush=True)
        await stop.wait()
        log.info("stopping")
        print(truth_table(em), file=sys.stderr, flush=True)
    return 0


def truth_table(em) -> str:
    """What each wearable really did (to compare with `anymo stream`'s statistics): data notifications sent,
    dropped on purpose (the bridge's LOST should match), sent twice, links, device-initiated disconnects, the
    true clock drift."""
    from firmware_bridge.cli import table

    rows = []
    for addr, w in em.wearables.items():
        st = w.stats
        rows.append([addr, w.spec.device_type, w.placement, str(st["samples"]), str(st["packets_sent"]),
                     str(st["packets_dropped"]), str(st["packets_duplicated"]), str(st["connections"]),
                     str(st["disconnects"]), f"{w.faults.clock_drift_ppm:g}"])
    head = ["ADDRESS", "TYPE", "PLACEMENT", "SAMPLES", "SENT", "DROPPED", "DUPLICATED", "LINKS", "HUNG_UP",
            "DRIFT_PPM"]
    return "# emulator truth (DROPPED: notifications withheld on purpose; compare with `anymo stream`'s LOST)\n" \
        + table(rows, head)


def main(argv: list[str], prog: str = "anymo emulate") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    set_verbosity(args.verbose)
    try:
        specs = specs_from_args(args)
        return asyncio.run(serve(specs, args.adapter))
    except (ValueError, FileNotFoundError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # dbus-daemon missing or failed to start
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], prog="python -m firmware_bridge.emulate_cli"))
