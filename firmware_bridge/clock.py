"""Device clock -> host clock, one ``ClockSync`` per connected device.

Every notification gives a pair (``t_device_s`` of its newest sample, ``t_host_s`` at arrival). The arrival is
late by a positive, variable delay (waiting for the next BLE connection event, 7.5-50 ms, plus the stack), so
the truth is the LOWER envelope of the pairs, not their mean. The fit:

1. min-filter: keep the earliest-arriving pair per ``window_s`` of device time (bounded history);
2. lower convex hull of those minima;
3. the line below every point that minimises the summed residual (a small LP whose solution is the hull
   edge above the mean device time). Its slope is the clock rate; it is only trusted once the history spans
   ``min_span_s`` (before that the previous rate, or 1, is kept) and is clipped to ``max_drift_ppm``.

A constant part of the delay (the minimum latency of the link) cannot be observed from one-way arrival
times; it stays in the offset (sub-millisecond on a good link).

Epochs: when a device timestamp jumps away from the prediction by more than ``reset_tolerance_s`` (the device
rebooted or restarted its clock after a reconnect), a new epoch starts: the history is cleared, the learned
rate is kept (the crystal did not change) until the new epoch spans as much device time as the fit that
produced it, and the offset is re-learned.

Uncertainty: ``drift_ci_ppm`` is the half-width of a ~95 % interval of the drift: 2.5 block-jackknife standard
errors of the envelope slope (the fit refitted with each sixth of the windows left out). The minima of a short
session are few and a busy start-up can lift the early ones, so a 14 s estimate may be 100 ppm off; the interval
says so. Checked by simulation (12-60 s sessions; BLE connection-interval phase, event-loop jitter, bursty load,
a start-up transient): 89-97 % coverage.

Sign conventions: ``drift_ppm`` > 0 means the device clock runs fast (it counts more than one second per host
second); ``offset_ms`` is host time minus device time at the newest device time.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass
class ClockSyncConfig:
    window_s: float = 1.0  # min-filter window, device seconds
    history_s: float = 600.0  # how much device time the fit looks back over
    min_span_s: float = 10.0  # history span before the clock rate is estimated
    max_drift_ppm: float = 1000.0  # a rate outside +-this is clipped (no BLE crystal is that bad)
    reset_tolerance_s: float = 2.0  # a pair this far off the prediction starts a new epoch


@dataclass
class ClockEstimate:
    """The current mapping and how good it looks."""

    offset_ms: float  # host minus device time at the newest device time, ms
    drift_ppm: float  # device clock rate error, ppm (> 0: device fast); NaN until min_span_s of data
    drift_ci_ppm: float  # half-width of a ~95 % interval of drift_ppm (NaN with it)
    residual_ms: float  # RMS height of the window minima above the fitted envelope, ms
    span_s: float  # device time the fit covers, s
    epoch: int  # how many clock resets were seen
    n_pairs: int  # pairs seen in this epoch


def lower_hull(x: np.ndarray, y: np.ndarray) -> list[int]:
    """Indices of the lower convex hull of points sorted by ``x`` (Andrew's monotone chain)."""
    xs, ys = np.asarray(x, dtype=np.float64).tolist(), np.asarray(y, dtype=np.float64).tolist()
    hull: list[int] = []
    for i, (xi, yi) in enumerate(zip(xs, ys)):
        while len(hull) >= 2:
            o, a = hull[-2], hull[-1]
            if (xs[a] - xs[o]) * (yi - ys[o]) - (ys[a] - ys[o]) * (xi - xs[o]) > 0:
                break
            hull.pop()
        hull.append(i)
    return hull


def fit_lower_envelope(x: np.ndarray, y: np.ndarray, slope_bounds: tuple[float, float] | None = None) -> tuple[float, float]:
    """(intercept, slope) of the line ``y = a + b x`` below all points minimising ``sum(y - a - b x)``.

    ``slope_bounds`` clips the slope; the intercept is then re-chosen so the line stays below every point.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(x) == 0:
        raise ValueError("fit_lower_envelope needs at least one point")
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    b = 0.0
    if len(x) >= 2 and x[-1] > x[0]:
        hull = lower_hull(x, y)
        xbar = float(x.mean())
        k = int(np.searchsorted(x[hull], xbar, side="right")) - 1
        k = min(max(k, 0), len(hull) - 2)
        i, j = hull[k], hull[k + 1]
        b = float((y[j] - y[i]) / (x[j] - x[i]))
    if slope_bounds is not None:
        b = float(np.clip(b, *slope_bounds))
    a = float(np.min(y - b * x))
    return a, b


JACKKNIFE_BLOCKS = 6
CI_SE_FACTOR = 2.5  # standard errors per half-width (~95 % coverage in simulation, see the module doc)


def drift_interval_ppm(x: np.ndarray, y: np.ndarray, slope_bounds: tuple[float, float] | None = None,
                       blocks: int = JACKKNIFE_BLOCKS) -> float:
    """Half-width (ppm) of a ~95 % interval of the drift of the lower-envelope fit of ``y = a + b x`` (host over
    device time): ``CI_SE_FACTOR`` block-jackknife standard errors of ``1/b - 1``. NaN with too few points."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = len(x)
    if n < 2 * blocks:
        return float("nan")
    drifts = []
    for block in np.array_split(np.arange(n), blocks):
        keep = np.ones(n, dtype=bool)
        keep[block] = False
        _, b = fit_lower_envelope(x[keep], y[keep], slope_bounds)
        drifts.append((1.0 / b - 1.0) * 1e6)
    d = np.asarray(drifts)
    k = len(d)
    return float(CI_SE_FACTOR * np.sqrt((k - 1) / k * np.sum((d - d.mean()) ** 2)))


def format_drift(drift_ppm: float | None, ci_ppm: float | None) -> str:
    """``-52±150`` (ppm, with the ~95 % interval's half-width); ``-`` until there is an estimate."""
    if drift_ppm is None or not math.isfinite(drift_ppm):
        return "-"
    if ci_ppm is None or not math.isfinite(ci_ppm):
        return f"{drift_ppm:.1f}"
    digits = 1 if ci_ppm < 10 else 0
    return f"{drift_ppm:.{digits}f}±{ci_ppm:.{digits}f}"


class ClockSync:
    """Maps one device's clock to host time from (device time, host arrival time) pairs."""

    def __init__(self, config: ClockSyncConfig | None = None) -> None:
        self.config = config or ClockSyncConfig()
        self.epoch = 0
        self.rate = 1.0  # host seconds per device second (kept across epochs)
        self._rate_known = False
        self._rate_span_s = 0.0  # device time the current rate was fitted over
        self._rate_from_epoch = 0
        self._rate_ci_ppm = float("nan")  # interval half-width of the drift the current rate gives
        self._ci_key: tuple | None = None  # the fit the interval was computed for
        self._reset_epoch_state()

    def _reset_epoch_state(self) -> None:
        self._x0: float | None = None  # device time origin of the epoch (for conditioning)
        self._win: deque[tuple[int, float, float]] = deque()  # (window index, x, host - x) minima
        self._a = 0.0  # host time at x = 0 of the epoch
        self._fitted = False
        self._last_x = 0.0
        self.n_pairs = 0

    # -- feeding -----------------------------------------------------------------------------------

    def add(self, t_device_s: float, t_host_s: float) -> bool:
        """Add one pair; returns True when it started a new epoch (a device clock reset)."""
        t_device_s, t_host_s = float(t_device_s), float(t_host_s)
        if not (math.isfinite(t_device_s) and math.isfinite(t_host_s)):
            raise ValueError(f"clock pair must be finite, got device {t_device_s} s, host {t_host_s} s")
        reset = False
        if self._fitted:
            err = t_host_s - self.to_host(t_device_s)
            back = t_device_s - (self._x0 + self._last_x)
            if abs(err) > self.config.reset_tolerance_s or back < -self.config.reset_tolerance_s:
                self._drift_ci_ppm()  # the rate (and its interval) outlive the epoch
                self.epoch += 1
                self._reset_epoch_state()
                reset = True
        if self._x0 is None:
            self._x0 = t_device_s
        x = t_device_s - self._x0
        # residual against the current rate keeps the min-filter meaningful when the rate is not 1
        r = t_host_s - self.rate * x
        w = int(math.floor(x / self.config.window_s))
        changed, new_window = True, False
        if self._win and self._win[-1][0] == w:  # keep the earliest-arriving pair of the window
            changed = r < self._win[-1][2]
            if changed:
                self._win[-1] = (w, x, r)
        elif not self._win or w > self._win[-1][0]:
            self._win.append((w, x, r))
            new_window = True
        else:  # an older window (out-of-order arrival): merge it in place
            changed = False
            for k, (wk, _, rk) in enumerate(self._win):
                if wk == w:
                    if r < rk:
                        self._win[k] = (w, x, r)
                        changed = True
                    break
        while self._win and self._win[-1][1] - self._win[0][1] > self.config.history_s:
            self._win.popleft()
        self._last_x = max(self._last_x, x)
        self.n_pairs += 1
        # refit on every improvement while the rate is being learnt (few windows), then once per new window
        if not self._fitted or (changed and (new_window or not self._rate_known)):
            self._refit()
        return reset

    def add_many(self, t_device_s: np.ndarray, t_host_s: np.ndarray) -> int:
        """Add pairs in order; returns how many new epochs started."""
        return sum(self.add(d, h) for d, h in zip(np.asarray(t_device_s), np.asarray(t_host_s), strict=True))

    def _refit(self) -> None:
        xs = np.array([p[1] for p in self._win])
        hs = np.array([p[2] for p in self._win]) + self.rate * xs  # back to host times
        span = float(xs[-1] - xs[0]) if len(xs) else 0.0
        lim = self.config.max_drift_ppm * 1e-6
        # a new epoch keeps the previous epoch's rate until it has seen as much device time
        need = max(self.config.min_span_s, self._rate_span_s if self.epoch and self._rate_from_epoch < self.epoch else 0)
        if span >= need and len(xs) >= 3:
            a, b = fit_lower_envelope(xs, hs, (1.0 / (1.0 + lim), 1.0 / (1.0 - lim)))
            if b != self.rate:  # re-express the minima against the new rate (keeps the min-filter consistent)
                self._win = deque((w, x, h - b * x) for (w, x, _), h in zip(self._win, hs, strict=True))
            self.rate, self._rate_known = b, True
            self._rate_span_s, self._rate_from_epoch = span, self.epoch
        else:
            a = float(np.min(hs - self.rate * xs))
        self._a = a
        self._fitted = True

    # -- using -------------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._fitted

    def to_host(self, t_device_s: np.ndarray | float) -> np.ndarray | float:
        """Host time (s) of device time(s) ``t_device_s`` in the current epoch."""
        if not self._fitted:
            raise RuntimeError("ClockSync has no pairs yet: call add(t_device_s, t_host_s) first")
        if isinstance(t_device_s, np.ndarray):
            return self._a + self.rate * (t_device_s.astype(np.float64) - self._x0)
        return self._a + self.rate * (float(t_device_s) - self._x0)

    def mapping(self) -> tuple[float, float, float]:
        """``(t_device0_s, t_host0_s, rate)``: ``t_host = t_host0_s + rate * (t_device - t_device0_s)``."""
        if not self._fitted:
            raise RuntimeError("ClockSync has no pairs yet: call add(t_device_s, t_host_s) first")
        return float(self._x0), float(self._a), float(self.rate)

    def _drift_ci_ppm(self) -> float:
        """The interval of the current rate's drift, computed when this epoch fitted it (cached per fit)."""
        if not self._rate_known:
            return float("nan")
        if self._rate_from_epoch == self.epoch and self._win:
            key = (self.epoch, len(self._win), self._win[-1][0], self.rate)
            if key != self._ci_key:
                xs = np.array([p[1] for p in self._win])
                hs = np.array([p[2] for p in self._win]) + self.rate * xs
                lim = self.config.max_drift_ppm * 1e-6
                self._rate_ci_ppm = drift_interval_ppm(xs, hs, (1.0 / (1.0 + lim), 1.0 / (1.0 - lim)))
                self._ci_key = key
        return self._rate_ci_ppm

    def estimate(self) -> ClockEstimate:
        """Offset, drift (with its interval) and fit quality now."""
        if not self._fitted:
            return ClockEstimate(float("nan"), float("nan"), float("nan"), float("nan"), 0.0, self.epoch, 0)
        xs = np.array([p[1] for p in self._win])
        hs = np.array([p[2] for p in self._win]) + self.rate * xs
        res = hs - (self._a + self.rate * xs)
        t_dev = self._x0 + self._last_x
        return ClockEstimate(
            offset_ms=(self.to_host(t_dev) - t_dev) * 1e3,
            drift_ppm=(1.0 / self.rate - 1.0) * 1e6 if self._rate_known else float("nan"),
            drift_ci_ppm=self._drift_ci_ppm(),
            residual_ms=float(np.sqrt(np.mean(res**2))) * 1e3,
            span_s=float(xs[-1] - xs[0]) if len(xs) else 0.0,
            epoch=self.epoch,
            n_pairs=self.n_pairs,
        )
