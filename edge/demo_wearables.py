"""The demo's emulated wearables in a process of their own (so the runtime's CPU use is measured alone).

``python -m edge.demo_wearables [--data DIR] [--drop P] [--seed N] [--disconnect-after S] --truth OUT.json``
starts the four wearables of `edge.demo_scenario` on a private fake BlueZ, prints one JSON line on
stdout (``{"bus": ..., "wearables": [{address, device_type, placement, sources}], "real": bool}``) and
serves until SIGTERM/SIGINT, then writes the emulator's ground truth (packets sent, dropped, duplicated,
disconnects, samples, true drift) per address to ``--truth`` and exits.

`WearablesProcess` starts and stops it from the demo and the companion (``anymo app --emulate``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DRIFT_PPM = (60.0, -90.0, 25.0, -40.0)


async def _serve(args) -> int:
    from edge.demo_scenario import scenario
    from firmware_bridge.emulator import Emulator, FaultPlan, WearableSpec
    from firmware_bridge.session import ignore_bus_eof

    asyncio.get_running_loop().set_exception_handler(ignore_bus_eof)
    wearables, real = scenario(Path(args.data) if args.data else None, args.seed, args.phase_s)
    wearables = wearables[:args.count]
    specs = []
    for i, w in enumerate(wearables):
        disconnect = (args.disconnect_after,) if args.disconnect_after > 0 and w.placement == "right_wrist" else ()
        faults = FaultPlan(drop_prob=args.drop, clock_drift_ppm=DRIFT_PPM[i % len(DRIFT_PPM)],
                           clock_offset_s=1000.0 * (i + 1), disconnect_after_s=disconnect, seed=args.seed + i)
        specs.append(WearableSpec(w.device_type, w.placement, replay=w.recording, faults=faults))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with Emulator(specs) as emu:
        info = {"bus": emu.bus_address, "real": real, "t_start_s": time.time(), "phase_s": args.phase_s,
                "wearables": [{"address": a, "device_type": s.device_type, "placement": s.placement,
                               "sources": w.sources, "drift_ppm": s.faults.clock_drift_ppm}
                              for a, s, w in zip(emu.addresses, specs, wearables, strict=True)]}
        print(json.dumps(info), flush=True)
        await stop.wait()
        truth = {a: {**emu.stats(a), "true_drift_ppm": s.faults.clock_drift_ppm,
                     "packets_dropped_after_last_delivered": _trailing_drops(emu.truth(a)),
                     "placement": s.placement, "device_type": s.device_type}
                 for a, s in zip(emu.addresses, specs, strict=True)}
        if args.truth:
            Path(args.truth).write_text(json.dumps(truth, indent=2) + "\n")
    return 0


def _trailing_drops(truth: dict) -> int:
    """Packets withheld after the last one that reached the air: no later packet can reveal them to the
    receiver, so a bridge cannot count them lost (the session ended first)."""
    sent, packet = truth["sent"], truth["packet_index"]
    if not len(sent):
        return 0
    last = int(np.flatnonzero(sent)[-1]) if sent.any() else -1
    tail = packet[last + 1:]
    return int(len(tail) and 1 + np.count_nonzero(np.diff(tail)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edge.demo_wearables", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=None, help="data folder with the real recordings (default: synthetic)")
    ap.add_argument("--drop", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--disconnect-after", type=float, default=0.0,
                    help="the wrist wearable hangs up this many seconds into its first connection (0: never)")
    ap.add_argument("--truth", default=None)
    ap.add_argument("--phase-s", type=float, default=20.0, help="seconds of each activity phase (default 20)")
    ap.add_argument("--count", type=int, default=4, choices=range(1, 5), help="how many wearables (wrist first)")
    args = ap.parse_args(argv)
    try:
        return asyncio.run(_serve(args))
    except (OSError, RuntimeError, ValueError) as exc:  # no dbus-daemon, a bad recording: one line for the parent
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


class WearablesProcess:
    """Start the emulated wearables in a child process; ``info`` holds the bus address and the wearables."""

    def __init__(self, data_dir: Path | None, drop: float = 0.02, seed: int = 0, disconnect_after_s: float = 0.0,
                 truth_path: Path | None = None, phase_s: float = 20.0, count: int = 4) -> None:
        self.truth_path = truth_path
        cmd = [sys.executable, "-m", "edge.demo_wearables", "--drop", str(drop), "--seed", str(seed),
               "--disconnect-after", str(disconnect_after_s), "--phase-s", str(phase_s), "--count", str(count)]
        if data_dir is not None:
            cmd += ["--data", str(data_dir)]
        if truth_path is not None:
            cmd += ["--truth", str(truth_path)]
        # stderr to a file, not a pipe: a chatty child must never block on a full pipe nobody reads
        self._log = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._log, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self._log.seek(0)
            raise RuntimeError(f"the emulated wearables did not start:\n{self._log.read().strip()}")
        self.info = json.loads(line)
        self.bus_address: str = self.info["bus"]

    def cpu_seconds(self) -> float | None:
        """User + system CPU seconds of the wearables process so far (Linux /proc), None elsewhere."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None

    def stop(self, timeout_s: float = 10.0) -> dict:
        """Stop the wearables; their ground truth per address (empty if they could not say)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.truth_path is not None and self.truth_path.is_file():
            return json.loads(self.truth_path.read_text())
        return {}


if __name__ == "__main__":
    sys.exit(main())
