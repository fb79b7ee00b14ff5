"""Live multi-device windows: host-aligned sample blocks in, synchronised 5 s `ModelInput` windows out (numpy only).

The BLE bridge delivers, per device, samples stamped on the host clock (device time mapped through the
drift-corrected clock sync). The model wants, per window, every worn device resampled onto one common
60 Hz grid. `LiveWindower` keeps a short buffer per device and, each time the slowest device has
passed the end of the next window, cuts that window for all devices with the same preprocessing the
training and evaluation paths use (`anymo.preprocess`: gap handling, anti-aliased resampling).

A device whose samples cover less than ``min_coverage`` of a window (dropped out, reconnecting) is
marked absent in that window (``sensor_mask`` False) rather than holding everyone else back: after
``max_wait_s`` past a window's end the window is cut with what has arrived.

Each window is a `ModelInput` of one window (B = 1) with one sensor slot per device, in the order the
devices were given; its ``stats`` is a `LiveWindowInfo` (device ids, host-time grid, coverage).
A stream's rate is the one its blocks carry (``StreamBlock.rate_hz``, measured by the bridge from the
device clock); without one it is measured here from the host times (`estimate_rate_hz`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from anymo.preprocess.gaps import regularise
from anymo.preprocess.model_input import MODEL_RATE_HZ, WINDOW_S, ModelInput, WindowMeta, placement_id_of
from anymo.preprocess.resample import MAX_RATE_HZ, MIN_RATE_HZ, estimate_rate_hz, resample

LIVE_DATASET = "live"


@dataclass
class LiveWindowInfo:
    """What the live path knows about one window beyond the model input (`ModelInput.stats`)."""

    devices: list[str]  # device id of each sensor slot
    t_host_s: np.ndarray  # [T] host time of each sample of the window
    coverage: np.ndarray  # [S] fraction of the window each device covered with samples (before gap filling)

    @property
    def start_s(self) -> float:
        return float(self.t_host_s[0])

    @property
    def end_s(self) -> float:
        return float(self.t_host_s[-1] + (self.t_host_s[1] - self.t_host_s[0]))


@dataclass
class _Buffer:
    rate_hz: float
    t: list[np.ndarray] = field(default_factory=list)
    x: list[np.ndarray] = field(default_factory=list)
    has_gyro: bool = False
    latest_s: float = -np.inf
    measured: bool = True  # the rate is measured from the host times (no block brought one)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.t:
            return np.zeros(0), np.zeros((0, 6))
        t, x = np.concatenate(self.t), np.concatenate(self.x)
        self.t, self.x = [t], [x]
        return t, x

    def drop_before(self, t_s: float) -> None:
        t, x = self.arrays()
        keep = t >= t_s
        self.t, self.x = [t[keep]], [x[keep]]


def _stream_rate_hz(t_s: np.ndarray, nominal_hz: float) -> float:
    """The rate the samples actually come at (`estimate_rate_hz`), else ``nominal_hz``.

    A device may deliver another rate than the one it was set up with (a Polar Verity asked for 100 Hz
    sends 52, a sensor configured for 52 sends 208): regularising onto a slower nominal grid would
    interpolate without a low-pass filter and alias everything above its Nyquist into the window.
    """
    rate = estimate_rate_hz(t_s)
    return nominal_hz if rate is None else float(np.clip(rate, MIN_RATE_HZ, MAX_RATE_HZ))


class LiveWindower:
    """Cut synchronised windows from several live streams (see the module docstring).

    ``devices`` maps a device id (e.g. its address) to its nominal output rate in Hz (used until a block
    brings the stream's rate, or, for blocks without one, until the stream has samples enough to measure
    the rate it really delivers). ``placements`` maps a device id to where it is worn (a named placement,
    see `anymo.body.named_placements`); a device not in it is "unknown" (placement id -1).
    """

    def __init__(self, devices: dict[str, float], window_s: float = WINDOW_S, hop_s: float = 1.0,
                 rate_hz: float = MODEL_RATE_HZ, min_coverage: float = 0.8, max_wait_s: float = 2.0,
                 max_interp_gap_s: float = 0.2, placements: dict[str, str] | None = None) -> None:
        if not devices:
            raise ValueError("LiveWindower needs at least one device (id -> nominal rate in Hz)")
        for dev, r in devices.items():
            if not (MIN_RATE_HZ <= float(r) <= MAX_RATE_HZ):
                raise ValueError(f"device {dev!r}: nominal rate {r!r} Hz is outside {MIN_RATE_HZ:g}..{MAX_RATE_HZ:g} Hz")
        if window_s <= 0 or hop_s <= 0 or rate_hz <= 0:
            raise ValueError("window_s, hop_s and rate_hz must be positive")
        if not (0.0 < min_coverage <= 1.0):
            raise ValueError(f"min_coverage must be in (0, 1], got {min_coverage}")
        self.devices = list(devices)
        unknown = sorted(set(placements or {}) - set(devices))
        if unknown:
            raise ValueError(f"placements given for devices the windower was not set up for: {unknown}")
        self.placement_id = np.array([placement_id_of((placements or {}).get(d, "unknown")) for d in self.devices],
                                     dtype=np.int32)
        self._buf = {d: _Buffer(float(r)) for d, r in devices.items()}
        self._gyro_buf: dict[str, _Buffer] = {}  # devices whose gyroscope arrives as its own stream (Polar PMD)
        self.window_s, self.hop_s, self.rate_hz = float(window_s), float(hop_s), float(rate_hz)
        self.min_coverage, self.max_wait_s, self.max_interp_gap_s = min_coverage, max_wait_s, max_interp_gap_s
        self.n_len = int(round(self.window_s * self.rate_hz))
        self._next_end: float | None = None
        self.windows_emitted = 0

    def push_block(self, block) -> None:
        """Add a `firmware_bridge.stream.StreamBlock` (duck-typed: address, sensor, t_host_s, acc_mps2,
        gyro_rads, rate_hz) of a device given by its address."""
        if block.acc_mps2 is not None:
            self.push(block.address, block.t_host_s, block.acc_mps2, block.gyro_rads, rate_hz=block.rate_hz)
        elif block.gyro_rads is not None:  # a gyroscope in frames of its own (Polar PMD)
            self.push(block.address, block.t_host_s, None, block.gyro_rads, gyro_rate_hz=block.rate_hz)

    def push(self, device: str, t_host_s: np.ndarray, acc_mps2: np.ndarray | None,
             gyro_rads: np.ndarray | None = None, gyro_rate_hz: float | None = None,
             rate_hz: float | None = None) -> None:
        """Add a block of samples (host times strictly increasing within and across blocks of one stream).

        ``rate_hz``: the rate the stream delivers (host clock), when the caller knows it (`StreamBlock.rate_hz`);
        otherwise it is measured from the host times. ``acc_mps2=None`` with ``gyro_rads`` given adds to
        the device's separate gyroscope stream (devices that send each sensor in its own frames, at
        ``gyro_rate_hz`` - default: the device's rate).
        """
        if device not in self._buf:
            raise KeyError(f"unknown device {device!r}; the windower was set up for {self.devices}")
        t = np.asarray(t_host_s, dtype=np.float64).reshape(-1)
        if acc_mps2 is None:
            if gyro_rads is None:
                raise ValueError("push needs acc_mps2, gyro_rads or both")
            if device not in self._gyro_buf:
                self._gyro_buf[device] = _Buffer(float(gyro_rate_hz or self._buf[device].rate_hz))
                self._gyro_buf[device].measured = gyro_rate_hz is None
            elif gyro_rate_hz:
                self._gyro_buf[device].rate_hz, self._gyro_buf[device].measured = float(gyro_rate_hz), False
            self._buf[device].has_gyro = True
            buf, acc, gyro = self._gyro_buf[device], np.zeros((len(t), 3)), gyro_rads
        else:
            buf, acc, gyro = self._buf[device], acc_mps2, gyro_rads
            if rate_hz is not None and np.isfinite(rate_hz) and rate_hz > 0:
                buf.rate_hz, buf.measured = float(np.clip(rate_hz, MIN_RATE_HZ, MAX_RATE_HZ)), False
        acc = np.asarray(acc, dtype=np.float64).reshape(-1, 3)
        if len(t) != len(acc):
            raise ValueError(f"{len(t)} timestamps for {len(acc)} samples")
        if len(t) == 0:
            return
        gyro = np.zeros_like(acc) if gyro is None else np.asarray(gyro, dtype=np.float64).reshape(-1, 3)
        if len(gyro) != len(t):
            raise ValueError(f"{len(t)} timestamps for {len(gyro)} gyroscope samples")
        buf.has_gyro |= gyro_rads is not None
        before = np.maximum.accumulate(np.concatenate([[buf.latest_s], t]))[:-1]
        keep = t > before  # drop duplicates and late (reordered) samples
        keep &= np.isfinite(t) & np.all(np.isfinite(acc), axis=1) & np.all(np.isfinite(gyro), axis=1)
        t, acc, gyro = t[keep], acc[keep], gyro[keep]
        if len(t) == 0:
            return
        buf.t.append(t)
        buf.x.append(np.concatenate([acc, gyro], axis=1))
        buf.latest_s = float(t[-1])
        if self._next_end is None and acc_mps2 is not None:
            self._next_end = float(t[0]) + self.window_s

    def _cut(self, end_s: float) -> ModelInput:
        grid = end_s - self.window_s + np.arange(self.n_len) / self.rate_hz
        n_dev = len(self.devices)
        acc = np.zeros((n_dev, self.n_len, 3))
        gyro = np.zeros((n_dev, self.n_len, 3))
        present = np.zeros(n_dev, bool)
        coverage = np.zeros(n_dev)
        has_gyro = np.array([self._buf[d].has_gyro for d in self.devices])
        for i, dev in enumerate(self.devices):
            y, covered = self._on_grid(self._buf[dev], grid)
            coverage[i] = covered.mean()
            if coverage[i] < self.min_coverage:
                continue
            present[i] = True
            acc[i], gyro[i] = y[:, :3], y[:, 3:]
            if dev in self._gyro_buf:
                yg, covered_g = self._on_grid(self._gyro_buf[dev], grid)
                gyro[i] = yg[:, 3:] if covered_g.mean() >= self.min_coverage else 0.0
        meta = WindowMeta([None], [()], ["unknown"], [LIVE_DATASET], np.zeros(1, np.int64), np.array([grid[0]]),
                          np.zeros(1, bool))
        x = ModelInput.from_arrays(acc[None], gyro[None], self.placement_id[None], present[None], has_gyro[None],
                                   None, meta, self.rate_hz)
        x.stats = LiveWindowInfo(list(self.devices), grid, coverage)
        return x

    def _context_s(self, buf: _Buffer) -> float:
        """Seconds of samples needed past a window's edges: the resampling kernel's half-width (13.3 samples
        at the lower of the two rates, `anymo.preprocess.resample` defaults) plus a margin; at least 0.5 s."""
        return max(0.5, 15.0 / min(buf.rate_hz, self.rate_hz))

    def _on_grid(self, buf: _Buffer, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One stream gap-handled, anti-alias resampled and interpolated onto ``grid``; edge-held where missing."""
        t, x = buf.arrays()
        margin = self._context_s(buf)
        sel = (t >= grid[0] - margin) & (t <= grid[-1] + margin)
        t, x = t[sel], x[sel]
        y = np.full((self.n_len, 6), np.nan)
        if len(t) >= 2:
            rate = _stream_rate_hz(t, buf.rate_hz) if buf.measured else buf.rate_hz
            segs, _ = regularise(t, x, rate, self.max_interp_gap_s)
            for seg in segs:
                if len(seg.data) < 2:
                    continue
                # resample straight onto the window's grid points inside the segment (no second interpolation)
                seg_end = seg.start_s + (len(seg.data) - 1) / seg.rate_hz
                inside = np.flatnonzero((grid >= seg.start_s - 1e-9) & (grid <= seg_end + 1e-9))
                if len(inside):
                    y[inside] = resample(seg.data, seg.rate_hz, self.rate_hz, n_out=len(inside),
                                         t0_s=grid[inside[0]] - seg.start_s)
        covered = np.all(np.isfinite(y), axis=1)
        if covered.any():
            idx = np.flatnonzero(covered)
            for c in range(6):  # hold the edge values where a short stretch is missing
                y[~covered, c] = np.interp(grid[~covered], grid[idx], y[idx, c])
        else:
            y[:] = 0.0
        return y, covered

    def pop_windows(self, now_host_s: float | None = None) -> list[ModelInput]:
        """Every window that is complete: all devices are past its end (or ``max_wait_s`` has passed).

        ``now_host_s`` is the current host time (default: the newest sample seen), used for the wait.
        """
        out: list[ModelInput] = []
        if self._next_end is None:
            return out
        newest = max(b.latest_s for b in self._buf.values())
        now = newest if now_host_s is None else max(now_host_s, newest)
        while True:
            end = self._next_end
            ready = all(b.latest_s >= end + self._context_s(b) for b in self._buf.values())
            if not (ready or now >= end + self.max_wait_s):
                break
            out.append(self._cut(end))
            self.windows_emitted += 1
            self._next_end = end + self.hop_s
            for b in [*self._buf.values(), *self._gyro_buf.values()]:
                b.drop_before(self._next_end - self.window_s - 1.0)
        return out
