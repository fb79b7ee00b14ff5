"""`anymo live`: live activity labels and captions in the terminal, from the paired wearables or a recording.

    anymo live                                  # stream every paired wearable, show labels + captions (Ctrl-C ends)
    anymo live --replay walk.anymorec           # a bridge recording replayed as a live stream (real time)
    anymo live --plain --seconds 60             # one line per window instead of the live table
    anymo live sessions                         # the stored sessions
    anymo live export 12 --csv out/s12/ | --json out/s12.json [--samples]

Sessions (raw samples, labels, captions, device statistics) go to the session database
(``$ANYMO_SESSIONS_DB`` or ``~/.local/share/anymo/sessions.sqlite``; `edge.session_store`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections import deque
from pathlib import Path

import onnxruntime  # noqa: F401 - the device extra, imported first so a missing one is named before any work
from rich.console import Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from anymo_cli.logs import set_verbosity
from edge.labels import UNCERTAIN


class LiveView:
    """What the terminal shows: the current label, its confidence, the top labels, recent captions, devices."""

    def __init__(self, plain: bool = False, stream=None) -> None:
        self.plain = plain
        self.stream = stream or sys.stdout
        self.label: dict | None = None
        self.captions: deque[dict] = deque(maxlen=4)
        self.history: deque[tuple[str, str]] = deque(maxlen=8)
        self.devices: list[dict] = []
        self.state = "starting"
        self._live = None

    def on_event(self, ev: dict) -> None:
        kind = ev.get("type")
        if kind == "label":
            self.label = ev
            if ev.get("changed") or not self.history:
                self.history.appendleft((time.strftime("%H:%M:%S", time.localtime(ev["t_end_s"])), ev["label"]))
            if self.plain:
                top = ", ".join(f"{t} {p:.2f}" for t, p in ev["top"])
                print(f"{time.strftime('%H:%M:%S', time.localtime(ev['t_end_s']))}  {ev['label']:<24} "
                      f"{ev['confidence']:.2f}  (top: {top}; {len(ev['sensors'])} sensors, {ev['inference_ms']:.1f} ms)",
                      file=self.stream, flush=True)
        elif kind == "caption":
            self.captions.appendleft(ev)
            if self.plain:
                print(f"{time.strftime('%H:%M:%S', time.localtime(ev['t_end_s']))}  caption: {ev['text']}",
                      file=self.stream, flush=True)
        elif kind == "devices":
            self.devices = ev["devices"]
        elif kind == "session":
            self.state = ev.get("state", self.state)
            if self.plain and ev.get("error"):
                print(f"streaming stopped: {ev['error']}", file=self.stream, flush=True)
        if self._live is not None and kind in ("label", "caption", "devices", "session"):
            self._live.update(self.render())

    def render(self):
        lab = self.label
        if lab is None:
            head = Text(f"waiting for the first 5 s window ({self.state})", style="dim")
        else:
            conf = lab["confidence"]
            style = "bold yellow" if lab["label"] == UNCERTAIN else "bold green"
            filled = round(20 * conf)
            bar = "█" * filled + "░" * (20 - filled)
            head = Text.assemble((f"{lab['label']}\n", style), (f"{bar} {100 * conf:.0f}%", "cyan"),
                                 ("   top: " + ", ".join(f"{t} {100 * p:.0f}%" for t, p in lab["top"]), "dim"))
        caps = Text("\n".join(f"“{c['text']}”" for c in self.captions) or "(no captions yet)",
                    style="italic" if self.captions else "dim")
        hist = Text("  ".join(f"{t} {name}" for t, name in self.history) or "-", style="dim")
        dev = Table(expand=True, box=None, pad_edge=False)
        for col in ("placement", "type", "link", "rate Hz", "loss %", "reconn", "drift ppm"):
            dev.add_column(col)
        for d in self.devices:
            fmt = lambda x, spec: "-" if x is None else format(x, spec)
            dev.add_row(d["placement"], d["device_type"], "up" if d["connected"] else "down",
                        fmt(d["rate_hz"], ".1f"), fmt(d["loss_pct"], ".1f"), str(d["reconnects"]),
                        _drift(d))
        return Group(Panel(head, title="activity"), Panel(caps, title="captions"), Panel(hist, title="changes"),
                     Panel(dev, title="devices"))

    @contextlib.contextmanager
    def live(self):
        """Show the live table while the block runs (plain mode: nothing to set up)."""
        if self.plain:
            yield self
            return
        with Live(self.render(), refresh_per_second=4, transient=False) as live:
            self._live = live
            try:
                yield self
            finally:
                self._live = None


def _drift(d: dict) -> str:
    """The bridge's drift estimate with its ~95 % interval; while the interval is wide, only the interval."""
    ppm, ci = d.get("clock_drift_ppm"), d.get("clock_drift_ci_ppm")
    if ppm is None:
        return "-"
    if ci is None:
        return f"{ppm:.0f}"
    return f"settling ±{ci:.0f}" if ci > 200 else f"{ppm:.0f}±{ci:.0f}"


def _parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Live activity labels and captions from the paired wearables.",
                                epilog="subcommands: `sessions` (list stored sessions), `export ID --csv DIR | --json FILE`")
    p.add_argument("--bundle", type=Path, help="model bundle (default: the shipped models/anymo-edge-small/bundle)")
    p.add_argument("--replay", type=Path, metavar="FILE.anymorec", help="replay a bridge recording instead of streaming")
    p.add_argument("--speed", type=float, default=1.0, help="replay speed (1 = real time)")
    p.add_argument("--seconds", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    p.add_argument("--hop-s", type=float, default=1.0, help="seconds between labels (windows are 5 s)")
    p.add_argument("--no-captions", action="store_true", help="labels only")
    p.add_argument("--plain", action="store_true", help="one line per window instead of the live table")
    p.add_argument("--db", type=Path, help="session database (default $ANYMO_SESSIONS_DB or ~/.local/share/anymo/sessions.sqlite)")
    p.add_argument("--adapter", help="Bluetooth adapter, e.g. hci1")
    return p


def _sessions(argv: list[str], prog: str) -> int:
    from edge.session_store import SessionReader, SessionStoreError

    ap = argparse.ArgumentParser(prog=f"{prog} sessions", description="List the stored live sessions.")
    ap.add_argument("--db", type=Path)
    args = ap.parse_args(argv)
    try:
        with SessionReader(args.db) as r:
            rows = r.sessions()
    except SessionStoreError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    for s in rows:
        end = s.ended_at_s or s.last_data_s
        dur = f"{end - s.started_at_s:7.1f} s" if end else "      -"
        print(f"{s.id:>5}  {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(s.started_at_s))}  {dur}  "
              f"{len(s.devices)} devices  {s.n_samples:>8} samples  {s.n_labels:>5} labels  {s.n_captions:>4} captions"
              + ("" if s.ended_at_s else "  (not closed: running, or the process was killed)"))
    if not rows:
        print("no sessions stored yet (run `anymo live` or `anymo demo`)")
    return 0


def _export(argv: list[str], prog: str) -> int:
    from edge.session_store import SessionReader, SessionStoreError

    ap = argparse.ArgumentParser(prog=f"{prog} export", description="Export a stored session to CSV or JSON.")
    ap.add_argument("session_id", type=int)
    ap.add_argument("--csv", type=Path, metavar="DIR", help="write labels.csv, captions.csv, samples-*.csv here")
    ap.add_argument("--json", type=Path, metavar="FILE", help="write one JSON document")
    ap.add_argument("--samples", action="store_true", help="include the raw samples in the JSON")
    ap.add_argument("--db", type=Path)
    args = ap.parse_args(argv)
    if not args.csv and not args.json:
        print(f"{prog} export: give --csv DIR and/or --json FILE", file=sys.stderr)
        return 2
    try:
        with SessionReader(args.db) as r:
            if args.csv:
                for p in r.export_csv(args.session_id, args.csv):
                    print(p)
            if args.json:
                print(r.export_json(args.session_id, args.json, include_samples=args.samples))
    except (SessionStoreError, KeyError) as exc:
        print(f"{prog}: {exc.args[0] if isinstance(exc, KeyError) else exc}", file=sys.stderr)
        return 1
    return 0


async def _replay(args, engine, captioner, view: LiveView) -> int:
    from edge.labels import LabelVocabulary, labels_path
    from edge.runtime import LiveRuntime, RuntimeConfig, Sensor
    from edge.session_store import SessionWriter
    from firmware_bridge.record import read_header
    from firmware_bridge.stream import replay_recording

    header = read_header(args.replay)
    sensors = [Sensor(d.address, d.placement, d.device_type) for d in header.devices]
    builtin = list(getattr(engine, "label_vocabulary", None) or [])
    vocab = LabelVocabulary(builtin, labels_path()) if builtin else LabelVocabulary(path=labels_path())
    writer = SessionWriter(args.db, name=f"replay {args.replay.name}",
                           devices=[(s.address, s.device_type, s.placement) for s in sensors])
    clock_offset = [0.0]  # replayed host times are in the past: the runtime's clock follows the recording

    runtime = LiveRuntime(engine, sensors, vocab, captioner=captioner, store=writer,
                          config=RuntimeConfig(hop_s=args.hop_s), clock=lambda: time.time() - clock_offset[0])
    runtime.subscribe(lambda ev: view.on_event({**ev.to_json(), "type": ev.kind}))
    t_end = None if args.seconds is None else time.monotonic() + args.seconds
    last_s = None
    async for block in replay_recording(args.replay, speed=args.speed):
        clock_offset[0] = time.time() - block.t_arrival_s  # the runtime's "now" is the recording's time
        runtime.on_samples(block.address, block)
        last_s = block.t_arrival_s if last_s is None else max(last_s, block.t_arrival_s)
        if t_end is not None and time.monotonic() > t_end:
            break
    if last_s is not None:
        # the windows the recording's end completes (its last sample stands for one sample period more)
        runtime.poll(now=last_s + runtime.config.cut_wait_s + 0.05)
    runtime.close(wait_caption_s=5.0)
    writer.close(meta={"summary": runtime.summary()})
    print(f"session {writer.session_id}: {runtime.labels_emitted} labels, {runtime.captions_emitted} captions", file=sys.stderr)
    return 0


async def _stream(args, engine, captioner, view: LiveView) -> int:
    from edge.live_service import LiveService, ServiceOptions
    from edge.runtime import RuntimeConfig

    service = LiveService(engine, captioner, ServiceOptions(sessions_db=args.db, adapter=args.adapter,
                                                           runtime=RuntimeConfig(hop_s=args.hop_s)))
    if not service.pairing.list():
        print(f"no paired wearables in {service.pairing.path}: pair one first (`anymo scan`, then "
              "`anymo pair ADDRESS --placement NAME`), or try `anymo demo`", file=sys.stderr)
        return 2
    service.subscribe(view.on_event)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, done.set)
    await service.start()
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(done.wait(), args.seconds)
    await service.close()
    if service.error:
        print(f"streaming stopped: {service.error}", file=sys.stderr)
        return 1
    print(f"session {service.session_id} stored in {service.sessions_db}", file=sys.stderr)
    return 0


def main(argv: list[str], prog: str = "anymo live") -> int:
    if argv and argv[0] == "sessions":
        return _sessions(argv[1:], prog)
    if argv and argv[0] == "export":
        return _export(argv[1:], prog)
    args = _parser(prog).parse_args(argv)
    if args.seconds is not None and not args.seconds > 0:
        print(f"{prog}: --seconds must be a positive number, got {args.seconds}", file=sys.stderr)
        return 2
    if not (0.1 <= args.hop_s <= 5.0):
        print(f"{prog}: --hop-s must be 0.1..5 seconds (a window is 5 s), got {args.hop_s}", file=sys.stderr)
        return 2
    if args.replay is not None and not args.replay.is_file():
        print(f"{prog}: --replay {args.replay}: no such recording (make one with `anymo stream --record FILE`)",
              file=sys.stderr)
        return 2
    set_verbosity(0)  # stderr logging when run on its own; `anymo -v live` raises it
    from edge.live_service import ModelUnavailable, ServiceOptions, load_model

    try:
        engine, captioner, _ = load_model(ServiceOptions(bundle=args.bundle, captions=not args.no_captions))
    except ModelUnavailable as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    view = LiveView(plain=args.plain)
    run = _replay if args.replay is not None else _stream
    with view.live():
        try:
            return asyncio.run(run(args, engine, captioner, view))
        except KeyboardInterrupt:
            return 130
