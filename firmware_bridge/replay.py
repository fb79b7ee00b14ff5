"""Sample sources for emulated wearables: replayed recordings (any file the dataset loaders read, a bridge
recording, or a ``Recording``) and a built-in synthetic signal, each delivered at the rate the central
configured (resampled with the numpy-only ``anymo.preprocess`` resampler) and looped on request.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anymo.data.recording import STANDARD_GRAVITY_MPS2, Recording
from anymo.preprocess.gaps import regularise
from anymo.preprocess.resample import estimate_rate_hz, resample

EARTH_FIELD_UT = np.array([20.0, 0.0, -44.0])  # a mid-latitude field in the world frame (x north, z up)


def load_recordings(path: str | Path) -> list[Recording]:
    """Every recording in ``path``: a bridge recording (``*.anymorec`` written by ``anymo stream``, one
    per device; corrupt chunks are skipped with a logged warning) or any single file the dataset loaders
    read. ValueError/FileNotFoundError otherwise."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"replay file {path} does not exist; give a dataset file "
                                "(e.g. ../shared/data/xsens_walking/walking_xsens_upperLeg.txt) or a recording")
    if path.is_dir():
        files = sorted(path.glob("*.anymorec"))
        hint = f" (e.g. {files[0]})" if files else ""
        raise ValueError(f"{path} is a folder; give one recording file to replay{hint}")
    if path.suffix == ".anymorec":
        from firmware_bridge.record import read_recording  # written by the streaming side; imported lazily

        recs = read_recording(path, on_corrupt="skip")  # a damaged chunk is skipped (with a warning), not fatal
    else:
        from anymo.data.loaders import load_file

        recs = load_file(path)
    if not recs:
        raise ValueError(f"{path} holds no IMU recording to replay")
    return recs


def nominal_rate_hz(rec: Recording) -> float:
    """The recording's sampling rate: ``rate_hz`` or, when only times are known, the project's estimate
    from them (`estimate_rate_hz`: 1 / median step)."""
    if rec.rate_hz:
        return float(rec.rate_hz)
    rate = estimate_rate_hz(rec.times_s(), min_samples=2)
    if rate is None:
        raise ValueError(f"recording {rec.source or ''} has no rate and fewer than 2 samples or non-increasing "
                         "times; cannot replay it (give it a rate_hz or increasing t_s)")
    return rate


@dataclass
class SampleBlock:
    """``n`` consecutive samples of a source at its output rate (``gyro_rads`` / ``mag_uT`` may be None)."""

    acc_mps2: np.ndarray
    gyro_rads: np.ndarray | None
    mag_uT: np.ndarray | None

    def __len__(self) -> int:
        return len(self.acc_mps2)


class SampleSource:
    """Samples at a requested rate. ``block(rate_hz, start, n)`` returns samples ``start .. start+n-1``
    of the stream at ``rate_hz`` (fewer, possibly none, at the end of a non-looping replay)."""

    has_gyro: bool = True
    has_mag: bool = True

    def block(self, rate_hz: float, start: int, n: int) -> SampleBlock:
        raise NotImplementedError


class SyntheticSource(SampleSource):
    """Gravity plus a gentle, physically consistent sway: the sensor rolls about its x axis by
    ``amplitude_rad * sin(2 pi f t)`` and yaws slowly; acc = gravity in the sensor frame (specific
    force, +g up when flat), gyro = the body rates, mag = the earth field in the sensor frame."""

    def __init__(self, amplitude_rad: float = 0.3, freq_hz: float = 0.5, yaw_rate_rads: float = 0.05) -> None:
        self.amplitude_rad = amplitude_rad
        self.freq_hz = freq_hz
        self.yaw_rate_rads = yaw_rate_rads

    def block(self, rate_hz: float, start: int, n: int) -> SampleBlock:
        t = (start + np.arange(n, dtype=np.float64)) / float(rate_hz)
        w = 2 * np.pi * self.freq_hz
        roll = self.amplitude_rad * np.sin(w * t)
        roll_rate = self.amplitude_rad * w * np.cos(w * t)
        yaw = self.yaw_rate_rads * t
        c, s = np.cos(roll), np.sin(roll)
        # world->sensor rotation R = Rx(roll)^T Rz(yaw)^T; specific force of a resting sensor is +g along world z
        acc = STANDARD_GRAVITY_MPS2 * np.stack([np.zeros_like(t), s, c], axis=1)
        # body rates of R(t) = Rz(yaw) Rx(roll): roll about x, yaw about world z seen in the sensor frame
        gyro = np.stack([roll_rate, self.yaw_rate_rads * s, self.yaw_rate_rads * c], axis=1)
        bx, by, bz = EARTH_FIELD_UT
        mx = np.cos(yaw) * bx + np.sin(yaw) * by
        my_w = -np.sin(yaw) * bx + np.cos(yaw) * by
        mag = np.stack([mx, c * my_w + s * bz, -s * my_w + c * bz], axis=1)
        return SampleBlock(acc, gyro, mag)


class RecordingSource(SampleSource):
    """A ``Recording`` replayed at any rate: regularised onto its nominal grid (short gaps interpolated,
    the longest stretch kept), then resampled band-limited to the rate the central asks for."""

    def __init__(self, recording: Recording, loop: bool = True) -> None:
        self.recording = recording
        self.loop = loop
        self.rate_in_hz = nominal_rate_hz(recording)
        streams = [recording.acc_mps2, recording.gyro_rads, recording.mag_uT]
        cols = [s for s in streams if s is not None]
        data = np.concatenate(cols, axis=1)
        t = recording.t_s
        if t is not None:
            t = np.asarray(t, dtype=np.float64) - float(t[0])
        segments, _ = regularise(t, data, self.rate_in_hz)
        data = max(segments, key=lambda seg: len(seg.data)).data
        if len(data) < 2:
            raise ValueError(f"recording {recording.source or ''} is too short to replay ({len(data)} samples)")
        self._uniform = data
        self._layout = [s is not None for s in streams]
        self.has_gyro = recording.gyro_rads is not None
        self.has_mag = recording.mag_uT is not None
        self._cache: dict[float, np.ndarray] = {}

    def _at(self, rate_hz: float) -> np.ndarray:
        key = round(float(rate_hz), 6)
        if key not in self._cache:
            self._cache[key] = resample(self._uniform, self.rate_in_hz, float(rate_hz))
        return self._cache[key]

    def block(self, rate_hz: float, start: int, n: int) -> SampleBlock:
        arr = self._at(rate_hz)
        idx = start + np.arange(n)
        if self.loop:
            idx = idx % len(arr)
        else:
            idx = idx[idx < len(arr)]
        rows = arr[idx]
        out: list[np.ndarray | None] = []
        col = 0
        for present in self._layout:
            if present:
                out.append(rows[:, col:col + 3])
                col += 3
            else:
                out.append(None)
        return SampleBlock(*out)


def make_source(replay: Recording | str | Path | None, loop: bool = True, device_index: int = 0) -> SampleSource:
    """The sample source for a wearable's ``replay`` setting (None = synthetic). A file holding several
    recordings (one per device) gives its ``device_index``-th (wrapping)."""
    if replay is None:
        return SyntheticSource()
    if isinstance(replay, Recording):
        return RecordingSource(replay, loop)
    recs = load_recordings(replay)
    return RecordingSource(recs[device_index % len(recs)], loop)
