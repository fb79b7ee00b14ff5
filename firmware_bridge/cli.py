"""``anymo scan | pair | devices | stream``: the BLE bridge on the command line.

    anymo scan --timeout 5                       # supported wearables nearby: address, type, name, signal
    anymo pair AA:4D:00:00:00:01 --placement left_wrist [--device anymo-imu]
    anymo devices                                # paired wearables;  anymo devices remove ADDRESS
    anymo stream --seconds 60 --record walk.anymorec --json stats.json

``main(argv, prog)`` receives ``argv = [subcommand, *args]`` from ``edge.cli``. Exit codes: 0 ok, 1 the
bridge could not do it (Bluetooth off, device not found; a streamed device that gave no data or was lost at
the end), 2 bad usage or input.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import signal
import sys
import time
from pathlib import Path

from anymo.body.placement_names import check_placement_name
from anymo_cli.logs import set_verbosity

from .bluez_devices import release_hint
from .clock import format_drift
from .devices import DRIVERS
from .pairing import Calibration, PairedDevice, PairingStore, normalize_address

log = logging.getLogger("anymo.bridge")

COMMANDS = ("scan", "pair", "devices", "stream")
CHECK_SCAN_S = 3.0  # `pair --device TYPE`: how long to look for the device to check its type


class CliError(Exception):
    """A failure to report in one line (``code`` 1: could not do it, 2: bad usage)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def table(rows: list[list[str]], header: list[str]) -> str:
    """A plain text table (left-aligned columns, two spaces apart)."""
    cells = [header] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


# --- scan ---------------------------------------------------------------------------------------


def _scan_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="List nearby wearables this bridge can stream from "
                                "(recognised by advertised service UUID or name).")
    p.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS", help="how long to listen (default 5)")
    p.add_argument("--all", action="store_true", help="also list devices no driver recognises")
    p.add_argument("--service-filter", action="store_true",
                   help="let BlueZ report only devices advertising a driver's service UUID (misses name-only matches)")
    p.add_argument("--adapter", help="Bluetooth adapter, e.g. hci1 (default: the first powered one)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return p


async def _scan(args) -> int:
    from .scan import held_message, scan

    if not (args.timeout > 0 and math.isfinite(args.timeout)):
        raise CliError(f"--timeout must be a positive number of seconds, got {args.timeout:g}", 2)
    found = await scan(args.timeout, include_unsupported=args.all, service_filter=args.service_filter,
                       adapter=args.adapter)
    if args.json:
        print(json.dumps([d.to_json() for d in found], indent=2))
        return 0
    if not found:
        print(f"no supported wearables found in {args.timeout:g} s (are they on and advertising? "
              "try a longer --timeout, or --all to see every device)")
        return 0
    print(table([[d.address, d.device_type or "-", d.name or "-", _fmt(d.rssi_dbm, "d"), d.state, d.display_name]
                 for d in found], ["ADDRESS", "TYPE", "NAME", "RSSI", "STATE", "DEVICE"]))
    for d in found:
        if d.held:
            print(f"note: {held_message(d.address)}", file=sys.stderr)
    return 0


# --- pair / devices -----------------------------------------------------------------------------


def _pair_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Remember a wearable, where on the body it is worn and "
                                "its calibration.")
    p.add_argument("address", help="Bluetooth address (from `anymo scan`)")
    p.add_argument("--placement", required=True, help="named placement, e.g. left_wrist (`anymo placements`)")
    p.add_argument("--device", choices=sorted(DRIVERS), metavar="TYPE",
                   help=f"device type ({', '.join(sorted(DRIVERS))}); default: detected from its advertisement")
    p.add_argument("--name", help="a name to show (default: the advertised name)")
    p.add_argument("--rate-hz", type=float, help="sample rate to ask for when streaming (default 100)")
    p.add_argument("--calibration", type=Path, metavar="FILE.json",
                   help="calibration to store: JSON with acc_bias_mps2, acc_scale, gyro_bias_rads (3 numbers each) "
                        "and mount_rotation (3x3 matrix or w,x,y,z quaternion); default: identity")
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                   help="how long to scan when detecting the type (default 10; with --device at most "
                        f"{CHECK_SCAN_S:g}, to check the type when the device is in range)")
    p.add_argument("--no-check", dest="check", action="store_false",
                   help="with --device: do not scan to check the type against what the device advertises")
    p.add_argument("--adapter", help="Bluetooth adapter, e.g. hci1")
    p.add_argument("--json", action="store_true", help="print the stored device as JSON")
    return p


async def _pair(args) -> int:
    try:
        address = normalize_address(args.address)
    except ValueError as exc:
        raise CliError(str(exc), 2) from None
    device_type, name = args.device, args.name
    settings = {"rate_hz": args.rate_hz} if args.rate_hz else {}
    try:  # check what was typed before scanning
        check_placement_name(args.placement, allow_unknown=True)
        calibration = Calibration()
        if args.calibration is not None:
            try:
                calibration = Calibration.from_json(json.loads(args.calibration.read_text()))
            except (OSError, json.JSONDecodeError) as exc:
                raise ValueError(f"cannot read the calibration file {args.calibration}: {exc}") from None
        if not (args.timeout > 0 and math.isfinite(args.timeout)):
            raise ValueError(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
        if args.rate_hz is not None and not (args.rate_hz > 0 and math.isfinite(args.rate_hz)):
            raise ValueError(f"--rate-hz must be a positive number of samples per second, got {args.rate_hz:g}")
    except (TypeError, ValueError) as exc:
        raise CliError(str(exc), 2) from None
    if device_type is None or args.check:
        from .scan import BluetoothUnavailable, find_device, not_found_message

        timeout_s = args.timeout if device_type is None else min(args.timeout, CHECK_SCAN_S)
        try:
            _, found = await find_device(address, timeout_s, args.adapter)
        except BluetoothUnavailable as exc:
            if device_type is None:
                raise
            print(f"note: {exc}; pairing without checking the type", file=sys.stderr)
            found = None
        if found is None and device_type is None:
            raise CliError(f"{not_found_message(address, timeout_s)}; `anymo scan` lists what is visible, and "
                           "--device TYPE pairs without seeing it")
        if found is None:
            print(f"note: {address} is not in range: its type was not checked against --device {device_type}",
                  file=sys.stderr)
        elif device_type is None:
            if found.device_type is None:
                raise CliError(f"{address} ({found.name or 'no name'}, services "
                               f"{', '.join(found.service_uuids) or 'none'}) is not a wearable any driver "
                               f"recognises; if you know its type, pass --device ({', '.join(sorted(DRIVERS))})", 2)
            device_type = found.device_type
        elif not DRIVERS[device_type].matches(found.name, found.service_uuids) and found.device_type is not None:
            raise CliError(f"{address} is a {DRIVERS[found.device_type].display_name} ({found.device_type}, "
                           f"advertised as {found.name or 'no name'}), not a {device_type}: pass --device "
                           f"{found.device_type} or leave --device out to detect it", 2)
        if found is not None:
            name = name or found.name
    try:
        dev = PairedDevice(address, device_type, args.placement, name=name, settings=settings,
                           calibration=calibration)
    except (TypeError, ValueError) as exc:
        raise CliError(str(exc), 2) from None
    store = PairingStore()
    try:
        store.add(dev)
    except OSError as exc:  # disk full, read-only file system, ...
        raise CliError(f"cannot save the pairing store {store.path}: {exc.strerror or exc}", 1) from None
    if args.json:
        print(json.dumps(dev.to_json(), indent=2))
    else:
        print(f"paired {dev.address} ({DRIVERS[dev.device_type].display_name}) at {dev.placement}")
    return 0


def _devices_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="List paired wearables, or remove one.")
    p.add_argument("action", nargs="?", choices=("list", "remove"), default="list")
    p.add_argument("address", nargs="?", help="the device to remove")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return p


def _devices(args) -> int:
    store = PairingStore()
    if args.action == "remove":
        if not args.address:
            raise CliError("which device? `anymo devices remove ADDRESS` (see `anymo devices`)", 2)
        try:
            dev = store.remove(args.address)
        except KeyError as exc:
            raise CliError(exc.args[0], 1) from None
        except ValueError as exc:
            raise CliError(str(exc), 2) from None
        print(f"removed {dev.address} ({dev.device_type}, {dev.placement})")
        return 0
    if args.address:
        raise CliError(f"unexpected argument {args.address!r}: did you mean `anymo devices remove {args.address}`?", 2)
    devices = store.list()
    if args.json:
        print(json.dumps([d.to_json() for d in devices], indent=2))
    elif not devices:
        print(f"no paired devices in {store.path} (pair one with `anymo pair ADDRESS --placement NAME`)")
    else:
        print(table([[d.address, d.device_type, d.placement, d.name or "-",
                      _fmt(d.stream_settings().rate_hz, "g"), d.paired_at] for d in devices],
                    ["ADDRESS", "TYPE", "PLACEMENT", "NAME", "ASK_HZ", "PAIRED"]))
    return 0


# --- stream -------------------------------------------------------------------------------------


def _stream_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Stream raw IMU from every paired wearable at once "
                                "(reconnecting when a link drops), optionally recording it.")
    p.add_argument("--seconds", type=float, metavar="N", help="stop after N seconds (default: run until Ctrl-C)")
    p.add_argument("--record", type=Path, metavar="FILE", help="append-only recording (*.anymorec) to create")
    p.add_argument("--json", type=Path, metavar="OUT.json", help="write per-device statistics to this file")
    p.add_argument("--device", action="append", default=[], metavar="ADDRESS",
                   help="stream only this paired device (repeatable; default: all paired devices)")
    p.add_argument("--adapter", help="Bluetooth adapter, e.g. hci1")
    p.add_argument("--status-every", type=float, default=5.0, metavar="S",
                   help="print a status table on stderr every S seconds (0: never)")
    return p


STAT_COLUMNS = ["ADDRESS", "TYPE", "PLACEMENT", "SAMPLES", "RATE_HZ", "LOST", "RECONN", "OFFSET_MS", "DRIFT_PPM"]


def _stats_rows(stats) -> list[list[str]]:
    return [[s.address, s.device_type, s.placement, str(s.samples_received), _fmt(s.rate_hz, ".2f"),
             str(s.packets_lost), str(s.reconnects), _fmt(s.clock_offset_ms, ".1f"),
             format_drift(s.clock_drift_ppm, s.clock_drift_ci_ppm)]
            for s in stats.values()]


async def _stream(args) -> int:
    from .session import Session, SessionConfig

    store = PairingStore()
    devices = store.list()
    if args.device:
        try:
            wanted = [normalize_address(a) for a in args.device]
        except ValueError as exc:
            raise CliError(str(exc), 2) from None
        missing = [a for a in wanted if a not in {d.address for d in devices}]
        if missing:
            raise CliError(f"not paired: {', '.join(missing)} (pair with `anymo pair ADDRESS --placement NAME`)", 2)
        devices = [d for d in devices if d.address in wanted]
    if not devices:
        raise CliError(f"no paired devices in {store.path}: pair one first (`anymo scan`, then "
                       "`anymo pair ADDRESS --placement NAME`)", 2)
    if args.seconds is not None and not (args.seconds > 0 and math.isfinite(args.seconds)):
        raise CliError(f"--seconds must be a positive number of seconds, got {args.seconds:g} (leave it out to "
                       "stream until Ctrl-C)", 2)
    if args.record is not None and args.record.exists():
        raise CliError(f"{args.record} exists; recordings are never overwritten: choose a new file name", 2)
    for path, what in ((args.record, "recording"), (args.json, "statistics file")):
        if path is not None:
            _check_writable_folder(path, what)
    if args.json is not None and args.json.is_dir():
        raise CliError(f"--json {args.json} is a folder; give the statistics file's name, e.g. "
                       f"{args.json / 'stats.json'}", 2)
    if args.json is not None and args.json.exists() and not os.access(args.json, os.W_OK):
        raise CliError(f"--json {args.json} exists and is not writable; choose another path", 2)
    session = Session(devices, record=args.record, config=SessionConfig(adapter=args.adapter))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, session.stop)

    async def status() -> None:
        while args.status_every > 0:
            await asyncio.sleep(args.status_every)
            print(table(_stats_rows(session.stats), STAT_COLUMNS), file=sys.stderr, flush=True)

    names = ", ".join(f"{d.address} ({d.placement})" for d in devices)
    print(f"streaming {names}" + (f" for {args.seconds:g} s" if args.seconds else " until Ctrl-C")
          + (f", recording to {args.record}" if args.record else ""), file=sys.stderr, flush=True)
    ticker = asyncio.ensure_future(status())
    t0 = time.monotonic()
    try:
        stats = await session.run(args.seconds)
    except OSError as exc:  # the recording could not be created (the folder is read-only, on a full disk, ...)
        raise CliError(f"cannot create the recording {args.record}: {exc.strerror or exc}; choose a writable "
                       "folder for --record", 2) from None
    finally:
        ticker.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    print(table(_stats_rows(stats), STAT_COLUMNS))
    code = 0
    if args.json is not None:
        doc = {"seconds": round(time.monotonic() - t0, 3), "record": str(args.record) if args.record else None,
               "devices": {a: s.to_json() for a, s in stats.items()}}
        try:
            args.json.write_text(json.dumps(doc, indent=2) + "\n")
        except OSError as exc:
            print(f"{args.prog}: error: cannot write the statistics to {args.json}: {exc.strerror or exc} "
                  "(the table above has them)", file=sys.stderr)
            code = 1
    if args.record is not None:
        print(f"recorded to {args.record}", file=sys.stderr)
    problems = _stream_problems(stats, args.record)
    for line in problems:
        print(f"{args.prog}: {line}", file=sys.stderr)
    return 1 if problems else code



def _check_writable_folder(path: Path, what: str) -> None:
    """Create ``path``'s folder if needed; CliError (exit 2) naming the fix when it cannot be written."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot write the {what} {path}: its folder {folder} cannot be created "
                       f"({exc.strerror or exc}); choose another path", 2) from None
    if not os.access(folder, os.W_OK):
        raise CliError(f"cannot write the {what} {path}: the folder {folder} is not writable; choose another path", 2)


def _stream_problems(stats, record: Path | None) -> list[str]:
    """One line per device that delivered nothing, or whose link was lost and not back when the session ended."""
    kept = f"; {record} holds what arrived until then" if record is not None else ""
    lines = []
    for s in stats.values():
        who = f"{s.address} ({s.device_type}, {s.placement})"
        if s.samples_received == 0:
            why = s.last_error or f"not seen advertising during the session (is it on and in range? a connected " \
                f"device does not advertise: {release_hint(s.address)})"
            lines.append(f"{who}: no data: {why}")
        elif not s.connected_at_end:
            why = f" (last error: {s.last_error})" if s.last_error else ""
            lines.append(f"{who}: the link was lost and not re-established before the end{why}{kept}")
    return lines


async def _quiet_bus_teardown(coro):
    """Run ``coro`` with `session.ignore_bus_eof` as the loop's exception handler (no EOFError traceback
    when BlueZ or the emulator goes away)."""
    from .session import ignore_bus_eof

    asyncio.get_running_loop().set_exception_handler(ignore_bus_eof)
    return await coro


# --- entry point --------------------------------------------------------------------------------

PARSERS = {"scan": _scan_parser, "pair": _pair_parser, "devices": _devices_parser, "stream": _stream_parser}
RUNNERS = {"scan": _scan, "pair": _pair, "devices": _devices, "stream": _stream}


def main(argv: list[str], prog: str = "anymo") -> int:
    """``argv = [subcommand, *args]`` with subcommand one of scan, pair, devices, stream."""
    if not argv or argv[0] not in PARSERS:
        print(f"{prog}: expected one of {', '.join(COMMANDS)} (got {argv[0] if argv else 'nothing'})", file=sys.stderr)
        return 2
    command = argv[0]
    prog = prog if prog.endswith(command) else f"{prog} {command}"
    args = PARSERS[command](prog).parse_args(argv[1:])
    args.prog = prog
    set_verbosity(0)  # stderr logging when run on its own; `anymo -v scan` raises it
    logging.getLogger("bleak.backends.bluezdbus.version").setLevel(logging.ERROR)  # "cannot tell BlueZ version"
    from .scan import BluetoothUnavailable

    try:
        result = RUNNERS[command](args)
        if asyncio.iscoroutine(result):
            result = asyncio.run(_quiet_bus_teardown(result))
        return int(result or 0)
    except CliError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.code
    except BluetoothUnavailable as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except (ValueError, FileExistsError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
