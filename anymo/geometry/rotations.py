"""Unit quaternions (w, x, y, z; Hamilton product; active rotations) and rotation matrices.

``quat_rotate(q, v)`` maps a vector from the rotated (child) frame into the reference (parent/world)
frame: v_world = R(q) @ v_body. Every function broadcasts over leading axes. Numpy only.
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def quat_normalize(q: Array) -> Array:
    q = np.asarray(q, dtype=np.float64)
    n = np.linalg.norm(q, axis=-1, keepdims=True)
    if np.any(n == 0):
        raise ValueError("a quaternion of zero length has no rotation; check the input for zeros")
    return q / n


def quat_mul(a: Array, b: Array) -> Array:
    """Hamilton product a ⊗ b (apply b first, then a)."""
    aw, ax, ay, az = np.moveaxis(np.asarray(a, dtype=np.float64), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b, dtype=np.float64), -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def quat_conj(q: Array) -> Array:
    q = np.asarray(q, dtype=np.float64)
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def quat_from_axis_angle(axis: Array, angle_rad: Array) -> Array:
    """Rotation by ``angle_rad`` about ``axis`` (need not be unit length)."""
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis, axis=-1, keepdims=True)
    half = 0.5 * np.asarray(angle_rad, dtype=np.float64)[..., None]
    return np.concatenate([np.cos(half), np.sin(half) * axis], axis=-1)


def quat_from_rotvec(rotvec: Array) -> Array:
    """Exponential map: rotation vector (axis * angle, rad) -> unit quaternion. Safe at zero."""
    rotvec = np.asarray(rotvec, dtype=np.float64)
    angle = np.linalg.norm(rotvec, axis=-1, keepdims=True)
    half = 0.5 * angle
    # sin(half)/angle with its Taylor series near zero
    k = np.where(angle > 1e-8, np.sin(half) / np.where(angle > 1e-8, angle, 1.0), 0.5 - angle**2 / 48.0)
    return np.concatenate([np.cos(half), k * rotvec], axis=-1)


def quat_to_rotvec(q: Array) -> Array:
    """Logarithm map: unit quaternion -> rotation vector (rad), the short way round."""
    q = quat_normalize(q)
    q = np.where(q[..., :1] < 0, -q, q)
    w = np.clip(q[..., :1], -1.0, 1.0)
    s = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, w)
    k = np.where(s > 1e-8, angle / np.where(s > 1e-8, s, 1.0), 2.0 / np.maximum(w, 1e-12))
    return k * q[..., 1:]


def quat_to_matrix(q: Array) -> Array:
    """Unit quaternion -> 3x3 rotation matrix (columns: the child frame's axes in the parent)."""
    q = quat_normalize(q)
    w, x, y, z = np.moveaxis(q, -1, 0)
    m = np.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        axis=-1,
    )
    return m.reshape(q.shape[:-1] + (3, 3))


def matrix_to_quat(m: Array) -> Array:
    """3x3 rotation matrix -> unit quaternion with w >= 0 (Shepperd's method, branch-free per element)."""
    m = np.asarray(m, dtype=np.float64)
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    tr = m00 + m11 + m22
    cands = np.stack(
        [
            np.stack([1 + tr, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
            np.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m00 - m11 - m22, m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
            np.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0], 1 - m00 + m11 - m22, m[..., 1, 2] + m[..., 2, 1]], -1),
            np.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1], 1 - m00 - m11 + m22], -1),
        ],
        axis=-2,
    )
    best = np.argmax(np.stack([tr, m00, m11, m22], -1), axis=-1)
    q = np.take_along_axis(cands, best[..., None, None], axis=-2)[..., 0, :]
    q = quat_normalize(q)
    return np.where(q[..., :1] < 0, -q, q)


def quat_rotate(q: Array, v: Array) -> Array:
    """Rotate vectors ``v`` [..., 3] by unit quaternions ``q`` [..., 4]."""
    q = np.asarray(q, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    u = q[..., 1:]
    w = q[..., :1]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def quat_slerp(q0: Array, q1: Array, t: Array) -> Array:
    """Spherical interpolation from q0 (t=0) to q1 (t=1), the short way round."""
    q0 = quat_normalize(q0)
    q1 = quat_normalize(q1)
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    rel = quat_mul(quat_conj(q0), q1)
    t = np.asarray(t, dtype=np.float64)[..., None]
    return quat_mul(q0, quat_from_rotvec(t * quat_to_rotvec(rel)))


def quat_make_continuous(q: Array, axis: int = 0) -> Array:
    """Flip signs along ``axis`` so consecutive quaternions lie in the same hemisphere (for splines)."""
    q = np.moveaxis(np.array(q, dtype=np.float64), axis, 0)
    dots = np.sum(q[1:] * q[:-1], axis=-1)
    flips = np.cumprod(np.where(dots < 0, -1.0, 1.0), axis=0)
    q[1:] *= flips[..., None]
    return np.moveaxis(q, 0, axis)


def quat_from_euler_xyz(rx: Array, ry: Array, rz: Array) -> Array:
    """Intrinsic x-y-z Euler angles (rad): R = Rx(rx) @ Ry(ry) @ Rz(rz)."""
    ex, ey, ez = np.eye(3)
    qx = quat_from_axis_angle(ex, rx)
    qy = quat_from_axis_angle(ey, ry)
    qz = quat_from_axis_angle(ez, rz)
    return quat_mul(quat_mul(qx, qy), qz)


def random_quat(rng: np.random.Generator, size: int | tuple[int, ...] = ()) -> Array:
    """Uniformly distributed random rotations (Shoemake)."""
    size = (size,) if isinstance(size, int) else tuple(size)
    u1, u2, u3 = rng.random((3,) + size)
    a, b = np.sqrt(1 - u1), np.sqrt(u1)
    return np.stack(
        [a * np.sin(2 * np.pi * u2), a * np.cos(2 * np.pi * u2), b * np.sin(2 * np.pi * u3), b * np.cos(2 * np.pi * u3)],
        axis=-1,
    )[..., [3, 0, 1, 2]]
