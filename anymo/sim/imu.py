"""Ideal IMU physics: body motion -> specific force and angular rate at body-surface placements.

For every segment that carries a placement, C2 cubic splines (not-a-knot, ``uniform_spline``) are
fitted to its origin position and to its sign-continuous quaternion components on the motion's grid and
differentiated analytically on a fine grid (the motion grid, or an integer multiple of it when the
output rate or the band limit asks for more). From the unnormalised spline ``q`` (world-from-segment):

    omega_b = 2 vec(q* ⊗ q') / |q|^2                                (body-frame angular rate)
    alpha_b = 2 vec(q* ⊗ q'') / |q|^2 - omega_b 2 (q·q') / |q|^2     (its time derivative)

(exact for the renormalised spline, whose norm drops out). A point ``r`` fixed in the segment
(the placement's ``position_m``) then reads, in the segment frame,

    f_seg = R^T (a_origin - g) + alpha_b x r + omega_b x (omega_b x r)

with ``g = GRAVITY_WORLD_MPS2 = (0, 0, -9.80665)``: the specific force ``R^T (p'' - g)`` including the
tangential and centripetal lever-arm terms. A device with segment-from-device rotation
``M = frame @ device_rot`` reads ``M^T f_seg`` and ``M^T omega_b``. Both are linear in per-segment time
series, so they are formed for all placements of a segment by one matrix product.

The optional soft-tissue spring (``anymo.sim.mounting.SoftTissue``) is discretised exactly (first-order
hold) on the fine grid and run causally from rest. Then every channel is low-passed at
``bandwidth_hz`` (4th-order Butterworth, zero-phase, so effectively 8th order in magnitude: a 60 Hz
output with the default 24 Hz cutoff keeps a 2 Hz component to 1e-8 and suppresses 50 Hz content by
~50 dB) and sampled at the requested, possibly non-uniform, instants by cubic (Catmull-Rom)
interpolation. Memory grows with duration (about 0.4 GB per hour of 120 Hz motion); simulate long
motions in pieces if that matters.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_banded
from scipy.signal import butter, cont2discrete, lfilter, lfilter_zi, sosfiltfilt, ss2tf

from anymo.body.skeleton import GRAVITY_WORLD_MPS2
from anymo.body.surface import PlacementTable
from anymo.geometry.rotations import quat_make_continuous
from anymo.motion.base import BodyMotion
from anymo.sim.mounting import SoftTissue

MAX_RATE_FACTOR = 8.0  # output rate may be at most this multiple of the motion's frame rate
DEFAULT_BANDWIDTH_FRAC = 0.4  # default low-pass cutoff as a fraction of the (mean) output rate
MAX_FINE_FACTOR = 64  # at most this many fine-grid steps per motion frame
_BATCH_BYTES = 64e6  # fine-grid channel memory per batch of placements


def ideal_imu(
    motion: BodyMotion,
    table: PlacementTable,
    t_sample_s: np.ndarray,
    *,
    device_rot: np.ndarray | None = None,
    bandwidth_hz: float | None = None,
    wobble: SoftTissue | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Ideal readings of the S placements in ``table`` (take ``table.subset(ids)`` first).

    ``t_sample_s`` [T]: increasing true sample instants, seconds from the motion's start, within
    [0, motion.duration_s]. ``device_rot`` [S, 3, 3]: device frame in the placement's sensor frame
    (``random_mounting``); None = the sensor frame itself. ``bandwidth_hz``: low-pass cutoff, default
    0.4 x the mean output rate. ``wobble``: soft-tissue spring (per-device spread drawn from ``rng``).
    Returns ``acc_mps2`` [S, T, 3] (specific force) and ``gyro_rads`` [S, T, 3], device frame, float64.
    """
    t_s = _check_times(motion, t_sample_s)
    n_s = len(table)
    mount = _segment_from_device(table, device_rot)
    _check_motion_finite(motion)
    out_rate_hz = _mean_rate_hz(t_s, motion.rate_hz)
    if out_rate_hz > MAX_RATE_FACTOR * motion.rate_hz:
        raise ValueError(
            f"output rate {out_rate_hz:.4g} Hz is above the motion's useful bandwidth: at most {MAX_RATE_FACTOR:g} x the "
            f"motion's {motion.rate_hz:g} Hz = {MAX_RATE_FACTOR * motion.rate_hz:.4g} Hz; resample the motion or lower the rate"
        )
    bw_hz = DEFAULT_BANDWIDTH_FRAC * out_rate_hz if bandwidth_hz is None else float(bandwidth_hz)
    if not (np.isfinite(bw_hz) and bw_hz > 0):
        raise ValueError(f"bandwidth_hz must be a positive number of Hz (or None for 0.4 x the output rate), got {bandwidth_hz}")
    wob_freq, wob_zeta = wobble.per_device(n_s, rng) if wobble is not None else (np.zeros(0), np.zeros(0))
    need_hz = max(2.0 * out_rate_hz, 2.5 * bw_hz, 4.0 * float(wob_freq.max()) if wob_freq.size else 0.0)
    k = int(np.clip(np.ceil(need_hz / motion.rate_hz - 1e-9), 1, MAX_FINE_FACTOR))
    fine_hz = k * motion.rate_hz
    if bw_hz >= 0.5 * fine_hz:
        raise ValueError(
            f"bandwidth_hz={bw_hz:g} is too high for a {motion.rate_hz:g} Hz motion: it must stay below "
            f"{0.5 * fine_hz:g} Hz (half of {MAX_FINE_FACTOR} x the motion rate)"
        )

    acc = np.empty((n_s, t_s.size, 3))
    gyro = np.empty((n_s, t_s.size, 3))
    if n_s == 0 or t_s.size == 0:
        return acc, gyro

    # motion frames needed: the sampled span plus a margin for spline ends and filter transients
    settle_s = 4.0 / bw_hz + (10.0 / (2 * np.pi * float((wob_freq * wob_zeta).min())) if wob_freq.size else 0.0)
    margin = 16 + int(np.ceil(settle_s * motion.rate_hz))
    i0 = max(0, int(np.floor(t_s[0] * motion.rate_hz)) - margin)
    i1 = min(motion.n_frames, int(np.ceil(t_s[-1] * motion.rate_hz)) + margin + 1)
    t0_s = i0 / motion.rate_hz
    n_fine = (i1 - i0 - 1) * k + 1  # fine grid: t0_s + j / fine_hz
    sos = butter(4, bw_hz, fs=fine_hz, output="sos")
    padlen = min(n_fine - 1, int(np.ceil(3.0 * fine_hz / bw_hz)))
    batch = max(1, int(_BATCH_BYTES // (8 * 6 * n_fine)))

    t_pos = (t_s - t0_s) * fine_hz  # sample instants in fine-grid steps
    x = np.empty((15, n_fine))
    for seg in np.unique(table.segment_id):
        rows = np.flatnonzero(table.segment_id == seg)
        knots = _segment_knots(motion, int(seg), i0, i1)  # [7, N]
        moments = spline_moments(knots, 1.0 / motion.rate_hz)
        for f0, f1, (val, d1, d2) in _spline_chunks(knots, moments, 1.0 / motion.rate_hz, k):
            x[:, f0:f1] = _channels(val, d1, d2)
        for start in range(0, rows.size, batch):
            r = rows[start : start + batch]
            z = _channel_weights(mount[r], table.position_m[r]).T @ x  # [6 n, F]: per device (acc xyz, gyro xyz)
            if wobble is not None:
                for j, row in enumerate(r):
                    _spring(z[6 * j : 6 * j + 3], wob_freq[row], wob_zeta[row], wobble.coupling, fine_hz)
                    _spring(z[6 * j + 3 : 6 * j + 6], wob_freq[row], wob_zeta[row], wobble.gyro_coupling, fine_hz)
            if n_fine > 1:
                z = sosfiltfilt(sos, z, axis=-1, padtype="odd", padlen=padlen)
            out = _catmull_rom(z, t_pos).reshape(r.size, 2, 3, t_s.size)
            acc[r] = out[:, 0].transpose(0, 2, 1)
            gyro[r] = out[:, 1].transpose(0, 2, 1)
    return acc, gyro


# ---- checks --------------------------------------------------------------------------------------


def _check_times(motion: BodyMotion, t_sample_s: np.ndarray) -> np.ndarray:
    t_s = np.asarray(t_sample_s, dtype=np.float64)
    if t_s.ndim != 1:
        raise ValueError(f"t_sample_s must be a 1-D array of times in seconds, got shape {t_s.shape}")
    if not np.all(np.isfinite(t_s)):
        raise ValueError("t_sample_s contains NaN or infinite times; pass finite sample instants")
    if t_s.size > 1 and np.any(np.diff(t_s) <= 0):
        raise ValueError("t_sample_s must be strictly increasing; sort the sample instants first")
    tol = 1e-9 * max(1.0, motion.duration_s)
    if t_s.size and (t_s[0] < -tol or t_s[-1] > motion.duration_s + tol):
        raise ValueError(
            f"t_sample_s spans {t_s[0]:.6g}..{t_s[-1]:.6g} s but the motion covers only 0..{motion.duration_s:.6g} s; "
            "sample within the motion (drop later instants)"
        )
    return np.clip(t_s, 0.0, motion.duration_s)


def _check_motion_finite(motion: BodyMotion) -> None:
    if not (np.all(np.isfinite(motion.pos_m)) and np.all(np.isfinite(motion.quat_wxyz))):
        raise ValueError("motion contains NaN or infinite poses; interpolate or trim the gaps before simulating")


def _mean_rate_hz(t_s: np.ndarray, fallback_hz: float) -> float:
    if t_s.size < 2:
        return float(fallback_hz)
    return float((t_s.size - 1) / (t_s[-1] - t_s[0]))


def _segment_from_device(table: PlacementTable, device_rot: np.ndarray | None) -> np.ndarray:
    """Segment-from-device rotations [S, 3, 3] = frame @ device_rot (checked orthonormal, det +1)."""
    n_s = len(table)
    if device_rot is None:
        return np.asarray(table.frame, dtype=np.float64)
    rot = np.asarray(device_rot, dtype=np.float64)
    if rot.shape != (n_s, 3, 3):
        raise ValueError(f"device_rot must be [S, 3, 3] with S={n_s} (one per placement in the table), got {rot.shape}")
    err = np.abs(rot @ rot.transpose(0, 2, 1) - np.eye(3)).max(initial=0.0)
    if not np.isfinite(err) or err > 1e-6 or (n_s and np.any(np.linalg.det(rot) < 0)):
        raise ValueError("device_rot must hold proper rotations (orthonormal, det +1); use random_mounting or np.eye(3)")
    return np.einsum("sij,sjk->sik", table.frame, rot)


# ---- physics -------------------------------------------------------------------------------------


def _segment_knots(motion: BodyMotion, seg: int, i0: int, i1: int) -> np.ndarray:
    """Origin position and sign-continuous unit quaternion of one segment, [7, N] (time last)."""
    q = motion.quat_wxyz[i0:i1, seg]
    q = quat_make_continuous(q / np.sqrt(np.einsum("ti,ti->t", q, q))[:, None], axis=0)
    return np.ascontiguousarray(np.concatenate([motion.pos_m[i0:i1, seg], q], axis=1).T)


def _channels(val: np.ndarray, d1: np.ndarray, d2: np.ndarray) -> np.ndarray:
    """Per-segment channels [15, F] from the spline of (origin xyz, quaternion wxyz) and its derivatives
    [7, F]: A = R^T (a_o - g) (3), B = K(alpha) + K(omega)^2 row-major (9), omega_b (3); a point r of the
    segment reads f_seg = A + B r."""
    q, qd, qdd = val[3:], d1[3:], d2[3:]
    inv_n2 = 1.0 / np.einsum("if,if->f", q, q)
    omega = _vec_conj_mul(q, qd) * (2.0 * inv_n2)
    alpha = _vec_conj_mul(q, qdd) * (2.0 * inv_n2) - omega * (2.0 * np.einsum("if,if->f", q, qd) * inv_n2)
    out = np.empty((15, val.shape[1]))
    a_rel = d2[:3].copy()
    a_rel -= GRAVITY_WORLD_MPS2[:, None]
    out[0:3] = _rotate_inverse(q * np.sqrt(inv_n2), a_rel)  # R^T (a_o - g)
    wx, wy, wz = omega
    ax, ay, az = alpha
    w2 = wx * wx + wy * wy + wz * wz  # K(alpha) + omega omega^T - |omega|^2 I, row-major
    out[3], out[4], out[5] = wx * wx - w2, wx * wy - az, wx * wz + ay
    out[6], out[7], out[8] = wy * wx + az, wy * wy - w2, wy * wz - ax
    out[9], out[10], out[11] = wz * wx - ay, wz * wy + ax, wz * wz - w2
    out[12:15] = omega
    return out


def spline_moments(y: np.ndarray, h_s: float) -> np.ndarray:
    """Knot second derivatives M [C, N] of the not-a-knot cubic spline through ``y`` [C, N] (spacing ``h_s``).

    M[i-1] + 4 M[i] + M[i+1] = 6 (y[i-1] - 2 y[i] + y[i+1]) / h^2 inside, and not-a-knot ends
    M[0] = 2 M[1] - M[2] (so 6 M[1] = rhs[1]) and likewise at the other end: the interpolant of
    ``scipy.interpolate.CubicSpline`` with its default ends, solved directly on the uniform grid.
    """
    y = np.asarray(y, dtype=np.float64)
    n = y.shape[-1]
    if n < 2:
        raise ValueError("a spline needs at least two knots")
    if n == 2:
        return np.zeros_like(y)
    if n == 3:
        return np.repeat((y[:, :1] - 2 * y[:, 1:2] + y[:, 2:]) / h_s**2, 3, axis=1)  # one parabola
    rhs = (6.0 / h_s**2) * (y[:, :-2] - 2.0 * y[:, 1:-1] + y[:, 2:])  # rows 1..n-2
    ab = np.empty((3, n - 2))
    ab[0], ab[1], ab[2] = 1.0, 4.0, 1.0
    ab[1, 0] = ab[1, -1] = 6.0
    ab[0, 1] = 0.0  # row 1 has no M[2] term
    ab[2, -2] = 0.0  # row n-2 has no M[n-3] term
    m = np.empty_like(y)
    m[:, 1:-1] = solve_banded((1, 1), ab, rhs.T, overwrite_b=True, check_finite=False).T
    m[:, 0] = 2.0 * m[:, 1] - m[:, 2]
    m[:, -1] = 2.0 * m[:, -2] - m[:, -3]
    return m


def _spline_eval(y: np.ndarray, m: np.ndarray, h_s: float, k: int, j0: int, j1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Value, first and second derivative [C, (j1 - j0) k (+1 at the end)] at k points per interval
    for intervals j0..j1-1 (plus the last knot when j1 is the last interval)."""
    n = y.shape[-1]
    last = j1 == n - 1
    f = (j1 - j0) * k + (1 if last else 0)
    val, d1, d2 = (np.empty((y.shape[0], f)) for _ in range(3))
    y_a, y_b, m_a, m_b = y[:, j0:j1], y[:, j0 + 1 : j1 + 1], m[:, j0:j1], m[:, j0 + 1 : j1 + 1]
    slope = (y_b - y_a) * (1.0 / h_s)
    hh6, h6 = h_s * h_s / 6.0, h_s / 6.0
    for j in range(k):  # k sub-positions, each vectorised over all intervals
        u = j / k
        v = 1.0 - u
        sl = slice(j, (j1 - j0) * k, k)
        if j == 0:
            val[:, sl] = y_a
            d1[:, sl] = slope - h6 * (2.0 * m_a + m_b)
            d2[:, sl] = m_a
            continue
        val[:, sl] = v * y_a + u * y_b + hh6 * ((v**3 - v) * m_a + (u**3 - u) * m_b)
        d1[:, sl] = slope + h6 * ((1.0 - 3.0 * v * v) * m_a + (3.0 * u * u - 1.0) * m_b)
        d2[:, sl] = v * m_a + u * m_b
    if last:
        val[:, -1], d2[:, -1] = y[:, -1], m[:, -1]
        d1[:, -1] = slope[:, -1] + h6 * (m[:, -2] + 2.0 * m[:, -1])
    return val, d1, d2


def _spline_chunks(y: np.ndarray, m: np.ndarray, h_s: float, k: int, chunk: int = 8192):
    """Yield (f0, f1, (val, d1, d2)) over the fine grid in cache-sized pieces."""
    n_int = y.shape[-1] - 1
    step = max(1, chunk // k)
    for j0 in range(0, n_int, step):
        j1 = min(n_int, j0 + step)
        yield j0 * k, j1 * k + (1 if j1 == n_int else 0), _spline_eval(y, m, h_s, k, j0, j1)


def uniform_spline(y: np.ndarray, h_s: float, k: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Not-a-knot cubic spline through ``y`` [C, N] (knots ``h_s`` apart, time last) and its first and
    second derivatives at ``k`` points per interval: three arrays [C, (N - 1) k + 1], from the first knot."""
    y = np.asarray(y, dtype=np.float64)
    return _spline_eval(y, spline_moments(y, h_s), h_s, k, 0, y.shape[-1] - 1)


def _vec_conj_mul(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Vector part [3, F] of p* ⊗ q for quaternions [4, F]."""
    pw, px, py, pz = p
    qw, qx, qy, qz = q
    out = np.empty((3, p.shape[1]))
    out[0] = pw * qx - px * qw - py * qz + pz * qy
    out[1] = pw * qy + px * qz - py * qw - pz * qx
    out[2] = pw * qz - px * qy + py * qx - pz * qw
    return out


def _rotate_inverse(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """R(q)^T v for unit quaternions [4, F] and vectors [3, F]: v + 2 w (u x v) + 2 u x (u x v), u = -vec(q)."""
    w, ux, uy, uz = q[0], -q[1], -q[2], -q[3]
    vx, vy, vz = v
    tx, ty, tz = 2.0 * (uy * vz - uz * vy), 2.0 * (uz * vx - ux * vz), 2.0 * (ux * vy - uy * vx)
    out = np.empty_like(v)
    out[0] = vx + w * tx + (uy * tz - uz * ty)
    out[1] = vy + w * ty + (uz * tx - ux * tz)
    out[2] = vz + w * tz + (ux * ty - uy * tx)
    return out


def _channel_weights(mount: np.ndarray, pos_m: np.ndarray) -> np.ndarray:
    """W [15, 6 n] so that channels @ W gives each device's (acc xyz, gyro xyz) in its own frame."""
    n = mount.shape[0]
    w = np.zeros((15, n, 2, 3))
    w[0:3, :, 0, :] = mount.transpose(1, 0, 2)  # [i, s, j] = M[s, i, j]
    w[3:12, :, 0, :] = np.einsum("sij,sk->iksj", mount, pos_m).reshape(9, n, 3)  # B[i, k] r[k] M[i, j]
    w[12:15, :, 1, :] = mount.transpose(1, 0, 2)
    return w.reshape(15, 6 * n)


def _spring(x: np.ndarray, freq_hz: float, zeta: float, coupling: float, fs_hz: float) -> None:
    """Soft-tissue transfer function (``soft_tissue_tf``) on the rows of ``x`` [C, F] in place:
    first-order hold (exact for inputs linear between grid points), starting at rest."""
    if coupling == 0.0:
        return
    w = 2.0 * np.pi * freq_hz
    a_c = np.array([[0.0, 1.0], [-w * w, -2.0 * zeta * w]])
    b_c = np.array([[0.0], [1.0]])
    c_c = coupling * np.array([[w * w, 2.0 * zeta * w]])
    d_c = np.array([[1.0 - coupling]])
    ad, bd, cd, dd, _ = cont2discrete((a_c, b_c, c_c, d_c), 1.0 / fs_hz, method="foh")
    num, den = ss2tf(ad, bd, cd, dd)
    num = num[0]
    zi = lfilter_zi(num, den)[None, :] * x[:, :1]
    x[:] = lfilter(num, den, x, axis=-1, zi=zi)[0]


def _catmull_rom(y: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Cubic (Catmull-Rom) interpolation of ``y`` [C, F] along its last axis at fractional positions ``pos`` [T]."""
    n = y.shape[-1]
    if n == 1:
        return np.repeat(y, pos.size, axis=-1)
    i = np.clip(np.floor(pos).astype(np.int64), 0, n - 2)
    u = np.clip(pos - i, 0.0, 1.0)
    p0, p1, p2, p3 = (y[:, np.clip(i + d, 0, n - 1)] for d in (-1, 0, 1, 2))
    # at the ends, extrapolate the missing neighbour linearly
    p0 = np.where(i == 0, 2 * p1 - p2, p0)
    p3 = np.where(i == n - 2, 2 * p2 - p1, p3)
    u2, u3 = u * u, u * u * u
    return 0.5 * ((2 * p1) + (-p0 + p2) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u2 + (-p0 + 3 * p1 - 3 * p2 + p3) * u3)
