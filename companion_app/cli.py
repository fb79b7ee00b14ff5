"""`anymo app`: serve the companion (phone and watch layouts) for the live runtime.

    anymo app                       # http://127.0.0.1:8765 (this machine only)
    anymo app --lan                 # on the LAN, with a pairing token shown as a QR code
    anymo app --emulate             # plus four emulated wearables to scan and pair (no hardware needed)

It streams from the paired wearables (`anymo pair` or the Devices page) as soon as there are any.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path

import onnxruntime  # noqa: F401 - the device extra (with aiohttp below), imported first so a missing one is named

from anymo_cli.logs import set_verbosity
from companion_app.server import start_server


def _parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.add_argument("--lan", action="store_true", help="serve on every interface; requires the pairing token")
    p.add_argument("--bundle", type=Path, help="model bundle (default: the shipped one)")
    p.add_argument("--db", type=Path, help="session database (default $ANYMO_SESSIONS_DB or ~/.local/share/anymo/sessions.sqlite)")
    p.add_argument("--no-captions", action="store_true", help="labels only")
    p.add_argument("--adapter", help="Bluetooth adapter, e.g. hci1")
    p.add_argument("--emulate", action="store_true",
                   help="start the demo's emulated wearables (unpaired) with a pairing store of their own in --out")
    p.add_argument("--out", type=Path, default=Path("out/app"), help="folder for --emulate's pairing store and "
                   "sessions (default out/app)")
    p.add_argument("--data", type=Path, help="data folder the emulated wearables replay ($ANYMO_DATA)")
    p.add_argument("--phase-s", type=float, default=20.0, help="--emulate: seconds of each replayed activity (20)")
    p.add_argument("--seconds", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    return p


async def _serve(args, engine, captioner) -> int:
    from edge.live_service import LiveService, ServiceOptions

    wearables = None
    opts = ServiceOptions(sessions_db=args.db, adapter=args.adapter, captions=not args.no_captions)
    if args.emulate:
        from anymo.data.datasets import default_data_dir
        from edge.demo_wearables import WearablesProcess
        from firmware_bridge.session import ignore_bus_eof

        asyncio.get_running_loop().set_exception_handler(ignore_bus_eof)
        args.out.mkdir(parents=True, exist_ok=True)
        data = args.data or default_data_dir()
        try:
            wearables = WearablesProcess(Path(data) if data else None, drop=0.0, phase_s=args.phase_s)
        except RuntimeError as exc:  # e.g. dbus-daemon missing: its message says what to install
            print(f"anymo app: {exc}", file=sys.stderr)
            return 1
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = wearables.bus_address
        (args.out / "devices.json").unlink(missing_ok=True)
        opts.pairing_file = args.out / "devices.json"
        opts.sessions_db = args.db or args.out / "sessions.sqlite"
        print("emulated wearables (scan for them on the Devices page): " + ", ".join(
            f"{w['address']} {w['device_type']}" for w in wearables.info["wearables"]), flush=True)
    service = LiveService(engine, captioner, opts)
    try:
        server = await start_server(service, port=args.port, lan=args.lan)
    except RuntimeError as exc:
        if wearables:
            wearables.stop()
        print(f"anymo app: {exc}", file=sys.stderr)
        return 1
    print(f"companion: {server.url}   watch: {server.url_watch}", flush=True)
    await service.start()
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, done.set)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(done.wait(), args.seconds)
    await service.close()
    await server.close()
    if wearables:
        wearables.stop()
    return 0


def main(argv: list[str], prog: str = "anymo app") -> int:
    args = _parser(prog).parse_args(argv)
    if not 0 < args.port < 65536:
        print(f"{prog}: --port must be 1..65535, got {args.port}", file=sys.stderr)
        return 2
    if not args.phase_s >= 2.0:
        print(f"{prog}: --phase-s must be at least 2 seconds, got {args.phase_s}", file=sys.stderr)
        return 2
    if args.seconds is not None and not args.seconds > 0:
        print(f"{prog}: --seconds must be positive, got {args.seconds}", file=sys.stderr)
        return 2
    set_verbosity(0)  # stderr logging when run on its own; `anymo -v app` raises it
    logging.getLogger("bleak.backends.bluezdbus.version").setLevel(logging.ERROR)
    from edge.live_service import ModelUnavailable, ServiceOptions, load_model

    try:
        engine, captioner, _ = load_model(ServiceOptions(bundle=args.bundle, captions=not args.no_captions))
    except ModelUnavailable as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    try:
        return asyncio.run(_serve(args, engine, captioner))
    except KeyboardInterrupt:
        return 130
