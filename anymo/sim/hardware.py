"""IMU hardware error models: range, noise, bias and bias drift, scale/cross-axis, ADC, clocks.

The physics core (``anymo.sim.imu``) produces the true specific force and angular rate of a device at
the instants its clock samples them; this module says *when* a real device samples (``sample_clock``)
and *what* it reports (``apply_sensor_errors``). Device presets live in ``anymo.sim.devices``
(``DEVICE_PRESETS``, ``device_preset``), which builds on this module; ``IDEAL`` (no errors) is here.

Conventions (documented once, used everywhere):

* Noise density ``N`` (unit/√Hz) is the one-sided amplitude spectral density of white noise that
  spans the Nyquist band of the output rate ``fs``: per-sample std ``N·√(fs/2)``, one-sided PSD flat
  at ``N²`` on [0, fs/2], Allan deviation ``N/√(2τ)``. (ST datasheets quote RMS noise "related to
  BW = ODR/2", the same convention. The chip's digital low-pass cuts slightly below fs/2, so this
  keeps the density exact and overstates total power by at most √(0.5/bandwidth_frac).)
* A datasheet "typical ±x" (zero-g/zero-rate offset, sensitivity tolerance, cross-axis sensitivity)
  is one standard deviation across parts (Bosch's stated convention for typical values). Each
  simulated sensor instance draws its own value per axis from N(0, x²), once per recording.
* Bias drift: a first-order Gauss-Markov process per axis (stationary std ``*_bias_instability_*``,
  correlation time ``bias_corr_time_s``) plus an optional random walk (``*_bias_random_walk_*`` in
  unit/√s, so its std after t seconds is K·√t). Both are slow, so they are generated on a grid of
  step min(1 s, τ/20) (never finer than the output period) and interpolated linearly.
* Order of effects: true signal -> scale/cross-axis matrix -> gyro g-sensitivity -> bias + drift ->
  white noise -> ADC (round to LSB = range / 2^(bits-1), clip to the signed code range
  [-2^(bits-1), 2^(bits-1) - 1]) or, without an ADC model (bits = 0), clip at ±range.
* Clock: the device's oscillator is off by ``drift`` (drawn per instance, uniform in
  ±clock_drift_ppm). It samples uniformly on its own clock, k / rate_hz, so the true instants are
  t_true = start + phase + (k / rate_hz) / (1 + drift); it reports t_device = start + k / rate_hz plus
  Gaussian jitter (std ``timestamp_jitter_s``, truncated at ±0.45 periods so timestamps always stay
  strictly increasing).

Units: acc in m/s² (g = 9.80665 m/s²), gyro in rad/s; fields carry datasheet units in their names.
Numpy only (so the device-side emulators may use the presets too).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np

from anymo.constants import STANDARD_GRAVITY_MPS2

G0_MPS2 = STANDARD_GRAVITY_MPS2
DEG2RAD = math.pi / 180.0
_RATE_RTOL = 1e-6  # two output rates closer than this (relative) are the same rate


@dataclass(frozen=True)
class ImuHardware:
    """What one IMU model gets wrong, in datasheet units. The defaults are an ideal sensor."""

    name: str = "ideal"
    chip: str = ""  # the IMU chip the numbers come from, e.g. "Bosch BMI270"
    description: str = "no errors: infinite range, no noise, bias, scale/cross-axis, ADC or clock error"
    acc_range_g: float = math.inf  # full scale ±g
    gyro_range_dps: float = math.inf  # full scale ±deg/s
    acc_noise_density_ug_rthz: float = 0.0  # µg/√Hz, one-sided
    gyro_noise_density_mdps_rthz: float = 0.0  # mdeg/s/√Hz, one-sided
    acc_bias_mg: float = 0.0  # turn-on zero-g offset, 1σ per axis
    gyro_bias_dps: float = 0.0  # turn-on zero-rate offset, 1σ per axis
    acc_bias_instability_mg: float = 0.0  # Gauss-Markov drift, stationary 1σ per axis
    gyro_bias_instability_dps: float = 0.0
    bias_corr_time_s: float = 300.0  # Gauss-Markov correlation time (both sensors)
    acc_bias_random_walk_mg_rts: float = 0.0  # mg/√s: bias random walk
    gyro_bias_random_walk_dps_rts: float = 0.0  # deg/s/√s
    acc_scale_error_frac: float = 0.0  # sensitivity tolerance, 1σ per axis (0.01 = 1 %)
    gyro_scale_error_frac: float = 0.0
    acc_cross_axis_frac: float = 0.0  # cross-axis sensitivity, 1σ per off-diagonal term
    gyro_cross_axis_frac: float = 0.0
    gyro_g_sensitivity_dps_per_g: float = 0.0  # linear-acceleration sensitivity of the gyro, 1σ per term
    acc_adc_bits: int = 0  # output word length; 0 = no quantisation (then saturation clips at ±range)
    gyro_adc_bits: int = 0
    rate_hz: float = 60.0  # default output data rate
    supported_rates_hz: tuple[float, ...] = ()  # selectable output rates; () = any rate
    bandwidth_frac: float = 0.4  # sensor low-pass -3 dB cutoff as a fraction of the output rate
    timestamp_jitter_s: float = 0.0  # std of the reported timestamps around the device-clock grid
    clock_drift_ppm: float = 0.0  # oscillator tolerance: each instance draws uniform in ±this
    random_start_phase: bool = False  # first sample at a random phase within one period of start_s

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                if math.isnan(v) or v < 0:
                    raise ValueError(f"{self.name}: {f.name} must be >= 0, got {v}; errors are given as magnitudes (1σ or ±tolerance)")
        for f in ("acc_range_g", "gyro_range_dps", "rate_hz", "bias_corr_time_s"):
            if not getattr(self, f) > 0:
                raise ValueError(f"{self.name}: {f} must be positive, got {getattr(self, f)}")
        for f in ("acc_adc_bits", "gyro_adc_bits"):
            bits = getattr(self, f)
            if int(bits) != bits or not 0 <= bits <= 32:
                raise ValueError(f"{self.name}: {f} must be an integer in 0..32 (0 = no ADC model), got {bits}")
            if bits and not math.isfinite(self.acc_range_g if f.startswith("acc") else self.gyro_range_dps):
                raise ValueError(f"{self.name}: {f}={bits} needs a finite range to define the LSB; set the range or use 0 bits")
        if not 0 < self.bandwidth_frac <= 0.5:
            raise ValueError(f"{self.name}: bandwidth_frac must be in (0, 0.5] (a cutoff at or below Nyquist), got {self.bandwidth_frac}")
        if self.clock_drift_ppm >= 1e6:
            raise ValueError(f"{self.name}: clock_drift_ppm must be below 1e6 (a clock cannot stop), got {self.clock_drift_ppm}")
        if self.supported_rates_hz:
            object.__setattr__(self, "supported_rates_hz", tuple(sorted(float(r) for r in self.supported_rates_hz)))
            if any(not r > 0 for r in self.supported_rates_hz):
                raise ValueError(f"{self.name}: supported_rates_hz must all be positive, got {self.supported_rates_hz}")
        self.check_rate(self.rate_hz)

    # -- rates ------------------------------------------------------------------------------------
    def supports_rate(self, rate_hz: float) -> bool:
        if not self.supported_rates_hz:
            return rate_hz > 0 and math.isfinite(rate_hz)
        return any(abs(rate_hz - r) <= _RATE_RTOL * r for r in self.supported_rates_hz)

    def check_rate(self, rate_hz: float) -> float:
        """Return ``rate_hz`` if the device can output it, else raise ValueError listing the rates it can."""
        if not (rate_hz > 0 and math.isfinite(rate_hz)):
            raise ValueError(f"rate_hz must be a positive number, got {rate_hz}")
        if not self.supports_rate(rate_hz):
            rates = ", ".join(f"{r:g}" for r in self.supported_rates_hz)
            raise ValueError(
                f"{self.name} cannot output {rate_hz:g} Hz; its rates are {rates} Hz "
                f"(pick one, or use hw.at_rate({rate_hz:g}, nearest=True))"
            )
        return float(rate_hz)

    def nearest_rate(self, rate_hz: float) -> float:
        """The supported output rate closest to ``rate_hz`` (ties go to the higher rate)."""
        if not self.supported_rates_hz or not (rate_hz > 0 and math.isfinite(rate_hz)):
            return self.check_rate(rate_hz)
        return float(min(self.supported_rates_hz, key=lambda r: (abs(r - rate_hz), -r)))

    def at_rate(self, rate_hz: float, *, nearest: bool = False) -> "ImuHardware":
        """This device configured to output ``rate_hz`` (or, with ``nearest``, its closest supported rate)."""
        rate = self.nearest_rate(rate_hz) if nearest else self.check_rate(rate_hz)
        return replace(self, rate_hz=rate)

    @property
    def bandwidth_hz(self) -> float:
        """Sensor low-pass cutoff at the default output rate (pass to ``ideal_imu(bandwidth_hz=...)``)."""
        return self.bandwidth_frac * self.rate_hz

    # -- ADC --------------------------------------------------------------------------------------
    @property
    def acc_lsb_mps2(self) -> float:
        """Accelerometer quantisation step (0 when there is no ADC model)."""
        return self.acc_range_g * G0_MPS2 / 2 ** (self.acc_adc_bits - 1) if self.acc_adc_bits else 0.0

    @property
    def gyro_lsb_rads(self) -> float:
        """Gyroscope quantisation step (0 when there is no ADC model)."""
        return self.gyro_range_dps * DEG2RAD / 2 ** (self.gyro_adc_bits - 1) if self.gyro_adc_bits else 0.0

    @property
    def is_ideal(self) -> bool:
        """True when this hardware changes neither values nor timing."""
        ideal = ImuHardware()
        skip = {"name", "chip", "description", "rate_hz", "supported_rates_hz", "bandwidth_frac", "bias_corr_time_s"}
        return all(getattr(self, f.name) == getattr(ideal, f.name) for f in fields(self) if f.name not in skip)


# ---------------------------------------------------------------------------------------------------
# per-instance errors


@dataclass
class SensorErrors:
    """One draw of the fixed errors of ``S`` sensor instances (drawn once per recording).

    The device reports ``acc_matrix @ f + acc_bias`` and ``gyro_matrix @ w + gyro_g_matrix @ f +
    gyro_bias`` before drift, noise and the ADC; matrices are [S, 3, 3], biases [S, 3].
    """

    acc_matrix: np.ndarray
    gyro_matrix: np.ndarray
    gyro_g_matrix_rads_per_mps2: np.ndarray
    acc_bias_mps2: np.ndarray
    gyro_bias_rads: np.ndarray

    @classmethod
    def none(cls, n_sensors: int) -> "SensorErrors":
        eye = np.broadcast_to(np.eye(3), (n_sensors, 3, 3)).copy()
        zero3 = np.zeros((n_sensors, 3))
        return cls(eye, eye.copy(), np.zeros((n_sensors, 3, 3)), zero3, zero3.copy())


def _scale_cross_matrix(n: int, scale_frac: float, cross_frac: float, rng: np.random.Generator) -> np.ndarray:
    """I + diag(scale errors) + off-diagonal cross-axis terms, [n, 3, 3]."""
    m = np.broadcast_to(np.eye(3), (n, 3, 3)).copy()
    if scale_frac > 0:
        m[:, [0, 1, 2], [0, 1, 2]] += rng.normal(0.0, scale_frac, (n, 3))
    if cross_frac > 0:
        off = ~np.eye(3, dtype=bool)
        m[:, off] += rng.normal(0.0, cross_frac, (n, 6))
    return m


def draw_sensor_errors(n_sensors: int, hw: ImuHardware, rng: np.random.Generator) -> SensorErrors:
    """Draw the per-instance scale/cross-axis matrices, g-sensitivity and turn-on biases of ``n_sensors``."""
    if int(n_sensors) != n_sensors or n_sensors < 0:
        raise ValueError(f"n_sensors must be a non-negative integer, got {n_sensors}")
    n = int(n_sensors)
    acc_m = _scale_cross_matrix(n, hw.acc_scale_error_frac, hw.acc_cross_axis_frac, rng)
    gyro_m = _scale_cross_matrix(n, hw.gyro_scale_error_frac, hw.gyro_cross_axis_frac, rng)
    g_sens = hw.gyro_g_sensitivity_dps_per_g * DEG2RAD / G0_MPS2
    gyro_g = rng.normal(0.0, g_sens, (n, 3, 3)) if g_sens > 0 else np.zeros((n, 3, 3))
    acc_b = rng.normal(0.0, hw.acc_bias_mg * 1e-3 * G0_MPS2, (n, 3)) if hw.acc_bias_mg > 0 else np.zeros((n, 3))
    gyro_b = rng.normal(0.0, hw.gyro_bias_dps * DEG2RAD, (n, 3)) if hw.gyro_bias_dps > 0 else np.zeros((n, 3))
    return SensorErrors(acc_m, gyro_m, gyro_g, acc_b, gyro_b)


# ---------------------------------------------------------------------------------------------------
# bias drift


def _ar1(u: np.ndarray, a: float) -> np.ndarray:
    """x[:, k] = a·x[:, k-1] + u[:, k] with x[:, 0] = u[:, 0], vectorised in blocks (0 < a < 1).

    Inside a block x = a^k·cumsum(a^-j·u_j); blocks are short enough that a^-k stays below 1e6.
    """
    n = u.shape[1]
    block = max(1, int(math.log(1e6) / -math.log(a))) if a < 1.0 else n
    x = np.empty_like(u)
    carry = np.zeros(u.shape[0])
    for b0 in range(0, n, block):
        seg = u[:, b0:b0 + block]
        k = np.arange(seg.shape[1])
        pw = a ** k
        x[:, b0:b0 + block] = pw * (np.cumsum(seg / pw, axis=1) + a * carry[:, None])
        carry = x[:, b0 + seg.shape[1] - 1]
    return x


def add_bias_drift(
    out: np.ndarray,
    rate_hz: float,
    rng: np.random.Generator,
    *,
    instability: float,
    random_walk_rts: float,
    corr_time_s: float,
) -> np.ndarray:
    """Add slow bias drift to ``out`` [S, T, 3] in place (units of the inputs); returns ``out``.

    Gauss-Markov (stationary std ``instability``, correlation time ``corr_time_s``; starts in its
    stationary distribution) plus a random walk starting at 0 (std ``random_walk_rts``·√t). Both are
    generated on a grid of m samples, m·dt ≈ min(1 s, corr_time_s/20) (m >= 1), and interpolated
    linearly in between.
    """
    if instability <= 0 and random_walk_rts <= 0:
        return out
    n_sensors, n_samples, _ = out.shape
    grid_s = min(1.0, corr_time_s / 20.0) if instability > 0 else 1.0
    m = max(1, int(grid_s * rate_hz))
    step = m / rate_hz
    n_grid = (n_samples - 1) // m + 2
    channels = n_sensors * 3
    grid = np.zeros((channels, n_grid))
    if instability > 0:
        a = math.exp(-step / corr_time_s)
        u = rng.standard_normal((channels, n_grid)) * (instability * math.sqrt(1.0 - a * a))
        u[:, 0] = rng.standard_normal(channels) * instability  # stationary start
        grid += _ar1(u, a)
    if random_walk_rts > 0:
        steps = rng.standard_normal((channels, n_grid - 1)) * (random_walk_rts * math.sqrt(step))
        grid[:, 1:] += np.cumsum(steps, axis=1)
    # linear interpolation onto the samples, one channel at a time (np.interp beats broadcasting here)
    t_grid = np.arange(n_grid, dtype=np.float64) * m
    t_samples = np.arange(n_samples, dtype=np.float64)
    for c in range(channels):
        out[c // 3, :, c % 3] += np.interp(t_samples, t_grid, grid[c])
    return out


def bias_drift(
    n_sensors: int,
    n_samples: int,
    rate_hz: float,
    rng: np.random.Generator,
    *,
    instability: float,
    random_walk_rts: float,
    corr_time_s: float,
) -> np.ndarray:
    """The drift ``add_bias_drift`` would add, as a new [S, T, 3] array."""
    return add_bias_drift(np.zeros((n_sensors, n_samples, 3)), rate_hz, rng, instability=instability,
                          random_walk_rts=random_walk_rts, corr_time_s=corr_time_s)


# ---------------------------------------------------------------------------------------------------
# the measurement chain


def _as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise ValueError(f"rng must be a numpy Generator or an integer seed, got {type(rng).__name__}")


def _apply_matrix(m: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per-sensor m @ x for m [S, 3, 3] and x [S, T, 3] (einsum's BLAS path: ~20x faster than broadcasting)."""
    return np.einsum("stj,sij->sti", x, m, optimize=True)


def _digitise(x: np.ndarray, range_si: float, lsb_si: float, bits: int) -> np.ndarray:
    """In place: quantise to the ADC's signed codes (clipped to the code range), or clip at ±range without an ADC."""
    if bits:
        top = 2 ** (bits - 1)
        x *= 1.0 / lsb_si
        np.rint(x, out=x)
        np.clip(x, -top, top - 1, out=x)
        x *= lsb_si
    elif math.isfinite(range_si):
        np.clip(x, -range_si, range_si, out=x)
    return x


def apply_sensor_errors(
    acc_mps2: np.ndarray,
    gyro_rads: np.ndarray,
    hw: ImuHardware,
    rng: np.random.Generator | int | None,
    *,
    rate_hz: float,
    errors: SensorErrors | None = None,
    dtype: type = np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """What ``S`` devices of model ``hw`` report for the true signals [S, T, 3] sampled at ``rate_hz``.

    Per-instance scale/cross-axis, g-sensitivity and turn-on bias (drawn once per sensor unless
    ``errors`` is given), bias drift, white noise of the stated density over the Nyquist band of
    ``rate_hz``, then saturation and ADC quantisation. Returns new arrays of ``dtype`` (float32 halves
    the memory traffic and is exact enough for 16-bit outputs); the inputs are not modified.
    ``rate_hz`` must be one of the device's output rates.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    acc = np.asarray(acc_mps2)
    gyro = np.asarray(gyro_rads)
    if acc.ndim != 3 or acc.shape[-1] != 3 or gyro.shape != acc.shape:
        raise ValueError(f"acc_mps2 and gyro_rads must both be [S, T, 3], got {acc.shape} and {gyro.shape}")
    if not (math.isfinite(float(acc.sum(dtype=np.float64))) and math.isfinite(float(gyro.sum(dtype=np.float64)))):
        raise ValueError("acc_mps2 / gyro_rads contain NaN or inf; the sensor chain needs finite true signals")
    rate = hw.check_rate(rate_hz)
    rng = _as_rng(rng)
    s, t, _ = acc.shape
    if errors is None:
        if hw.is_ideal:
            return acc.astype(dtype, copy=True), gyro.astype(dtype, copy=True)
        errors = draw_sensor_errors(s, hw, rng)
    elif errors.acc_matrix.shape != (s, 3, 3):
        raise ValueError(f"errors were drawn for {errors.acc_matrix.shape[0]} sensors, the signals have {s}")

    acc = acc.astype(dtype, copy=False)
    gyro = gyro.astype(dtype, copy=False)
    acc_out = _apply_matrix(errors.acc_matrix.astype(dtype), acc)
    gyro_out = _apply_matrix(errors.gyro_matrix.astype(dtype), gyro)
    if np.any(errors.gyro_g_matrix_rads_per_mps2):
        gyro_out += _apply_matrix(errors.gyro_g_matrix_rads_per_mps2.astype(dtype), acc)
    acc_out += errors.acc_bias_mps2[:, None, :].astype(dtype)
    gyro_out += errors.gyro_bias_rads[:, None, :].astype(dtype)

    mg = 1e-3 * G0_MPS2
    drifts = (
        (acc_out, hw.acc_bias_instability_mg * mg, hw.acc_bias_random_walk_mg_rts * mg),
        (gyro_out, hw.gyro_bias_instability_dps * DEG2RAD, hw.gyro_bias_random_walk_dps_rts * DEG2RAD),
    )
    for out, instability, random_walk in drifts:
        add_bias_drift(out, rate, rng, instability=instability, random_walk_rts=random_walk,
                       corr_time_s=hw.bias_corr_time_s)

    nyquist_rt = math.sqrt(rate / 2.0)
    acc_std = hw.acc_noise_density_ug_rthz * 1e-6 * G0_MPS2 * nyquist_rt
    gyro_std = hw.gyro_noise_density_mdps_rthz * 1e-3 * DEG2RAD * nyquist_rt
    for out, std in ((acc_out, acc_std), (gyro_out, gyro_std)):
        if std > 0:
            noise = rng.standard_normal(out.shape, dtype=np.float32)
            noise *= np.float32(std)
            out += noise

    _digitise(acc_out, hw.acc_range_g * G0_MPS2, hw.acc_lsb_mps2, hw.acc_adc_bits)
    _digitise(gyro_out, hw.gyro_range_dps * DEG2RAD, hw.gyro_lsb_rads, hw.gyro_adc_bits)
    return acc_out, gyro_out


# ---------------------------------------------------------------------------------------------------
# clocks


@dataclass
class DeviceClock:
    """When a device sampled (true time) and what time it said it was (its own clock).

    ``t_true_s`` [T]: true sampling instants, seconds on the motion's time axis (feed these to
    ``ideal_imu``). ``t_device_s`` [T]: the timestamps the device reports, strictly increasing.
    ``drift_ppm``: this instance's oscillator error (+: its clock runs fast, so it samples faster than
    nominal); ``start_offset_s``: true time of the first sample after ``start_s``.
    """

    t_true_s: np.ndarray
    t_device_s: np.ndarray
    rate_hz: float
    drift_ppm: float = 0.0
    start_offset_s: float = 0.0


def sample_clock(
    duration_s: float,
    hw: ImuHardware,
    rng: np.random.Generator | int | None,
    *,
    start_s: float = 0.0,
    ideal: bool = False,
    rate_hz: float | None = None,
    drift_ppm: float | None = None,
) -> DeviceClock:
    """The sampling instants of one device of model ``hw`` recording [start_s, start_s + duration_s].

    The device samples uniformly on its own (drifting) clock at ``rate_hz`` (default ``hw.rate_hz``;
    must be a supported rate); all true instants lie inside the interval. ``drift_ppm`` fixes this
    instance's oscillator error instead of drawing it (uniform in ±hw.clock_drift_ppm). ``ideal`` turns
    off drift, start phase and jitter (t_true == t_device == start_s + k / rate_hz).
    """
    if not (duration_s >= 0 and math.isfinite(duration_s)):
        raise ValueError(f"duration_s must be a finite number >= 0, got {duration_s}")
    if not math.isfinite(start_s):
        raise ValueError(f"start_s must be finite, got {start_s}")
    rate = hw.check_rate(hw.rate_hz if rate_hz is None else rate_hz)
    period = 1.0 / rate
    rng = _as_rng(rng)
    drift = 0.0
    offset = 0.0
    if drift_ppm is not None and not (math.isfinite(drift_ppm) and abs(drift_ppm) < 1e6):
        raise ValueError(f"drift_ppm must be a finite number of ppm with |drift_ppm| < 1e6, got {drift_ppm}")
    if not ideal:
        if drift_ppm is not None:
            drift = drift_ppm * 1e-6
        elif hw.clock_drift_ppm > 0:
            drift = rng.uniform(-hw.clock_drift_ppm, hw.clock_drift_ppm) * 1e-6
        if hw.random_start_phase:
            offset = min(rng.uniform(0.0, period), duration_s)
    true_period = period / (1.0 + drift)
    n = int(math.floor((duration_s - offset) / true_period + 1e-9)) + 1
    k = np.arange(n, dtype=np.float64)
    t_true = start_s + offset + k * true_period
    end_s = start_s + duration_s
    t_true = t_true[t_true <= end_s + 1e-9 * max(1.0, abs(end_s))]
    np.minimum(t_true, end_s, out=t_true)  # rounding may overshoot the end by an ulp or two
    n = t_true.shape[0]
    t_device = start_s + k[:n] * period
    if not ideal and hw.timestamp_jitter_s > 0:
        jitter = rng.normal(0.0, hw.timestamp_jitter_s, n)
        t_device = t_device + np.clip(jitter, -0.45 * period, 0.45 * period)
    return DeviceClock(t_true_s=t_true, t_device_s=t_device, rate_hz=rate, drift_ppm=drift * 1e6, start_offset_s=offset)


# ---------------------------------------------------------------------------------------------------
# the error-free preset (the real-device presets: anymo.sim.devices)

IDEAL = ImuHardware()
