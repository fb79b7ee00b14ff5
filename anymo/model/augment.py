"""Real-world augmentations of training views (torch, in the training loop, cheap).

What real recordings do that the simulator's clean 60 Hz streams do not: slower devices (10-32 Hz,
resampled to 60 Hz), gravity removed or high-passed by the source, accelerometer-only devices, extra
noise and gain error, small full scales and coarse converters (`adc`), unknown axis conventions (a
random rotation), and unknown placement (-1).

And one about the people, applied to the whole window before the views are cut (numpy, `time_warp`):
the same movement done faster or slower than the simulator's parameters say. A window is replayed
``scale`` times as fast: angular rates scale by ``scale``, the kinematic part of the specific force by
``scale**2`` (a path traced in 1/scale of the time), while gravity's part keeps its size and only turns
faster. Gravity's direction comes from a complementary filter of gyro and accelerometer
(`gravity_direction`); the simulated windows always carry a gyro. Windows whose text names a speed or tempo,
and locomotion (where tempo is what tells walking from running), are never warped.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from anymo.preprocess.model_input import UNKNOWN_PLACEMENT_ID


@dataclass(frozen=True)
class AugmentConfig:
    p_low_rate: float = 0.3  # window resampled through 10..32 Hz
    low_rate_hz: tuple[float, float] = (10.0, 32.0)
    p_gravity_removed: float = 0.1  # acc high-passed (1 s moving average removed)
    p_acc_only: float = 0.25  # per sensor: gyro dropped
    p_rotate: float = 0.2  # per sensor: random 3-D rotation of the device axes
    p_unknown_placement: float = 0.15  # per sensor
    noise_acc_g: float = 0.02
    noise_gyro_rads: float = 0.03
    gain: float = 0.1  # per-sensor gain in [1 - gain, 1 + gain]
    # per sensor: a device at a small full scale with a coarse converter (`adc`). +-2 g is the power-on range
    # of ADXL345 / MPU-6050 class accelerometers and +-250 dps the MPU-6050 gyro's; the HMP/WHARF wrist device
    # codes +-1.5 g in 6 bits (its documentation). The simulator's presets are all 16-bit at +-8/16 g.
    p_adc: float = 0.0
    adc_acc_range_g: tuple[float, float] = (1.5, 8.0)  # log-uniform full scale
    adc_acc_bits: tuple[int, int] = (6, 14)  # uniform integer word length (acc); gyros keep 16 bits
    adc_gyro_range_dps: tuple[float, float] = (250.0, 2000.0)  # log-uniform full scale
    p_time_warp: float = 0.0  # per window (tempo-free ones only): replayed faster or slower, see `time_warp`
    time_warp_scale: tuple[float, float] = (2.0 / 3.0, 1.5)  # log-uniform playback speed


# texts that fix the tempo: a warped window would contradict them
TEMPO_WORDS = re.compile(r"\b(slow\w*|quick\w*|fast\w*|brisk\w*|leisurely|steadily|gently|rapid\w*|hurr\w*|tempo|pace|speed|rhythm\w*|cadence)\b")
# locomotion: its tempo (cadence) is what tells walking from jogging and running
LOCOMOTION_WORDS = re.compile(r"\b(walk\w*|run\w*|jog\w*|sprint\w*|stair\w*|upstairs|downstairs|hop\w*|jump\w*|skip\w*|march\w*|cycl\w*|bik\w*|gait|step\w*)\b")


def tempo_free(activity: str, caption: str) -> bool:
    """May this window be replayed at another speed without making its texts false?"""
    return not (TEMPO_WORDS.search(caption.lower()) or LOCOMOTION_WORDS.search(activity.lower())
                or LOCOMOTION_WORDS.search(caption.lower()))


def gravity_direction(buffer: np.ndarray, rate_hz: float = 60.0, tau_s: float = 5.0) -> np.ndarray:
    """Unit "up" vectors [S, L, 3] in the device frame from acc (g) and gyro (rad/s) of ``buffer`` [S, L, 6]:
    a complementary filter (gyro propagation, du/dt = -w x u, pulled toward the accelerometer's direction
    with time constant ``tau_s``). A backward pass gives the start; the forward pass and a second backward
    pass from its end are averaged (no lag, no start-up error)."""
    acc, gyro = buffer[..., :3].astype(np.float64), buffer[..., 3:].astype(np.float64)
    a_dir = acc / np.maximum(np.linalg.norm(acc, axis=-1, keepdims=True), 1e-6)
    dt, alpha = 1.0 / rate_hz, 1.0 / (rate_hz * tau_s)
    n = buffer.shape[1]

    def unit(v: np.ndarray) -> np.ndarray:
        return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-6)

    def run(u: np.ndarray, forward: bool) -> np.ndarray:
        out = np.empty_like(acc)
        sign = 1.0 if forward else -1.0
        for t in range(n) if forward else range(n - 1, -1, -1):
            u = unit(u - sign * np.cross(gyro[:, t], u) * dt + alpha * (a_dir[:, t] - u))
            out[:, t] = u
        return out

    back = run(unit(a_dir.mean(axis=1)), forward=False)
    fwd = run(back[:, 0], forward=True)
    return unit(fwd + run(fwd[:, -1], forward=False))


def time_warp(buffer: np.ndarray, n_out: int, scale: float | np.ndarray, start: float | np.ndarray,
              rate_hz: float = 60.0, up: np.ndarray | None = None) -> np.ndarray:
    """Windows [R, n_out, 6] (acc g, gyro rad/s) of the motions in ``buffer`` [R, L, 6] (R sensor streams)
    replayed ``scale`` times as fast from sample position ``start`` (scalars or one per row; needs
    ``start + scale * (n_out - 1) <= L - 1``). ``up``: `gravity_direction` of ``buffer`` if already known."""
    r, n_in, _ = buffer.shape
    scale = np.broadcast_to(np.asarray(scale, np.float64), (r,))
    start = np.broadcast_to(np.asarray(start, np.float64), (r,))
    if np.any(scale <= 0) or np.any(start < 0) or np.any(start + scale * (n_out - 1) > n_in - 1 + 1e-9):
        raise ValueError(f"time_warp: {n_out} samples at scales {scale.min():g}-{scale.max():g} do not fit in {n_in}")
    pos = np.minimum(start[:, None] + scale[:, None] * np.arange(n_out), n_in - 1)  # [R, n_out]
    i0 = np.floor(pos).astype(np.int64)
    i1 = np.minimum(i0 + 1, n_in - 1)
    w = (pos - i0)[..., None]

    def lerp(x: np.ndarray) -> np.ndarray:
        return np.take_along_axis(x, i0[..., None], 1) * (1 - w) + np.take_along_axis(x, i1[..., None], 1) * w

    up_t = lerp(gravity_direction(buffer, rate_hz) if up is None else up.astype(np.float64))
    g_part = up_t / np.maximum(np.linalg.norm(up_t, axis=-1, keepdims=True), 1e-6)  # gravity's part: 1 g, turned
    acc = g_part + scale[:, None, None] ** 2 * (lerp(buffer[..., :3].astype(np.float64)) - up_t)
    gyro = scale[:, None, None] * lerp(buffer[..., 3:].astype(np.float64))
    return np.concatenate([acc, gyro], axis=-1).astype(buffer.dtype)


def random_rotations(n: int, generator: torch.Generator) -> torch.Tensor:
    """[n, 3, 3] uniformly random rotations (from normalised Gaussian quaternions)."""
    q = torch.randn(n, 4, generator=generator)
    q = q / q.norm(dim=1, keepdim=True)
    w, x, y, z = q.unbind(1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], dim=1).reshape(n, 3, 3)


def adc(acc_g: torch.Tensor, gyro_rads: torch.Tensor, acc_range_g: torch.Tensor, acc_bits: torch.Tensor,
        gyro_range_rads: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(acc, gyro) [N, T, 3] as a device of full scales ``acc_range_g`` / ``gyro_range_rads`` [N] reports them:
    clipped at the full scale, acc rounded to its LSB (full scale / 2^(bits-1), signed codes as
    `anymo.sim.hardware` digitises)."""
    fs = acc_range_g[:, None, None]
    lsb = fs / 2.0 ** (acc_bits[:, None, None].to(acc_g.dtype) - 1)
    acc = (torch.round(acc_g / lsb) * lsb).clamp(-fs, fs - lsb)
    gfs = gyro_range_rads[:, None, None]
    return acc, gyro_rads.clamp(-gfs, gfs)


def augment(
    signals: torch.Tensor, placement_id: torch.Tensor, sensor_mask: torch.Tensor, cfg: AugmentConfig, g: torch.Generator,
    rate_hz: float = 60.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(signals, placement_id, has_gyro) of a view [B, S, T, 6] after the augmentations of ``cfg``."""
    b, s, t, _ = signals.shape
    x = signals.clone()
    u = lambda *shape: torch.rand(*shape, generator=g)
    # device rate: average down to r Hz (a crude anti-alias) and interpolate back, per window
    low = u(b) < cfg.p_low_rate
    if bool(low.any()):
        lo, hi = cfg.low_rate_hz
        for i in torch.nonzero(low).flatten().tolist():
            n_low = max(4, round(t * (lo + (hi - lo) * float(u(1))) / rate_hz))
            y = x[i].permute(0, 2, 1)  # [S, 6, T]
            y = F.interpolate(F.adaptive_avg_pool1d(y, n_low), size=t, mode="linear", align_corners=False)
            x[i] = y.permute(0, 2, 1)
    # gravity removed by the source: subtract a 1 s moving average from the accelerometer
    grav = u(b) < cfg.p_gravity_removed
    if bool(grav.any()):
        acc = x[grav][..., :3].reshape(-1, t, 3).permute(0, 2, 1)
        k = int(rate_hz) | 1
        trend = F.avg_pool1d(F.pad(acc, (k // 2, k // 2), mode="replicate"), k, stride=1)
        x[grav] = torch.cat([(acc - trend).permute(0, 2, 1).reshape(-1, s, t, 3), x[grav][..., 3:]], dim=-1)
    # unknown axis conventions: rotate acc and gyro alike
    rot = u(b, s) < cfg.p_rotate
    if bool(rot.any()):
        r = random_rotations(int(rot.sum()), g)
        v = x[rot].reshape(-1, t, 2, 3)
        x[rot] = torch.einsum("nij,ntcj->ntci", r, v).reshape(-1, t, 6)
    gain = 1 + cfg.gain * (2 * u(b, s, 1, 1) - 1)
    noise = torch.randn(b, s, t, 6, generator=g) * torch.tensor([cfg.noise_acc_g] * 3 + [cfg.noise_gyro_rads] * 3) * u(b, s, 1, 1)
    x = x * gain + noise
    coarse = (u(b, s) < cfg.p_adc) & sensor_mask if cfg.p_adc > 0 else None  # no draw when off: old runs reproduce
    if coarse is not None and bool(coarse.any()):
        n = int(coarse.sum())
        log_uniform = lambda lo, hi: torch.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * u(n))
        lo_b, hi_b = cfg.adc_acc_bits
        bits = torch.floor(lo_b + (hi_b - lo_b + 1) * u(n)).clamp(max=hi_b)
        sel = x[coarse]
        acc, gyro = adc(sel[..., :3], sel[..., 3:], log_uniform(*cfg.adc_acc_range_g), bits,
                        log_uniform(*cfg.adc_gyro_range_dps) * math.pi / 180.0)
        x[coarse] = torch.cat([acc, gyro], dim=-1)
    has_gyro = (u(b, s) >= cfg.p_acc_only) & sensor_mask
    x[..., 3:] = x[..., 3:] * has_gyro[..., None, None]
    x = x * sensor_mask[..., None, None]
    pid = torch.where(u(b, s) < cfg.p_unknown_placement, torch.full_like(placement_id, UNKNOWN_PLACEMENT_ID), placement_id)
    x = torch.cat([x[..., :3].clamp(-16.0, 16.0), x[..., 3:].clamp(-35.0, 35.0)], dim=-1)  # the model input's clip
    return x, pid, has_gyro
