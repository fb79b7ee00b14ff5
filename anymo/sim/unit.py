"""One work unit of `anymo simulate`: one body, one motion, K sensors of one device preset -> windows.

A unit is one continuous sequence (deterministic for ``(cfg, unit_id)``, see `anymo.sim.config.unit_rng`):

1. a random body (``random_body_shape``) and a motion from one source drawn by ``cfg.source_shares``
   (`anymo.sim.sources`);
2. K placements: each is, with probability ``named_fraction``, a random spot inside a random named
   region (wrist, thigh, lower back, ...; distinct names), else uniform over the 2400 candidates;
3. one hardware preset (random among the real-device ``DEVICE_PRESETS`` unless ``device`` is given; "ideal" = no
   errors), random mounting (any in-plane angle, up to 5 deg tilt) and, for ``soft_tissue_fraction``
   of the units, soft-tissue wobble - per unit, like a person wearing the devices for that stretch;
4. ``simulate_imu`` once for all K placements at the device's own supported rate nearest ``rate_hz``
   (no preset streams at exactly 60 Hz: most give 52 Hz), then `stream_windows`: the one preprocessing
   of `anymo.preprocess` (its resampler, its windowing) turns that device stream into windows, exactly as
   it does a real recording of the same stream.

Labels: a window's activity is the label segment covering most of it (`anymo.preprocess.labels.label_cover`);
``label_purity`` (the fraction it covers) is stored with it. Windows are never dropped - ``hours`` is
exactly what you get - so a training loader can choose its own purity threshold. Captions: `anymo.sim.captions`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from anymo.motion.procedural import random_body_shape
from anymo.motion.tremor import PhysiologicalTremor
from anymo.preprocess.labels import label_cover
from anymo.preprocess.resample import resample
from anymo.preprocess.windows import frame
from anymo.sim.captions import window_caption
from anymo.sim.config import DatasetConfig, unit_rng
from anymo.sim.devices import DEVICE_PRESETS
from anymo.sim.mounting import MountingConfig, SoftTissue
from anymo.sim.placement_draw import draw_placements
from anymo.sim.simulate import SimConfig, resolve_hardware, simulate_imu
from anymo.sim.source_registry import get_source, pick_source
from anymo.sim.sources import SourceOptions

# the physiological arm tremor every simulated motion carries: training units (recorded in the manifest) and the
# simfeatures reference alike (docs/simulated_dataset.md)
UNIT_TREMOR = PhysiologicalTremor()

MARGIN_S = 1.0  # extra motion simulated past the last window (clock drift, filter edges)


@dataclass
class UnitResult:
    """Windows of one unit (arrays named as in the shards) and the seconds spent per stage."""

    arrays: dict[str, np.ndarray]
    timings_s: dict[str, float] = field(default_factory=dict)
    motion_retries: int = 0  # motions the source failed on and drew again


def device_rate_hz(device: str, rate_hz: float) -> float:
    """The rate a device of preset ``device`` streams at when ``rate_hz`` is wanted: its supported rate
    nearest to it ("ideal": exactly ``rate_hz``)."""
    return float(resolve_hardware(device).nearest_rate(rate_hz))


def device_choices(cfg: DatasetConfig) -> list[str]:
    """Hardware presets a unit may use: ``cfg.device``, else every real-device preset (not "ideal"), sorted."""
    return [cfg.device] if cfg.device else sorted(n for n, hw in DEVICE_PRESETS.items() if not hw.is_ideal)


def source_options(cfg: DatasetConfig) -> SourceOptions:
    return SourceOptions(cfg.data_dir, cfg.source_dirs)


def stream_windows(acc_mps2: np.ndarray, gyro_rads: np.ndarray, stream_rate_hz: float, rate_hz: float,
                   window_len: int, n_windows: int) -> tuple[np.ndarray, np.ndarray]:
    """Device streams [S, T, 3] at ``stream_rate_hz`` -> ``n_windows`` back-to-back windows [N, S, window_len, 3]
    at ``rate_hz`` (window k starts at k x window_len output samples after the first stream sample): the
    preprocessing a real recording of these streams gets (`anymo.preprocess.resample`, `frame`)."""
    s, t, _ = acc_mps2.shape
    x = np.concatenate([acc_mps2, gyro_rads], axis=2).transpose(1, 0, 2).reshape(t, s * 6)  # [T, S x 6]
    n_all = n_windows * window_len
    y = resample(x, stream_rate_hz, rate_hz, n_out=n_all)
    w = frame(y, window_len, window_len).reshape(n_windows, window_len, s, 6).transpose(0, 2, 1, 3)
    return w[..., :3], w[..., 3:]


def simulate_unit(cfg: DatasetConfig, unit_id: int) -> UnitResult:
    """Simulate work unit ``unit_id`` of ``cfg`` and cut it into windows (deterministic for the pair)."""
    rng = unit_rng(cfg.seed, unit_id)
    n_win = cfg.unit_windows(unit_id)
    n_t = cfg.samples_per_window
    t = time.perf_counter()
    shape = random_body_shape(rng)
    name = pick_source(rng, cfg.sources, cfg.source_shares) if len(cfg.sources) > 1 else cfg.sources[0]
    got = get_source(name, source_options(cfg)).motion(rng, n_win * cfg.window_s + MARGIN_S, cfg.motion_rate(), shape)
    motion = got.motion
    t_motion = time.perf_counter() - t
    ids = draw_placements(rng, cfg.sensors_per_window, cfg.named_fraction)
    choices = device_choices(cfg)
    device = choices[int(rng.integers(len(choices)))]
    native_hz = device_rate_hz(device, cfg.rate_hz)
    wobble = SoftTissue(spread_frac=0.3) if rng.random() < cfg.soft_tissue_fraction else None
    t = time.perf_counter()
    sig = simulate_imu(motion, ids, SimConfig(rate_hz=native_hz, hardware=device, mounting=MountingConfig(wobble=wobble),
                                                tremor=UNIT_TREMOR), rng)
    t_sim = time.perf_counter() - t
    t = time.perf_counter()
    need = int(np.ceil((n_win * n_t - 1) * native_hz / cfg.rate_hz)) + 1
    if sig.acc_mps2.shape[1] < need:
        raise RuntimeError(f"unit {unit_id}: simulated {sig.acc_mps2.shape[1]} samples at {native_hz:g} Hz, need {need}")
    acc, gyro = stream_windows(sig.acc_mps2, sig.gyro_rads, native_hz, cfg.rate_hz, n_t, n_win)
    t_resample = time.perf_counter() - t
    s = ids.size
    activity, caption, purity = [], [], []
    for w in range(n_win):
        t0_s, t1_s = w * cfg.window_s, (w + 1) * cfg.window_s
        cover = label_cover(motion.labels, t0_s, t1_s)
        if not cover:
            raise RuntimeError(f"unit {unit_id}: no activity label covers window {w} of {got.tag}")
        activity.append(cover[0][0])
        purity.append(cover[0][1])
        caption.append(window_caption(rng, motion, cover, (t0_s, t1_s)))
    arrays = {
        "acc_mps2": np.ascontiguousarray(acc, dtype=np.float32),
        "gyro_rads": np.ascontiguousarray(gyro, dtype=np.float32),
        "placement_id": np.broadcast_to(np.asarray(sig.placement_id, dtype=np.int32), (n_win, s)).copy(),
        "segment_id": np.broadcast_to(np.asarray(sig.segment_id, dtype=np.int16), (n_win, s)).copy(),
        "device_rot": np.broadcast_to(np.asarray(sig.device_rot, dtype=np.float32), (n_win, s, 3, 3)).copy(),
        "activity": np.array(activity, dtype=str),
        "caption": np.array(caption, dtype=str),
        "label_purity": np.array(purity, dtype=np.float32),
        "device": np.array([device] * n_win, dtype=str),
        "device_rate_hz": np.full(n_win, native_hz, dtype=np.float32),
        "source": np.array([got.tag] * n_win, dtype=str),
        "body_height_m": np.full(n_win, motion.skeleton.shape.height_m, dtype=np.float32),
        "unit_id": np.full(n_win, unit_id, dtype=np.int32),
        "window_start_s": (np.arange(n_win) * cfg.window_s).astype(np.float32),
    }
    return UnitResult(arrays, {"motion_s": t_motion, "simulate_s": t_sim, "resample_s": t_resample}, got.retries)
