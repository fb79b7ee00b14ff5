"""Real-world augmentations of training views (torch, in the training loop, cheap).

What real recordings do that the simulator's clean 60 Hz streams do not: slower devices (10-32 Hz,
resampled to 60 Hz), gravity removed or high-passed by the source, accelerometer-only devices, extra
noise and gain error, unknown axis conventions (a random rotation), and unknown placement (-1).
"""

from __future__ import annotations

from dataclasses import dataclass

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
    has_gyro = (u(b, s) >= cfg.p_acc_only) & sensor_mask
    x[..., 3:] = x[..., 3:] * has_gyro[..., None, None]
    x = x * sensor_mask[..., None, None]
    pid = torch.where(u(b, s) < cfg.p_unknown_placement, torch.full_like(placement_id, UNKNOWN_PLACEMENT_ID), placement_id)
    x = torch.cat([x[..., :3].clamp(-16.0, 16.0), x[..., 3:].clamp(-35.0, 35.0)], dim=-1)  # the model input's clip
    return x, pid, has_gyro
