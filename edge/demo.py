"""`anymo demo`: the main job, end to end, with no wearable at hand.

    four emulated BLE wearables (wrist, thigh, shank, lower back; fake BlueZ on a private D-Bus, in a
    process of their own) replay real recordings whose activity changes: walking, sitting down, an arm
    exercise (`edge.demo_scenario`; a built-in synthetic sequence without the data folder)
      -> they are paired at their placements (a pairing store of the demo's own, in OUT/)
      -> the bridge streams them through real bleak (reconnects, clock sync, loss accounting)
      -> the live runtime: 5 s windows every second -> the engine -> smoothed zero-shot labels, captions
      -> the terminal (a live table) and the companion app (http://127.0.0.1:8765)

Faults are injected on purpose (2 % of packets dropped, drifting device clocks, one device-initiated
disconnect) and the end table checks the bridge against the emulator's ground truth. ``--headless``
runs without the app; ``--json OUT.json`` writes labels_emitted, captions_emitted, packets_received,
packets_lost, reconnects, latency_p50_ms, latency_p99_ms, cpu_percent and the per-device details.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np

from anymo_cli.logs import set_verbosity
from companion_app.server import start_server  # aiohttp: the device extra, like rich and onnxruntime below
from edge.demo_scenario import PHASES, phase_at
from edge.live_cli import LiveView


def _parser(prog: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--seconds", type=float, default=None, help="how long to stream (default: until Ctrl-C; 60 headless)")
    ap.add_argument("--headless", action="store_true", help="no companion app; plain lines in the terminal")
    ap.add_argument("--json", type=Path, metavar="OUT.json", help="write the run's figures here")
    ap.add_argument("--out", type=Path, default=Path("out/demo"), help="folder for the demo's pairing store, labels "
                    "and session database (default out/demo)")
    ap.add_argument("--data", type=Path, default=None, help="data folder with the real recordings ($ANYMO_DATA)")
    ap.add_argument("--bundle", type=Path, help="model bundle (default: the shipped one)")
    ap.add_argument("--drop", type=float, default=0.02, help="fraction of data packets the wearables drop (0.02)")
    ap.add_argument("--disconnect-after", type=float, default=25.0,
                    help="the wrist wearable hangs up this many seconds into streaming (0: never; default 25)")
    ap.add_argument("--hop-s", type=float, default=1.0, help="seconds between labels (windows are 5 s)")
    ap.add_argument("--port", type=int, default=8765, help="companion app port (default 8765)")
    ap.add_argument("--lan", action="store_true", help="serve the app on the LAN (pairing token + QR code)")
    ap.add_argument("--plain", action="store_true", help="one line per window instead of the live table")
    ap.add_argument("--no-captions", action="store_true", help="labels only")
    ap.add_argument("--wearables", type=int, default=4, choices=range(1, 5), metavar="N",
                    help="how many wearables (1-4: wrist, thigh, shank, lower back; default 4)")
    ap.add_argument("--phase-s", type=float, default=20.0, help="seconds of each replayed activity (default 20)")
    ap.add_argument("--seed", type=int, default=0)
    return ap


def _check(args, prog: str) -> str | None:
    import math

    if args.seconds is not None and not (math.isfinite(args.seconds) and args.seconds > 0):
        return f"--seconds must be a positive number of seconds, got {args.seconds}"
    if not (0.0 <= args.drop < 1.0):
        return f"--drop must be a fraction in [0, 1), got {args.drop:g}"
    if args.data is not None and not args.data.is_dir():
        return (f"--data {args.data} is not a folder; give the shared data folder (the one with hmp_adl/, "
                "xsens_walking/, ...; see ANYMO_DATA), or leave --data out")
    if not (math.isfinite(args.hop_s) and 0.1 <= args.hop_s <= 5.0):
        return f"--hop-s must be 0.1..5 seconds (a window is 5 s), got {args.hop_s}"
    if not (math.isfinite(args.phase_s) and args.phase_s >= 2.0):
        return f"--phase-s must be at least 2 seconds, got {args.phase_s}"
    if not (0 < args.port < 65536):
        return f"--port must be 1..65535, got {args.port}"
    return None


def _cpu_s() -> float:
    t = os.times()
    return t.user + t.system  # this process only (the wearables run in a child, counted apart)


async def _run(args, prog: str, engine, captioner) -> dict:
    from anymo.data.datasets import default_data_dir
    from edge.demo_wearables import WearablesProcess
    from edge.live_service import LiveService, ServiceOptions
    from edge.runtime import RuntimeConfig
    from firmware_bridge.pairing import PairedDevice, PairingStore
    from firmware_bridge.session import ignore_bus_eof

    loop = asyncio.get_running_loop()
    loop.set_exception_handler(ignore_bus_eof)
    out: Path = args.out
    data_dir = args.data or default_data_dir()
    truth_path = out / "wearables_truth.json"
    truth_path.unlink(missing_ok=True)
    wearables = WearablesProcess(Path(data_dir) if data_dir else None, args.drop, args.seed, args.disconnect_after,
                                 truth_path, phase_s=args.phase_s, count=args.wearables)
    report: dict = {"real_recordings": wearables.info["real"], "wearables": wearables.info["wearables"]}
    try:
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = wearables.bus_address
        store = PairingStore(out / "devices.json")
        for a in [d.address for d in store.list()]:
            store.remove(a)
        for w in wearables.info["wearables"]:
            store.add(PairedDevice(w["address"], w["device_type"], w["placement"], settings={"rate_hz": 100}))
        print(("replaying real recordings" if wearables.info["real"] else
               f"no data folder at {data_dir}: replaying the built-in synthetic sequence")
              + f" ({' -> '.join(PHASES)}, {args.phase_s:g} s each, looped) on {len(wearables.info['wearables'])} "
              "emulated wearables:", flush=True)
        for w in wearables.info["wearables"]:
            print(f"  {w['placement']:<12} {w['device_type']:<11} {w['address']}  " + " | ".join(w["sources"]), flush=True)
        opts = ServiceOptions(sessions_db=out / "sessions.sqlite", labels_file=out / "labels.json",
                              pairing_file=out / "devices.json", runtime=RuntimeConfig(hop_s=args.hop_s),
                              captions=not args.no_captions, session_name="demo")
        service = LiveService(engine, captioner, opts)
        view = LiveView(plain=args.plain or args.headless)
        phases_seen: list[dict] = []
        t_stream0: list[float] = []  # the wearables replay from their first sample: the first window's start

        def follow(ev: dict) -> None:  # what was replayed during each labelled window (its last second)
            if ev.get("type") == "label":
                if not t_stream0:
                    t_stream0.append(ev["t_start_s"])
                phase = phase_at(max(0.0, ev["t_end_s"] - 0.5 - t_stream0[0]), args.phase_s)
                phases_seen.append({"t_end_s": ev["t_end_s"], "phase": phase, "label": ev["label"],
                                    "confidence": ev["confidence"]})
        service.subscribe(follow)
        service.subscribe(view.on_event)
        server = None
        if not args.headless:
            server = await start_server(service, port=args.port, lan=args.lan)
            print(f"companion app: {server.url}  (phone layout; watch layout: {server.url_watch})", flush=True)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        seconds = args.seconds if args.seconds is not None else (60.0 if args.headless else None)
        cpu0, wall0, emu_cpu0 = _cpu_s(), time.monotonic(), wearables.cpu_seconds()
        with view.live():
            await service.start()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), seconds)
            cpu1, wall1, emu_cpu1 = _cpu_s(), time.monotonic(), wearables.cpu_seconds()
            await service.close()
        if server is not None:
            await server.close()
        rt = service.runtime
        report.update(rt.summary() if rt else {})
        report["seconds"] = round(wall1 - wall0, 2)
        report["cpu_percent"] = round(100.0 * (cpu1 - cpu0) / (wall1 - wall0), 1)
        report["cpu_note"] = ("this process (bridge over bleak/D-Bus + runtime + engine + SQLite"
                              + (" + companion server" if server else "") + ") as % of one core; the emulated "
                              "wearables run in a child process: wearables_cpu_percent")
        if emu_cpu0 is not None and emu_cpu1 is not None:
            report["wearables_cpu_percent"] = round(100.0 * (emu_cpu1 - emu_cpu0) / (wall1 - wall0), 1)
        report["session_id"] = service.session_id
        report["sessions_db"] = str(service.sessions_db)
        report["error"] = service.error
        report["phases"] = phases_seen
        stats = {d["address"]: d for d in service.devices()}
    finally:
        truth = wearables.stop()
    from edge.session_store import SessionReader

    with SessionReader(out / "sessions.sqlite") as reader:
        stored = {}
        for d in reader.session(report["session_id"]).devices:
            sensors, counts = np.unique(reader.samples(report["session_id"], d["address"])["sensor"], return_counts=True)
            stored[d["address"]] = {str(k): int(v) for k, v in zip(sensors, counts, strict=True)}
    per_device = {}
    for a, d in stats.items():
        t = truth.get(a, {})
        by_sensor = d["stats"].get("samples_by_sensor", {})
        per_device[a] = {"placement": d["placement"], "device_type": d["device_type"], "samples_received": d["samples"],
                         "samples_by_sensor": by_sensor, "samples_stored_by_sensor": stored.get(a, {}),
                         "all_received_stored": stored.get(a, {}) == by_sensor,
                         # the bridge must report every withheld packet a later packet revealed (the trailing ones
                         # may or may not be seen before the link closes) and never more than were withheld
                         "unreported_drops": max(0, t.get("packets_dropped", 0) - t.get("packets_dropped_after_last_delivered", 0)
                                                 - d["packets_lost"]) if t else None,
                         "phantom_losses": max(0, d["packets_lost"] - t.get("packets_dropped", 0)) if t else None, "packets_received": d["packets_received"],
                         "packets_lost": d["packets_lost"], "reconnects": d["reconnects"], "rate_hz": d["rate_hz"],
                         "clock_drift_ppm": d["clock_drift_ppm"], "clock_drift_ci_ppm": d["clock_drift_ci_ppm"],
                         "emulator": t}
    report["devices"] = per_device
    for key in ("packets_received", "packets_lost", "reconnects"):
        report[key] = sum(v[key] for v in per_device.values())
    report["packets_dropped_by_wearables"] = sum(v["emulator"].get("packets_dropped", 0) for v in per_device.values())
    report["packets_dropped_after_last_delivered"] = sum(v["emulator"].get("packets_dropped_after_last_delivered", 0)
                                                         for v in per_device.values())
    report["unreported_drops"] = sum(v["unreported_drops"] or 0 for v in per_device.values())
    report["phantom_losses"] = sum(v["phantom_losses"] or 0 for v in per_device.values())
    report["all_received_stored"] = all(v["all_received_stored"] for v in per_device.values())
    return report


def _print_end(report: dict) -> None:
    hdr = (f"{'placement':<12} {'type':<11} {'samples':>7} {'stored':>6} {'rate_hz':>7} {'lost':>5} {'dropped*':>8} "
           f"{'reconn':>6} {'drift_ppm':>9} {'true_ppm':>8}")
    print("\n" + hdr + "\n" + "-" * len(hdr))
    f = lambda x, spec: "-" if x is None else format(x, spec)
    for d in report["devices"].values():
        e = d["emulator"]
        print(f"{d['placement']:<12} {d['device_type']:<11} {d['samples_received']:>7} {'all' if d['all_received_stored'] else 'NO':>6} "
              f"{f(d['rate_hz'], '.2f'):>7} {d['packets_lost']:>5} {e.get('packets_dropped', 0):>8} {d['reconnects']:>6} "
              f"{f(d['clock_drift_ppm'], '.0f') + ('' if d['clock_drift_ci_ppm'] is None else '±' + f(d['clock_drift_ci_ppm'], '.0f')):>9} "
              f"{f(e.get('true_drift_ppm'), '.1f'):>8}")
    print("* dropped: data notifications the wearables withheld on purpose (the bridge's 'lost' should match, but for\n"
          "  drops after the last packet that arrived: no later packet can reveal those before the session ends);\n"
          f"  unreported drops: {report['unreported_drops']}, losses reported beyond the drops: {report['phantom_losses']}, "
          f"every delivered sample stored: {report['all_received_stored']}")
    lat = report.get("latency_p99_ms")
    print(f"\nlabels {report.get('labels_emitted', 0)}, captions {report.get('captions_emitted', 0)}, "
          f"label latency p50 {f(report.get('latency_p50_ms'), '.0f')} ms / p99 {f(lat, '.0f')} ms "
          f"(a sample waits up to one hop = {1000 * report.get('hop_s', 1):.0f} ms for its window), "
          f"CPU {report['cpu_percent']:.1f} % of one core (wearables: {report.get('wearables_cpu_percent', '-')} %)")
    by_phase: dict[str, dict[str, int]] = {}
    for p in report.get("phases", []):
        by_phase.setdefault(p["phase"], {}).setdefault(p["label"], 0)
        by_phase[p["phase"]][p["label"]] += 1
    for phase, counts in by_phase.items():
        top = ", ".join(f"{k} x{v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])[:3])
        print(f"  while replaying {phase:<13}: {top}")


def main(argv: list[str], prog: str = "anymo demo") -> int:
    args = _parser(prog).parse_args(argv)
    problem = _check(args, prog)
    if problem:
        print(f"{prog}: {problem}", file=sys.stderr)
        return 2
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"{prog}: cannot create the output folder {args.out} ({exc.strerror or exc}); choose another --out",
              file=sys.stderr)
        return 2
    set_verbosity(0)  # stderr logging when run as `python -m edge.demo`; `anymo -v demo` raises it
    logging.getLogger("bleak.backends.bluezdbus.version").setLevel(logging.ERROR)
    from edge.live_service import ModelUnavailable, ServiceOptions, load_model

    try:
        engine, captioner, bundle = load_model(ServiceOptions(bundle=args.bundle, captions=not args.no_captions))
    except ModelUnavailable as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    print(f"model bundle {bundle}" + ("" if captioner else " (no captioner in it: labels only)"), flush=True)
    from firmware_bridge.scan import BluetoothUnavailable

    try:
        report = asyncio.run(_run(args, prog, engine, captioner))
    except (BluetoothUnavailable, RuntimeError, FileNotFoundError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    _print_end(report)
    report["bundle"] = str(bundle)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"wrote {args.json}")
    print(f"session {report['session_id']} in {report['sessions_db']} (`anymo live sessions --db {report['sessions_db']}`)")
    return 1 if report.get("error") else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
