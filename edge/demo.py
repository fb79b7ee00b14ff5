"""`anymo demo`: the main job on the embedded default, end to end, with no hardware.

    emulated BLE wearables replaying real recordings (fake BlueZ on a private D-Bus)
      -> the bridge (real bleak: scan, connect, driver start procedures, reconnects, clock sync, recording)
      -> the runtime's live windows (60 Hz, 5 s, every worn device on one host-time grid)
      -> labels and captions (once a trained bundle ships in models/; until then the demo says so)
    and a small simulated training set written by `anymo simulate`.

Faults are injected on purpose (dropped packets, drifting device clocks, one device-initiated
disconnect) and the demo checks the bridge against the emulator's ground truth: every delivered
sample received, losses reported exactly. Everything it prints is also written to ``OUT/summary.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anymo.data.datasets import default_data_dir
from anymo.preprocess.model_input import WINDOW_S, ModelInput
from anymo.preprocess.resample import estimate_rate_hz
from edge.live_windows import LiveWindower


@dataclass(frozen=True)
class DemoWearable:
    device_type: str
    placement: str
    replay: str  # path relative to the data directory
    drift_ppm: float
    disconnect_after_s: tuple[float, ...] = ()


# Three wearables of three vendors' protocols on one leg and the lower back, replaying real walking.
DEFAULT_WEARABLES = (
    DemoWearable("polar-verity", "right_thigh", "xsens_walking/walking_xsens_upperLeg.txt", +60.0),
    DemoWearable("anymo-imu", "right_shank", "xsens_walking/walking_xsens_lowerLeg.txt", -90.0, (9.0,)),
    DemoWearable("polar-h10", "lower_back", "gaitpy_lowerback/demo_data.csv", +25.0),  # acc only, like the recording
)


def _wearable_specs(data_dir: Path, drop_prob: float, seed: int) -> tuple[list, list[str]]:
    from firmware_bridge.emulator import FaultPlan, WearableSpec

    specs, notes = [], []
    for i, w in enumerate(DEFAULT_WEARABLES):
        path = data_dir / w.replay
        if not path.is_file():
            notes.append(f"{w.replay} not found under {data_dir}: {w.placement} replays a synthetic signal instead "
                         "(set ANYMO_DATA or --data to the shared data folder for real recordings)")
        faults = FaultPlan(drop_prob=drop_prob, clock_drift_ppm=w.drift_ppm, clock_offset_s=1000.0 * (i + 1),
                           disconnect_after_s=w.disconnect_after_s, seed=seed + i)
        specs.append(WearableSpec(w.device_type, w.placement, replay=path if path.is_file() else None, faults=faults))
    return specs, notes


class _WindowFeed:
    """Session consumer: host-aligned blocks -> LiveWindower (each device added once its rate is known)."""

    def __init__(self, placements: dict[str, str], hop_s: float) -> None:
        self.placements = placements
        self.windower: LiveWindower | None = None
        self.hop_s = hop_s
        self.pending: dict[str, list] = {a: [] for a in placements}
        self.windows: list[ModelInput] = []

    def _ready_rates(self) -> dict[str, float] | None:
        """Each device's rate (the newest its blocks carry, else measured), once every device has sent samples."""
        rates = {}
        for a, blocks in self.pending.items():
            acc_blocks = [b for b in blocks if b.acc_mps2 is not None]
            carried = [b.rate_hz for b in acc_blocks if b.rate_hz]
            rate = carried[-1] if carried else estimate_rate_hz(np.concatenate([b.t_host_s for b in acc_blocks]) if acc_blocks
                                                                else np.zeros(0), min_samples=30)
            if rate is None:
                return None
            rates[a] = float(rate)
        return rates

    def _push(self, address: str, block) -> None:
        self.windower.push_block(block)

    def __call__(self, address: str, block) -> None:
        if len(block) == 0:
            return
        if self.windower is None:
            self.pending[address].append(block)
            rates = self._ready_rates()
            if rates is None:
                return
            self.windower = LiveWindower(rates, hop_s=self.hop_s, placements=self.placements)
            for a, blocks in self.pending.items():
                for b in blocks:
                    self._push(a, b)
            self.pending.clear()
        else:
            self._push(address, block)
        for win in self.windower.pop_windows(now_host_s=time.time()):
            self.windows.append(win)
            print(self.describe(win), flush=True)

    def describe(self, win: ModelInput) -> str:
        """One line: per device the model input's |acc| (g) and |gyro| (rad/s), or its coverage when absent."""
        parts = []
        info = win.stats
        for i, a in enumerate(info.devices):
            name = self.placements[a]
            if not win.sensor_mask[0, i]:
                parts.append(f"{name}: -- ({100 * info.coverage[i]:.0f}% covered)")
                continue
            acc_g = np.linalg.norm(win.signals[0, i, :, :3], axis=1)
            gyro = np.linalg.norm(win.signals[0, i, :, 3:], axis=1) if win.has_gyro[0, i] else None
            if gyro is not None and not gyro.any():
                gyro = None  # a device with a gyroscope replaying an accelerometer-only recording
            parts.append(f"{name}: |a| {acc_g.mean():.2f}±{acc_g.std():.2f} g"
                         + (f", |w| {gyro.mean():.2f} rad/s" if gyro is not None else ""))
        stamp = time.strftime("%H:%M:%S", time.localtime(info.end_s))
        return f"window {stamp}  " + "  ".join(parts) + "  | label: (no model bundle yet)"


async def _stream(specs: list, seconds: float, record: Path, hop_s: float) -> dict:
    from firmware_bridge.emulator import Emulator
    from firmware_bridge.pairing import PairedDevice
    from firmware_bridge.session import Session, ignore_bus_eof

    asyncio.get_running_loop().set_exception_handler(ignore_bus_eof)

    async with Emulator(specs) as emu:
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = emu.bus_address
        devices = [PairedDevice(address=a, device_type=s.device_type, placement=s.placement)
                   for a, s in zip(emu.addresses, specs)]
        spec_of = dict(zip(emu.addresses, specs))
        feed = _WindowFeed({d.address: d.placement for d in devices}, hop_s)
        session = Session(devices, record=record, on_samples=feed)
        print(f"streaming {len(devices)} emulated wearables for {seconds:g} s through bleak "
              f"(bus {emu.bus_address}); recording to {record}", flush=True)
        stats = await session.run(seconds)
        await asyncio.sleep(0)
        per_device = {}
        for d in devices:
            s = stats[d.address]
            em = emu.stats(d.address)
            per_device[d.address] = {
                "placement": d.placement, "device_type": d.device_type, "bridge": s.to_json(),
                "true_drift_ppm": spec_of[d.address].faults.clock_drift_ppm,
                "emulator": {k: int(v) for k, v in em.items()},
            }
        return {"devices": per_device, "windows": len(feed.windows),
                "windows_all_present": int(sum(bool(w.sensor_mask.all()) for w in feed.windows))}


def _print_stats(report: dict) -> None:
    hdr = f"{'placement':<12} {'type':<13} {'samples':>7} {'rate_hz':>7} {'lost':>5} {'dropped*':>8} " \
          f"{'reconn':>6} {'drift_ppm':>9} {'true_ppm':>8}"
    print("\n" + hdr + "\n" + "-" * len(hdr))
    for dev in report["devices"].values():
        b, e = dev["bridge"], dev["emulator"]
        f = lambda x, spec: "-" if x is None else format(x, spec)  # noqa: E731
        print(f"{dev['placement']:<12} {dev['device_type']:<13} {b['samples_received']:>7} {f(b['rate_hz'], '.2f'):>7} "
              f"{b['packets_lost']:>5} {e.get('packets_dropped', 0):>8} {b['reconnects']:>6} "
              f"{f(b['clock_drift_ppm'], '.1f'):>9} {dev['true_drift_ppm']:>8.1f}")
    print("* dropped: data notifications the emulator withheld on purpose (the bridge's 'lost' should match);\n"
          "  true_ppm: the drift the emulated device clock was given (the bridge estimates drift_ppm)")


def _simulate(out: Path, hours: float, seed: int) -> dict:
    """A small simulated training set through the `anymo simulate` command (the simulator is not device code)."""
    cmd = [sys.executable, "-m", "edge.cli", "simulate", "--out", str(out), "--hours", str(hours),
           "--seed", str(seed), "--sensors-per-window", "6", "--overwrite", "--quiet"]
    print(f"\nsimulating {hours * 60:g} min of training windows: {' '.join(cmd[2:])}", flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"anymo simulate failed ({proc.returncode}):\n{proc.stderr.strip()}")
    manifest = json.loads((out / "manifest.json").read_text())
    counts = manifest.get("counts", {})
    print(f"wrote {counts.get('windows')} windows of {manifest.get('sensors_per_window')} sensors at "
          f"{manifest.get('rate_hz')} Hz to {out}: " + ", ".join(f"{k} {v}" for k, v in counts.get("per_activity", {}).items()))
    return {"out": str(out), "windows": counts.get("windows"), "per_activity": counts.get("per_activity")}


def main(argv: list[str], prog: str = "anymo demo") -> int:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="how long to stream (default 20)")
    ap.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default out/demo)")
    ap.add_argument("--data", type=Path, default=None, help="data folder with the real recordings ($ANYMO_DATA)")
    ap.add_argument("--drop", type=float, default=0.02, help="fraction of data packets the wearables drop (0.02)")
    ap.add_argument("--hop-s", type=float, default=2.5, help="live window hop in seconds (windows are 5 s)")
    ap.add_argument("--sim-hours", type=float, default=0.02, help="hours of simulated data to write (0 = skip)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if not (args.seconds > 0):
        print(f"{prog}: --seconds must be positive, got {args.seconds:g}", file=sys.stderr)
        return 2
    if not (0.0 <= args.drop < 1.0):
        print(f"{prog}: --drop must be a fraction in [0, 1), got {args.drop:g}", file=sys.stderr)
        return 2
    if args.data is not None and not args.data.is_dir():
        print(f"{prog}: --data {args.data} is not a folder; give the shared data folder (the one with "
              "xsens_walking/, see ANYMO_DATA), or leave --data out", file=sys.stderr)
        return 2
    data_dir = args.data or default_data_dir()
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"{prog}: cannot create the output folder {args.out} ({exc.strerror or exc}); choose another --out",
              file=sys.stderr)
        return 2
    record = _new_session_path(args.out)
    specs, notes = _wearable_specs(Path(data_dir), args.drop, args.seed)
    first_window_s = WINDOW_S + 1.0  # a window is cut once every device is 0.5 s past its end (+ start-up)
    if args.seconds < first_window_s:
        notes.append(f"--seconds {args.seconds:g} is shorter than one {WINDOW_S:g} s live window: no window will be "
                     f"cut (stream {first_window_s + args.hop_s:g} s or more to see some)")
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    print("labels and captions: no trained model bundle ships in models/ yet (the encoder/tokenizer and captioner "
          "come with the next issues); each window shows what the model will receive.", flush=True)
    from firmware_bridge.scan import BluetoothUnavailable

    try:
        report = asyncio.run(_stream(specs, args.seconds, record, args.hop_s))
    except (BluetoothUnavailable, FileNotFoundError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    _print_stats(report)
    report["record"] = str(record)
    if args.sim_hours > 0:
        try:
            report["simulated"] = _simulate(args.out / "simulated", args.sim_hours, args.seed)
        except RuntimeError as exc:
            print(f"{prog}: {exc}", file=sys.stderr)
            return 1
    (args.out / "summary.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    replay = " ".join(f"--device {w.device_type} --placement {w.placement}" for w in DEFAULT_WEARABLES)
    print(f"\nwrote {args.out / 'summary.json'}; replay the session (one wearable per recorded device) with "
          f"`anymo emulate {replay} --replay {record}`")
    return 0


def _new_session_path(out: Path) -> Path:
    """``out/session-YYYYmmdd-HHMMSS.anymorec``, with a -2, -3, ... suffix when a run in the same second took it."""
    stem = f"session-{time.strftime('%Y%m%d-%H%M%S')}"
    path, k = out / f"{stem}.anymorec", 1
    while path.exists():
        k += 1
        path = out / f"{stem}-{k}.anymorec"
    return path


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
